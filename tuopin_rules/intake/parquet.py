"""Reading Parquet files (through polars, an optional extra: ``pip install 'tuopin-rules[parquet]'``).

A Parquet file is one table with typed columns. Text columns stay text (codes keep their leading
zeros); integer and float columns arrive as :class:`~tuopin_rules.intake.values.StoredNumber`, so
that a number in a text field (a household code written as an integer) is read and reported the
same way as a number cell of a spreadsheet; decimal columns are exact; date columns are dates.
Rows are numbered by record, the first record being row 1 (as for JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from tuopin_rules.errors import DataFileError
from tuopin_rules.intake.files import RawRow, RawTable
from tuopin_rules.intake.values import StoredNumber

__all__ = ["read_parquet", "stored_cell"]

_BATCH = 50_000


def stored_cell(value: Any) -> Any:
    """A typed (Parquet) cell as the record reader hands it to ``convert``: numbers as
    :class:`StoredNumber`, lists and structs as their text, other values (dates, times) as they are."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return StoredNumber(value)
    if isinstance(value, (list, dict)):
        return str(value)
    return value  # date, datetime, time: as they are


def read_parquet(path: Path) -> RawTable:
    """A Parquet file as a raw table (its rows are read in batches, lazily).

    Raises:
        DataFileError: polars is not installed, or the file is not readable Parquet.
    """
    try:
        import polars as pl
    except ImportError:
        raise DataFileError(
            f"{path}: reading Parquet needs the polars package (pip install 'tuopin-rules[parquet]')"
        ) from None
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises its own error kinds for damaged files
        raise DataFileError(f"{path}: not a readable Parquet file ({exc})") from None
    headers = [str(c) for c in frame.columns]

    def rows() -> Iterator[RawRow]:
        n = 0
        for offset in range(0, frame.height, _BATCH):
            for values in frame.slice(offset, _BATCH).iter_rows():
                n += 1
                yield RawRow(n, {h: stored_cell(v) for h, v in zip(headers, values, strict=True)})

    return RawTable(headers, rows(), None)
