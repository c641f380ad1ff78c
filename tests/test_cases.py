"""Tests as data: the case-file runner, `tuopin test`, coverage, and YAML merge keys in case files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tuopin_rules.cases import find_case_files, run_case_file
from tuopin_rules.cli import main
from tuopin_rules.source import load_yaml

CASES = """\
standard: cn-national
as_of: 2020
cases:
  - name: 收入低于标准
    entity: household
    record: &base {户编号: "1", 脱贫状态: 已脱贫, 人均纯收入: "3000"}
    expect:
      rules:
        household.income: {outcome: FAIL, reason: fail:per_capita_net_income}
  - name: 写错的期望
    entity: household
    record: {<<: *base, 人均纯收入: "5000"}
    expect:
      outcome: PASS
      rules:
        household.income: FAIL
"""


def test_runner_reports_failures_and_coverage(tmp_path: Path) -> None:
    path = tmp_path / "x.cases.yaml"
    path.write_text(CASES, encoding="utf-8")
    result = run_case_file(path)
    assert [c.passed for c in result.cases] == [True, False]
    assert result.cases[1].line == 10
    assert result.cases[1].failures[0].startswith("verdict: expected PASS, got UNKNOWN")
    assert result.cases[1].failures[1].startswith("household.income: expected FAIL, got PASS")
    assert "household.income: needs a PASS case" in result.uncovered
    assert not result.passed


def test_tuopin_test_command(tmp_path: Path) -> None:
    path = tmp_path / "x.cases.yaml"
    path.write_text(CASES, encoding="utf-8")
    result = CliRunner().invoke(main, ["test", str(path)])
    assert result.exit_code == 1
    assert "1/2 cases passed; coverage 0/17 rules" in result.stdout
    assert "✗ 写错的期望  (line 10)" in result.stdout
    assert result.stdout.strip().endswith("1 passed, 1 failed")


def test_bundled_cases_pass_with_full_coverage() -> None:
    result = CliRunner().invoke(main, ["test"])
    assert result.exit_code == 0, result.stdout
    assert "coverage 17/17 rules" in result.stdout


def test_broken_case_file_is_a_load_problem(tmp_path: Path) -> None:
    path = tmp_path / "y.cases.yaml"
    path.write_text("standard: cn-national\ncases:\n  - nam: x\n", encoding="utf-8")
    result = run_case_file(path)
    assert result.problems and result.problems[0].code in ("unknown-key", "missing-key")
    assert CliRunner().invoke(main, ["test", str(path)]).exit_code == 2


def test_case_files_are_found_beside_standards(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent / "rulesets"
    assert root / "cn-national.cases.yaml" in find_case_files([root / "cn-national.yaml"])


def test_yaml_merge_keys_explicit_keys_win() -> None:
    doc, problems = load_yaml("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\nc: {<<: [*a, {z: 4}]}\n")
    assert problems == []
    assert doc is not None
    assert doc.data["b"] == {"x": 1, "y": 3}
    assert doc.data["c"] == {"x": 1, "y": 2, "z": 4}


def test_a_case_may_expect_an_unreadable_cell(tmp_path: Path) -> None:
    path = tmp_path / "x.cases.yaml"
    path.write_text(
        "standard: cn-national\nas_of: 2020\ncases:\n"
        "  - name: 收入写成汉字\n    entity: household\n"
        "    record: {户编号: '1', 脱贫状态: 已脱贫, 人均纯收入: 三千}\n"
        "    expect: {rules: {household.income: {outcome: UNKNOWN, reason: 'unreadable:per_capita_net_income'}}}\n",
        encoding="utf-8",
    )
    assert run_case_file(path).cases[0].passed


def test_a_case_file_names_a_standard_beside_it_by_id(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "rulesets" / "cn-national.yaml").read_text(encoding="utf-8")
    (tmp_path / "my-province.yaml").write_text(text.replace("standard: cn-national", "standard: my-province"))
    path = tmp_path / "cases.cases.yaml"
    path.write_text(CASES.replace("standard: cn-national", "standard: my-province"), encoding="utf-8")
    result = run_case_file(path)
    assert result.standard is not None and result.standard.id == "my-province"


RELATED_CASES = """\
standard: {standard}
as_of: 2020
cases:
  - name: 所在村在村表中，证件号码不重复
    entity: member
    record: &m {{人编号: "01", 证件号码: "110105198001010024", 姓名: 张三}}
    parent: {{户编号: "0001", 村编号: "410522103202", parent: {{村编号: "410522103202"}}}}
    others: [{{人编号: "02", 证件号码: "11010519491231002X"}}]
    expect:
      rules:
        member.in_known_village: PASS
        member.id_number_unique: PASS
  - name: 户无所属村、证件号码与同户成员重复（大小写、空格不计）
    entity: member
    record: *m
    parent: {{户编号: "0001"}}
    others: [{{人编号: "02", 证件号码: " 110105198001010024 "}}]
    expect:
      rules:
        member.in_known_village: FAIL  # is_blank of a missing link is true
        member.id_number_unique: {{outcome: FAIL, reason: fail:id_number}}
  - name: 无父记录
    entity: member
    record: *m
    expect:
      rules:
        member.in_known_village: FAIL
  - name: 村没有上级之外的父记录
    entity: county
    record: {{县名称: 某县}}
    parent: {{名称: 某市}}
    expect: {{}}
"""


def test_a_case_may_give_the_parent_chain_and_other_rows(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures" / "monitoring" / "dq-monitoring.yaml"
    path = tmp_path / "related.cases.yaml"
    path.write_text(RELATED_CASES.format(standard=fixture), encoding="utf-8")
    result = run_case_file(path)
    assert not result.problems
    assert [c.failures for c in result.cases[:3]] == [[], [], []]
    assert result.cases[3].failures == ["evaluation error: a county has no parent record; remove parent:"]
    assert result.coverage.passes["member.id_number_unique"] == 1
    assert result.coverage.fails["member.id_number_unique"] == 1


def test_a_misspelt_key_in_a_case_record_is_a_failure_not_a_blank(tmp_path: Path) -> None:
    """证件号 for 证件号码 was ignored: the field was blank and unique() passed without comparing."""
    path = tmp_path / "typo.cases.yaml"
    path.write_text(
        """\
standard: cn-national
as_of: 2020
cases:
  - name: 成员证件号码写错键名
    entity: household
    record: {户编号: "1", 脱贫状态: 已脱贫, members: [{人编号: "01", 证件号: "11010519491231002X"}]}
    expect: {outcome: PASS}
  - name: 上级写错键名
    entity: member
    record: {人编号: "01"}
    parent: {户编号: "1", 脱贫状太: 已脱贫}
    expect: {}
""",
        encoding="utf-8",
    )
    result = run_case_file(path)
    assert result.cases[0].failures == [
        "evaluation error: record.members[0]: no member field is called '证件号' (did you mean '证件号码'?)"
    ]
    assert result.cases[1].failures[0].startswith("evaluation error: parent (household): no household field is called")
