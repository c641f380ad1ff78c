"""Helpers for the vector-engine tests: flatten records into tables, run both backends, compare."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from tuopin_rules import Engine
from tuopin_rules.entities.records import Record, index_tables, record_from_mapping


def flatten(records: list[Record]) -> dict[str, list[Record]]:
    """Linked records and all their descendants as tables by entity kind (parents link as given)."""
    tables: dict[str, list[Record]] = {}

    def add(rec: Record) -> None:
        tables.setdefault(rec.entity, []).append(rec)
        for kids in rec.children.values():
            for kid in kids:
                kid.parent = rec
                add(kid)

    for r in records:
        add(r)
    return tables


def records(engine: Engine, entity: str, rows: list[dict[str, Any]]) -> dict[str, list[Record]]:
    """Build records of ``entity`` (with nested children) from mappings, flatten and index them
    (as ``read_dataset`` does, so ``unique`` sees every row of a table)."""
    built = [record_from_mapping(engine.standard.schema, entity, row, row=i + 1)[0] for i, row in enumerate(rows)]
    tables = flatten(built)
    index_tables(tables)
    return tables


def agree(engine: Engine, tables: dict[str, list[Record]], as_of: int | str | dt.date) -> dict[str, pl.DataFrame]:
    """Evaluate with both backends; assert identical outcome and reason columns; return the vector frames."""
    vector = engine.evaluate_batch(tables, as_of)
    scalar = engine.evaluate_batch(tables, as_of, backend="scalar")
    assert vector.frames.keys() == scalar.frames.keys()
    for kind, frame in vector.frames.items():
        a, b = frame.drop("scalar"), scalar.frames[kind].drop("scalar")
        assert a.columns == b.columns, kind
        for col in a.columns:
            diff = (a[col].ne_missing(b[col])).arg_true().to_list()
            assert not diff, (kind, col, [(a["id"][i], a[col][i], b[col][i]) for i in diff[:5]])
    return vector.frames
