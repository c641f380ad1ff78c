"""Data intake: CSV and JSON files, header aliases, cell values, data issues, accounting, links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tuopin_rules import DataFileError, Engine, Outcome, Standard
from tuopin_rules.entities.schema import base_schema
from tuopin_rules.intake.tables import read_dataset
from tuopin_rules.intake.values import CellError, convert

HH = base_schema().entities["household"]
VILLAGE = base_schema().entities["village"]


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("per_capita_net_income", "5230.5", Decimal("5230.5")),
        ("per_capita_net_income", "５,２３０.５", Decimal("5230.5")),
        ("per_capita_net_income", " 1,234,567 ", Decimal("1234567")),
        ("per_capita_net_income", "", None),
        ("per_capita_net_income", "-", None),
        ("dangerous_house", "是", True),
        ("dangerous_house", "否", False),
        ("dangerous_house", "N", False),
        ("dangerous_house", "1", True),
        ("exit_status", "已脱贫", "1"),
        ("exit_status", "4", "4"),
        ("exit_status", "已脱贫（不再享受政策）", "4"),
        ("housing_safety_grade", "C级", "C"),
        ("housing_safety_grade", "Ｂ", "B"),
        ("household_id", "0012", "0012"),
        ("head_id_number", "41052219881009583x", "41052219881009583x"),
        ("household_size", "3", Decimal(3)),
    ],
)
def test_convert(field: str, raw: str, expected: object) -> None:
    assert convert(HH.fields[field], raw) == expected


def test_percent_cells() -> None:
    f = VILLAGE.fields["poverty_incidence"]
    assert convert(f, "2.6%") == Decimal("0.026")
    assert convert(f, "2.6") == Decimal("0.026")  # percent points, as published
    assert convert(f, "2.00 %") == Decimal("0.02")


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        ("per_capita_net_income", "三千", "bad-value"),
        ("per_capita_net_income", "12..5", "bad-value"),
        ("dangerous_house", "也许", "bad-value"),
        ("exit_status", "已托贫", "unknown-code"),
        ("household_size", "2.5", "bad-value"),
    ],
)
def test_bad_cells(field: str, raw: str, code: str) -> None:
    with pytest.raises(CellError) as info:
        convert(HH.fields[field], raw)
    assert info.value.code == code


def test_dates() -> None:
    from tuopin_rules.entities.schema import FieldDef
    from tuopin_rules.spec import Text

    f = FieldDef("d", "household", "date", Text(zh="日期"))
    for raw in ("2019-12-31", "2019/12/31", "2019.12.31", "2019年12月31日", "20191231"):
        assert convert(f, raw) == dt.date(2019, 12, 31)
    with pytest.raises(CellError):
        convert(f, "2019-02-30")


HOUSEHOLD_CSV = (
    "户编号,脱贫状态,人均纯收入（元）, 是否不愁吃 ,不愁穿,危房级别,饮水安全,备注\n"
    "0012,已脱贫,3650,是,是,A级,是,x\n"
    "0013,已脱贫,abc,是,是,B级,是,\n"
    "\n"
    "0012,已脱贫,9000,是,是,A级,是,duplicate\n"
    ",已脱贫,9000,是,是,A级,是,no id\n"
    "41052219881009583X,已脱贫,5000.5,是,是,A,是,\n"
)


@pytest.fixture
def hh_file(tmp_path: Path) -> Path:
    path = tmp_path / "户.csv"
    path.write_text(HOUSEHOLD_CSV, encoding="utf-8-sig")
    return path


def test_csv_household_file(national: Standard, hh_file: Path) -> None:
    ds = read_dataset(national.schema, [str(hh_file)])
    (acc,) = ds.accounts
    assert (acc.entity, acc.encoding, acc.rows_read, acc.records, acc.rejected) == ("household", "utf-8-sig", 5, 3, 2)
    assert acc.balanced
    assert acc.unknown_columns == ["备注"]
    ids = [r.id for r in ds.tables["household"]]
    assert ids == ["0012", "0013", "41052219881009583X"]
    codes = {(i.code, i.row, i.column) for i in ds.issues}
    assert ("bad-value", 3, "人均纯收入（元）") in codes
    assert ("duplicate-id", 5, None) in codes
    assert ("missing-id", 6, None) in codes
    bad = next(i for i in ds.issues if i.code == "bad-value")
    assert bad.raw == "abc" and bad.render().startswith(f"{hh_file}:3:人均纯收入（元）: data-error[bad-value]")


def test_bad_cell_makes_only_its_rules_unknown(national: Standard, hh_file: Path) -> None:
    ds = read_dataset(national.schema, [str(hh_file)])
    rec = ds.find("household", "0013")
    assert rec is not None
    v = Engine(national).evaluate_record(rec, 2020)
    by_rule = {r.rule_id: r for r in v.results}
    assert by_rule["household.income"].outcome is Outcome.UNKNOWN
    income = next(e for e in by_rule["household.income"].evidence if e.name == "per_capita_net_income")
    assert income.value is None and income.note is not None and "'abc'" in income.note.zh
    assert by_rule["household.food_clothing"].outcome is Outcome.PASS


def test_gb18030_csv(national: Standard, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("户编号,人均纯收入\n0001,5000\n".encode("gb18030"))
    ds = read_dataset(national.schema, [str(path)])
    assert ds.accounts[0].encoding == "gb18030"
    assert ds.tables["household"][0].values["per_capita_net_income"] == Decimal(5000)


def test_utf8_is_never_read_as_gb18030(national: Standard, tmp_path: Path) -> None:
    path = tmp_path / "utf8.csv"
    path.write_text("户编号,户主姓名\n0001,张三丰\n", encoding="utf-8")
    ds = read_dataset(national.schema, [str(path)])
    assert ds.accounts[0].encoding == "utf-8"
    assert ds.tables["household"][0].values["head_name"] == "张三丰"


def test_json_and_jsonl(national: Standard, tmp_path: Path) -> None:
    js = tmp_path / "hh.json"
    js.write_text('[{"household_id": "0012", "per_capita_net_income": 4000.10, "exit_status": "1"}]', encoding="utf-8")
    jl = tmp_path / "m.jsonl"
    jl.write_text('{"人编号": "01", "户编号": "0012"}\n{"人编号": "02", "户编号": "0099"}\n', encoding="utf-8")
    ds = read_dataset(national.schema, [str(js), str(jl)])
    hh = ds.tables["household"][0]
    assert hh.values["per_capita_net_income"] == Decimal("4000.10")  # never through a binary float
    assert [m.id for m in hh.children["members"]] == ["01"]
    orphan = [i for i in ds.issues if i.code == "orphan-link"]
    assert len(orphan) == 1 and orphan[0].entity_id == "02"
    member_acc = next(a for a in ds.accounts if a.entity == "member")
    assert (member_acc.rows_read, member_acc.records, member_acc.rejected) == (2, 1, 1)


def test_members_alone_form_households(national: Standard, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text(
        "人编号,户编号,证件号码\n01,0012,11010519491231002X\n02,0012,110105201001010011\n", encoding="utf-8"
    )
    ds = read_dataset(national.schema, [str(path)])
    (hh,) = ds.tables["household"]
    assert hh.id == "0012" and len(hh.children["members"]) == 2


def test_kind_prefix_and_folder(national: Standard, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("county,comprehensive_poverty_incidence_pct\n某县,1.5\n", encoding="utf-8")
    ds = read_dataset(national.schema, [f"county={path}"])
    assert ds.tables["county"][0].values["comprehensive_poverty_incidence"] == Decimal("0.015")
    ds = read_dataset(national.schema, [str(tmp_path)])
    assert "county" in ds.tables


def test_unreadable_files(national: Standard, tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no such file"):
        read_dataset(national.schema, [str(tmp_path / "missing.csv")])
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataFileError, match="empty"):
        read_dataset(national.schema, [str(empty)])
    noid = tmp_path / "noid.csv"
    noid.write_text("姓名,年龄\n张三,3\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="no identifier column"):
        read_dataset(national.schema, [str(noid)])
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[{", encoding="utf-8")
    with pytest.raises(DataFileError, match="not valid JSON"):
        read_dataset(national.schema, [str(bad_json)])
    xls = tmp_path / "x.docx"  # was x.xlsx, which is now read (a broken one is tested in test_intake_excel)
    xls.write_bytes(b"PK")
    with pytest.raises(DataFileError, match="unsupported file type"):
        read_dataset(national.schema, [str(xls)])
