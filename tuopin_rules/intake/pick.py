"""Pick one household or village, with what its rules read, out of data too large to read whole.

``tuopin explain --stream --id X`` over a province's export: the files are scanned in chunks
(:mod:`~tuopin_rules.intake.columnar`), and only the rows that belong to ``X``'s village are kept —
the village's households and their members (for a household: its village's, as a rule may read
``village.x``), every row elsewhere with one of their household codes or person ids (a repeated id
is rejected as in a whole read: the first row wins) — and every village row (villages are few). The kept rows go
through the record reader (:func:`~tuopin_rules.intake.tables.read_table`), so their values, data
issues and sources (``file:row``) are exactly those of a whole read, and are linked as
:func:`~tuopin_rules.intake.tables.read_dataset` links them.

Rows are matched on their identifier as the record reader reads it (NFKC, surrounding spaces
stripped), in every column that names the identifier field.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from tuopin_rules.entities.records import resolve_header
from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import DataFileError, NotDataError
from tuopin_rules.intake.column_values import PY_SPACE
from tuopin_rules.intake.columnar import ColumnarFile, open_columnar
from tuopin_rules.intake.files import RawRow, RawTable
from tuopin_rules.intake.parquet import stored_cell
from tuopin_rules.intake.tables import Dataset, FileRead, assemble, expand_paths, read_table

__all__ = ["pick_dataset"]


def _key(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def _cell(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column's cells as the record reader reads an identifier: a float that is whole is its
    digits (``2.0`` reads ``2``), NFKC, the spaces Python strips removed."""
    x = pl.col(name)
    if dtype.is_float() or dtype.is_decimal():
        x = x.cast(pl.Float64)
        x = pl.when(x == x.floor()).then(x.cast(pl.Int64).cast(pl.String)).otherwise(x.cast(pl.String))
    else:
        x = x.cast(pl.String)
    return x.str.normalize("NFKC").str.strip_chars(PY_SPACE)


def _rows(
    file: ColumnarFile,
    schema: Schema,
    wanted: dict[str, set[str]] | None,
    unlinked: tuple[list[str], set[str]] | None = None,
) -> list[RawRow]:
    """The rows of ``file`` where some ``field`` column (any column naming it) holds one of
    ``wanted[field]``; every row when ``wanted`` is ``None``. With ``unlinked = (fields, known)``
    also the rows whose ``fields`` columns are all blank or name nothing ``known`` (a household
    that may belong to any village: a whole read makes those villages' verdicts UNKNOWN)."""
    ent = schema.entities[file.kind]
    named = [(i, f.name) for i, h in enumerate(file.headers) if (f := resolve_header(ent, h)) is not None]
    columns = [(i, n) for i, n in named if wanted is not None and n in wanted]
    refs = [i for i, n in named if unlinked is not None and n in unlinked[0]]
    out: list[RawRow] = []
    if wanted is not None and not columns and unlinked is None:
        return out
    for chunk in file.chunks:
        frame = chunk.frame
        hit = pl.lit(wanted is None)
        for i, name in columns:
            cell = _cell(f"c{i}", frame.schema[f"c{i}"])
            hit = hit | cell.is_in(sorted((wanted or {})[name])).fill_null(False)
        if unlinked is not None and refs:  # a file naming no village at all: linking has nothing to go on
            known = sorted(unlinked[1])
            loose = pl.lit(True)
            for i in refs:
                cell = _cell(f"c{i}", frame.schema[f"c{i}"])
                loose = loose & (cell.is_null() | (cell == "") | ~cell.is_in(known)).fill_null(True)
            hit = hit | loose
        for pos in frame.with_columns(hit.alias("__hit"))["__hit"].arg_true().to_list():
            cells = {
                h: chunk.objects.get(i, {}).get(pos, stored_cell(frame[f"c{i}"][pos]))
                for i, h in enumerate(file.headers)
                if f"c{i}" in frame.columns
            }
            out.append(RawRow(int(chunk.rows[pos]), cells))
    return out


def _open(schema: Schema, targets: list[tuple[str | None, Path, bool]], header_row: int | None) -> list[ColumnarFile]:
    """The files that can be scanned. A file that holds no data is passed over; one that holds data
    but cannot be scanned (a workbook, a JSON array, undecodable) is an error: the verdict could
    otherwise miss its rows."""
    files = []
    for kind, path, _ in targets:
        try:
            files.append(open_columnar(schema, path, kind, header_row=header_row))
        except NotDataError:
            continue
        except DataFileError as exc:
            raise DataFileError(f"{exc} — explain --stream must read every data file; run without --stream") from None
    return files


