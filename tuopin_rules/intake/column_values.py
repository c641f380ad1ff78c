"""Raw cells to typed columns a whole column at a time: the stream reader's counterpart of
:func:`~tuopin_rules.intake.values.convert` and of the per-row checks of
:func:`~tuopin_rules.intake.tables.read_table`.

Plain cells take a polars fast path whose result is, for those cells, what ``convert`` gives:

* text: printable ASCII and CJK unified ideographs with no surrounding space (NFKC leaves them
  as they are, and there is nothing to strip), blank when it lower-cases to one of
  :data:`~tuopin_rules.intake.values.BLANKS`;
* numbers: ``[+-]`` up to 15 digits, up to 10 decimals (8 in a percent that is divided by 100),
  turned into the vector engine's half-unit integers (:mod:`tuopin_rules.evaluate.frames`)
  without a float on the way; integer Parquet columns likewise;
* yes/no: the exact tokens 是/否, true/false, 1/0 …; dates: ``2019-12-31``.

Every other non-empty cell (codes, full-width digits, ``4,100元``, ``2019年12月``, text with
full-width brackets, a JSON ``true``, a float Parquet cell …) goes through ``convert`` itself, once
per distinct raw value of the chunk, so a column's values, and its unreadable cells with their
issue code and message, are the record reader's by construction.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from tuopin_rules.entities.records import resolve_header
from tuopin_rules.entities.schema import EntityDef, FieldDef
from tuopin_rules.evaluate.frames import DTYPES, SCALE_DIGITS, kind_of, to_units
from tuopin_rules.intake.parquet import stored_cell
from tuopin_rules.intake.tables import _ORDINALS, _TOTALS, _not_a_record
from tuopin_rules.intake.values import BLANKS, SPREADSHEET_ERRORS, CellError, convert

__all__ = ["PY_SPACE", "ChunkCells", "Layout", "convert_chunk", "convert_column", "not_records", "stored_cell"]

#: what Python's ``str.strip()`` and ``str.split()`` treat as white space
PY_SPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
_PLAIN = r"\x21-\x7e\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}"
_PLAIN_TEXT = rf"^[{_PLAIN}](?:[ {_PLAIN}]*[{_PLAIN}])?$"
#: the blank forms (:data:`~tuopin_rules.intake.values.BLANKS`) a plain text cell can take
_BLANK = "(?i)^(?:" + "|".join(sorted((re.escape(b) for b in BLANKS if b), key=len, reverse=True)) + ")$"
#: spreadsheet errors (#N/A …), which ``convert`` refuses in every field
_ERROR = "(?i)^(?:" + "|".join(re.escape(e) for e in sorted(SPREADSHEET_ERRORS)) + ")$"
_TRUE = ("是", "有", "对", "true", "yes", "y", "1", "√", "t")
_FALSE = ("否", "无", "错", "false", "no", "n", "0", "×", "f")
_MAX_PLAIN = 10**15  # |value| below this is within convert's range (and far from Int128 limits)


def nulls(n: int, dtype: Any) -> pl.Series:
    """``n`` nulls of ``dtype``."""
    return pl.repeat(None, n, dtype=dtype, eager=True)


def filled(value: bool, n: int) -> pl.Series:
    """``n`` times ``value``."""
    return pl.repeat(value, n, dtype=pl.Boolean, eager=True)


@dataclass
class Converted:
    """One raw column converted: typed values, the exact text of inexact numbers, and per cell the
    issue code and message of an unreadable cell (null where the cell was read)."""

    value: pl.Series
    exact: pl.Series
    code: pl.Series
    message: pl.Series


def _typed(kind: str, v: Any) -> tuple[Any, str | None]:
    """A converted value as its vector column holds it (frames' rule), and the exact text of an
    inexact number."""
    if v is None:
        return None, None
    if kind == "num":
        if isinstance(v, bool) or not isinstance(v, (Decimal, int)):
            return None, None
        units = to_units(v)
        return units, (str(v) if units % 2 else None)
    if kind == "bool":
        return (v if isinstance(v, bool) else None), None
    if kind == "date":
        return (v if isinstance(v, dt.date) else None), None
    return (v if isinstance(v, str) else str(v)), None


def _fallback(fdef: FieldDef, kind: str, raws: Iterable[Any]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    values, exact, codes, messages = [], [], [], []
    for raw in raws:
        try:
            v, x = _typed(kind, convert(fdef, stored_cell(raw)))
            c = m = None
        except CellError as exc:
            v = x = None
            c, m = exc.code, str(exc)
        values.append(v)
        exact.append(x)
        codes.append(c)
        messages.append(m)
    return values, exact, codes, messages


def _units(s: pl.Expr, divide: bool) -> pl.Expr:
    """Half-unit integers of plain decimal text (at most 15 digits and 10 decimals)."""
    parts = s.str.strip_chars_start("+-").str.strip_chars_end("%").str.splitn(".", 2)
    whole = parts.struct.field("field_0").cast(pl.Int128, strict=False)
    frac = parts.struct.field("field_1").fill_null("").str.pad_end(SCALE_DIGITS, "0").cast(pl.Int128, strict=False)
    units = (whole * 10**SCALE_DIGITS + frac) * 2
    units = pl.when(s.str.starts_with("-")).then(pl.lit(0, dtype=pl.Int128) - units).otherwise(units)
    return units // 100 if divide else units


def _fast_text(fdef: FieldDef, s: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``(value, handled)`` over a String column: the typed value of plain cells, and which cells
    need no call to ``convert`` (plain, or empty)."""
    kind = fdef.type
    value: Any
    if kind == "text":
        ok = s.str.contains(_PLAIN_TEXT)
        ok = ok & ~s.str.contains(_ERROR)  # #N/A …: convert refuses it
        value = pl.when(ok & ~s.str.contains(_BLANK)).then(s)
    elif kind in ("number", "integer", "percent"):

        def number(places: int) -> str:
            decimals = "" if kind == "integer" else r"(?:\.[0-9]{1," + str(places) + "})?"
            return r"[+-]?[0-9]{1,15}" + decimals

        if kind == "percent":
            divide = fdef.percent_input == "percent_points"
            pct = s.str.contains(f"^{number(8)}%$")
            plain = s.str.contains(f"^{number(8 if divide else SCALE_DIGITS)}$")
            ok = pct | plain
            value = pl.when(pct).then(_units(s, True)).when(plain).then(_units(s, divide))
        else:
            ok = s.str.contains(f"^{number(SCALE_DIGITS)}$")
            value = pl.when(ok).then(_units(s, False))
    elif kind == "bool":
        mapping = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
        value = s.str.to_lowercase().replace_strict(mapping, default=None, return_dtype=pl.Boolean)
        ok = value.is_not_null()
    elif kind == "date":
        ok = s.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
        value = pl.when(ok).then(s.str.to_date("%Y-%m-%d", strict=False))
        ok = value.is_not_null()
    else:  # codes: labels and aliases, a few distinct values per chunk
        ok = pl.lit(False)
        value = pl.lit(None, dtype=DTYPES[kind_of(kind)])
    return value.cast(DTYPES[kind_of(kind)]), s.is_null() | (s == "") | ok.fill_null(False)


def _fast_typed(fdef: FieldDef, raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``(value, handled)`` for a typed (Parquet) column."""
    kind = kind_of(fdef.type)
    nothing = nulls(len(raw), DTYPES[kind])
    if raw.dtype == pl.Boolean and kind == "bool":
        return raw, filled(True, len(raw))
    if raw.dtype.is_integer():
        wide = pl.col("r").cast(pl.Int128)
        small = (wide.abs() < _MAX_PLAIN).fill_null(True)
        if kind == "num":
            scale = 2 * 10**SCALE_DIGITS
            if fdef.type == "percent" and fdef.percent_input == "percent_points":
                scale //= 100
            out = pl.DataFrame({"r": raw}).select(
                pl.when(small).then(wide * pl.lit(scale, dtype=pl.Int128)).alias("v"), small.alias("h")
            )
            return out["v"], out["h"]
        if kind == "text" and fdef.type == "text":  # a code stored as a number: its digits
            return raw.cast(pl.String), filled(True, len(raw))
    return nothing, raw.is_null()


def _is_text(dtype: Any) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


def convert_column(
    fdef: FieldDef,
    raw: pl.Series,
    objects: Mapping[int, Any] | None = None,
    fast: tuple[pl.Series, pl.Series] | None = None,
) -> Converted:
    """Convert one raw column to ``fdef``'s vector type.

    Args:
        fdef: the field the column means.
        raw: the cells: a String series (CSV, JSON text) or a typed one (Parquet).
        objects: cells at these positions are Python values to convert one by one (JSON
            ``true``, lists): ``raw`` holds null there.
        fast: the fast path's ``(value, handled)`` for a text column, when already computed
            (:func:`convert_chunk` computes every column's in one polars pass).

    Returns:
        :class:`Converted`, all series as long as ``raw``.
    """
    kind = kind_of(fdef.type)
    if _is_text(raw.dtype):
        raw = raw.cast(pl.String)
        if fast is None:
            fast_value, fast_handled = _fast_text(fdef, pl.col("s"))
            got = pl.DataFrame({"s": raw}).select(fast_value.alias("v"), fast_handled.alias("h"))
            fast = got.to_series(0), got.to_series(1)
        value, handled = fast
    else:
        value, handled = _fast_typed(fdef, raw)
    n = len(raw)
    exact, code, message = nulls(n, pl.String), nulls(n, pl.String), nulls(n, pl.String)
    need = ~handled
    if need.any():
        distinct = raw.filter(need).unique(maintain_order=True)
        v, x, c, m = _fallback(fdef, kind, distinct.to_list())
        table = pl.DataFrame(
            {
                "k": distinct,
                "v": pl.Series(v, dtype=DTYPES[kind]),
                "x": pl.Series(x, dtype=pl.String),
                "c": pl.Series(c, dtype=pl.String),
                "m": pl.Series(m, dtype=pl.String),
            }
        )
        got = pl.DataFrame({"k": raw, "need": need}).join(table, on="k", how="left", maintain_order="left")
        keep = got["need"]
        value = value.zip_with(~keep, got["v"])
        exact, code, message = got["x"].zip_with(keep, exact), got["c"], got["m"]
    if objects:
        at = list(objects)
        v, x, c, m = _fallback(fdef, kind, objects.values())
        idx = pl.Series(at, dtype=pl.Int64)
        value = value.scatter(idx, pl.Series(v, dtype=DTYPES[kind]))
        exact = exact.scatter(idx, pl.Series(x, dtype=pl.String))
        code = code.scatter(idx, pl.Series(c, dtype=pl.String))
        message = message.scatter(idx, pl.Series(m, dtype=pl.String))
    return Converted(value, exact, code, message)


@dataclass
class Layout:
    """How one table's columns map to an entity's fields, as the record reader sees a row.

    A row is read as a mapping header -> cell, so a header written twice keeps its last column,
    and the mapping's order is that of each header's first column.

    Attributes:
        entity: the entity kind's definition.
        headers: the header of each column (position ``i`` is frame column ``c<i>``).
        visible: the columns a record sees, in mapping order.
        fields: field name -> its visible columns in mapping order (the first non-blank wins).
    """

    entity: EntityDef
    headers: list[str]
    visible: list[int] = field(default_factory=list)
    fields: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute the mapping after headers were added (JSON keys seen late)."""
        last = {h: i for i, h in enumerate(self.headers)}
        self.visible = [last[h] for h in dict.fromkeys(self.headers)]
        self.fields = {}
        for i in self.visible:
            fdef = resolve_header(self.entity, self.headers[i])
            if fdef is not None:
                self.fields.setdefault(fdef.name, []).append(i)


def _class(chars: Iterable[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(chars)) + "]"


@functools.cache
def _row_patterns() -> tuple[str, str]:
    """Regexes for the cells that can make a row not a record (see :func:`not_records`): a cell
    whose NFKC fold starts a totals label (合计, total …), and a cell that folds to a column number
    or a 栏次 letter (甲, 1). Built from the record reader's own word lists, over every character
    that folds (NFKC) to their first letters, digits or white space."""
    firsts = {t[0] for t in _TOTALS}
    spaces, starts, numbers = set(), set(), set()
    for code in itertools.chain(range(0x40000), range(0xE0000, 0xE1000)):  # the planes with characters
        c = chr(code)
        folded = unicodedata.normalize("NFKC", c) if unicodedata.decomposition(c) else c
        bare = "".join(folded.split())
        if not bare:
            spaces.add(c)
        elif bare[0].lower() in firsts:
            starts.add(c)
        if bare and (folded in _ORDINALS or all(ch.isdigit() for ch in folded)):
            numbers.add(c)
    space = _class(spaces)
    return f"^{space}*{_class(starts)}", f"^{space}*{_class(numbers)}+{space}*$"


def not_records(frame: pl.DataFrame, layout: Layout) -> pl.Series:
    """Rows an export repeats that are not records (the header again, a totals row, a 栏次 row):
    the problem text per row (null for a record), as :func:`~tuopin_rules.intake.tables._not_a_record`
    gives it.

    Candidates are found column-wise — a cell holding its own header; a cell that folds to the
    start of a totals label; rows where most cells fold to numbers or 栏次 letters — and only they
    are checked, row by row, by that function.
    """
    if not layout.visible:
        return nulls(frame.height, pl.String)
    totals, numbered = _row_patterns()
    hits, same, counts = [], [], []
    for i in layout.visible:
        cell = pl.col(f"c{i}").cast(pl.String)
        header = layout.headers[i].strip()
        hits.append(cell.str.contains(totals).fill_null(False))
        # a cell equal to its header, stripped: it contains the header (or both are blank)
        like = cell.str.contains(header, literal=True) if header else cell.str.strip_chars(PY_SPACE) == ""
        same.append(like.fill_null(False).cast(pl.Int32))
        counts.append(cell.str.contains(numbered).fill_null(False).cast(pl.Int32))
    width = len(layout.headers)
    hits.append(pl.sum_horizontal(same) >= 2)
    hits.append(pl.sum_horizontal(counts) >= max(3, (4 * width + 4) // 5))
    candidates = frame.select(pl.any_horizontal(hits)).to_series().arg_true()
    problems: list[str | None] = [None] * frame.height
    names = [layout.headers[i] for i in layout.visible]
    for pos in candidates.to_list():
        values = [stored_cell(frame[f"c{i}"][pos]) for i in layout.visible]
        problems[pos] = _not_a_record(dict(zip(names, values, strict=True)), width)
    return pl.Series(problems, dtype=pl.String)


@dataclass
class ChunkCells:
    """The typed cells of one chunk's records.

    Attributes:
        values: field -> typed series (fields with a column).
        bad: field -> Boolean series, for fields with an unreadable cell in the chunk.
        exact: number field -> String series of the exact text of inexact values (where any).
        issues: one row per unreadable cell: ``pos`` (row in the chunk), ``order`` (column),
            ``code``, ``message``, ``column`` (header), ``raw``, ``field``.
        numeric_text: per column of a text field stored as numbers (Parquet): ``(column, count,
            first pos, shown value)`` of its cells that were read (the ``code-as-number`` issue).
    """

    values: dict[str, pl.Series]
    bad: dict[str, pl.Series]
    exact: dict[str, pl.Series]
    issues: pl.DataFrame
    numeric_text: list[tuple[int, int, int, str]]


ISSUE_SCHEMA = {
    "pos": pl.Int64,
    "order": pl.Int64,
    "code": pl.String,
    "message": pl.String,
    "column": pl.String,
    "raw": pl.String,
    "field": pl.String,
}


def convert_chunk(layout: Layout, frame: pl.DataFrame, objects: Mapping[int, Mapping[int, Any]]) -> ChunkCells:
    """Convert the field columns of a chunk (records only: rows that are not records removed).

    A field with two columns (``户编号`` and ``aac001``) takes, per row, the first column whose
    cell reads as a value; a cell is converted (and reported when unreadable) only when no earlier
    column gave the value — as the record reader does.
    """
    values: dict[str, pl.Series] = {}
    bad: dict[str, pl.Series] = {}
    exact: dict[str, pl.Series] = {}
    issues: list[pl.DataFrame] = []
    numeric_text: list[tuple[int, int, int, str]] = []
    exprs = []  # every text column's fast path, in one pass (polars spreads it over the cores)
    for name, columns in layout.fields.items():
        for i in columns:
            if _is_text(frame.schema[f"c{i}"]):
                v, h = _fast_text(layout.entity.fields[name], pl.col(f"c{i}").cast(pl.String))
                exprs += [v.alias(f"v{i}"), h.alias(f"h{i}")]
    fast = frame.select(exprs) if exprs else pl.DataFrame()
    for name, columns in layout.fields.items():
        fdef = layout.entity.fields[name]
        value: pl.Series | None = None
        flagged: pl.Series | None = None
        for i in columns:
            raw = frame[f"c{i}"]
            pre = (fast[f"v{i}"], fast[f"h{i}"]) if f"v{i}" in fast.columns else None
            got = convert_column(fdef, raw, objects.get(i), pre)
            visited = value.is_null() if value is not None else filled(True, frame.height)
            failed = got.code.is_not_null() & visited
            if failed.any():
                flagged = failed if flagged is None else flagged | failed
                pos = failed.arg_true()
                given = objects.get(i) or {}
                shown = [
                    str(given[p]) if p in given else ("" if r is None else str(stored_cell(r)))
                    for p, r in zip(pos.to_list(), raw.gather(pos).to_list(), strict=True)
                ]
                issues.append(
                    pl.DataFrame(
                        {
                            "pos": pos.cast(pl.Int64),
                            "order": pl.Series([i] * len(pos), dtype=pl.Int64),
                            "code": got.code.gather(pos),
                            "message": got.message.gather(pos),
                            "column": pl.Series([layout.headers[i]] * len(pos), dtype=pl.String),
                            "raw": pl.Series(shown, dtype=pl.String),
                            "field": pl.Series([name] * len(pos), dtype=pl.String),
                        },
                        schema=ISSUE_SCHEMA,
                    )
                )
            x = got.exact.zip_with(visited, nulls(frame.height, pl.String))
            exact[name] = x if name not in exact else exact[name].fill_null(x)
            value = got.value if value is None else value.fill_null(got.value)
        assert value is not None
        values[name] = value
        if flagged is not None:
            bad[name] = flagged
        if exact[name].null_count() == frame.height:
            del exact[name]
    for name, columns in layout.fields.items():
        if layout.entity.fields[name].type != "text":
            continue
        for i in columns:
            raw = frame[f"c{i}"]
            if not raw.dtype.is_numeric():
                continue
            read = raw.is_not_null() & ~bad.get(name, filled(False, frame.height))
            if read.any():
                first = int(read.arg_true()[0])
                numeric_text.append((i, int(read.sum()), first, str(stored_cell(raw[first]))))
    frame_issues = pl.concat(issues) if issues else pl.DataFrame(schema=ISSUE_SCHEMA)
    return ChunkCells(values, bad, exact, frame_issues, numeric_text)
