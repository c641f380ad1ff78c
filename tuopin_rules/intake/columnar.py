"""Reading data files in chunks of columns (stream mode): CSV, JSON Lines and Parquet.

Each file is opened as a :class:`ColumnarFile`: its header found and its entity kind detected as
the record reader does (:mod:`~tuopin_rules.intake.files`, :mod:`~tuopin_rules.intake.headers`,
:func:`~tuopin_rules.intake.tables.detect_entity`), then read as :class:`RawChunk` s of about
``chunk_rows`` rows — raw cells in columns ``c0``, ``c1`` … (one per column of the file), the
physical row of each, and the rows that cannot be records with the reason. Only a chunk is held
at a time.

* **CSV** (:mod:`~tuopin_rules.intake.csv_chunks`): pyarrow's streaming reader, every column as
  text. The encoding of CSV and JSON Lines is decided from the first bytes: a BOM; else UTF-8 when
  the first non-ASCII bytes (of the first 64 MB) are UTF-8; else GB18030 — the record reader's
  order; a file whose encoding changes further on is an error.
* **JSON Lines**: one object per line (blank lines are not rows); ``.json`` only when it is JSON
  Lines. Text cells and numbers (as their text, which is what ``convert`` reads) go into the
  columns; ``true``/``false``, lists and objects are handed on as Python values.
* **Parquet**: ``ParquetFile.iter_batches``, typed columns as they are; rows numbered by record.

Workbooks are not streamed (openpyxl parses a sheet's XML whole): convert them to CSV.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import DataFileError
from tuopin_rules.intake.files import CSV_SUFFIXES, EXCEL_SUFFIXES, JSON_SUFFIXES, PARQUET_SUFFIXES
from tuopin_rules.intake.parquet import stored_cell
from tuopin_rules.intake.tables import _not_a_record, detect_entity

__all__ = ["ColumnarFile", "RawChunk", "open_columnar"]

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


def open_text(path: Path, codec: str, bom: int) -> io.TextIOWrapper:
    """The text of ``path`` after its BOM, line endings kept as written."""
    raw = open(path, "rb")  # noqa: SIM115 - closed with the wrapper
    raw.seek(bom)
    return io.TextIOWrapper(raw, encoding=codec, newline="")


def decoding_error(path: Path, encoding: str, near: str = "") -> DataFileError:
    """The error for bytes that are not in the file's encoding."""
    return DataFileError(
        f"{path}: the text is not all {encoding}{near} (mixed encodings? save the file again as UTF-8)"
    )


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
            raise decoding_error(path, codec) from None
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
    with open_text(path, codec, bom) as text:
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
            raise decoding_error(path, codec) from None
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
            frame = _as_cells(frame).rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
            rows = pl.int_range(n + 1, n + 1 + frame.height, eager=True)
            n += frame.height
            yield RawChunk(frame, rows, done=size * n // total)

    return headers, chunks


#: column types the cell conversion reads as they are; any other (lists, structs, durations,
#: binary...) is turned into the text the record reader sees (``str`` of the Parquet cell)
_PLAIN = (pl.String, pl.Boolean, pl.Date, pl.Datetime, pl.Decimal, pl.Null, pl.Categorical, pl.Enum)


def _as_cells(frame: pl.DataFrame) -> pl.DataFrame:
    odd = [c for c, t in frame.schema.items() if not (t.is_numeric() or isinstance(t, _PLAIN) or t in _PLAIN)]
    if not odd:
        return frame
    return frame.with_columns(pl.col(c).map_elements(_cell_text, return_dtype=pl.String, skip_nulls=True) for c in odd)


def _cell_text(value: Any) -> str:
    """A list, struct, duration or binary Parquet cell as the record reader's text of it."""
    return str(stored_cell(value.to_list() if isinstance(value, pl.Series) else value))


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
        from tuopin_rules.intake.csv_chunks import csv_chunks, csv_header

        headers, line, first, offset, width = csv_header(path, schema, codec, bom, header_row)
        chunks = csv_chunks(path, codec, offset, first, headers, width, chunk_rows)
    elif suffix in JSON_SUFFIXES:
        encoding, codec, bom = _sniff(path)
        if suffix == ".json":
            with open_text(path, codec, bom) as text:
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
