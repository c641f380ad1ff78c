"""Stream mode's bounded stores: rows spooled to hash partitions on disk, and data issues.

* :class:`Spool` — ``k`` Parquet files, one per partition, each appended to as chunks arrive
  (rows are buffered per partition and flushed as one row group once ``flush_rows`` rows wait in
  all, so a partition file has a few large row groups rather than one per chunk, and the writers'
  footers stay small). Number columns (the vector engine's ``Int128`` half-units) are stored as
  ``decimal(38, 0)``, which Parquet has.
* :class:`IssueSink` — every data issue is counted; the first ``limit`` by place in the data
  (file, row, column) are kept to be shown.

A row's place in the data is one integer, ``file index << ROW_BITS | row`` (:func:`place`), so
"first in file order" is a minimum.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from tuopin_rules.errors import NOTICE_CODES, DataIssue

__all__ = ["ISSUE_COLUMNS", "ROW_BITS", "ROW_LEVEL", "IssueSink", "Spool", "file_of", "place", "row_of"]

ROW_BITS = 40  # rows of one file: fewer than 2**40


def place(file: int, row: pl.Expr | pl.Series) -> Any:
    """A row's place in the data: ``file << ROW_BITS | row``."""
    return row + (file << ROW_BITS)


def file_of(place: Any) -> Any:
    """The file index of a place (an expression or a series)."""
    return place // (1 << ROW_BITS)


def row_of(place: Any) -> Any:
    """The row (in its file) of a place (an expression or a series)."""
    return place % (1 << ROW_BITS)


_STORED = pl.Decimal(38, 0)


def _to_disk(frame: pl.DataFrame) -> pl.DataFrame:
    wide = [c for c, t in frame.schema.items() if t == pl.Int128]
    return frame.with_columns(pl.col(wide).cast(_STORED)) if wide else frame


def _from_disk(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    wide = [c for c, t in schema.items() if t == pl.Int128]
    return frame.with_columns(pl.col(wide).cast(pl.Int128)) if wide else frame


class Spool:
    """``k`` partition files of one kind of row under ``folder``.

    Args:
        folder: where the files go (a temporary folder).
        name: the files' stem (``household``, ``member-ids`` …).
        k: the number of partitions.
        schema: the polars schema of every row written (columns and types, in order).
        flush_rows: rows held in memory, over all partitions, before they are written.
    """

    def __init__(self, folder: Path, name: str, k: int, schema: pl.Schema, flush_rows: int) -> None:
        self.folder = folder
        self.name = name
        self.k = k
        self.schema = schema
        self.flush_rows = flush_rows
        self.held: dict[int, list[pl.DataFrame]] = {}
        self.count = 0
        self.writers: dict[int, Any] = {}
        self.arrow_schema = _to_disk(pl.DataFrame(schema=schema)).to_arrow().schema

    def path(self, part: int) -> Path:
        """The file of partition ``part``."""
        return self.folder / f"{self.name}-{part:04d}.parquet"

    def write(self, frame: pl.DataFrame, part: pl.Series) -> None:
        """Append the rows of ``frame`` to their partitions (``part``: the partition of each row)."""
        if not frame.height:
            return
        absent = [pl.lit(None, dtype=t).alias(c) for c, t in self.schema.items() if c not in frame.columns]
        frame = frame.with_columns(absent).select(list(self.schema)).cast(self.schema)
        if self.k == 1:
            self.held.setdefault(0, []).append(frame)
        else:
            keyed = frame.with_columns(part.alias("__spool_part"))
            for (p,), rows in keyed.partition_by("__spool_part", as_dict=True, include_key=False).items():
                self.held.setdefault(int(p), []).append(rows)
        self.count += frame.height
        if self.count >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Write out every partition's held rows (one row group each)."""
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        for p, frames in self.held.items():
            writer = self.writers.get(p)
            if writer is None:
                writer = self.writers[p] = pq.ParquetWriter(self.path(p), self.arrow_schema, compression="lz4")
            table = _to_disk(pl.concat(frames)).to_arrow().cast(self.arrow_schema)
            writer.write_table(table)
        self.held = {}
        self.count = 0

    def close(self) -> None:
        """Flush and close every file."""
        self.flush()
        for writer in self.writers.values():
            writer.close()
        self.writers = {}

    def read(self, part: int, columns: list[str] | None = None) -> pl.DataFrame:
        """Every row of partition ``part`` (after :meth:`close`); only ``columns`` when given."""
        path = self.path(part)
        schema = self.schema if columns is None else pl.Schema({c: self.schema[c] for c in columns})
        if not path.exists():
            return pl.DataFrame(schema=schema)
        return _from_disk(pl.read_parquet(path, columns=list(schema)), schema)


#: the columns of the issue frames an :class:`IssueSink` takes
ISSUE_COLUMNS: dict[str, Any] = {
    "file": pl.Int64,
    "row": pl.Int64,
    "order": pl.Int64,
    "code": pl.String,
    "message": pl.String,
    "column": pl.String,
    "raw": pl.String,
    "field": pl.String,
    "entity": pl.String,
    "entity_id": pl.String,
}

#: the order of a row-level issue (no id, repeated id) among a row's cell issues
ROW_LEVEL = 1 << 30


class IssueSink:
    """Data issues: all counted, the first ``limit`` (by file, row, column) kept.

    Args:
        files: the file name of each file index.
        limit: how many issues to keep for display.
    """

    def __init__(self, files: list[str], limit: int) -> None:
        self.files = files
        self.limit = limit
        self.kept = pl.DataFrame(schema=ISSUE_COLUMNS)
        self.total = 0
        self.by_code: Counter[str] = Counter()

    def add(self, frame: pl.DataFrame) -> None:
        """Count (and keep, within the limit) the issues of ``frame`` (columns :data:`ISSUE_COLUMNS`)."""
        if not frame.height:
            return
        absent = [pl.lit(None, dtype=t).alias(c) for c, t in ISSUE_COLUMNS.items() if c not in frame.columns]
        frame = frame.with_columns(absent).select(list(ISSUE_COLUMNS)).cast(pl.Schema(ISSUE_COLUMNS))
        self.total += frame.height
        self.by_code.update(dict(frame["code"].value_counts().iter_rows()))
        merged = pl.concat([self.kept, frame])
        self.kept = merged.sort(["file", "row", "order"], nulls_last=True, maintain_order=True).head(self.limit)

    def one(self, code: str, message: str, file: int, row: int | None = None, **more: str | None) -> None:
        """Add one issue."""
        self.add(
            pl.DataFrame([{"file": file, "row": row, "order": ROW_LEVEL, "code": code, "message": message, **more}])
        )

    @property
    def errors(self) -> int:
        """Issues that are not notices (``check --strict`` counts these)."""
        return sum(n for code, n in self.by_code.items() if code not in NOTICE_CODES)

    def issues(self) -> list[DataIssue]:
        """The kept issues, in order."""
        return [
            DataIssue(
                r["code"],
                r["message"],
                self.files[r["file"]],
                r["row"],
                r["column"],
                r["raw"],
                r["field"],
                r["entity"],
                r["entity_id"],
            )
            for r in self.kept.iter_rows(named=True)
        ]
