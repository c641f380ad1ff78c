"""Hostile inputs found by a newcomer's pass over the tool: each must give a clear error, lose no row,
and never a traceback or a false PASS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DEMO, inline_standard
from tuopin_rules import Engine, EvaluationError, Outcome, Standard, StandardError
from tuopin_rules.cli import main
from tuopin_rules.compile import load_standard_text
from tuopin_rules.errors import DataFileError
from tuopin_rules.intake.tables import read_dataset


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


HEAD = "户编号,脱贫状态,人均纯收入,是否不愁吃,是否不愁穿,危房级别,是否解决安全饮用水\n"


def test_huge_numbers_are_bad_cells_not_crashes(national: Standard, tmp_path: Path) -> None:
    path = write(
        tmp_path / "h.csv",
        HEAD + "0001,已脱贫,1234567890123456789012345678901234,是,是,A,是\n0002,已脱贫,1E400,是,是,A,是\n",
    )
    ds = read_dataset(national.schema, [str(path)])
    assert [i.code for i in ds.issues] == ["bad-value", "bad-value"]
    verdicts = list(Engine(national).evaluate_all(ds.tables, 2020))
    assert [v.results[0].outcome for v in verdicts] == [Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert verdicts[0].results[1].outcome is Outcome.PASS  # the rest still evaluates
    code, _, _ = run("check", "-s", "cn-national", "--as-of", "2020", str(path))
    assert code == 0


def test_row_with_wrong_cell_count_is_rejected_and_counted(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", HEAD + "0001,已脱贫,4,500,是,是,A,是\n0002,已脱贫,5000,是,是,A,是\n0003,已脱贫\n")
    ds = read_dataset(national.schema, [str(path)])
    (acc,) = ds.accounts
    assert (acc.rows_read, acc.records, acc.rejected) == (3, 1, 2)
    bad = [i for i in ds.issues if i.code == "bad-row"]
    assert [(i.row, i.message) for i in bad] == [
        (2, "the row has 8 cells but the header has 7"),
        (4, "the row has 2 cells but the header has 7"),
    ]


def test_unclosed_quote_does_not_swallow_the_file_silently(national: Standard, tmp_path: Path) -> None:
    rows = "".join(f"{i:04d},已脱贫,5000,是,是,A,是\n" for i in range(2, 50))
    path = write(tmp_path / "h.csv", HEAD + '0001,已脱贫,"5000,是,是,A,是\n' + rows)
    ds = read_dataset(national.schema, [str(path)])
    (acc,) = ds.accounts
    assert acc.balanced and acc.rejected >= 1
    (bad,) = [i for i in ds.issues if i.code == "bad-row"]
    assert bad.row == 2 and "unclosed quote" in bad.message


def test_long_cells_are_data(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "户编号,户主姓名\n0001," + "x" * 200_000 + "\n")
    ds = read_dataset(national.schema, [str(path)])
    assert len(ds.tables["household"][0].values["head_name"]) == 200_000


def test_duplicate_ids_across_files(national: Standard, tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", HEAD + "0012,已脱贫,5000,是,是,A,是\n")
    b = write(tmp_path / "b.csv", HEAD + "0012,已脱贫,5000,是,是,A,是\n")
    m = write(
        tmp_path / "m.csv",
        "人编号,户编号,证件号码,是否义务教育阶段适龄儿童少年失学辍学\n01,0012,110105201001010011,是\n",
    )
    ds = read_dataset(national.schema, [str(a), str(b), str(m)])
    assert len(ds.tables["household"]) == 1
    dup = [i for i in ds.issues if i.code == "duplicate-id"]
    assert len(dup) == 1 and str(a) in dup[0].message
    assert not [i for i in ds.issues if i.code == "orphan-link"]
    (v,) = Engine(national).evaluate_all(ds.tables, 2020, entities=("household",))
    assert next(r for r in v.results if r.rule_id == "household.education").outcome is Outcome.FAIL
    assert all(acc.balanced for acc in ds.accounts)


def test_household_without_member_rows_is_not_a_vacuous_pass(national: Standard, tmp_path: Path) -> None:
    hh = write(tmp_path / "h.csv", "户编号,脱贫状态,家庭人口数\n0012,已脱贫,2\n0013,已脱贫,3\n")
    m = write(
        tmp_path / "m.csv", "人编号,户编号,证件号码,是否参加城乡居民基本医疗保险\n01,0013,110105201001010011,是\n"
    )
    ds = read_dataset(national.schema, [str(hh), str(m)])
    codes = {(i.code, i.entity_id) for i in ds.issues}
    assert ("no-members", "0012") in codes and ("member-count", "0013") in codes
    engine = Engine(national)
    rec = ds.find("household", "0012")
    assert rec is not None
    v = engine.evaluate_record(rec, 2020)
    rule = engine.evaluate_rule(national.rule("household.medical"), rec, v.as_of)
    assert rule.outcome is Outcome.UNKNOWN and rule.missing == ["members"]


def test_villages_with_the_same_name_are_told_apart_by_township(national: Standard, tmp_path: Path) -> None:
    v = write(
        tmp_path / "v.csv",
        "村编号,乡(镇),行政村,区域,总人口数\n410522101201,东岗镇,李家村,中部,100\n410522102201,西岗镇,李家村,中部,100\n",
    )
    h = write(
        tmp_path / "h.csv",
        "户编号,乡(镇),行政村,脱贫状态,家庭人口数\n0001,东岗镇,李家村,未脱贫,3\n0002,西岗镇,李家村,已脱贫,2\n",
    )
    ds = read_dataset(national.schema, [str(v), str(h)])
    assert not ds.issues
    verdicts = {x.entity_id: x for x in Engine(national).evaluate_all(ds.tables, 2020, entities=("village",))}
    assert verdicts["410522101201"].outcome is Outcome.FAIL  # 3 of 100 = 3%
    assert verdicts["410522102201"].outcome is Outcome.PASS


def test_unlinked_households_are_still_evaluated(national: Standard, tmp_path: Path) -> None:
    v = write(tmp_path / "v.csv", "村编号,行政村,区域,总人口数\n1,甲村,中部,100\n")
    h = write(tmp_path / "h.csv", "户编号,行政村,脱贫状态,人均纯收入\n0001,乙村,已脱贫,100\n")
    ds = read_dataset(national.schema, [str(v), str(h)])
    assert [i.code for i in ds.issues] == ["orphan-link", "unlinked-children"]
    assert [r.id for r in ds.tables["household"]] == ["0001"]
    assert next(a for a in ds.accounts if a.entity == "household").records == 1


def test_bad_cell_inside_coalesce_is_unknown_not_a_fallback(engine: Engine) -> None:
    v = engine.evaluate(
        "household", {"户编号": "1", "脱贫状态": "已脱贫", "危房级别": "危险", "是否危房户": "否"}, 2020
    )
    housing = next(r for r in v.results if r.rule_id == "household.housing")
    assert housing.outcome is Outcome.UNKNOWN
    assert "'危险' 无法读取" in housing.reason.zh
    v = engine.evaluate("household", {"户编号": "1", "脱贫状态": "已脱贫", "危房级别": "C级危房"}, 2020)
    assert next(r for r in v.results if r.rule_id == "household.housing").outcome is Outcome.FAIL


def test_duplicate_columns_are_reported(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "户编号,人均纯收入(元),人均纯收入（元）\n0001,3000,5000\n")
    ds = read_dataset(national.schema, [str(path)])
    (issue,) = ds.issues
    assert issue.code == "duplicate-column" and issue.column == "人均纯收入（元）"
    assert ds.tables["household"][0].values["per_capita_net_income"] == 3000


def test_nan_is_not_blank(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "户编号,人均纯收入\n0001,NaN\n")
    ds = read_dataset(national.schema, [str(path)])
    assert [i.code for i in ds.issues] == ["bad-value"]
    js = write(tmp_path / "h.json", '[{"户编号": "0002", "人均纯收入": NaN}]')
    ds = read_dataset(national.schema, [str(js)])
    assert [i.code for i in ds.issues] == ["bad-value"]


def test_bad_json_lines_are_rejected_one_by_one(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.jsonl", '{"户编号": "1"}\n{"户编号": "2"}\n{"户编号": \n[1, 2]\n{"户编号": "5"}\n')
    ds = read_dataset(national.schema, [str(path)])
    (acc,) = ds.accounts
    assert (acc.rows_read, acc.records, acc.rejected) == (5, 3, 2)
    assert [(i.code, i.row) for i in ds.issues] == [("bad-row", 3), ("bad-row", 4)]


def test_binary_and_odd_encodings(national: Standard, tmp_path: Path) -> None:
    png = tmp_path / "x.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataFileError, match="binary"):
        read_dataset(national.schema, [str(png)])
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("户编号,人均纯收入\n0001,5000\n".encode("utf-16"))
    ds = read_dataset(national.schema, [str(utf16)])
    assert ds.accounts[0].encoding == "utf-16" and ds.tables["household"][0].id == "0001"
    mixed = tmp_path / "m.csv"
    mixed.write_bytes("户编号,户主姓名\n0001,张三\n".encode() + "0002,李四\n".encode("gbk") + b"\xff\xfe\xfd\n")
    with pytest.raises(DataFileError, match=r"m\.csv:3:"):
        read_dataset(national.schema, [str(mixed)])


def test_folder_skips_files_that_are_not_data(national: Standard, tmp_path: Path) -> None:
    write(tmp_path / "h.csv", HEAD + "0001,已脱贫,5000,是,是,A,是\n")
    write(tmp_path / "random.csv", "a,b\n1,2\n")
    (tmp_path / "sub").mkdir()
    ds = read_dataset(national.schema, [str(tmp_path)])
    assert [i.code for i in ds.issues] == ["skipped-file"]
    assert len(ds.tables["household"]) == 1


def test_kind_prefix_errors(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "姓名\n张三\n")
    with pytest.raises(DataFileError, match="unknown entity kind 'bogus'"):
        read_dataset(national.schema, [f"bogus={path}"])
    with pytest.raises(DataFileError, match="needs the identifier column 户编号"):
        read_dataset(national.schema, [f"household={path}"])


def test_out_into_a_missing_folder_is_a_clean_error(tmp_path: Path) -> None:
    code, _, err = run(
        "check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--out", str(tmp_path / "no" / "v.jsonl")
    )
    assert code == 2 and "cannot write" in err


def test_aborted_run_leaves_no_partial_out_file(tmp_path: Path) -> None:
    std = tmp_path / "late.yaml"
    std.write_text(
        "standard: late\ntitle: {zh: x}\nversion: '1'\nsources:\n  d: {title: t, issuer: i, date: '2020'}\n"
        "parameters:\n  line: {values: {2021: 1}, source: d}\n"
        "rules:\n  - {id: r, entity: village, title: {zh: r}, source: d, require: total_population > line}\n",
        encoding="utf-8",
    )
    out = tmp_path / "v.jsonl"
    code, _, err = run("check", "-s", str(std), "--as-of", "2020", str(DEMO), "--out", str(out))
    assert code == 2 and "no value in force" in err
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_out_to_stdout_moves_the_summary_to_stderr() -> None:
    code, out, err = run("check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--out", "-")
    assert code == 0
    assert all(json.loads(line)["schema_version"] == "1" for line in out.splitlines())
    assert "读取 301 行" in err


def test_explain_failed_only_json_and_full_width_id() -> None:
    code, out, _ = run(
        "explain",
        "-s",
        "cn-national",
        "--as-of",
        "2020",
        str(DEMO),
        "--id",
        "４１０５２２１０１２０１００２８",
        "--failed-only",
        "--format",
        "json",
    )
    assert code == 0
    assert [r["rule_id"] for r in json.loads(out)["results"]] == ["household.income"]


def test_lint_accepts_a_standard_id() -> None:
    code, out, _ = run("lint", "cn-national")
    assert code == 0 and "ok (" in out


@pytest.mark.parametrize("expression", ["not " * 500 + "food_secure", "-" * 500 + "1 > 0"])
def test_deeply_nested_expressions_are_rejected_cleanly(expression: str) -> None:
    with pytest.raises(StandardError) as info:
        inline_standard(
            f"rules:\n  - {{id: r, entity: household, title: {{zh: r}}, source: doc, require: {expression}}}\n"
        )
    (diag,) = info.value.diagnostics
    assert diag.code == "expr-syntax" and "nested more than" in diag.message


def test_deeply_nested_yaml_is_rejected_cleanly() -> None:
    body = "rules:\n  - {id: r, entity: household, title: {zh: r}, source: doc, require: " + "{all: [" * 250
    body += "food_secure" + "]}" * 250 + "}\n"
    with pytest.raises(StandardError) as info:
        inline_standard(body)
    assert info.value.diagnostics[0].code == "yaml-syntax"


def test_non_utf8_standard_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes("standard: x\ntitle: {zh: 国家}\n".encode("gbk"))
    with pytest.raises(StandardError) as info:
        from tuopin_rules import load_standard

        load_standard(str(path))
    (diag,) = info.value.diagnostics
    assert "line 2 is not UTF-8" in diag.message


def test_api_rejects_non_mappings(engine: Engine) -> None:
    with pytest.raises(EvaluationError, match="must be a mapping"):
        engine.evaluate("household", None, 2020)  # type: ignore[arg-type]


def test_many_rules_load_in_linear_time() -> None:
    rules = "".join(
        f"  - {{id: r{i}, entity: household, title: {{zh: r}}, source: d, require: food_secure}}\n" for i in range(3000)
    )
    text = "standard: big\ntitle: {zh: x}\nversion: '1'\nsources:\n  d: {title: t, issuer: i, date: '2020'}\nrules:\n"
    standard = load_standard_text(text + rules)
    assert len(standard.rules) == 3000


def test_a_village_that_may_miss_a_household_is_not_judged_on_the_rest(national: Standard, tmp_path: Path) -> None:
    v = write(
        tmp_path / "v.csv", "村编号,行政村,乡(镇),区域,总人口数\n1,河湾村,东岗镇,中部,500\n2,前庄村,西岗镇,中部,500\n"
    )
    h = write(
        tmp_path / "h.csv",
        "户编号,行政村,乡(镇),脱贫状态,家庭人口数\n0001,河湾,东岗镇,未脱贫,50\n0002,前庄村,西岗镇,已脱贫,3\n",
    )
    ds = read_dataset(national.schema, [str(v), str(h)])
    verdicts = {x.entity_id: x for x in Engine(national).evaluate_all(ds.tables, 2020, entities=("village",))}
    assert verdicts["1"].outcome is Outcome.UNKNOWN  # not PASS at 0%: a poor household may belong here
    assert verdicts["2"].outcome is Outcome.PASS  # another township: unaffected
    assert [(i.code, i.entity_id) for i in ds.issues if i.code == "unlinked-children"] == [("unlinked-children", "1")]


def test_member_count_mismatch_leaves_member_rules_unknown(national: Standard, tmp_path: Path) -> None:
    h = write(tmp_path / "h.csv", "户编号,脱贫状态,家庭人口数\n0001,已脱贫,3\n")
    m = write(tmp_path / "m.csv", "人编号,户编号,是否参加城乡居民基本医疗保险\n01,0001,是\n")
    ds = read_dataset(national.schema, [str(h), str(m)])
    (v,) = Engine(national).evaluate_all(ds.tables, 2020, entities=("household",))
    assert next(r for r in v.results if r.rule_id == "household.medical").outcome is Outcome.UNKNOWN


def test_damaged_and_encrypted_workbooks_are_clean_errors(national: Standard) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "hostile"
    with pytest.raises(DataFileError, match="is damaged and cannot be read"):
        read_dataset(national.schema, [str(fixtures / "badxml.xlsx")])
    with pytest.raises(DataFileError, match="password-protected"):
        read_dataset(national.schema, [str(fixtures / "encrypted.xlsx")])


def test_repeated_headers_and_totals_rows_are_not_households(national: Standard, tmp_path: Path) -> None:
    path = write(
        tmp_path / "h.csv",
        "户编号,户主姓名,人均纯收入\n0001,张三,5000\n户编号,户主姓名,人均纯收入\n0002,李四,6000\n合计,,11000\n",
    )
    ds = read_dataset(national.schema, [str(path)])
    assert [r.id for r in ds.tables["household"]] == ["0001", "0002"]
    (acc,) = ds.accounts
    assert (acc.rows_read, acc.records, acc.rejected) == (4, 2, 2)
    assert [i.message.split(";")[0] for i in ds.issues] == [
        "the header row repeated (a page break in the export?)",
        "a totals row (合计)",
    ]


@pytest.mark.parametrize("total", ["合计：2户", "总计(户)", "合　计", "小计", "共计"])
def test_totals_row_variants(national: Standard, tmp_path: Path, total: str) -> None:
    path = write(tmp_path / "h.csv", f"户编号,人均纯收入\n0001,5000\n{total},5000\n")
    ds = read_dataset(national.schema, [str(path)])
    assert [r.id for r in ds.tables["household"]] == ["0001"]


def test_a_rejected_member_row_leaves_its_household_unknown_on_members(national: Standard, tmp_path: Path) -> None:
    h = write(tmp_path / "h.csv", "户编号,脱贫状态\n0001,已脱贫\n0002,已脱贫\n")
    m = write(
        tmp_path / "m.csv",
        "人编号,户编号,是否参加城乡居民基本医疗保险\n01,0001,是\n01,0001,否\n02,0002,是\n",
    )
    ds = read_dataset(national.schema, [str(h), str(m)])
    verdicts = {v.entity_id: v for v in Engine(national).evaluate_all(ds.tables, 2020, entities=("household",))}
    medical = {k: next(r for r in v.results if r.rule_id == "household.medical").outcome for k, v in verdicts.items()}
    assert medical == {"0001": Outcome.UNKNOWN, "0002": Outcome.PASS}
    assert ("unlinked-children", "0001") in {(i.code, i.entity_id) for i in ds.issues}


@pytest.mark.parametrize(
    "numbers",
    ["甲,乙,1,2,3,4,5,6,7", "1,2,3,4,5,6,7,8,9", "甲,乙,丙,4,5,6,7,8,9", "甲,乙,１,２,３,４,５,６,７"],
)
def test_a_column_number_row_is_not_a_household(national: Standard, tmp_path: Path, numbers: str) -> None:
    """A statistical form's 栏次 row under the header (甲, 乙, 1, 2, 3 …) once became household 甲 that FAILed."""
    head = HEAD.replace("\n", ",备注,联系电话\n")
    path = write(tmp_path / "h.csv", head + numbers + "\n0001,已脱贫,5000,是,是,A,是,,\n")
    ds = read_dataset(national.schema, [str(path)])
    assert [r.id for r in ds.tables["household"]] == ["0001"]
    (acc,) = ds.accounts
    assert (acc.rows_read, acc.records, acc.rejected) == (2, 1, 1)
    assert ds.issues[0].code == "bad-row" and "栏次" in ds.issues[0].message


