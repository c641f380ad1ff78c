"""Reading data files in chunks of columns (stream mode): CSV, JSON Lines and Parquet.

Each file is opened as a :class:`ColumnarFile`: its header found and its entity kind detected as
the record reader does (:mod:`~tuopin_rules.intake.files`, :mod:`~tuopin_rules.intake.headers`,
:func:`~tuopin_rules.intake.tables.detect_entity`), then read as :class:`RawChunk` s of about
``chunk_rows`` rows — raw cells in columns ``c0``, ``c1`` … (one per column of the file), the
physical row of each, and the rows that cannot be records with the reason. Only a chunk is held
at a time.

* **CSV**: pyarrow's streaming reader (every column as text) after the header line; the encoding
  is decided from the first bytes (BOM; else UTF-8 if the first non-ASCII bytes are UTF-8; else
  GB18030) and anything else is transcoded to UTF-8 on the way. Rows keep their physical line
  (a quoted cell with line breaks counts its lines). Rows whose cell count differs from the
  header's are re-read with Python's csv module: trailing empty cells are dropped, as the record
  reader does, and what still does not fit is a bad row.
* **JSON Lines**: one object per line (blank lines are not rows); ``.json`` only when it is JSON
  Lines. Text cells and numbers (as their text, which is what ``convert`` reads) go into the
  columns; ``true``/``false``, lists and objects are handed on as Python values.
* **Parquet**: ``ParquetFile.iter_batches``, typed columns as they are; rows numbered by record.

Workbooks are not streamed (openpyxl parses a sheet's XML whole): convert them to CSV.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import polars as pl

from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import DataFileError
from tuopin_rules.intake.column_values import PY_SPACE, filled
from tuopin_rules.intake.files import CSV_SUFFIXES, EXCEL_SUFFIXES, JSON_SUFFIXES, PARQUET_SUFFIXES, _csv_records
from tuopin_rules.intake.headers import SCAN_ROWS, find_header
from tuopin_rules.intake.tables import _not_a_record, detect_entity, header_match

__all__ = ["ColumnarFile", "RawChunk", "open_columnar"]

BLOCK = 4 << 20  # bytes pyarrow parses at a time
SNIFF = 64 << 20  # bytes searched for the first non-ASCII text when deciding the encoding


@dataclass
class RawChunk:
    """Rows of one file as raw columns.

    Attributes:
        frame: one column per file column, ``c0`` …; String (CSV, JSON) or typed (Parquet).
        rows: the physical row of each frame row (CSV: line; JSON Lines: line; Parquet: record).
        bad: rows that cannot be records: ``(row, problem, raw text or None)``.
        objects: JSON cells that are not text or numbers: column -> {frame row: value}.
        done: bytes of the file consumed so far (for progress).
    """

    frame: pl.DataFrame
    rows: pl.Series
    bad: list[tuple[int, str, str | None]] = field(default_factory=list)
    objects: dict[int, dict[int, Any]] = field(default_factory=dict)
    done: int = 0


@dataclass
class ColumnarFile:
    """A data file opened for chunked reading.

    Attributes:
        path: the file.
        kind: the entity kind its rows hold.
        headers: the header of each column (JSON Lines: grows as new keys appear).
        encoding: the text encoding (``utf-8``, ``utf-8-sig``, ``utf-16``, ``gb18030``), or ``None``.
        header_row: the 1-based line of the header (CSV), else ``None``.
        size: the file's size in bytes.
        chunks: the chunks, read lazily (once).
    """

    path: Path
    kind: str
    headers: list[str]
    encoding: str | None
    header_row: int | None
    size: int
    chunks: Iterator[RawChunk]


def _sniff(path: Path) -> tuple[str, str, int]:
    """``(encoding as reported, codec to read on with, BOM length)``, decided from the first bytes."""
    with open(path, "rb") as f:
        head = f.read(4096)
        if head.startswith(b"\xff\xfe"):
            return "utf-16", "utf-16-le", 2
        if head.startswith(b"\xfe\xff"):
            return "utf-16", "utf-16-be", 2
        if head.startswith(b"\xef\xbb\xbf"):
            return "utf-8-sig", "utf-8", 3
        if b"\x00" in head:
            raise DataFileError(f"{path}: looks like a binary file, not CSV or JSON text")
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        seen = 0
        lines = 1
        while seen < SNIFF:
            block = f.read(1 << 20)
            if not block:
                return "utf-8", "utf-8", 0
            try:
                decoder.decode(block, final=len(block) < 1 << 20)
            except UnicodeDecodeError as exc:
                try:
                    codecs.getincrementaldecoder("gb18030")().decode(block[: max(exc.start, 1)], final=False)
                except UnicodeDecodeError:
                    line = lines + block.count(b"\n", 0, exc.start)
                    raise DataFileError(
                        f"{path}:{line}: the text is neither UTF-8 nor GB18030"
                        " (mixed encodings? save the file again as UTF-8)"
                    ) from None
                return "gb18030", "gb18030", 0
            if max(block) >= 0x80:
                return "utf-8", "utf-8", 0
            seen += len(block)
            lines += block.count(b"\n")
    return "utf-8", "utf-8", 0


def _text(path: Path, codec: str, bom: int) -> io.TextIOWrapper:
    raw = open(path, "rb")  # noqa: SIM115 - closed with the wrapper
    raw.seek(bom)
    return io.TextIOWrapper(raw, encoding=codec, newline="")


def _decode_error(path: Path, encoding: str, near: str = "") -> DataFileError:
    return DataFileError(
        f"{path}: the text is not all {encoding}{near} (mixed encodings? save the file again as UTF-8)"
    )


def _csv_header(
    path: Path, schema: Schema, codec: str, bom: int, header_row: int | None
) -> tuple[list[str], int, int, int, int]:
    """``(names, header line, first data line, byte offset of the data, data width)``."""
    sizes: list[int] = []

    def lines(text: IO[str]) -> Iterator[str]:
        for line in text:
            sizes.append(len(line.encode(codec)))
            yield line

    with _text(path, codec, bom) as text:
        records = _csv_records(csv.reader(lines(text)))
        top: list[tuple[int, int, list[str]]] = []
        try:
            for line, end, row, error in records:
                if row is None:
                    if not top:
                        raise DataFileError(f"{path}:{line}: the header row cannot be read ({error})")
                    break
                top.append((line, end, row))
                if len(top) >= SCAN_ROWS and (header_row is None or line >= header_row):
                    break
        except UnicodeDecodeError:
            raise _decode_error(path, codec) from None
    if not top:
        raise DataFileError(f"{path}: the file is empty")
    at = None
    if header_row is not None:
        at = next((i for i, (line, _, _) in enumerate(top) if line == header_row), None)
        if at is None:
            raise DataFileError(f"{path}:{header_row}: no header on this line (a blank line, or past the file)")
    found = find_header([r for _, _, r in top], header_match(schema), at)
    names = found.names
    if not any(names):
        raise DataFileError(f"{path}:{top[found.index][0]}: the header row is empty")
    last = top[found.index + found.depth - 1][1]
    rest = top[found.index + found.depth :]
    width = len(names)
    if rest and len(rest[0][2]) > width and not any(c.strip() for c in rest[0][2][width:]):
        width = len(rest[0][2])  # rows padded to a title row's width: read them at their width
    return names, top[found.index][0], last + 1, bom + sum(sizes[:last]), width


def _breaks(text: str) -> int:
    """Line breaks inside one CSV record (``\\r\\n`` is one)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _csv_chunks(
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
            return _decode_error(path, "UTF-8" if codec == "utf-8" else codec, near)
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


def _jsonl_chunks(
    path: Path, codec: str, bom: int, headers: list[str], collections: set[str], chunk_rows: int
) -> Iterator[RawChunk]:
    index = {h: i for i, h in enumerate(headers)}
    items: list[tuple[int, dict[str, Any]]] = []
    bad: list[tuple[int, str, str | None]] = []
    n = 0
    with open(path, "rb") as raw:
        raw.seek(bom)
        text = io.TextIOWrapper(raw, encoding=codec, newline="")
        try:
            for physical in text:
                for line in physical.splitlines():
                    n += 1
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line, parse_float=Decimal, parse_constant=str)
                    except json.JSONDecodeError as exc:
                        bad.append((n, f"not valid JSON at column {exc.colno}: {exc.msg}", None))
                        continue
                    if not isinstance(item, dict):
                        bad.append((n, f"a record must be a JSON object, not {type(item).__name__}", None))
                        continue
                    nested = next((k for k in item if k in collections and isinstance(item[k], list)), None)
                    if nested is not None:
                        raise DataFileError(
                            f"{path}:{n}: nested {nested} lists are not read in stream mode; give those rows as"
                            " their own file, or run without --stream"
                        )
                    for key in item:
                        if key not in index:
                            index[key] = len(headers)
                            headers.append(key)
                    # the table's width: the keys seen so far (the record reader counts the whole file's)
                    problem = _not_a_record(item, len(headers))
                    if problem is not None:
                        bad.append((n, problem, None))
                        continue
                    items.append((n, item))
                    if len(items) + len(bad) >= chunk_rows:
                        yield _json_chunk(items, bad, headers, index, raw.tell())
                        items, bad = [], []
        except UnicodeDecodeError:
            raise _decode_error(path, codec) from None
        if items or bad:
            yield _json_chunk(items, bad, headers, index, raw.tell())


