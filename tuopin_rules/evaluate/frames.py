"""Entity records to typed polars tables for the vector engine, and its exact number scheme.

**Numbers are half-unit scaled integers.** A number ``x`` is held in an ``Int128`` column as
``v = 2 * floor(x * 10**10)``, plus 1 when ``x`` has more than ten decimals (it lies strictly between
two units). Sums, differences, comparisons, counts, min/max and the common divisions of money and
rates are then exact integer operations: ``512.3 + 1538.6 + 1949.1 == 4000.0`` and ``3 / 150 == 2%``
hold exactly, and a quotient such as ``7 / 460`` (odd ``v``: "between two units") still compares
correctly with every number of ten decimals or fewer. The few operations whose result the scheme
cannot decide (two inexact values equal to ten decimals, arithmetic on an inexact value, overflow
past 10**18) mark their rows for the scalar engine, which stays the reference.

Tables: one row per record, columns ``__row`` (position), ``__id`` (the record id as text),
``__parent`` (the parent's ``__row``), ``__has_<collection>`` (the child collection was supplied),
one column per field (``Int128`` units / ``Boolean`` / ``String`` / ``Date``) and ``__bad__<field>``
for fields with unreadable cells.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from tuopin_rules.entities.records import Record
from tuopin_rules.entities.schema import Schema

__all__ = ["SCALE_DIGITS", "EntityTable", "from_units", "kind_of", "null_of", "tables_from_records", "to_units"]

SCALE_DIGITS = 10
SCALE = 10**SCALE_DIGITS
#: one scaled unit above this magnitude risks Int128 overflow in a product or quotient
SAFE_UNITS = 10**28

DTYPES: dict[str, Any] = {"num": pl.Int128, "bool": pl.Boolean, "text": pl.String, "date": pl.Date}


def kind_of(field_type: str) -> str:
    """The vector kind of a schema field type: ``num``, ``bool``, ``text`` or ``date``."""
    if field_type in ("integer", "number", "percent"):
        return "num"
    if field_type in ("bool", "date"):
        return field_type
    return "text"


def null_of(kind: str) -> pl.Expr:
    """A typed null literal."""
    return pl.lit(None, dtype=DTYPES[kind])


def to_units(value: Decimal | int) -> int:
    """A number as half-unit scaled integer (see the module docstring).

    >>> to_units(Decimal("0.02")), to_units(Decimal("1E-11")), to_units(-Decimal("1E-11"))
    (400000000, 1, -1)
    """
    d = Decimal(value)
    sign, digits, exp = d.as_tuple()
    n = int("".join(map(str, digits)) or "0")
    assert isinstance(exp, int), "finite numbers only"
    shift = exp + SCALE_DIGITS
    if shift >= 0:
        units, rest = n * 10**shift, 0
    else:
        units, rest = divmod(n, 10**-shift)
    if sign:
        units, rest = -units - (rest > 0), rest
    return int(2 * units + (rest != 0))


def from_units(v: int) -> Decimal:
    """The exact number of an even half-unit integer (``ValueError`` for an inexact one).

    >>> from_units(to_units(Decimal("512.3")))
    Decimal('512.3')
    """
    if v % 2:
        raise ValueError("an inexact value has no exact decimal")
    units = v // 2
    t = Decimal(units).as_tuple()
    out = Decimal((t.sign, t.digits, -SCALE_DIGITS))
    if out == out.to_integral_value():
        return out.quantize(Decimal(1))
    return Decimal(format(out, "f").rstrip("0"))


@dataclass
class EntityTable:
    """One entity kind as a polars table, with what the lowering needs to know about it.

    Attributes:
        entity: the entity kind.
        frame: the table (see the module docstring for its columns).
        kinds: field name -> vector kind, for the field columns present.
        bad: fields with at least one unreadable cell (a ``__bad__<field>`` column exists).
        inexact: number fields holding a value of more than ten decimals.
        collections: collection name -> True when the child table was supplied.
        records: the records the rows came from (for the scalar fallback and explanations), if any.
        indexed: the records share one ``TableIndex`` over exactly these rows (what ``unique``
            compares against); ``False`` sends ``unique`` to the scalar engine.
        lost_parent: some record has a parent that is not a row of the parent table (a
            ``__lost_parent`` column marks them; related-record look-ups go to the scalar engine).
    """

    entity: str
    frame: pl.DataFrame
    kinds: dict[str, str]
    bad: set[str] = field(default_factory=set)
    inexact: set[str] = field(default_factory=set)
    collections: dict[str, bool] = field(default_factory=dict)
    records: Sequence[Record] | None = None
    indexed: bool = True
    lost_parent: bool = False


def _convert(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            return None
        return to_units(value)
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "date":
        return value if isinstance(value, dt.date) else None
    return value if isinstance(value, str) else str(value)


def tables_from_records(schema: Schema, tables: dict[str, list[Record]]) -> dict[str, EntityTable]:
    """Build one :class:`EntityTable` per entity kind from linked records (children before parents)."""
    out: dict[str, EntityTable] = {}
    rows: dict[str, dict[int, int]] = {k: {id(r): i for i, r in enumerate(v)} for k, v in tables.items()}
    for kind, records in tables.items():
        ent = schema.entities[kind]
        kinds = {name: kind_of(f.type) for name, f in ent.fields.items()}
        data: dict[str, list[Any]] = {name: [] for name in kinds}
        bad: dict[str, list[bool]] = {}
        parents: list[int | None] = []
        lost: list[bool] = []
        has: dict[str, list[bool]] = {c: [] for c in ent.children}
        parent_rows = rows.get(ent.parent or "", {})
        for i, rec in enumerate(records):
            for name, k in kinds.items():
                data[name].append(_convert(k, rec.values.get(name)))
            for name in rec.issues:
                if name in kinds:
                    bad.setdefault(name, [False] * len(records))[i] = True
            parents.append(parent_rows.get(id(rec.parent)) if rec.parent is not None else None)
            lost.append(rec.parent is not None and parents[-1] is None)
            for c in ent.children:
                has[c].append(c in rec.children)
        columns: dict[str, pl.Series] = {
            "__row": pl.Series("__row", range(len(records)), dtype=pl.Int64),
            "__id": pl.Series("__id", [r.id for r in records], dtype=pl.String),
            "__parent": pl.Series("__parent", parents, dtype=pl.Int64),
        }
        present = {n: k for n, k in kinds.items() if any(v is not None for v in data[n]) or n in bad}
        for name, k in present.items():
            columns[name] = pl.Series(name, data[name], dtype=DTYPES[k])
        for name, flags in bad.items():
            columns[f"__bad__{name}"] = pl.Series(f"__bad__{name}", flags, dtype=pl.Boolean)
        for c, flags in has.items():
            columns[f"__has_{c}"] = pl.Series(f"__has_{c}", flags, dtype=pl.Boolean)
        if any(lost):
            columns["__lost_parent"] = pl.Series("__lost_parent", lost, dtype=pl.Boolean)
        inexact = {n for n, k in present.items() if k == "num" and any(v is not None and v % 2 for v in data[n])}
        collections = {c: ent.children[c] in tables for c in ent.children}
        frame = pl.DataFrame(columns)
        index = records[0].table if records else None
        indexed = not records or (
            index is not None
            and all(r.table is index for r in records)
            and len(index.records) == len(records)
            and all(a is b for a, b in zip(index.records, records, strict=True))
        )
        out[kind] = EntityTable(
            kind, frame, present, set(bad), inexact, collections, records, indexed=indexed, lost_parent=any(lost)
        )
    return out


def tables_from_frames(schema: Schema, frames: dict[str, pl.DataFrame]) -> dict[str, EntityTable]:
    """Build entity tables from polars frames whose columns are field names (not Chinese headers).

    Code fields may hold codes or their labels (an unknown code becomes null). Numbers may be integer or
    ``Decimal`` columns (scale ≤ 10; floats are read through ``Decimal(38, 10)``);
    children link to parents by the schema's parent key (e.g. a member's ``household_id``). The
    result carries no records, so rows the vector scheme leaves to the scalar engine cannot be
    patched: :func:`~tuopin_rules.evaluate.batch.evaluate_tables` reports them in ``scalar``.
    """
    out: dict[str, EntityTable] = {}
    for kind, df in frames.items():
        ent = schema.entities[kind]
        cols: list[pl.Expr] = [pl.int_range(pl.len(), dtype=pl.Int64).alias("__row")]
        cols.append(pl.col(ent.id_field).cast(pl.String).alias("__id"))
        kinds: dict[str, str] = {}
        for name in df.columns:
            fdef = ent.fields.get(name)
            if fdef is None:
                continue
            k = kinds[name] = kind_of(fdef.type)
            c = pl.col(name)
            if k == "num":
                if df.schema[name].is_integer():
                    c = (c.cast(pl.Int128) * (2 * SCALE)).cast(pl.Int128)
                else:
                    c = c.cast(pl.Decimal(38, SCALE_DIGITS)).to_physical().cast(pl.Int128) * 2
            elif fdef.codes:  # a code field holds codes: labels and aliases are read as their code
                seen = df.get_column(name).drop_nulls().unique().cast(pl.String).to_list()
                c = c.cast(pl.String).replace_strict({v: fdef.code_for(v) for v in seen}, default=None)
            cols.append(c.cast(DTYPES[k]).alias(name))
        frame = df.select(cols)
        collections = {c: ent.children[c] in frames for c in ent.children}
        out[kind] = EntityTable(kind, frame, kinds, collections=collections)
    parents: dict[str, pl.Series] = {}  # child kind -> its rows' parent rows
    for kind, table in out.items():
        ent = schema.entities[kind]
        parent = out.get(ent.parent or "")
        if parent is None or ent.parent_key is None or ent.parent_key not in frames[kind].columns:
            table.frame = table.frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("__parent"))
            continue
        keys = parent.frame.select(pl.col("__id").alias("__key"), pl.col("__row").alias("__parent"))
        link = frames[kind].select(pl.col(ent.parent_key).cast(pl.String).alias("__key"))
        parents[kind] = link.join(keys, on="__key", how="left", maintain_order="left")["__parent"]
        table.frame = table.frame.with_columns(parents[kind])
    for kind, table in out.items():  # __has_<collection>: some child row links to the record
        flags = []
        for coll, child_kind in schema.entities[kind].children.items():
            if child_kind not in frames:
                continue
            has = pl.Series(f"__has_{coll}", [False] * 0, dtype=pl.Boolean).extend_constant(False, table.frame.height)
            linked = parents.get(child_kind)
            if linked is not None:
                has = has.scatter(linked.drop_nulls().unique(), True)
            flags.append(has)
        if flags:
            table.frame = table.frame.with_columns(flags)
    return out
