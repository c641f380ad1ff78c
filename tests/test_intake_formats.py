"""Registry exports (issue 4): the fixtures in tests/fixtures/intake read with the right verdicts,
every bad cell located (``file:sheet!C5`` in a workbook), every row accounted for."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from tuopin_rules import DataFileError, Engine, Outcome, Standard, load_standard
from tuopin_rules.cli import main
from tuopin_rules.entities.schema import base_schema
from tuopin_rules.intake.tables import Dataset, read_dataset

FIX = Path(__file__).parent / "fixtures" / "intake"


def read(national: Standard, *paths: Path | str, **kw: object) -> Dataset:
    ds = read_dataset(national.schema, [str(p) for p in paths], **kw)  # type: ignore[arg-type]
    assert all(a.balanced for a in ds.accounts), ds.accounts
    return ds


def outcomes(national: Standard, ds: Dataset, kind: str) -> dict[str, Outcome]:
    engine = Engine(national)
    out = {}
    for rec in ds.tables[kind]:
        issues = [i for i in ds.issues if i.entity == kind and i.entity_id == rec.id]
        out[str(rec.id)] = engine.evaluate_record(rec, 2020, issues).outcome
    return out


def rule(national: Standard, ds: Dataset, kind: str, ident: str, rule_id: str) -> Outcome:
    rec = ds.find(kind, ident)
    assert rec is not None
    verdict = Engine(national).evaluate_record(rec, 2020, [])
    return next(r.outcome for r in verdict.results if r.rule_id == rule_id)


def test_registry_household_export(national: Standard) -> None:
    path = FIX / "registry-households.xlsx"
    ds = read(national, path)
    (acc,) = ds.accounts
    assert (acc.file, acc.sheet, acc.header_row) == (f"{path}:贫困户信息", "贫困户信息", 3)
    assert (acc.rows_read, acc.records, acc.rejected) == (6, 5, 1)  # styled empty rows are not rows
    assert acc.unknown_columns == ["联系电话"]
    hh = {r.id: r for r in ds.tables["household"]}
    assert list(hh) == ["0012", "0013", "0014", "0015", "0016"]
    assert hh["0012"].values["head_id_number"] == "41052219881009583X"  # 户主 over 证件号码
    assert hh["0012"].values["head_name"] == "李振兴"
    assert str(hh["0012"].values["per_capita_net_income"]) == "5230.5"  # 收入情况 over 人均纯收入（元）
    assert str(hh["0012"].values["net_income"]) == "15691.5"
    assert str(hh["0014"].values["per_capita_net_income"]) == "4100"  # full-width text
    by_code = {i.code: i for i in ds.issues}
    bad = by_code["bad-value"]
    assert (bad.location, bad.raw, bad.entity_id) == (f"{path}:贫困户信息!I8", "三千", "0015")
    assert by_code["missing-id"].location == f"{path}:贫困户信息!10:10"
    assert by_code["skipped-sheet"].location == f"{path}:填表说明"
    assert rule(national, ds, "household", "0013", "household.income") is Outcome.FAIL
    assert rule(national, ds, "household", "0014", "household.income") is Outcome.PASS
    assert rule(national, ds, "household", "0015", "household.income") is Outcome.UNKNOWN
    assert rule(national, ds, "household", "0016", "household.housing") is Outcome.FAIL
    assert rule(national, ds, "household", "0012", "household.housing") is Outcome.PASS


def test_the_bad_cell_is_the_reason_of_the_unknown_rule(national: Standard) -> None:
    path = FIX / "registry-households.xlsx"
    ds = read(national, path)
    rec = ds.find("household", "0015")
    assert rec is not None
    assert rec.issues["per_capita_net_income"].location == f"{path}:贫困户信息!I8"


def test_multi_sheet_workbook(national: Standard) -> None:
    path = FIX / "registry-book.xlsx"
    ds = read(national, path)
    assert [(a.sheet, a.entity, a.rows_read, a.records, a.rejected) for a in ds.accounts] == [
        ("行政村", "village", 2, 2, 0),
        ("户信息", "household", 2, 2, 0),
        ("家庭成员", "member", 3, 2, 1),  # 13 stored as a number: an orphan, rejected
    ]
    village = {r.id: r for r in ds.tables["village"]}
    assert str(village["410522101202"].values["poverty_incidence"]) == "0.026"  # 2.60% cell
    assert rule(national, ds, "village", "410522101201", "village.incidence") is Outcome.PASS
    assert rule(national, ds, "village", "410522101202", "village.incidence") is Outcome.FAIL
    members = {m.id: m for m in ds.tables["member"]}
    assert members["001201"].values["household_id"] == "0012"  # 12 with a 0000 format
    assert members["001202"].values.get("id_number") is None
    issues = {(i.code, i.location) for i in ds.issues}
    assert ("lost-precision", f"{path}:家庭成员!D3") in issues
    assert ("code-as-number", f"{path}:家庭成员!A2") in issues
    assert ("orphan-link", f"{path}:家庭成员!4:4") in issues
    assert ("skipped-sheet", f"{path}:说明") in issues
    lost = next(i for i in ds.issues if i.code == "lost-precision")
    assert lost.raw == "4.10522201501015e+17"
    hh = ds.find("household", "0012")
    assert hh is not None and [m.id for m in hh.children["members"]] == ["001201", "001202"]


def test_sheet_option(national: Standard) -> None:
    path = FIX / "registry-book.xlsx"
    ds = read(national, path, sheet="户信息")
    assert [a.sheet for a in ds.accounts] == ["户信息"]
    assert [a.sheet for a in read(national, path, sheet="3").accounts] == ["家庭成员"]
    with pytest.raises(DataFileError, match="no sheet '户'"):
        read(national, path, sheet="户")
    with pytest.raises(DataFileError, match="no identifier column"):
        read(national, path, sheet="说明")


def test_header_row_option(national: Standard, tmp_path: Path) -> None:
    ds = read(national, FIX / "registry-households.xlsx", header_row=3, sheet="贫困户信息")
    assert ds.accounts[0].records == 5
    csv = tmp_path / "h.csv"
    csv.write_text("说明：户编号为文本\n户编号,人均纯收入\n0001,4100\n", encoding="utf-8")
    assert read(national, csv).accounts[0].header_row == 2  # found below a notes row naming a field
    assert read(national, csv, header_row=2).accounts[0].records == 1


def test_gb18030_csv_with_title_row(national: Standard) -> None:
    ds = read(national, FIX / "households-gb18030.csv")
    (acc,) = ds.accounts
    assert (acc.encoding, acc.header_row, acc.rows_read, acc.records) == ("gb18030", 2, 2, 2)
    assert ds.find("household", "0022") is not None
    rec = ds.find("household", "0021")
    assert rec is not None and rec.values["village_name"] == "龘村"
    assert outcomes(national, ds, "household")["0022"] is Outcome.FAIL


def test_messy_csv_headers_and_values(national: Standard) -> None:
    ds = read(national, FIX / "households-messy.csv")
    (acc,) = ds.accounts
    assert acc.unknown_columns == [] and not ds.issues
    rec = ds.find("household", "0031")
    assert rec is not None
    assert str(rec.values["per_capita_net_income"]) == "12345.6"
    assert rec.values["exit_status"] == "1"
    assert rec.values["dangerous_house"] is False  # 无
    assert rec.values["housing_safety_grade"] == "A"  # Ａ级 under 住房安全等级
    assert rec.values["safe_drinking_water"] is True  # aac312
    assert str(rec.values["household_size"]) == "3"  # 家庭人口数（人）: ３
    three = ds.find("household", "0033")
    assert three is not None and str(three.values["per_capita_net_income"]) == "4500"  # "4 500元"
    assert rule(national, ds, "household", "0032", "household.income") is Outcome.FAIL  # exactly the line
    assert rule(national, ds, "household", "0033", "household.food_clothing") is Outcome.FAIL


def test_parquet(national: Standard) -> None:
    pytest.importorskip("polars")
    ds = read(national, FIX / "households.parquet")
    rec = ds.find("household", "0012")
    assert rec is not None and rec.values["head_id_number"] == "41052219881009583X"
    assert str(rec.values["household_size"]) == "3"
    assert outcomes(national, ds, "household")["0013"] is Outcome.FAIL


def test_legacy_xls(national: Standard) -> None:
    pytest.importorskip("xlrd")
    ds = read(national, FIX / "villages.xls")
    village = {r.id: r for r in ds.tables["village"]}
    assert set(village) == {"410522101201", "410522101202"}
    assert str(village["410522101202"].values["poverty_incidence"]) == "0.026"
    assert rule(national, ds, "village", "410522101202", "village.incidence") is Outcome.FAIL


def test_folder_of_exports_via_cli(tmp_path: Path) -> None:
    for name in ("registry-households.xlsx", "households-gb18030.csv", "households-messy.csv"):
        shutil.copy(FIX / name, tmp_path / name)
    result = CliRunner().invoke(main, ["check", "-s", "cn-national", "--as-of", "2020", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "registry-households.xlsx:贫困户信息!I8: data-error[bad-value]" in result.output
    assert "registry-households.xlsx:贫困户信息（户）：读取 6 行 = 评估 5 条 + 拒收 1 行" in result.output
    assert "households-gb18030.csv（户）：读取 2 行 = 评估 2 条 + 拒收 0 行" in result.output
    strict = CliRunner().invoke(main, ["check", "-s", "cn-national", "--as-of", "2020", "--strict", str(tmp_path)])
    assert strict.exit_code == 2


def test_broken_workbook_and_phantom_dimension(national: Standard, tmp_path: Path) -> None:
    broken = tmp_path / "x.xlsx"
    broken.write_bytes(b"PK not a zip")
    with pytest.raises(DataFileError, match="not a readable Excel workbook"):
        read(national, broken)
    start = time.perf_counter()
    read(national, FIX / "registry-households.xlsx")  # its dimension claims A1:XFD1048576
    assert time.perf_counter() - start < 5


def test_empty_and_unnamed_columns(national: Standard, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "户"
    ws.append(["户编号", None, "人均纯收入"])
    ws.append(["0001", "多余", 4100, None, "更远"])
    wb.create_sheet("空")
    path = tmp_path / "b.xlsx"
    wb.save(path)
    ds = read(national, path)
    rec = ds.find("household", "0001")
    assert rec is not None and rec.unknown_columns == {"B": "多余", "E": "更远"}
    assert [i.location for i in ds.issues if i.code == "skipped-sheet"] == [f"{path}:空"]
    only_empty = tmp_path / "e.xlsx"
    openpyxl.Workbook().save(only_empty)
    with pytest.raises(DataFileError, match="no sheet holds data"):
        read(national, only_empty)


def test_merged_cells_down_one_column_are_filled(tmp_path: Path) -> None:
    """户编号 merged over a household's member rows: each member belongs to that household."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "家庭成员"
    ws.append(["家庭成员信息表"])
    ws.merge_cells("A1:D1")  # a title merged across: not data, nothing filled
    ws.append(["户编号", "人编号", "证件号码", "是否参加城乡居民基本医疗保险"])
    for row in [
        ("0001", "001", "11010519491231002X", "是"),
        (None, "002", "110105201001010011", "否"),
        (None, "003", "110105201001010011", "是"),
        ("0002", "004", "11010519491231002X", "是"),
        (None, "005", None, "是"),
        (None, "006", "110105201001010011", "是"),
    ]:
        ws.append(list(row))
    ws.merge_cells("A3:A5")
    ws.merge_cells("A6:A7")  # row 8 is not merged: its 户编号 stays blank
    ws.merge_cells("B8:C8")  # wider than one column: left as it is
    wb.save(tmp_path / "m.xlsx")
    h = tmp_path / "h.csv"
    h.write_text("户编号,脱贫状态\n0001,已脱贫\n0002,已脱贫\n", encoding="utf-8")
    ds = read_dataset(base_schema(), [str(tmp_path / "m.xlsx"), str(h)])
    members = {m.id: m.values.get("household_id") for m in ds.tables["member"]}
    assert members == {"001": "0001", "002": "0001", "003": "0001", "004": "0002", "005": "0002"}
    notes = [i for i in ds.issues if i.code == "merged-cells"]
    assert [(i.column, i.message.split(" ")[0]) for i in notes] == [("户编号", "3")]
    assert notes[0].is_notice
    assert any(i.code == "orphan-link" or i.code == "missing-id" for i in ds.issues)  # row 8: no 户编号


