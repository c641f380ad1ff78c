"""Vectorised built-in functions of the rule language (the scalar ones: :mod:`tuopin_rules.expr.functions`).

``age``, ``is_blank``, ``abs``, ``round`` (with a literal number of places), ``year``, ``length``
and ``id_number_valid`` are polars expressions. A function without a vector form (a plug-in whose
:attr:`~tuopin_rules.expr.functions.Function.vector` is ``None``, or ``round`` with computed places)
runs its scalar implementation row by row through ``map_elements`` — correct, but a Python call per
row (roughly 1 µs each, the cost of the scalar engine for that node). A plug-in's ``vector`` is
called as ``vector(args, as_of)`` with polars expressions in the plain form (numbers as
``Decimal(38, 10)``) and returns one.

Text handling that Python and polars do not agree on (non-ASCII characters in an ID number, whose
digits Python's ``int`` would read) marks the row for the scalar engine.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from tuopin_rules.evaluate.frames import DTYPES, SCALE, from_units, to_units
from tuopin_rules.expr import ast
from tuopin_rules.expr.functions import _ID_CHECK, _ID_WEIGHTS, FUNCTIONS

if TYPE_CHECKING:
    from tuopin_rules.evaluate.lower import Lowerer
    from tuopin_rules.evaluate.lowered import Low

__all__ = ["lower_function"]

#: Python's str.isspace() characters: polars' (Unicode White_Space) plus the separators \x1c-\x1f
_BLANK = r"^[\s\x1c-\x1f]*$"
_NON_ASCII = r"[^\x20-\x7e]"


def _units(e: pl.Expr) -> pl.Expr:
    out: pl.Expr = (2 * e.cast(pl.Int128) * SCALE).cast(pl.Int128)
    return out


def _birth(lo: Lowerer, text: pl.Expr) -> pl.Expr:
    """The birth date in an ID number (null when it has none), its parts staged once per column."""
    key = str(text)

    def digits() -> pl.Expr:
        t = text.str.strip_chars()
        n = t.str.len_chars()
        return pl.when(n == 18).then(t.str.slice(6, 8)).when(n == 15).then(pl.lit("19") + t.str.slice(6, 6))

    d = lo.stage_shared("digits " + key, digits)
    ok = lo.stage_shared("ok " + key, lambda: d.str.contains(r"^[0-9]{8}$"))

    def born() -> pl.Expr:
        # Python's int() reads "+949", " 949" or "1_49" (and full-width digits, or text around
        # non-ASCII spaces): leave those rows to the scalar engine
        lo.fallback.append(text.str.contains(_NON_ASCII).fill_null(False) | (d.is_not_null() & ~ok).fill_null(False))
        parsed = pl.when(ok).then(d).str.to_date("%Y%m%d", strict=False)
        return pl.when(parsed.dt.year() >= 1).then(parsed)

    return lo.stage_shared("born " + key, born)


def _age(lo: Lowerer, x: Low) -> pl.Expr:
    as_of = lo.as_of
    born = lo.stage(x.value) if x.kind == "date" else _birth(lo, x.value)
    later = (born.dt.month() > as_of.month) | ((born.dt.month() == as_of.month) & (born.dt.day() > as_of.day))
    years = pl.lit(as_of.year) - born.dt.year().cast(pl.Int64) - later.cast(pl.Int64)
    return pl.when(born.is_null() | (born > pl.lit(as_of, dtype=pl.Date))).then(None).otherwise(_units(years))


def _id_valid(lo: Lowerer, x: Low) -> pl.Expr:
    born_ok = _birth(lo, x.value).is_not_null()
    t = lo.stage_shared("strip " + str(x.value), lambda: x.value.str.strip_chars())
    total = sum(
        (t.str.slice(i, 1).cast(pl.Int64, strict=False).fill_null(0) * w for i, w in enumerate(_ID_WEIGHTS)),
        pl.lit(0, dtype=pl.Int64),
    )
    check = pl.lit(_ID_CHECK).str.slice(total % 11, 1)
    long_ok = t.str.contains(r"^[0-9]{17}[0-9Xx]$") & born_ok & (check == t.str.slice(17, 1).str.to_uppercase())
    short_ok = t.str.contains(r"^[0-9]{15}$") & born_ok
    return pl.when(x.value.is_null()).then(None).otherwise(long_ok | short_ok)


def _round(lo: Lowerer, x: Low, places: int) -> pl.Expr:
    if places > 9:  # finer than the scheme's unit: exact values are unchanged, inexact ones go scalar
        if not x.exact:
            lo.fallback.append((x.value % 2) != 0)
        return x.value
    unit = 2 * 10 ** (10 - places)  # in half-units
    magnitude = x.value.abs()
    rounded = ((magnitude + unit // 2) // unit) * unit
    return pl.when(x.value < 0).then(pl.lit(0, dtype=pl.Int128) - rounded).otherwise(rounded)


def _plain(lo: Lowerer, p: Low) -> pl.Expr:
    if p.kind != "num":
        return p.value
    if not p.exact:
        lo.fallback.append((p.value % 2) != 0)
    return p.value


def _to_python(kind: str, v: Any) -> Any:
    if v is None or kind != "num":
        return v
    return from_units(int(v)) if int(v) % 2 == 0 else None


def _from_python(kind: str, v: Any) -> Any:
    if v is None or kind != "num" or isinstance(v, bool):
        return v
    return to_units(Decimal(v))


def _row_by_row(lo: Lowerer, name: str, parts: list[Low], kind: str) -> pl.Expr:
    fn = FUNCTIONS[name]
    as_of: dt.date = lo.as_of
    kinds = [p.kind for p in parts]
    fields = [f"a{i}" for i in range(len(parts))]

    def call(row: dict[str, Any]) -> Any:
        values = [_to_python(k, row[f]) for k, f in zip(kinds, fields, strict=True)]
        if not fn.total and any(v is None for v in values):
            return None
        return _from_python(kind, fn.impl(values, as_of))

    args = pl.struct([_plain(lo, p).alias(f) for p, f in zip(parts, fields, strict=True)])
    return args.map_elements(call, return_dtype=DTYPES[kind], skip_nulls=False)


def lower_function(lo: Lowerer, name: str, args: tuple[ast.Expr, ...], parts: list[Low]) -> tuple[pl.Expr, str, bool]:
    """``(value, kind, exact)`` of a call of the function ``name`` (not ``coalesce``)."""
    fn = FUNCTIONS[name]
    kind = parts[0].kind if fn.result == "same" else {"number": "num"}.get(fn.result, fn.result)
    kind = kind if kind in DTYPES else "text"
    if name == "is_blank":
        (x,) = parts
        blank = x.value.is_null()
        if x.kind == "text":
            blank = blank | x.value.str.contains(_BLANK)
        bad = lo.reads_bad(args[0])
        return (blank if bad is None else pl.when(x.value.is_null() & bad).then(None).otherwise(blank)), "bool", True
    if name == "age":
        return _age(lo, parts[0]), "num", True
    if name == "id_number_valid":
        return _id_valid(lo, parts[0]), "bool", True
    if name == "abs":
        return parts[0].value.abs(), "num", parts[0].exact
    if name == "year":
        return _units(parts[0].value.dt.year()), "num", True
    if name == "length" and parts[0].kind == "text":
        return _units(parts[0].value.str.len_chars()), "num", True
    if name == "round" and isinstance(args[1], ast.Literal) and isinstance(args[1].value, Decimal):
        places = int(args[1].value)
        if places >= -20:
            return _round(lo, parts[0], places), "num", True
    if fn.vector is not None:
        plain = [
            (_plain(lo, p) // 2).cast(pl.Decimal(38, 0)).cast(pl.Decimal(38, 10))
            / pl.lit(SCALE).cast(pl.Decimal(38, 10))
            if p.kind == "num"
            else p.value
            for p in parts
        ]
        out = fn.vector(plain, lo.as_of)
        if kind == "num":
            out = out.cast(pl.Decimal(38, 10)).to_physical().cast(pl.Int128) * 2
        return out, kind, True
    return _row_by_row(lo, name, parts, kind), kind, kind != "num"
