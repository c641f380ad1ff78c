"""18-digit ID numbers ending in X and codes with leading zeros survive every format (issue 4)."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuopin_rules import Standard
from tuopin_rules.intake.tables import read_dataset

ID_NUMBERS = st.builds(
    lambda body, check: body + check,
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    st.sampled_from("0123456789Xx"),
)
CODES = st.text(alphabet="0123456789", min_size=1, max_size=20).map(lambda s: "0" + s)
ROWS = st.lists(st.tuples(CODES, ID_NUMBERS), min_size=1, max_size=8, unique_by=lambda r: r[0])
HEADER = ["户编号", "户主证件号码", "人均纯收入"]


def _write(fmt: str, folder: Path, rows: list[tuple[str, str]]) -> Path:
    table = [[code, ident, "4100"] for code, ident in rows]
    if fmt in ("csv", "csv-gb18030"):
        path = folder / "h.csv"
        with path.open("w", newline="", encoding="utf-8-sig" if fmt == "csv" else "gb18030") as fh:
            csv.writer(fh).writerows([HEADER, *table])
    elif fmt == "json":
        path = folder / "h.json"
        path.write_text(json.dumps([dict(zip(HEADER, r, strict=True)) for r in table], ensure_ascii=False))
    elif fmt == "jsonl":
        path = folder / "h.jsonl"
        path.write_text("\n".join(json.dumps(dict(zip(HEADER, r, strict=True))) for r in table) + "\n")
    elif fmt == "xlsx":
        path = folder / "h.xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["建档立卡贫困户信息表"])
        ws.append(HEADER)
        for r in table:
            ws.append(r)
        wb.save(path)
    else:
        import polars as pl

        path = folder / "h.parquet"
        pl.DataFrame({h: [r[i] for r in table] for i, h in enumerate(HEADER)}).write_parquet(path)
    return path


FORMATS = ["csv", "csv-gb18030", "json", "jsonl", "xlsx", "parquet"]


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=25, deadline=None)
@given(rows=ROWS)
def test_codes_and_id_numbers_survive(national: Standard, fmt: str, rows: list[tuple[str, str]]) -> None:
    if fmt == "parquet":
        pytest.importorskip("polars")
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(fmt, Path(tmp), rows)
        ds = read_dataset(national.schema, [str(path)])
    assert not ds.issues
    got = [(r.id, r.values["head_id_number"]) for r in ds.tables["household"]]
    assert got == rows
