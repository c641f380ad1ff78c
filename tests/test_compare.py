"""tuopin diff: the records whose verdict flips between two standards or two dates, by rule and village."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tests.conftest import DEMO
from tuopin_rules.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_the_2020_poverty_line_flips_exactly_the_households_between_the_lines() -> None:
    code, out = run("diff", "cn-national@2019", "cn-national@2020", str(DEMO), "--format", "json")
    assert code == 0
    payload = json.loads(out)
    flips = {f["id"]: f for f in payload["flips"]}
    # incomes 3612.5, 3987.4 and exactly 4000.0: above the 2019 line (3218), not above the 2020 line (4000)
    assert set(flips) == {"4105221012010028", "4105221012020057", "4105221022010045"}
    assert all(f["rules"] == {"household.income": ["PASS", "FAIL"]} for f in flips.values())
    assert payload["by_rule"] == [{"rule": "household.income", "old": "PASS", "new": "FAIL", "count": 3}]
    assert payload["by_village"] == {"前庄村": 1, "后庄村": 1, "白马村": 1}
    assert payload["evaluated"] == {"household": 301, "village": 6}


def test_text_output_and_a_provincial_standard() -> None:
    code, out = run("diff", "cn-national@2019", "cn-national@2020", str(DEMO))
    assert code == 0
    assert "户 301 条中结论变化 3 条" in out and "3  household.income  通过 → 不通过" in out
    code, out = run("diff", "cn-national", "henan", "--as-of", "2020", str(DEMO), "--format", "json")
    assert code == 0
    rules = {r["rule"]: r for r in json.loads(out)["by_rule"]}
    # advisory nationally, a veto in Henan: 后庄村 fails it on both sides, but now it decides
    assert rules["village.doctor"]["severity"] == {"old": "advisory", "new": "veto"}
    assert "severity" not in rules["household.serious_illness"]
    code, out = run("diff", "cn-national", "henan", "--as-of", "2020", str(DEMO))
    assert "village.doctor  不通过 → 不通过  (参考项 → 否决项)" in out


def test_a_side_without_a_date_is_a_usage_error() -> None:
    code, out = run("diff", "cn-national", "cn-national@2020", str(DEMO))
    assert code == 2 and "give a date" in out


def test_as_of_that_would_be_ignored_is_refused() -> None:
    code, out = run("diff", "cn-national@2019", "cn-national@2020", str(DEMO), "--as-of", "2018")
    assert code == 2
    assert "--as-of 2018 would be ignored" in out


def test_villages_that_share_a_name_are_told_apart_by_code() -> None:
    from tuopin_rules.compare import _village_labels

    villages = [("410522101201", "新村"), ("410522101202", "新村"), ("410522101203", "前庄村"), (None, None)]
    assert _village_labels(villages) == ["新村（410522101201）", "新村（410522101202）", "前庄村", None]
