"""Explanations: generated reasons in both languages, gaps, missing-field labels, linked records."""

from __future__ import annotations

import pytest

from tests.conftest import inline_standard
from tuopin_rules import Engine, Outcome

STANDARD = inline_standard(
    """
    parameters:
      limit: {label: {zh: 上限, en: limit}, values: {default: 2%}, source: doc}
      line: {label: {zh: 扶贫标准, en: poverty line}, unit: {zh: 元, en: yuan}, values: {2020: 4000}, source: doc}
    rules:
      - {id: below, entity: village, title: {zh: 低于}, require: poverty_incidence < limit, source: doc}
      - {id: above, entity: household, title: {zh: 高于}, require: per_capita_net_income > line, source: doc}
      - id: kids
        entity: household
        title: {zh: 儿童}
        require: not any(members, age(id_number) between 6 and 15 and dropout_due_to_poverty)
        source: doc
      - id: grade
        entity: household
        title: {zh: 等级}
        require: housing_safety_grade in ["A", "B"]
        source: doc
    """
)
ENGINE = Engine(STANDARD)


def _rule(entity: str, data: dict[str, object], rule_id: str):  # type: ignore[no-untyped-def]
    v = ENGINE.evaluate(entity, data, as_of=2020)
    return next(r for r in v.results if r.rule_id == rule_id)


def test_decrease_gap_in_both_languages() -> None:
    r = _rule("village", {"village_id": "v", "poverty_incidence": "2.6"}, "below")
    assert r.outcome is Outcome.FAIL
    assert r.reason.zh == "贫困发生率 2.6%，未低于 上限 2%"
    assert r.reason.en == "poverty incidence 2.6% is not below limit 2%"
    assert r.gap is not None
    assert (r.gap.amount, r.gap.direction, r.gap.strict) == ("0.006", "decrease", True)
    assert r.gap.text.zh == "贫困发生率须低于 2%，超出 0.6%"
    assert r.gap.text.en == "poverty incidence must be below 2%; over by 0.6%"


def test_gap_exactly_at_a_strict_bound() -> None:
    r = _rule("household", {"household_id": "1", "per_capita_net_income": "4000"}, "above")
    assert r.gap is not None and r.gap.amount == "0"
    assert r.gap.text.zh == "人均纯收入须高于 4,000 元，目前恰好等于该值"


def test_member_that_decides_is_named_with_its_values() -> None:
    members = [
        {"person_id": "01", "name": "张三", "id_number": "110105198001010011"},
        {"person_id": "02", "name": "张小", "id_number": "110105201001010011", "dropout_due_to_poverty": "是"},
    ]
    r = _rule("household", {"household_id": "1", "members": members}, "kids")
    assert r.outcome is Outcome.FAIL
    assert r.reason.zh == "家庭成员 02（张小）：年龄(证件号码) 10，在 6 至 15 之间，因贫失学辍学：是"
    assert r.reason.en == (
        "household member 02 (张小): age(citizen ID number) 10 is between 6 and 15, dropped out because of poverty: yes"
    )


def test_unknown_member_value_is_named() -> None:
    members = [{"person_id": "02", "id_number": "110105201001010011"}]
    r = _rule("household", {"household_id": "1", "members": members}, "kids")
    assert r.outcome is Outcome.UNKNOWN
    assert r.missing == ["members[02].dropout_due_to_poverty"]
    assert r.reason.zh == "缺少家庭成员 02 的因贫失学辍学，无法判断"


def test_code_values_are_shown_by_label() -> None:
    r = _rule("household", {"household_id": "1", "housing_safety_grade": "D级"}, "grade")
    assert r.reason.zh == "危房级别为D级(整幢危房)，不在 [A级、B级] 之中"
    assert r.reason.en == (
        "housing safety grade is grade D (whole building dangerous),"
        " not one of [grade A (safe), grade B (basically safe)]"
    )


def _standard(rules: str, extra: str = ""):  # type: ignore[no-untyped-def]
    return Engine(inline_standard(extra + "rules:\n" + rules))


def test_coalesce_stopped_by_a_bad_cell_names_only_that_cell() -> None:
    engine = _standard(
        "  - {id: r, entity: household, title: {zh: r}, source: doc,"
        " require: 'coalesce(per_capita_net_income, net_income / household_size) > 4000'}\n"
    )
    v = engine.evaluate(
        "household", {"household_id": "1", "人均纯收入": "三千", "纯收入": "20000", "家庭人口数": "4"}, 2020
    )
    r = v.results[0]
    assert r.outcome is Outcome.UNKNOWN and r.missing == ["per_capita_net_income"]
    assert r.reason_code == "unreadable:per_capita_net_income"
    assert "'三千' 无法读取" in r.reason.zh


def test_children_outside_the_filter_are_not_missing() -> None:
    engine = _standard(
        "  - {id: r, entity: household, title: {zh: r}, source: doc,"
        " require: 'all(members where age(id_number) >= 16, medical_insured)'}\n"
    )
    members = [
        {"person_id": "A", "id_number": "110105200001010011"},
        {"person_id": "B", "id_number": "110105201001010011"},
    ]
    r = engine.evaluate("household", {"household_id": "1", "members": members}, 2020).results[0]
    assert r.missing == ["members[A].medical_insured"]


