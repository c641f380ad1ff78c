"""CSV files in chunks for stream mode: the header found as the record reader finds it, then
pyarrow's streaming reader over the rest, every column as text.

The bytes after the header go to pyarrow (transcoded to UTF-8 on the way when the file is GB18030
or UTF-16). Each row keeps its physical line: pyarrow numbers CSV rows, so a row's line is its
number plus the line breaks inside quoted cells of the rows before it. Rows pyarrow skips because
their cell count differs from the header's are re-read with Python's csv module, as the record
reader reads them: a blank line is not a row, trailing empty cells are dropped (an export padded
to a title row's width), and a row that still does not fit is a bad row with the record reader's
message. Batches are regrouped into chunks of ``chunk_rows`` rows.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import polars as pl

from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import DataFileError
from tuopin_rules.intake.column_values import PY_SPACE, filled
from tuopin_rules.intake.columnar import RawChunk, decoding_error, open_text
from tuopin_rules.intake.files import _csv_records, find_csv_header
from tuopin_rules.intake.tables import header_match

__all__ = ["csv_chunks", "csv_header"]

BLOCK = 4 << 20  # bytes pyarrow parses at a time


def csv_header(
    path: Path, schema: Schema, codec: str, bom: int, header_row: int | None
) -> tuple[list[str], int, int, int, int]:
    """``(names, header line, first data line, byte offset of the data, data width)``.

    Raises:
        DataFileError: an empty or undecodable file; no header on ``header_row``; an empty header.
    """
    sizes: list[int] = []

    def lines(text: IO[str]) -> Iterator[str]:
        for line in text:
            sizes.append(len(line.encode(codec)))
            yield line

    with open_text(path, codec, bom) as text:
        records = _csv_records(csv.reader(lines(text)))
        try:
            top, found = find_csv_header(path, records, header_match(schema), header_row)
        except UnicodeDecodeError:
            raise decoding_error(path, codec) from None
    names = found.names
    last = top[found.index + found.depth - 1][1]
    rest = top[found.index + found.depth :]
    width = len(names)
    if rest and len(rest[0][2]) > width and not any(c.strip() for c in rest[0][2][width:]):
        width = len(rest[0][2])  # rows padded to a title row's width: read them at their width
    return names, top[found.index][0], last + 1, bom + sum(sizes[:last]), width


def _breaks(text: str) -> int:
    """Line breaks inside one CSV record (``\\r\\n`` is one)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def csv_chunks(
    path: Path, codec: str, offset: int, first_line: int, names: list[str], data_width: int, chunk_rows: int
) -> Iterator[RawChunk]:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    width = len(names)
    invalid: deque[tuple[int, str]] = deque()

    def handler(row: Any) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    if offset >= path.stat().st_size:
        return
    columns = [f"c{i}" for i in range(data_width)]
    f = open(path, "rb")  # noqa: SIM115 - closed below
    state = [1, first_line - 1]  # next csv row number; line of csv row 0 (grows with breaks in cells)

    def failed(exc: Exception) -> DataFileError:
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in str(exc):
            near = f" (after line {state[0] + state[1] - 1})" if state[0] > 1 else ""
            return decoding_error(path, "UTF-8" if codec == "utf-8" else codec, near)
        return DataFileError(f"{path}: cannot be read as CSV ({exc})")

    try:
        f.seek(offset)
        try:
            reader = pacsv.open_csv(
                f,
                read_options=pacsv.ReadOptions(
                    column_names=columns,
                    use_threads=False,
                    block_size=BLOCK,
                    encoding="utf8" if codec == "utf-8" else codec,
                ),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=handler
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(columns, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
            raise failed(exc) from None
        pending = _Rechunk(chunk_rows)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
                raise failed(exc) from None
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield from pending.add(*_lines(frame, invalid, state, width), done=f.tell())
        yield from pending.add(*_lines(None, invalid, state, width), done=f.tell(), last=True)
    finally:
        f.close()


def _lines(
    frame: pl.DataFrame | None, invalid: deque[tuple[int, str]], state: list[int], width: int
) -> tuple[pl.DataFrame, pl.Series, list[tuple[int, str, str | None]]]:
    """A parsed batch (``None``: the end of the file) with the physical line of each row; the rows
    pyarrow skipped up to it, re-read in Python: recovered, blank (not rows) or bad."""
    n = 0 if frame is None else frame.height
    start = state[0]
    last = start + n - 1
    skipped: list[tuple[int, str]] = []
    while invalid and (frame is None or invalid[0][0] <= last):
        skipped.append(invalid.popleft())
        last += 1
    state[0] = last + 1
    numbers = pl.int_range(start, last + 1, eager=True, dtype=pl.Int64)
    if skipped:
        numbers = numbers.filter(~numbers.is_in([s for s, _ in skipped]))
    extra = pl.repeat(0, n, dtype=pl.Int64, eager=True)
    if frame is not None and n and frame.select(pl.any_horizontal(pl.all().str.contains("[\r\n]")).any()).item():
        c = pl.all().str
        breaks = c.count_matches("\n") + c.count_matches("\r") - c.count_matches("\r\n")
        extra = frame.select(pl.sum_horizontal(breaks).cast(pl.Int64)).to_series()
    order = pl.DataFrame({"n": numbers, "x": extra, "v": filled(True, n)}).vstack(
        pl.DataFrame(
            {
                "n": pl.Series([s for s, _ in skipped], dtype=pl.Int64),
                "x": pl.Series([_breaks(t) for _, t in skipped], dtype=pl.Int64),
                "v": filled(False, len(skipped)),
            }
        )
    )
    if skipped:
        order = order.sort("n")
    base = state[1]
    order = order.with_columns((pl.col("n") + base + pl.col("x").cum_sum() - pl.col("x")).alias("line"))
    state[1] = base + int(order["x"].sum())
    empty = pl.DataFrame(schema=dict.fromkeys((f"c{i}" for i in range(width)), pl.String))
    cells, lines, bad = (
        (empty, pl.Series([], dtype=pl.Int64), [])
        if frame is None
        else _trim(frame, order.filter(pl.col("v"))["line"], width)
    )
    recovered: list[tuple[int, list[str]]] = []
    for (_, text), line in zip(skipped, order.filter(~pl.col("v"))["line"].to_list(), strict=True):
        row = next(csv.reader(io.StringIO(text, newline="")), [])
        if not any(c.strip() for c in row):
            continue  # a blank line is not a row
        if len(row) > width and not any(c.strip() for c in row[width:]):
            row = row[:width]
        if len(row) == width:
            recovered.append((line, row))
        else:
            bad.append((line, _shape_problem(len(row), width, line, line + _breaks(text)), _shown(row)))
    if recovered:
        more = pl.DataFrame([r for _, r in recovered], schema=empty.schema, orient="row")
        cells = pl.concat([cells, more])
        lines = pl.concat([lines, pl.Series([ln for ln, _ in recovered], dtype=pl.Int64)])
    return cells, lines, bad


def _shape_problem(cells: int, width: int, line: int, end: int) -> str:
    span = f" (it runs from line {line} to {end}: an unclosed quote?)" if end - line > 1 else ""
    return f"the row has {cells} cells but the header has {width}{span}"


def _shown(row: list[str]) -> str:
    shown = ",".join(row)
    return shown if len(shown) <= 200 else shown[:200] + "…"


def _trim(
    cells: pl.DataFrame, lines: pl.Series, width: int
) -> tuple[pl.DataFrame, pl.Series, list[tuple[int, str, str | None]]]:
    """Blank rows dropped (not rows); cells past the header: blank ones dropped, else a bad row."""
    first = cells.select(pl.first().str.strip_chars(PY_SPACE) == "").to_series()
    blank = filled(False, cells.height)
    if first.any():  # a row is blank only if its first cell is
        at = first.arg_true()
        rest = cells[at].select(pl.all_horizontal(pl.all().str.strip_chars(PY_SPACE) == "")).to_series()
        blank = blank.scatter(at.filter(rest), True)
    keep = ~blank
    bad: list[tuple[int, str, str | None]] = []
    if cells.width > width:
        over = cells.select(
            pl.any_horizontal([pl.col(c).str.strip_chars(PY_SPACE) != "" for c in cells.columns[width:]])
        ).to_series()
        over = over & keep
        for i in over.arg_true().to_list():
            row = list(cells.row(i))
            line = int(lines[i])
            end = line + sum(_breaks(c) for c in row)
            bad.append((line, _shape_problem(len(row), width, line, end), _shown(row)))
        keep = keep & ~over
        cells = cells.select(cells.columns[:width])
    return cells.filter(keep), lines.filter(keep), bad


class _Rechunk:
    """Parsed batches regrouped into chunks of ``rows`` rows (bad rows count as rows)."""

    def __init__(self, rows: int) -> None:
        self.rows = max(1, rows)
        self.frames: list[pl.DataFrame] = []
        self.lines: list[pl.Series] = []
        self.bad: list[tuple[int, str, str | None]] = []
        self.held = 0

    def add(
        self,
        frame: pl.DataFrame,
        lines: pl.Series,
        bad: list[tuple[int, str, str | None]],
        *,
        done: int,
        last: bool = False,
    ) -> Iterator[RawChunk]:
        if frame.height:
            self.frames.append(frame)
            self.lines.append(lines)
            self.held += frame.height
        self.bad += bad
        while self.held + len(self.bad) >= self.rows or (last and (self.held or self.bad)):
            take = min(self.rows, self.held)
            whole = pl.concat(self.frames) if self.frames else frame.clear()
            rows = pl.concat(self.lines) if self.lines else lines.clear()
            yield RawChunk(whole.head(take), rows.head(take), self.bad, done=done)
            self.bad = []
            rest = whole.slice(take)
            self.frames, self.lines = ([rest], [rows.slice(take)]) if rest.height else ([], [])
            self.held = rest.height