@pytest.mark.parametrize("row", ["甲,乙,1,2,3,5,6,7,8", "甲,已脱贫,1,2,3,4,5,6,7", "0001,1,2,3,4,5,6,7,8"])
def test_rows_that_only_look_like_column_numbers_are_records(national: Standard, tmp_path: Path, row: str) -> None:
    path = write(tmp_path / "h.csv", HEAD.replace("\n", ",备注,联系电话\n") + row + "\n")
    ds = read_dataset(national.schema, [str(path)])
    assert len(ds.tables["household"]) == 1


def test_a_file_named_twice_is_read_once(national: Standard, tmp_path: Path) -> None:
    """A folder and a file in it: every member was once a duplicate of itself and the count went negative."""
    folder = tmp_path / "export"
    folder.mkdir()
    write(folder / "户.csv", "户编号,脱贫状态\n0001,已脱贫\n")
    write(folder / "成员.csv", "人编号,户编号,证件号码\n01,0001,11010519491231002X\n02,0001,110105201001010011\n")
    ds = read_dataset(national.schema, [str(folder), str(folder / "成员.csv"), f"member={folder / '成员.csv'}"])
    assert not ds.issues
    assert sorted((a.entity, a.rows_read, a.records, a.rejected) for a in ds.accounts) == [
        ("household", 1, 1, 0),
        ("member", 2, 2, 0),
    ]


