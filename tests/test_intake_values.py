"""Cell values of registry exports, header variants and the UTF-8 / GB18030 decision (issue 4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tuopin_rules import Standard
from tuopin_rules.entities.records import resolve_header
from tuopin_rules.entities.schema import FieldDef, base_schema
from tuopin_rules.intake.files import decode
from tuopin_rules.intake.headers import clean_header, combine_rows
from tuopin_rules.intake.tables import header_match, read_dataset
from tuopin_rules.intake.values import CellError, StoredNumber, convert
from tuopin_rules.spec import Text

SCHEMA = base_schema()
HH = SCHEMA.entities["household"]
VILLAGE = SCHEMA.entities["village"]
DAY = FieldDef("identified_on", "household", "date", Text(zh="识别时间", en="identified on"))


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("household_id", StoredNumber(12, "0000"), "0012"),
        ("household_id", StoredNumber(12), "12"),
        ("household_id", StoredNumber(12.0), "12"),
        ("head_id_number", StoredNumber(410522198810095831), "410522198810095831"),  # an exact integer literal
        ("per_capita_net_income", StoredNumber(3612.5, "#,##0.00"), Decimal("3612.5")),
        ("per_capita_net_income", StoredNumber(0.1 + 0.2), Decimal("0.3")),  # 15 digits, as Excel shows
        ("per_capita_net_income", "4,100元", Decimal("4100")),
        ("household_size", "3人", Decimal(3)),
        ("household_size", StoredNumber(3), Decimal(3)),
        ("dangerous_house", StoredNumber(1), True),
        ("dangerous_house", StoredNumber(0), False),
        ("dangerous_house", "有", True),
        ("dangerous_house", "无", False),
        ("dangerous_house", "y", True),
        ("exit_status", StoredNumber(4), "4"),
        ("poverty_cause", "因病", "1"),
        ("poverty_cause", StoredNumber(10), "10"),
        ("poverty_cause", "缺劳力", "8"),
        ("head_name", dt.datetime(2019, 12, 31), "2019-12-31"),
    ],
)
def test_stored_cells(field: str, raw: object, expected: object) -> None:
    assert convert(HH.fields[field], raw) == expected


def test_percent_cells_keep_their_format() -> None:
    f = VILLAGE.fields["poverty_incidence"]
    assert convert(f, StoredNumber(0.02, "0%")) == Decimal("0.02")
    assert convert(f, StoredNumber(0.026, "0.00%")) == Decimal("0.026")
    assert convert(f, StoredNumber(2.6)) == Decimal("0.026")  # no % format: percent points
    assert convert(f, "2.00%") == Decimal("0.02")
    assert convert(f, "２％") == Decimal("0.02")
    assert StoredNumber(1, "0.00%").is_percent
    assert not StoredNumber(1, '0.00"%"').is_percent  # a quoted % is a literal sign, not a percent format


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2019-12-31", dt.date(2019, 12, 31)),
        ("2019.12", dt.date(2019, 12, 1)),
        ("2019-12", dt.date(2019, 12, 1)),
        ("2019年12月", dt.date(2019, 12, 1)),
        ("2019年1月", dt.date(2019, 1, 1)),
        ("2019年12月31日", dt.date(2019, 12, 31)),
        (StoredNumber(43830), dt.date(2019, 12, 31)),  # Excel serial
        (StoredNumber(43830.75), dt.date(2019, 12, 31)),  # with a time of day
        (StoredNumber(42368, epoch_1904=True), dt.date(2019, 12, 31)),
        (StoredNumber(59), dt.date(1900, 2, 28)),
        (StoredNumber(61), dt.date(1900, 3, 1)),
        (StoredNumber(2019.12), dt.date(2019, 12, 1)),  # 2019.12 typed into a General cell
        (dt.datetime(2019, 12, 31, 8, 30), dt.date(2019, 12, 31)),
    ],
)
def test_dates(raw: object, expected: dt.date) -> None:
    assert convert(DAY, raw) == expected


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        ("head_id_number", StoredNumber(4.10522198810096e17), "lost-precision"),
        ("household_id", StoredNumber(4105221012010028000.0), "lost-precision"),
        ("household_size", StoredNumber(2.5), "bad-value"),
        ("dangerous_house", StoredNumber(2), "bad-value"),
        ("per_capita_net_income", StoredNumber(float("nan")), "bad-value"),
        ("per_capita_net_income", dt.date(2019, 1, 1), "bad-value"),
        ("exit_status", StoredNumber(2), "unknown-code"),
    ],
)
def test_stored_cell_errors(field: str, raw: object, code: str) -> None:
    with pytest.raises(CellError) as exc:
        convert(HH.fields[field], raw)
    assert exc.value.code == code


@pytest.mark.parametrize("raw", [StoredNumber(2019), StoredNumber(2019.1), StoredNumber(-3), "2019/13", "2019年13月"])
def test_date_errors(raw: object) -> None:
    with pytest.raises(CellError):
        convert(DAY, raw)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("人均纯收入（元）", "per_capita_net_income"),
        ("人均纯收入(元/人)", "per_capita_net_income"),
        ("人均纯收入 （元）", "per_capita_net_income"),
        ("户　编　号", "household_id"),  # ideographic spaces
        ("AAC001", "household_id"),
        ("aac031", "head_id_number"),
        ("家庭人口数（人）", "household_size"),
        ("是否危房户", "dangerous_house"),
        ("主要致贫原因", "poverty_cause"),
    ],
)
def test_header_variants(header: str, field: str) -> None:
    found = resolve_header(HH, clean_header(header))
    assert found is not None and found.name == field


def test_clean_header_markers_and_line_breaks() -> None:
    assert clean_header("*户编号") == "户编号"
    assert clean_header("人均\n纯收入") == "人均纯收入"
    assert clean_header(None) == ""


def test_two_row_header_names() -> None:
    match = header_match(SCHEMA)
    names = combine_rows(
        ["户编号", "户主", None, "收入情况", None, "其他", None],
        [None, "姓名", "证件号码", "人均纯收入（元）", "工资", "甲", None],
        match.resolves,
    )
    assert names == ["户编号", "户主姓名", "户主证件号码", "人均纯收入（元）", "收入情况工资", "其他甲", ""]


def test_header_is_found_below_title_and_notes_rows(national: Standard, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "建档立卡贫困户信息表,,\n填报单位：示范县,,单位：元\n户编号,脱贫状态,人均纯收入\n0012,已脱贫,3650\n",
        encoding="utf-8",
    )
    ds = read_dataset(national.schema, [str(path)])
    (acc,) = ds.accounts
    assert (acc.header_row, acc.rows_read, acc.records) == (3, 1, 1)
    bad = tmp_path / "b.csv"
    bad.write_text("标题\n户编号,人均纯收入\n0012,三千\n", encoding="utf-8")
    (issue,) = read_dataset(national.schema, [str(bad)]).issues
    assert issue.location == f"{bad}:3:人均纯收入"  # CSV keeps file:row:column


# --- encodings: UTF-8 is never read as GB18030, GB18030 never as UTF-8 -----------------------


def _aliases() -> list[str]:
    return sorted(
        {
            a
            for ent in SCHEMA.entities.values()
            for f in ent.fields.values()
            for a in (f.label.zh, *f.aliases)
            if not a.isascii()
        }
    )


def test_no_chinese_header_line_in_gb18030_is_valid_utf8() -> None:
    """Of the Chinese headers the schema knows, only 省 alone is valid UTF-8 when encoded in GB18030
    (CA A1, read as 'ʡ'); any header line naming two of them is not. So a GB18030 file whose header
    names fields can never pass the strict UTF-8 attempt that decoding starts with."""
    aliases = _aliases()
    alone = [a for a in aliases if _utf8_ok(a.encode("gb18030"))]
    assert alone == ["省"]
    assert not any(_utf8_ok(f"省,{a}".encode("gb18030")) for a in aliases if a != "省")


def test_utf8_that_is_also_valid_gb18030_is_read_as_utf8(tmp_path: Path) -> None:
    text = "户村\n"
    data = text.encode("utf-8")
    assert data.decode("gb18030") == "鎴锋潙\n"  # the trap is real: these UTF-8 bytes are valid GB18030
    path = tmp_path / "u.csv"
    path.write_bytes(("户编号,行政村\n0012," + text).encode("utf-8"))
    assert decode(path) == ("户编号,行政村\n0012," + text, "utf-8")


def test_gb18030_that_is_also_valid_utf8_is_read_as_gb18030_below_a_header(tmp_path: Path) -> None:
    """贫业 in GB18030 is valid UTF-8 (read as 'ƶҵ'); below a Chinese header the file is not."""
    assert "贫业".encode("gb18030").decode("utf-8") == "ƶҵ"
    text = "户编号,户主姓名\n0012,贫业\n"
    path = tmp_path / "g.csv"
    path.write_bytes(text.encode("gb18030"))
    assert decode(path) == (text, "gb18030")


def _utf8_ok(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