def _json_chunk(
    items: list[tuple[int, dict[str, Any]]],
    bad: list[tuple[int, str, str | None]],
    headers: list[str],
    index: dict[str, int],
    done: int,
) -> RawChunk:
    columns: list[list[str | None]] = [[None] * len(items) for _ in headers]
    objects: dict[int, dict[int, Any]] = {}
    for pos, (_, item) in enumerate(items):
        for key, value in item.items():
            if isinstance(value, str):
                columns[index[key]][pos] = value
            elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                columns[index[key]][pos] = str(value)  # what convert reads of a JSON number
            elif value is not None:
                objects.setdefault(index[key], {})[pos] = value
    frame = pl.DataFrame({f"c{i}": pl.Series(col, dtype=pl.String) for i, col in enumerate(columns)})
    rows = pl.Series([r for r, _ in items], dtype=pl.Int64)
    return RawChunk(frame, rows, bad, objects, done)


def _jsonl_keys(path: Path, codec: str, bom: int, limit: int) -> list[str]:
    """The keys of the first ``limit`` objects (what the file's kind is detected from)."""
    keys: dict[str, None] = {}
    seen = 0
    with _text(path, codec, bom) as text:
        try:
            for physical in text:
                for line in physical.splitlines():
                    try:
                        item = json.loads(line, parse_float=Decimal, parse_constant=str)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(item, dict):
                        keys.update(dict.fromkeys(item))
                        seen += 1
                if seen >= limit:
                    break
        except UnicodeDecodeError:
            raise _decode_error(path, codec) from None
    return list(keys)


