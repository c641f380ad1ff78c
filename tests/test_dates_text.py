"""Date and text functions: as_of is the only today; regular expressions are checked when loading."""

from __future__ import annotations

import pytest

from tests.conftest import inline_standard
from tuopin_rules import Engine, Outcome, StandardError

STANDARD = inline_standard(
    """
    fields:
      household:
        identified: {type: date, label: {zh: 识别监测时间}, aliases: [识别监测时间]}
        eliminated: {type: date, label: {zh: 消除监测时间}, aliases: [消除监测时间]}
        phone: {type: text, label: {zh: 联系电话}, aliases: [联系电话]}
    rules:
      - id: six_months
        entity: household
        title: {zh: 风险消除不少于 6 个月}
        require: months_between(identified, eliminated) >= 6
        source: doc
      - id: after_2022
        entity: household
        title: {zh: 2022 年 4 月后}
        require: eliminated >= date("2022-04")
        source: doc
      - id: phone
        entity: household
        title: {zh: 手机号}
        require: 'matches(phone, "1[3-9][0-9]{9}")'
        source: doc
      - id: this_year
        entity: household
        title: {zh: 本年度识别}
        require: identified between start_of_year(as_of) and end_of_year(as_of)
        source: doc
      - id: recent
        entity: household
        title: {zh: 一年内识别}
        require: days_between(identified, as_of) <= 365
        source: doc
    """
)


def _results(record: dict[str, str], as_of: str | int = 2022) -> dict[str, Outcome]:
    v = Engine(STANDARD).evaluate("household", {"household_id": "1", **record}, as_of)
    return {r.rule_id: r.outcome for r in v.results}


@pytest.mark.parametrize(
    ("identified", "eliminated", "expected"),
    [
        ("2022-01-15", "2022-07-15", Outcome.PASS),
        ("2022-01-15", "2022-07-14", Outcome.FAIL),
        ("2022年1月31日", "2022.07.31", Outcome.PASS),
        ("", "2022-07-15", Outcome.UNKNOWN),
        ("2022-02-30", "2022-07-15", Outcome.UNKNOWN),  # not a date: a data issue, the rule unknown
    ],
)
def test_months_between(identified: str, eliminated: str, expected: Outcome) -> None:
    assert _results({"识别监测时间": identified, "消除监测时间": eliminated})["six_months"] is expected


def test_date_constants_and_as_of_as_the_only_today() -> None:
    assert _results({"消除监测时间": "2022-04-01"})["after_2022"] is Outcome.PASS
    assert _results({"消除监测时间": "2022-03-31"})["after_2022"] is Outcome.FAIL
    record = {"识别监测时间": "2021-06-30"}
    assert _results(record, as_of=2021)["this_year"] is Outcome.PASS
    assert _results(record, as_of=2022)["this_year"] is Outcome.FAIL
    assert _results(record, as_of="2022-06-30")["recent"] is Outcome.PASS  # 365 days
    assert _results(record, as_of="2022-07-01")["recent"] is Outcome.FAIL


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13912345678", Outcome.PASS),
        ("12912345678", Outcome.FAIL),
        ("1391234567", Outcome.FAIL),
        ("139123456789", Outcome.FAIL),
    ],
)
def test_matches_is_a_full_match(phone: str, expected: Outcome) -> None:
    assert _results({"联系电话": phone})["phone"] is expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('matches(name, "(a+)+")', "nests quantifiers"),
        ('matches(name, "[a-")', "not a valid regular expression"),
        ("matches(name, name)", "must be a constant"),
        ('date("2020-13") < as_of', "month must be in 1..12"),
    ],
)
def test_bad_constant_arguments_are_load_errors(call: str, message: str) -> None:
    with pytest.raises(StandardError) as info:
        inline_standard(f"rules:\n  - {{id: r, entity: member, title: {{zh: r}}, source: doc, require: '{call}'}}\n")
    (d,) = info.value.diagnostics
    assert d.code == "bad-argument" and message in d.message


def test_date_comparisons_read_as_before_and_after() -> None:
    v = Engine(STANDARD).evaluate("household", {"household_id": "1", "消除监测时间": "2022-03-31"}, 2022)
    r = next(x for x in v.results if x.rule_id == "after_2022")
    assert r.reason.zh == "消除监测时间 2022-03-31，早于 2022-04-01"
    assert r.reason.en == "消除监测时间 2022-03-31 is before 2022-04-01"