def pick_dataset(
    schema: Schema, paths: Iterable[str], entity: str, ident: str, *, header_row: int | None = None
) -> Dataset:
    """The records ``entity`` ``ident`` needs for its verdict, read from files too large to read whole.

    Args:
        schema: the standard's entity schema.
        paths: data files or folders (CSV, JSON Lines, Parquet; ``KIND=PATH``).
        entity: ``household`` or ``village``.
        ident: the identifier, as written in the data.
        header_row: the header's line in every file (default: found below title rows).

    Returns:
        A linked :class:`Dataset` holding the record (if found) and the records around it; its
        accounts count the rows picked from each file (not the rows scanned).

    Raises:
        DataFileError: a named file cannot be read; ``entity`` is not household or village.
    """
    if entity not in ("household", "village"):
        raise DataFileError(f"--stream explains a household or a village, not a {entity} (run without --stream)")
    targets = expand_paths(paths, schema.kinds())
    key = _key(ident)
    # file -> (kind, header, rows by row number); a file scanned with no row picked is kept too: its
    # kind's data were given (a household with no member rows then has none, it is not "unknown")
    picked: dict[Path, tuple[str, list[str], dict[int, RawRow]]] = {}
    kinds = {f.path: f.kind for f in _open(schema, targets, header_row)}  # every file checked up front
    if "household" not in kinds.values():
        raise DataFileError(
            "explain --stream needs the household data (member rows alone are grouped into households only"
            " when read whole: run without --stream)"
        )

    def opened(kind: str) -> list[ColumnarFile]:
        """The files of ``kind``, opened afresh: each scan reads them from their start."""
        return _open(schema, [t for t in targets if kinds.get(t[1]) == kind], header_row)

    def reads_of() -> list[FileRead]:
        reads: list[FileRead] = []
        for _, path, _ in targets:
            if path in picked:
                kind, headers, rows = picked[path]
                ordered = [rows[n] for n in sorted(rows)]
                table = RawTable(list(ordered[0].cells) if ordered else headers, iter(ordered), None)
                reads.append((path, [read_table(schema, table, path, kind)], []))
        return reads

    def scan(
        kind: str, wanted: dict[str, set[str]] | None, unlinked: tuple[list[str], set[str]] | None = None
    ) -> list[RawRow]:
        rows: list[RawRow] = []
        for file in opened(kind):
            if file.kind == kind:
                found = _rows(file, schema, wanted, unlinked)
                picked.setdefault(file.path, (kind, list(file.headers), {}))[2].update((r.row, r) for r in found)
                rows += found
        return rows

    def values(rows: list[RawRow], kind: str, field: str) -> set[str]:
        ent = schema.entities[kind]
        return {
            _key(v)
            for r in rows
            for h, v in r.cells.items()
            if v not in (None, "") and (f := resolve_header(ent, h)) is not None and f.name == field
        }

    villages = scan("village", None)  # every village row: they are few, and linking needs them all
    scan("county", None)  # likewise the county rows (a village rule may read county.x)
    # what names one village for sure: its code, or a name no other village has (a household naming a
    # shared name, an unknown one or none may belong to several villages: linking decides, so it is read)
    names = Counter(n for r in villages for n in values([r], "village", "village_name"))
    known = values(villages, "village", "village_id") | {n for n, times in names.items() if times == 1}
    if entity == "household":  # and its village's other households: a rule may read village.x
        households = scan("household", {"household_id": {key}})
        if not households:
            return assemble(schema, reads_of())
        refs = values(households, "household", "village_id") | values(households, "household", "village_name")
        for r in villages:  # the village(s) it names, by code and by name: its siblings may give either
            mine_refs = values([r], "village", "village_id") | values([r], "village", "village_name")
            if mine_refs & refs:
                refs |= mine_refs
    else:
        households = []
        mine = [r for r in villages if key in values([r], "village", "village_id")]
        refs = {key} | values(mine, "village", "village_name")  # households may name their village, not code it
    # a household links to a village by code or by name, written in either column; one that names no
    # village known there may belong to any (linking decides), so it is read too
    households += scan("household", {"village_id": refs, "village_name": refs}, (["village_id", "village_name"], known))
    # the same household codes elsewhere: the first row of a code wins, as in a whole read
    households += scan("household", {"household_id": values(households, "household", "household_id")})
    codes = values(households, "household", "household_id")
    members = scan("member", {"household_id": codes}) if codes else []
    if members:  # the same person ids under other households: the first row of an id wins
        scan("member", {"person_id": values(members, "member", "person_id")})
    return assemble(schema, reads_of())