def test_a_household_file_with_a_person_number_column_is_households(national: Standard, tmp_path: Path) -> None:
    """Household rows that also carry the head's 人编号 were once read as members."""
    path = write(
        tmp_path / "h.csv",
        "户编号,人编号,户主姓名,户主证件号码,家庭人口数,脱贫状态,人均纯收入\n0013,01,张三,11010519491231002X,3,已脱贫,5000\n",
    )
    ds = read_dataset(national.schema, [str(path)])
    assert [a.entity for a in ds.accounts] == ["household"]
    _, out, _ = run("check", "-s", "cn-national", "--as-of", "2020", str(path))
    assert "h.csv（户）：读取 1 行" in out


def test_spreadsheet_errors_are_unreadable_never_ids(national: Standard, tmp_path: Path) -> None:
    """A failed VLOOKUP left #N/A in 户编号; it became household "#N/A"."""
    path = write(tmp_path / "h.csv", "户编号,户主姓名,人均纯收入\n#N/A,张三,5000\n0002,#REF!,#DIV/0!\n")
    ds = read_dataset(national.schema, [str(path)])
    assert [r.id for r in ds.tables["household"]] == ["0002"]
    assert [(i.code, i.raw) for i in ds.issues] == [
        ("bad-value", "#N/A"),
        ("missing-id", None),
        ("bad-value", "#REF!"),
        ("bad-value", "#DIV/0!"),
    ]
    (acc,) = ds.accounts
    assert (acc.rows_read, acc.records, acc.rejected) == (2, 1, 1)


