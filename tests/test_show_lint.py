"""`tuopin show` (merged / --diff in words), `tuopin standards`, and lint warnings for loosened veto rules."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tuopin_rules.cli import main
from tuopin_rules.compile import load_standard_file
from tuopin_rules.lint import check_variant

VARIANT = Path(__file__).parent / "fixtures" / "variants" / "raise-incidence.yaml"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_lint_warns_for_each_loosened_veto_rule() -> None:
    warnings = check_variant(load_standard_file(VARIANT))
    messages = [w.message for w in warnings]
    assert "loosens cn-national veto rule village.incidence: incidence_limit 2% → 3%" in messages
    assert "loosens cn-national veto rule county.comprehensive_incidence: incidence_limit 2% → 3%" in messages
    assert "loosens cn-national veto rule household.income: poverty_line 4000 → 3500" in messages
    assert "disables veto rule household.water of the base standard" in messages
    assert all(w.severity == "warning" and w.code == "loosens-veto" for w in warnings)
    # making an advisory rule a veto rule tightens: no warning for village.road
    assert not any("village.road" in m for m in messages)
    code, out = run("lint", str(VARIANT))
    assert code == 0  # warnings do not fail lint
    assert f"{VARIANT}:7:5: warning[loosens-veto]" in out and "4 warning(s)" in out


def test_tightening_gives_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "tight.yaml"
    path.write_text(
        "standard: tight\ntitle: {zh: 收紧}\nversion: '1'\nextends: cn-national\n"
        "override:\n  parameters:\n    incidence_limit: {values: {western: 2%}}\n"
        "    poverty_line: {values: {2020: 4500}}\n",
        encoding="utf-8",
    )
    assert check_variant(load_standard_file(path)) == []


def test_show_diff_in_words() -> None:
    code, out = run("show", str(VARIANT), "--diff")
    assert code == 0
    assert "替换 参数 贫困发生率上限: 2% → 3%（默认）" in out
    assert "修改 规则 village.road（通硬化路）: 参考项 → 否决项" in out
    assert "停用 规则 household.water（饮水安全有保障）：理由：饮水另行考核" in out
    code, out = run("show", str(VARIANT), "--diff", "--lang", "en")
    assert "replaces parameter poverty incidence limit: 2% → 3% (default)" in out


def test_show_merged_and_json() -> None:
    code, out = run("show", str(VARIANT))
    assert code == 0 and "基于 cn-national" in out and "停用的规则：" in out
    code, out = run("show", "cn-national", "--format", "json")
    payload = json.loads(out)
    assert payload["extends"] is None and len(payload["rules"]) == 17
    code, out = run("show", "cn-national", "--diff")
    assert code == 2 and "extends no other standard" in out


def test_standards_lists_versions_and_effective_range() -> None:
    code, out = run("standards", "--format", "json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["cn-national"]["effective"] == "2016-04-01 – …"
    assert rows["cn-national"]["origin"] == "bundled"


def test_henan_diff_states_what_henan_changes() -> None:
    code, out = run("show", "henan", "--diff")
    assert code == 0
    assert "相对 cn-national:" in out
    assert "修改 规则 village.road（有一条通村公路实现硬化）: 参考项 → 否决项" in out
    assert "替换 参数 贫困发生率上限: 3% → 2%（西部）" in out
    assert "新增 规则 village.power（基本满足生产生活用电），否决项：power_supply" in out
    assert "修改 字段 county.region: 改为由标准计算（derive）" in out


def test_bundled_variants_lint_without_warnings() -> None:
    code, out = run("lint", str(Path(__file__).resolve().parent.parent / "rulesets"))
    assert code == 0 and "warning" not in out


def test_county_announcements_never_fail_under_either_county_standard() -> None:
    announcements = str(Path(__file__).resolve().parent.parent / "examples" / "county-announcements")
    for standard in ("cn-national", "cn-county-evaluation"):
        code, out = run("check", "-s", standard, "--as-of", "2020", announcements, "--format", "json")
        assert code == 0
        assert not [k for k in json.loads(out)["outcomes"] if k.endswith(".FAIL")], standard


def test_lint_catches_quieter_ways_of_loosening() -> None:
    fixtures = Path(__file__).parent / "fixtures" / "variants"
    expected = {
        "loosen-derive-true.yaml": "changes how household.housing_safe is derived",
        "loosen-effective-later.yaml": "changes when veto rule household.income",
        "loosen-line-new-year.yaml": "loosens cn-national veto rule household.income: poverty_line 4000 → 100",
    }
    for name, message in expected.items():
        warnings = check_variant(load_standard_file(fixtures / name))
        assert any(message in w.message for w in warnings), (name, [w.message for w in warnings])
