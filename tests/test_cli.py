"""The `tuopin` command, run in-process: output, files written, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import ANNOUNCEMENTS, DEMO
from tuopin_rules.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_demo_county_summary() -> None:
    code, out, _ = run("check", "-s", "cn-national", "--as-of", "2020", str(DEMO))
    assert code == 0
    assert "户 301: 通过 243, 不通过 8, 无法判断 3, 不适用 47" in out
    assert "村 6: 通过 5, 不通过 1" in out
    assert "household.income" in out
    assert "读取 301 行 = 评估 301 条 + 拒收 0 行" in out


def test_check_english_and_out_file(tmp_path: Path) -> None:
    out_file = tmp_path / "verdicts.jsonl"
    code, out, _ = run(
        "check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--lang", "en", "--out", str(out_file)
    )
    assert code == 0
    assert "households 301: PASS 243, FAIL 8, UNKNOWN 3, N/A 47" in out
    lines = out_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 307  # 301 households + 6 villages
    first = json.loads(lines[0])
    assert first["schema_version"] == "1" and first["standard"]["id"] == "cn-national"


def test_check_json_summary_balances() -> None:
    code, out, _ = run("check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["outcomes"]["household.FAIL"] == 8
    assert all(a["balanced"] for a in payload["accounting"])
    assert payload["rule_fails"]["household.income"] == 4


def test_fail_on_fail_gate() -> None:
    code, _, _ = run("check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--fail-on-fail")
    assert code == 1
    code, _, _ = run("check", "-s", "cn-national", "--as-of", "2020", str(ANNOUNCEMENTS), "--fail-on-fail")
    assert code == 0


def test_explain_failed_household() -> None:
    code, out, _ = run("explain", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--id", "4105221012010028")
    assert code == 0
    assert "理由: 人均纯收入 3,612.5 元，未超过 2020 年扶贫标准 4,000 元" in out
    assert "差距: 人均纯收入须高于 4,000 元，还差 387.5 元" in out
    assert "依据: 扶贫标准 = 4,000 元" in out
    assert "出处: 《关于建立贫困退出机制的意见》" in out
    assert "整改:" in out


def test_explain_json_and_unknown_id() -> None:
    code, out, _ = run(
        "explain", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--id", "410522103202", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["outcome"] == "FAIL"
    code, _, err = run("explain", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--id", "4105221012010029x")
    assert code == 2
    assert "did you mean '4105221012010029'" in err


def test_unknown_standard_and_bad_as_of() -> None:
    code, _, err = run("check", "-s", "cn-nationl", "--as-of", "2020", str(DEMO))
    assert code == 2 and "did you mean 'cn-national'" in err
    code, _, err = run("check", "-s", "cn-national", "--as-of", "twenty", str(DEMO))
    assert code == 2 and "--as-of" in err


def test_as_of_before_the_standard_is_a_clear_error() -> None:
    code, _, err = run("check", "-s", "cn-national", "--as-of", "2015", str(DEMO))
    assert code == 2
    assert "standard cn-national is in force from 2016-04-01" in err


def test_as_of_with_a_bad_month_is_rejected() -> None:
    code, _, err = run("check", "-s", "cn-national", "--as-of", "2020-13", str(DEMO))
    assert code == 2 and "--as-of" in err


def test_missing_data_file() -> None:
    code, _, err = run("check", "-s", "cn-national", "--as-of", "2020", "nope.csv")
    assert code == 2 and "no such file" in err


def test_lint_reports_all_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "standard: x\ntitle: {zh: x}\nversion: '1'\nsources:\n  d: {title: t, issuer: i, date: '2020'}\n"
        "rules:\n"
        "  - {id: a, entity: household, title: {zh: a}, source: d, require: per_capita_net_incom > 1}\n"
        "  - {id: b, entity: household, title: {zh: b}, source: d, require: cont(members) > 1}\n"
        "  - {id: c, entity: household, title: {zh: c}, source: d, require: food_secure, severity: vetoo}\n",
        encoding="utf-8",
    )
    code, out, _ = run("lint", str(bad))
    assert code == 2
    assert f"{bad}:7:" in out and "did you mean 'per_capita_net_income'?" in out
    assert "error[unknown-function]" in out and "did you mean 'count'?" in out
    assert f"{bad}:9:" in out and "error[invalid-value]" in out
    assert "^^^^" in out
    code, out, _ = run("lint", "--format", "json", str(bad))
    assert len(json.loads(out)) == 3


def test_lint_bundled_is_clean() -> None:
    code, out, _ = run("lint", str(Path(__file__).parent.parent / "rulesets"))
    assert code == 0 and "ok (" in out


def test_standards_lists_bundled() -> None:
    code, out, _ = run("standards")
    assert code == 0 and "cn-national" in out


def test_schema_command_prints_the_ruleset_json_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert "rules" in schema["properties"] and "RuleSpec" in schema["$defs"]
    assert schema["$defs"]["RuleSpec"]["additionalProperties"] is False


def test_check_names_the_columns_the_standard_needs_but_the_data_lack() -> None:
    code, out, _ = run("check", "-s", "henan", "--as-of", "2020", str(DEMO))
    assert code == 0
    assert "数据中没有这些户字段（用到它们的规则均为无法判断）：有自有住房（owns_house）" in out


def test_check_evaluates_standards_with_related_records_and_unique() -> None:
    fixture = Path(__file__).parent / "fixtures" / "monitoring"
    code, out, _ = run("check", "-s", str(fixture / "dq-monitoring.yaml"), "--as-of", "2023-06-30", str(fixture))
    assert code == 0 and "村 2: 通过 1, 不通过 1" in out
