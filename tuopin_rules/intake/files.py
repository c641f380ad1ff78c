"""Reading data files into raw rows: decoding, CSV and JSON / JSON Lines, row-level problems.

Decoding: UTF-8 (with or without BOM) first, since a UTF-8 file is never valid-looking GB18030 by
accident for long; then UTF-16 when it has a BOM (Excel's "Unicode text"); then GB18030 (a superset
of GBK and GB2312). A file with NUL bytes and no UTF-16 BOM is binary and refused.

A row that cannot be a record — a CSV row whose cell count differs from the header (an unquoted
comma, an unclosed quote swallowing following lines), a JSON Lines line that is not valid JSON or
not an object — is yielded with a problem text, so the caller can reject and account for it.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tuopin_rules.errors import DataFileError, NotDataError
from tuopin_rules.intake.headers import FIRST_ROW, SCAN_ROWS, Header, HeaderMatch, find_header

__all__ = ["DATA_SUFFIXES", "RawRow", "RawTable", "read_raw", "read_tables"]

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long cell is data, not a crash

CSV_SUFFIXES = (".csv",)
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
PARQUET_SUFFIXES = (".parquet",)
DATA_SUFFIXES = CSV_SUFFIXES + JSON_SUFFIXES + EXCEL_SUFFIXES + PARQUET_SUFFIXES


@dataclass
class RawRow:
    """One row as read: its 1-based line (CSV: physical line where it starts; JSON: record index),
    its cells by header, and a problem text when it cannot be a record."""

    row: int
    cells: dict[str, Any]
    problem: str | None = None
    raw: str | None = None


@dataclass
class RawTable:
    """A table's header, rows (lazily) and encoding; for a workbook, one sheet.

    Attributes:
        headers: the column names, in order.
        rows: the data rows below the header.
        encoding: the text encoding (CSV, JSON), or ``None`` for a binary format.
        sheet: the sheet name of a workbook table, else ``None``.
        letters: header -> column letter (``C``), for a workbook table.
        header_row: the 1-based row (CSV: line) of the header, when the table has one.
        skipped: why the table holds no data (an empty sheet), else ``None``.
        filled: header -> how many of its cells were blank inside a merged range and were given
            the merged value (counted as the rows are read; a workbook's data area only).
    """

    headers: list[str]
    rows: Iterator[RawRow]
    encoding: str | None
    sheet: str | None = None
    letters: dict[str, str] = field(default_factory=dict)
    header_row: int | None = None
    skipped: str | None = None
    filled: dict[str, int] = field(default_factory=dict)


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def decode(path: Path) -> tuple[str, str]:
    """The text of ``path`` and the encoding it was read with.

    Raises:
        DataFileError: binary content, or bytes that are neither UTF-8, UTF-16 nor GB18030
            (the message names the line of the first bad byte).
    """
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{path}:{_line_of(raw, exc.start)}: not valid UTF-16 text") from None
    if b"\x00" in raw[:4096]:
        raise DataFileError(f"{path}: looks like a binary file, not CSV or JSON text")
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as utf8_error:
        first_bad = utf8_error.start
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise DataFileError(
            f"{path}:{_line_of(raw, first_bad)}: the text is neither UTF-8 nor GB18030"
            " (mixed encodings? save the file again as UTF-8)"
        ) from None


def _csv_records(reader: Any) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """``(first line, last line, cells, error)`` per CSV record; blank lines are left out."""
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, reader.line_num, None, f"the row cannot be read as CSV ({exc})"
            start = reader.line_num + 1
            continue
        end = reader.line_num
        line, start = start, end + 1
        if any(cell.strip() for cell in row):
            yield line, end, row, None


#: a CSV record: its first line, its last line, its cells
CsvTop = list[tuple[int, int, list[str]]]


def find_csv_header(
    path: Path,
    records: Iterator[tuple[int, int, list[str] | None, str | None]],
    match: HeaderMatch,
    header_row: int | None,
) -> tuple[CsvTop, Header]:
    """Read the first records of a CSV (``_csv_records``) and find the header among them: below title
    rows, or on line ``header_row``. Returns the records read and the header found.

    Raises:
        DataFileError: an empty file, an unreadable first record, no header on ``header_row``, or an
            empty header row.
    """
    top: CsvTop = []
    for line, end, row, error in records:
        if row is None:
            if not top:
                raise DataFileError(f"{path}:{line}: the header row cannot be read ({error})")
            break  # the rows read so far are enough to find the header in
        top.append((line, end, row))
        if len(top) >= SCAN_ROWS and (header_row is None or line >= header_row):
            break
    if not top:
        raise NotDataError(f"{path}: the file is empty")
    at = None
    if header_row is not None:
        at = next((i for i, (line, _, _) in enumerate(top) if line == header_row), None)
        if at is None:
            raise DataFileError(f"{path}:{header_row}: no header on this line (a blank line, or past the file)")
    found = find_header([r for _, _, r in top], match, at)
    if not any(found.names):
        raise DataFileError(f"{path}:{top[found.index][0]}: the header row is empty")
    return top, found


def _csv(path: Path, match: HeaderMatch, header_row: int | None) -> RawTable:
    text, encoding = decode(path)
    records = _csv_records(csv.reader(io.StringIO(text, newline="")))
    top, found = find_csv_header(path, records, match, header_row)
    header = found.names
    rest = top[found.index + found.depth :]
    width = len(header)

    def rows() -> Iterator[RawRow]:
        pending = [(line, end, row, None) for line, end, row in rest]
        for line, end, row, error in itertools.chain(pending, records):
            if row is None:
                yield RawRow(line, {}, error)
                continue
            if len(row) > width and not any(cell.strip() for cell in row[width:]):
                row = row[:width]  # trailing empty cells (an export padded to a title row's width)
            if len(row) != width:
                span = f" (it runs from line {line} to {end}: an unclosed quote?)" if end - line > 1 else ""
                problem = f"the row has {len(row)} cells but the header has {width}{span}"
                shown = ",".join(row)
                yield RawRow(line, {}, problem, shown if len(shown) <= 200 else shown[:200] + "…")
                continue
            yield RawRow(line, dict(zip(header, row, strict=True)))

    return RawTable(header, rows(), encoding, header_row=top[found.index][0])


def _json_line(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    return name  # NaN / Infinity stay text, so the cell is reported as not a number


def _json(path: Path) -> RawTable:
    text, encoding = decode(path)
    stripped = text.lstrip()
    lines_mode = path.suffix.lower() in (".jsonl", ".ndjson") or (stripped.startswith("{") and "\n{" in stripped)
    parsed: list[tuple[int, Any, str | None]] = []
    if lines_mode:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                parsed.append((n, _json_line(line), None))
            except json.JSONDecodeError as exc:
                parsed.append((n, None, f"not valid JSON at column {exc.colno}: {exc.msg}"))
    else:
        try:
            data = _json_line(text)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        items = data if isinstance(data, list) else [data]
        parsed = [(i, item, None) for i, item in enumerate(items, start=1)]
    headers = list(dict.fromkeys(k for _, item, _ in parsed if isinstance(item, dict) for k in item))

    def rows() -> Iterator[RawRow]:
        for n, item, problem in parsed:
            if problem is None and not isinstance(item, dict):
                problem = f"a record must be a JSON object, not {type(item).__name__}"
            yield RawRow(n, item if problem is None else {}, problem)

    return RawTable(headers, rows(), encoding)


def read_raw(path: Path) -> RawTable:
    """Open a file as one raw table, its first row the header (a workbook: its first sheet).

    Raises:
        DataFileError: missing file, unsupported type, undecodable or unparsable file.
    """
    return read_tables(path)[0]


def read_tables(
    path: Path, match: HeaderMatch = FIRST_ROW, *, header_row: int | None = None, sheet: str | None = None
) -> list[RawTable]:
    """Open a data file as raw tables: one for CSV, JSON and Parquet, one per sheet of a workbook.

    Args:
        path: the file.
        match: how header names are matched to fields (to find the header row below title rows).
        header_row: the 1-based row (CSV: line) of the header, instead of searching for it.
        sheet: read only this sheet of a workbook (its name, or its 1-based position).

    Raises:
        DataFileError: missing file, unsupported type, undecodable or unparsable file.
    """
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return [_csv(path, match, header_row)]
    if suffix in JSON_SUFFIXES:
        return [_json(path)]
    if suffix in EXCEL_SUFFIXES:
        from tuopin_rules.intake.excel import read_workbook

        return read_workbook(path, match, header_row=header_row, sheet=sheet)
    if suffix in PARQUET_SUFFIXES:
        from tuopin_rules.intake.parquet import read_parquet

        return [read_parquet(path)]
    raise DataFileError(
        f"{path}: unsupported file type {path.suffix!r} (use .csv, .xlsx, .xls, .json, .jsonl or .parquet)"
    )