def test_all_where_names_the_child_that_fails() -> None:
    engine = _standard(
        "  - {id: r, entity: household, title: {zh: r}, source: doc, require: all(members where medical_insured)}\n"
    )
    members = [{"person_id": "A", "medical_insured": "是"}, {"person_id": "B", "medical_insured": "否"}]
    r = engine.evaluate("household", {"household_id": "1", "members": members}, 2020).results[0]
    assert r.outcome is Outcome.FAIL
    assert r.reason.zh == "家庭成员 B：参加城乡居民基本医疗保险：否"


def test_years_and_constants_read_naturally() -> None:
    engine = _standard(
        "  - {id: y, entity: household, title: {zh: y}, source: doc, require: as_of_year == 2019}\n"
        "  - {id: c, entity: household, title: {zh: c}, source: doc, require: per_capita_net_income == -3}\n"
    )
    v = engine.evaluate("household", {"household_id": "1", "per_capita_net_income": "5"}, 2020)
    assert v.results[0].reason.zh == "评估年度 2020，不等于 2019"
    assert v.results[1].reason.zh == "人均纯收入 5 元，不等于 -3 元"


def test_gap_placeholder_for_a_percent_reads_as_percent() -> None:
    engine = _standard(
        "  - id: r\n    entity: village\n    title: {zh: r}\n    source: doc\n    require: poverty_incidence < 2%\n"
        "    explain: {fail: {zh: '超出 {gap}'}}\n"
    )
    r = engine.evaluate("village", {"village_id": "1", "poverty_incidence": "2.6"}, 2020).results[0]
    assert r.reason.zh == "超出 0.6%"
    assert r.gap is not None and r.gap.amount == "0.006" and r.gap.text.zh == "贫困发生率须低于 2%，超出 0.6%"


def test_gap_target_of_a_literal_bound_has_the_unit() -> None:
    engine = _standard(
        "  - {id: r, entity: village, title: {zh: r}, source: doc, require: collective_income >= 50000}\n"
    )
    r = engine.evaluate("village", {"village_id": "1", "collective_income": "43300"}, 2020).results[0]
    assert r.gap is not None and r.gap.text.zh == "村集体经济收入须不低于 50,000 元，还差 6,700 元"


def test_is_blank_and_sums_read_as_words_with_units() -> None:
    engine = _standard(
        "  - {id: b, entity: household, title: {zh: b}, source: doc, require: not is_blank(head_name)}\n"
        "  - {id: s, entity: village, title: {zh: s}, source: doc,"
        " require: 'sum(households, per_capita_net_income) <= 10000'}\n"
    )
    r = engine.evaluate("household", {"household_id": "1"}, 2020).results[0]
    assert r.outcome is Outcome.FAIL and r.reason.zh == "户主姓名为空" and r.reason.en == "head of household is blank"
    hh = [
        {"household_id": "1", "per_capita_net_income": "6000"},
        {"household_id": "2", "per_capita_net_income": "5000"},
    ]
    r = engine.evaluate("village", {"village_id": "v", "households": hh}, 2020).results[0]
    assert "11,000 元" in r.reason.zh


@pytest.mark.parametrize(
    ("income", "shown", "gap"),
    [("4000.0000000000001", "4,000.0000000000001 元", None), ("3999.99999", "3,999.99999 元", "还差 0.00001 元")],
)
def test_numbers_that_would_round_alike_are_shown_exactly(engine: Engine, income: str, shown: str, gap: str) -> None:
    """ "人均纯收入 4,000 元，超过 … 4,000 元" read as a contradiction: the values are shown exactly instead."""
    v = engine.evaluate("household", {"户编号": "1", "脱贫状态": "已脱贫", "人均纯收入": income}, 2020)
    r = v.results[0]
    assert r.reason.zh.startswith(f"人均纯收入 {shown}，") and "4,000 元" in r.reason.zh
    assert r.gap.text.zh.endswith(gap) if gap else r.gap is None, r.gap
    plain = engine.evaluate("household", {"户编号": "1", "脱贫状态": "已脱贫", "人均纯收入": "5000.123456"}, 2020)
    assert plain.results[0].reason.zh.startswith("人均纯收入 5,000.12 元")  # far apart: rounded as before


def test_a_derived_value_that_cannot_be_computed_names_what_it_came_from(engine: Engine) -> None:
    """A member born after as_of read as "缺少…年龄" although the ID number was there."""
    household = {
        "户编号": "1",
        "脱贫状态": "已脱贫",
        "members": [{"人编号": "01", "证件号码": "41052220191213374X"}],
    }
    v = engine.evaluate("household", household, "2019-06-30")
    education = next(r for r in v.results if r.rule_id == "household.education")
    assert education.outcome is Outcome.UNKNOWN
    assert "家庭成员 01 的年龄（由证件号码 41052220191213374X 算不出）" in education.reason.zh
    assert "age (cannot be computed from citizen ID number 41052220191213374X)" in education.reason.en
    later = engine.evaluate("household", household, 2020)  # a one-year-old: not of school age
    assert next(r for r in later.results if r.rule_id == "household.education").outcome is Outcome.PASS
