"""Hypothesis properties of the engine on the national standard."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tuopin_rules import Engine, Outcome

money = st.decimals(min_value=0, max_value=100_000, places=1, allow_nan=False, allow_infinity=False)
maybe_bool = st.sampled_from(["是", "否", ""])
grade = st.sampled_from(["A级", "B级", "C级", "D级", ""])
status = st.sampled_from(["已脱贫", "未脱贫", "返贫", "4", ""])
year = st.sampled_from([2016, 2017, 2018, 2019, 2020])


def _household(income: Decimal, food: str, grade_: str, water: str, status_: str) -> dict[str, str]:
    return {
        "户编号": "0001",
        "脱贫状态": status_,
        "人均纯收入": str(income),
        "不愁吃": food,
        "不愁穿": "是",
        "危房级别": grade_,
        "饮水安全": water,
    }


@settings(max_examples=200, deadline=None)
@given(income=money, raise_by=money, food=maybe_bool, grade_=grade, water=maybe_bool, status_=status, as_of=year)
def test_raising_income_never_turns_pass_into_fail(
    engine: Engine, income: Decimal, raise_by: Decimal, food: str, grade_: str, water: str, status_: str, as_of: int
) -> None:
    before = engine.evaluate("household", _household(income, food, grade_, water, status_), as_of=as_of)
    after = engine.evaluate("household", _household(income + raise_by, food, grade_, water, status_), as_of=as_of)
    rank = {Outcome.FAIL: 0, Outcome.UNKNOWN: 1, Outcome.PASS: 2, Outcome.NOT_APPLICABLE: 3}
    assert not (before.outcome is Outcome.PASS and after.outcome is Outcome.FAIL)
    for b, a in zip(before.results, after.results, strict=True):
        assert rank[a.outcome] >= rank[b.outcome] or b.outcome is Outcome.NOT_APPLICABLE, (b.rule_id, b, a)


@settings(max_examples=100, deadline=None)
@given(income=money, as_of=year)
def test_income_rule_agrees_with_the_line(engine: Engine, income: Decimal, as_of: int) -> None:
    lines = {2016: 2952, 2017: 2952, 2018: 2995, 2019: 3218, 2020: 4000}
    v = engine.evaluate("household", _household(income, "是", "A级", "是", "已脱贫"), as_of=as_of)
    expected = Outcome.PASS if income > lines[as_of] else Outcome.FAIL
    assert v.results[0].outcome is expected