def test_hidden_sheets_are_skipped_unless_named(tmp_path: Path) -> None:
    """A hidden old copy of the 户 sheet once made the visible rows' twins duplicate-ids."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "户"
    old = wb.create_sheet("旧版")
    for sheet, income in ((ws, 5000), (old, 3000)):
        sheet.append(["户编号", "脱贫状态", "人均纯收入"])
        sheet.append(["0001", "已脱贫", income])
    old.sheet_state = "hidden"
    wb.save(tmp_path / "h.xlsx")
    ds = read_dataset(base_schema(), [str(tmp_path / "h.xlsx")])
    assert [r.values["per_capita_net_income"] for r in ds.tables["household"]] == [5000]
    assert [(i.code, i.sheet, i.is_notice) for i in ds.issues] == [("skipped-sheet", "旧版", True)]
    assert "hidden" in ds.issues[0].message
    named = read_dataset(base_schema(), [str(tmp_path / "h.xlsx")], sheet="旧版")
    assert [r.values["per_capita_net_income"] for r in named.tables["household"]] == [3000]


def test_a_formula_without_a_stored_result_is_unreadable_not_blank(tmp_path: Path) -> None:
    """A workbook written by a script holds =E2/F2 and no result: once read as a blank (missing) income."""
    import zipfile

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["户编号", "脱贫状态", "人均纯收入"])
    ws.append(["0001", "已脱贫", "=1+1"])
    ws.append(["0002", "已脱贫", "=4000+1"])
    wb.save(tmp_path / "raw.xlsx")
    with zipfile.ZipFile(tmp_path / "raw.xlsx") as src, zipfile.ZipFile(tmp_path / "h.xlsx", "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":  # as Excel saves it: 0002's result stored
                data = data.replace(b"<f>4000+1</f><v />", b"<f>4000+1</f><v>4001</v>")
            dst.writestr(item, data)
    ds = read_dataset(base_schema(), [str(tmp_path / "h.xlsx")])
    values = {r.id: r.values.get("per_capita_net_income") for r in ds.tables["household"]}
    assert values == {"0001": None, "0002": 4001}
    (issue,) = ds.issues
    assert (issue.code, issue.cell, issue.raw) == ("bad-value", "C2", "=1+1")
    assert "no stored result" in issue.message
    verdict = Engine(load_standard("cn-national")).evaluate_record(ds.tables["household"][0], 2020, ds.issues)
    assert verdict.results[0].reason_code == "unreadable:per_capita_net_income"