def test_totals_words_further_along_a_row_are_data(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "户编号,户主姓名,脱贫状态,人均纯收入\n0003,张三,合计收入,5000\n1,合计,,9000\n")
    ds = read_dataset(national.schema, [str(path)])
    assert [r.id for r in ds.tables["household"]] == ["0003"]
    assert [i.message for i in ds.issues if i.code == "bad-row"] == ["a totals row (合计); not a record"]


def test_three_consecutive_numbers_in_a_wide_table_are_a_record(national: Standard, tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", HEAD + "1,,2,,,3,\n")
    ds = read_dataset(national.schema, [str(path)])
    assert [r.id for r in ds.tables["household"]] == ["1"]


def test_column_number_rows_in_a_workbook(national: Standard, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEAD.strip().split(","))
    ws.append(["甲", "乙", 1, 2, 3, 4, 5])
    ws.append(["7", None, 8, None, None, 9, None])  # three numbers in a seven-column table: a record
    wb.save(tmp_path / "h.xlsx")
    ds = read_dataset(national.schema, [str(tmp_path / "h.xlsx")])
    assert [r.id for r in ds.tables["household"]] == ["7"]
    assert [i.code for i in ds.issues if i.code == "bad-row"] == ["bad-row"]


def test_strict_ignores_notices_but_not_data_errors(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "贫困户"
    ws.append(["户编号", "脱贫状态", "人均纯收入", "备注栏"])
    ws.append(["0001", "已脱贫", 5000, "x"])
    notes = wb.create_sheet("填表说明")
    notes.append(["本表由村级填报"])
    wb.save(tmp_path / "h.xlsx")
    code, out, _ = run("check", "-s", "cn-national", "--as-of", "2020", "--strict", str(tmp_path / "h.xlsx"))
    assert code == 0 and "data-note[skipped-sheet]" in out
    ws.append(["0002", "已脱贫", "三千", ""])
    wb.save(tmp_path / "h.xlsx")
    code, out, _ = run("check", "-s", "cn-national", "--as-of", "2020", "--strict", str(tmp_path / "h.xlsx"))
    assert code == 2 and "data-error[bad-value]" in out


def test_digits_int_cannot_read_do_not_crash_the_column_number_check(national: Standard, tmp_path: Path) -> None:
    """Kharoshthi digits are digits to str.isdigit but not to int(): the 栏次 check raised ValueError."""
    row = ",".join(["\U00010a40", "\U00010a41", "\U00010a42", "4", "5", "6", "7"])
    path = write(tmp_path / "h.csv", HEAD + row + "\n")
    ds = read_dataset(national.schema, [str(path)])
    assert len(ds.tables["household"]) == 1


def test_members_nested_in_json_are_seen_by_both_engines(national: Standard, tmp_path: Path) -> None:
    """The vector engine once ignored members nested in a JSON household: a wrong PASS."""
    household = {
        "户编号": "0001",
        "家庭人口数": "2",
        "脱贫状态": "已脱贫",
        "人均纯收入": "9000",
        "members": [
            {"人编号": "000101", "证件号码": "410522197006120577", "是否参加城乡居民基本医疗保险": "是"},
            {"人编号": "000102", "是否参加城乡居民基本医疗保险": "否", "是否参加城镇职工基本医疗保险": "否"},
        ],
    }
    path = write(tmp_path / "h.json", json.dumps([household], ensure_ascii=False))
    ds = read_dataset(national.schema, [str(path)])
    assert [m.id for m in ds.tables["member"]] == ["000101", "000102"]
    engine = Engine(national)
    for backend in ("vector", "scalar"):
        frame = engine.evaluate_batch(ds, 2020, backend=backend).frames["household"]
        assert frame["household.medical"].to_list() == ["FAIL"], backend
    api = engine.evaluate_batch({"household": ds.tables["household"]}, 2020).frames["household"]
    assert api["household.medical"].to_list() == ["FAIL"]  # nested children found from the records too


def test_an_unreadable_data_file_in_a_folder_is_an_error_not_a_notice(tmp_path: Path) -> None:
    """A household file going GB18030 part-way was a skipped-file notice: its rows vanished and --strict passed."""
    folder = tmp_path / "export"
    folder.mkdir()
    write(folder / "ok.csv", "户编号,脱贫状态\n0001,已脱贫\n")
    (folder / "late.csv").write_bytes("户编号,脱贫状态\n0002,已脱贫\n".encode() + "0003,未脱贫\n".encode("gb18030"))
    write(folder / "notes.csv", "说明,内容\n本表,村级填报\n")
    code, out, _ = run("check", "-s", "cn-national", "--as-of", "2020", "--strict", str(folder))
    assert code == 2
    assert "data-error[unread-file]: not read:" in out and "late.csv" in out
    assert "data-note[skipped-file]" in out and "notes.csv" in out
    folder.joinpath("late.csv").unlink()
    code, out, _ = run("check", "-s", "cn-national", "--as-of", "2020", "--strict", str(folder))
    assert code == 0, out  # a notes file alone loses no record


def test_sigterm_cleans_up_like_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler's SIGTERM left verdicts.jsonl.partial (and stream partition folders) behind."""
    import os
    import signal

    import tuopin_rules.cli as cli

    def killed(*args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr(cli, "explained_chunks", killed)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        out = tmp_path / "v.jsonl"
        code, _, _ = run("check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--out", str(out))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_options_of_the_other_mode_are_refused() -> None:
    code, out, err = run("check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--memory-budget", "100")
    assert code == 2 and "--memory-budget applies to --stream only" in out + err
    code, out, err = run("check", "--stream", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--jobs", "2")
    assert code == 2 and "--jobs applies to explaining verdicts" in out + err