def _parquet_chunks(path: Path, chunk_rows: int) -> tuple[list[str], Callable[[], Iterator[RawChunk]]]:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error kinds for damaged files
        raise DataFileError(f"{path}: not a readable Parquet file ({exc})") from None
    headers = [str(c) for c in pf.schema_arrow.names]
    total = max(pf.metadata.num_rows, 1)
    size = path.stat().st_size

    def chunks() -> Iterator[RawChunk]:
        n = 0
        for batch in pf.iter_batches(batch_size=max(1, chunk_rows)):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            frame = frame.rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
            rows = pl.int_range(n + 1, n + 1 + frame.height, eager=True)
            n += frame.height
            yield RawChunk(frame, rows, done=size * n // total)

    return headers, chunks


def open_columnar(
    schema: Schema, path: Path, kind: str | None = None, *, header_row: int | None = None, chunk_rows: int = 100_000
) -> ColumnarFile:
    """Open a data file for chunked reading; its kind detected from its headers unless given.

    Raises:
        DataFileError: a missing, unsupported, undecodable or unparsable file; a workbook; a table
            with no entity's identifier column (or, with ``kind``, without that kind's).
    """
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    size = path.stat().st_size
    encoding: str | None = None
    line: int | None = None
    if suffix in CSV_SUFFIXES:
        encoding, codec, bom = _sniff(path)
        headers, line, first, offset, width = _csv_header(path, schema, codec, bom, header_row)
        chunks = _csv_chunks(path, codec, offset, first, headers, width, chunk_rows)
    elif suffix in JSON_SUFFIXES:
        encoding, codec, bom = _sniff(path)
        if suffix == ".json":
            with _text(path, codec, bom) as text:
                head = text.read(1 << 20).lstrip()
            if not (head.startswith("{") and "\n{" in head):
                raise DataFileError(
                    f"{path}: a JSON document (not JSON Lines) is read whole: run without --stream, or write one"
                    " object per line (.jsonl)"
                )
        headers = _jsonl_keys(path, codec, bom, chunk_rows)
        collections = {c for e in schema.entities.values() for c in e.children}
        chunks = _jsonl_chunks(path, codec, bom, headers, collections, chunk_rows)
    elif suffix in PARQUET_SUFFIXES:
        headers, make = _parquet_chunks(path, chunk_rows)
        chunks = make()
    elif suffix in EXCEL_SUFFIXES:
        raise DataFileError(
            f"{path}: workbooks are not read in stream mode (save the sheets as CSV, or run without --stream)"
        )
    else:
        raise DataFileError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .jsonl or .parquet)")
    found = kind or detect_entity(schema, headers, str(path))
    ent = schema.entities[found]
    from tuopin_rules.entities.records import resolve_header

    if headers and not any((f := resolve_header(ent, h)) is not None and f.name == ent.id_field for h in headers):
        id_label = ent.fields[ent.id_field].label.zh
        raise DataFileError(f"{path}: a {found} table needs the identifier column {id_label} ({ent.id_field})")
    return ColumnarFile(path, found, headers, encoding, line, size, chunks)
