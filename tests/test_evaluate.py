"""The scalar evaluator: Kleene logic, exact decimals, aggregates, derived fields, parameters."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from tests.conftest import inline_standard
from tuopin_rules import Engine, EvaluationError, Outcome
from tuopin_rules.evaluate.scalar import kleene_and, kleene_not, kleene_or

T, F, U = True, False, None

AND_TABLE = {
    (T, T): T, (T, F): F, (T, U): U,
    (F, T): F, (F, F): F, (F, U): F,
    (U, T): U, (U, F): F, (U, U): U,
}  # fmt: skip
OR_TABLE = {
    (T, T): T, (T, F): T, (T, U): T,
    (F, T): T, (F, F): F, (F, U): U,
    (U, T): T, (U, F): U, (U, U): U,
}  # fmt: skip


@pytest.mark.parametrize(("a", "b"), list(itertools.product([T, F, U], repeat=2)))
def test_kleene_tables(a: bool | None, b: bool | None) -> None:
    assert kleene_and([a, b]) is AND_TABLE[(a, b)]
    assert kleene_or([a, b]) is OR_TABLE[(a, b)]


def test_kleene_not() -> None:
    assert kleene_not(True) is False
    assert kleene_not(False) is True
    assert kleene_not(None) is None


LOGIC = inline_standard(
    """
    fields:
      household:
        a: {type: bool}
        b: {type: bool}
    rules:
      - {id: r.and, entity: household, title: {zh: 与}, require: a and b, source: doc}
      - {id: r.or, entity: household, title: {zh: 或}, require: a or b, source: doc}
      - {id: r.not, entity: household, title: {zh: 非}, require: not a, source: doc}
    """
)
OUTCOME = {T: Outcome.PASS, F: Outcome.FAIL, U: Outcome.UNKNOWN}


@pytest.mark.parametrize(("a", "b"), list(itertools.product([T, F, U], repeat=2)))
def test_rule_outcomes_follow_kleene(a: bool | None, b: bool | None) -> None:
    record = {"household_id": "1"}
    if a is not None:
        record["a"] = "是" if a else "否"
    if b is not None:
        record["b"] = "是" if b else "否"
    v = Engine(LOGIC).evaluate("household", record, as_of=2020)
    got = {r.rule_id: r.outcome for r in v.results}
    assert got["r.and"] is OUTCOME[AND_TABLE[(a, b)]]
    assert got["r.or"] is OUTCOME[OR_TABLE[(a, b)]]
    assert got["r.not"] is OUTCOME[kleene_not(a)]


def test_unknown_names_only_the_deciding_fields() -> None:
    v = Engine(LOGIC).evaluate("household", {"household_id": "1", "a": "否"}, as_of=2020)
    results = {r.rule_id: r for r in v.results}
    assert results["r.and"].outcome is Outcome.FAIL and results["r.and"].missing == []
    assert results["r.or"].outcome is Outcome.UNKNOWN and results["r.or"].missing == ["b"]


ARITH = inline_standard(
    """
    fields:
      household:
        x: {type: number}
        y: {type: number}
        z: {type: number}
        n: {type: integer}
        d: {type: integer}
    parameters:
      line: {values: {2020: 4000}, source: doc}
    rules:
      - {id: sum, entity: household, title: {zh: 和}, require: x + y + z == 4000.0, source: doc}
      - {id: ratio, entity: household, title: {zh: 比}, require: n / d == 2%, source: doc}
      - {id: strict, entity: household, title: {zh: 严格}, require: x > line, source: doc}
      - {id: inclusive, entity: household, title: {zh: 含}, require: x >= line, source: doc}
      - {id: percent, entity: household, title: {zh: 百分}, require: 2% == 0.02, source: doc}
    """
)


def _outcomes(standard, record, as_of=2020):  # type: ignore[no-untyped-def]
    return {r.rule_id: r for r in Engine(standard).evaluate("household", record, as_of=as_of).results}


def test_exact_decimal_sum_and_ratio() -> None:
    got = _outcomes(ARITH, {"household_id": "1", "x": "512.3", "y": "1538.6", "z": "1949.1", "n": "3", "d": "150"})
    assert got["sum"].outcome is Outcome.PASS
    assert got["ratio"].outcome is Outcome.PASS
    assert got["percent"].outcome is Outcome.PASS


def test_income_exactly_at_the_line_fails_strict_bound() -> None:
    got = _outcomes(ARITH, {"household_id": "1", "x": "4000.0"})
    assert got["strict"].outcome is Outcome.FAIL
    assert got["inclusive"].outcome is Outcome.PASS
    gap = got["strict"].gap
    assert gap is not None and gap.amount == "0" and gap.strict and gap.direction == "increase"


def test_just_above_the_line_passes() -> None:
    got = _outcomes(ARITH, {"household_id": "1", "x": "4000.01"})
    assert got["strict"].outcome is Outcome.PASS


def test_division_by_zero_is_unknown() -> None:
    got = _outcomes(ARITH, {"household_id": "1", "n": "3", "d": "0"})
    assert got["ratio"].outcome is Outcome.UNKNOWN


def test_parameter_not_in_force_is_a_clear_error() -> None:
    with pytest.raises(EvaluationError, match="no value in force on 2019-12-31"):
        _outcomes(ARITH, {"household_id": "1", "x": "5000"}, as_of=2019)


AGG = inline_standard(
    """
    fields:
      member:
        age:
          derive: age(id_number)
    rules:
      - id: any.child
        entity: household
        title: {zh: 有学龄儿童}
        require: any(members, age between 6 and 15)
        source: doc
      - id: all.insured
        entity: household
        title: {zh: 全部参保}
        require: all(members, medical_insured)
        source: doc
      - id: count.adults
        entity: household
        title: {zh: 成年人数}
        require: count(members where age >= 18) >= 1
        source: doc
      - id: sum.age
        entity: household
        title: {zh: 年龄和}
        require: sum(members, age) > 0
        source: doc
      - id: max.age
        entity: household
        title: {zh: 最大年龄}
        require: max(members, age) >= 60
        source: doc
    """
)


def _member(pid: str, born: str, insured: str | None = "是") -> dict[str, str]:
    m = {"person_id": pid, "id_number": f"110105{born}0011"}
    if insured is not None:
        m["medical_insured"] = insured
    return m


def test_aggregates_over_members() -> None:
    members = [_member("1", "19500101"), _member("2", "20100601")]
    got = _outcomes(AGG, {"household_id": "1", "members": members})
    assert {k: r.outcome for k, r in got.items()} == {
        "any.child": Outcome.PASS,
        "all.insured": Outcome.PASS,
        "count.adults": Outcome.PASS,
        "sum.age": Outcome.PASS,
        "max.age": Outcome.PASS,
    }


def test_all_with_an_unknown_member_is_unknown_and_names_it() -> None:
    members = [_member("1", "19500101"), _member("2", "20100601", insured=None)]
    got = _outcomes(AGG, {"household_id": "1", "members": members})
    assert got["all.insured"].outcome is Outcome.UNKNOWN
    assert got["all.insured"].missing == ["members[2].medical_insured"]


def test_all_with_a_false_member_fails_even_if_another_is_unknown() -> None:
    members = [_member("1", "19500101", insured="否"), _member("2", "20100601", insured=None)]
    got = _outcomes(AGG, {"household_id": "1", "members": members})
    assert got["all.insured"].outcome is Outcome.FAIL
    assert "1" in got["all.insured"].reason.zh


def test_missing_collection_is_unknown_not_empty() -> None:
    got = _outcomes(AGG, {"household_id": "1"})
    assert got["any.child"].outcome is Outcome.UNKNOWN
    assert got["any.child"].missing == ["members"]


def test_empty_collection() -> None:
    got = _outcomes(AGG, {"household_id": "1", "members": []})
    assert got["any.child"].outcome is Outcome.FAIL
    assert got["all.insured"].outcome is Outcome.PASS  # vacuous truth
    assert got["count.adults"].outcome is Outcome.FAIL
    assert got["max.age"].outcome is Outcome.UNKNOWN  # no maximum of nothing


def test_age_comes_from_as_of_not_the_clock() -> None:
    # born 2005-06-01: 15 at the end of 2020, 16 at the end of 2021
    members = [_member("1", "20050601")]
    assert _outcomes(AGG, {"household_id": "1", "members": members}, as_of=2020)["any.child"].outcome is Outcome.PASS
    assert _outcomes(AGG, {"household_id": "1", "members": members}, as_of=2021)["any.child"].outcome is Outcome.FAIL
    assert _outcomes(AGG, {"household_id": "1", "members": members}, as_of="2020-05-31")["any.child"].outcome is (
        Outcome.PASS
    )


BY_REGION = inline_standard(
    """
    parameters:
      limit: {by: region, values: {default: 2%, western: {2016: 3%, 2019: 2.5%}}, source: doc}
    rules:
      - {id: inc, entity: village, title: {zh: 发生率}, require: poverty_incidence < limit, source: doc}
    """
)


@pytest.mark.parametrize(
    ("region", "incidence", "as_of", "expected"),
    [
        ("中部", "1.99", 2020, Outcome.PASS),
        ("中部", "2", 2020, Outcome.FAIL),
        ("西部", "2.99", 2018, Outcome.PASS),
        ("西部", "2.99", 2019, Outcome.FAIL),
        ("西部", "2.49", 2019, Outcome.PASS),
        (None, "1", 2020, Outcome.UNKNOWN),
    ],
)
def test_parameter_by_region_and_year(region: str | None, incidence: str, as_of: int, expected: Outcome) -> None:
    record = {"village_id": "v", "poverty_incidence": incidence}
    if region:
        record["region"] = region
    v = Engine(BY_REGION).evaluate("village", record, as_of=as_of)
    assert v.results[0].outcome is expected
    if expected is Outcome.UNKNOWN:
        assert v.results[0].missing == ["region"]


def test_applies_when_false_is_not_applicable_and_unknown_is_unknown(engine: Engine) -> None:
    v = engine.evaluate("household", {"户编号": "1", "脱贫状态": "未脱贫", "人均纯收入": "100"}, as_of=2020)
    assert {r.outcome for r in v.results} == {Outcome.NOT_APPLICABLE}
    assert v.outcome is Outcome.NOT_APPLICABLE
    v = engine.evaluate("household", {"户编号": "1", "人均纯收入": "100"}, as_of=2020)
    assert v.results[0].outcome is Outcome.UNKNOWN
    assert v.results[0].missing == ["exit_status"]


def test_as_of_forms() -> None:
    from tuopin_rules.evaluate.engine import coerce_as_of

    assert coerce_as_of(2020) == dt.date(2020, 12, 31)
    assert coerce_as_of("2020-02") == dt.date(2020, 2, 29)
    assert coerce_as_of("2019-12") == dt.date(2019, 12, 31)
    assert coerce_as_of(dt.date(2018, 3, 1)) == dt.date(2018, 3, 1)
    with pytest.raises(EvaluationError):
        coerce_as_of("next year")


def test_numbers_stay_decimal_in_evidence(engine: Engine) -> None:
    v = engine.evaluate("household", {"户编号": "1", "脱贫状态": "已脱贫", "人均纯收入": "4000.10"}, as_of=2020)
    ev = {e.name: e for e in v.results[0].evidence}
    assert ev["per_capita_net_income"].value == "4000.1"
    assert ev["poverty_line"].value == "4000"
    assert Decimal(ev["per_capita_net_income"].value) > Decimal(ev["poverty_line"].value)


def test_all_where_without_condition_means_every_child_meets_the_filter() -> None:
    standard = inline_standard(
        """
        rules:
          - {id: r, entity: household, title: {zh: 全部}, require: all(members where medical_insured), source: doc}
        """
    )
    members = [{"person_id": "1", "medical_insured": "是"}, {"person_id": "2", "medical_insured": "是"}]
    assert _outcomes(standard, {"household_id": "1", "members": members})["r"].outcome is Outcome.PASS
    members[1]["medical_insured"] = "否"
    assert _outcomes(standard, {"household_id": "1", "members": members})["r"].outcome is Outcome.FAIL


def test_template_placeholders_gap_and_as_of() -> None:
    standard = inline_standard(
        """
        parameters:
          line: {values: {2020: 4000}, source: doc}
        rules:
          - id: r
            entity: household
            title: {zh: 收入}
            require: per_capita_net_income > line
            source: doc
            explain:
              fail: {zh: "截至 {as_of}，差 {gap} 元（标准 {line}）", en: "short by {gap} as of {as_of}"}
        """
    )
    r = _outcomes(standard, {"household_id": "1", "per_capita_net_income": "3650.5"})["r"]
    assert r.reason.zh == "截至 2020-12-31，差 349.5 元（标准 4,000）"
    assert r.reason.en == "short by 349.5 as of 2020-12-31"


def test_template_cannot_name_a_field_read_only_inside_an_aggregate() -> None:
    from tuopin_rules import StandardError

    with pytest.raises(StandardError) as info:
        inline_standard(
            """
            rules:
              - id: r
                entity: household
                title: {zh: 儿童}
                require: any(members, age > 5)
                source: doc
                explain: {fail: {zh: "年龄 {age}"}}
            """
        )
    assert [d.code for d in info.value.diagnostics] == ["template-name"]


def test_by_keys_accept_code_labels_and_reject_unknown_keys() -> None:
    from tuopin_rules import StandardError

    standard = inline_standard(
        """
        parameters:
          limit: {by: region, values: {default: 2%, 西部: 3%}, source: doc}
        rules:
          - {id: inc, entity: village, title: {zh: 发生率}, require: poverty_incidence < limit, source: doc}
        """
    )
    v = Engine(standard).evaluate("village", {"village_id": "v", "region": "western", "poverty_incidence": "2.5"}, 2020)
    assert v.results[0].outcome is Outcome.PASS
    with pytest.raises(StandardError) as info:
        inline_standard(
            """
            parameters:
              limit: {by: region, values: {default: 2%, west: 3%}, source: doc}
            """
        )
    (diag,) = info.value.diagnostics
    assert diag.code == "parameter-values" and "'west' is not a code of region" in diag.message


def test_coalesce_arguments_must_share_a_type() -> None:
    from tuopin_rules import StandardError

    with pytest.raises(StandardError) as info:
        inline_standard(
            """
            rules:
              - id: r
                entity: household
                title: {zh: x}
                require: 'coalesce(per_capita_net_income, "n/a") > 1'
                source: doc
            """
        )
    assert info.value.diagnostics[0].code == "type-mismatch"


def test_long_fractions_are_rounded_for_display_only(national) -> None:  # type: ignore[no-untyped-def]
    v = Engine(national).evaluate(
        "village", {"village_id": "v", "region": "中部", "poor_population": "11", "total_population": "1230"}, 2020
    )
    r = v.results[0]
    assert r.reason.zh == "贫困发生率 0.89%，低于 贫困发生率上限 2%"
    incidence = next(e for e in r.evidence if e.name == "poverty_incidence")
    assert incidence.value is not None and incidence.value.startswith("0.0089430894308943")


def test_parameter_by_a_yes_no_field() -> None:
    standard = inline_standard(
        """
        fields:
          household:
            short: {type: bool}
            litres: {type: number}
        parameters:
          minimum: {by: short, values: {default: 35, 是: 20}, source: doc}
        rules:
          - {id: r, entity: household, title: {zh: 水量}, require: litres >= minimum, source: doc}
        """
    )
    engine = Engine(standard)
    assert engine.evaluate("household", {"household_id": "1", "short": "是", "litres": "25"}, 2020).results[
        0
    ].outcome is (Outcome.PASS)
    assert engine.evaluate("household", {"household_id": "1", "short": "否", "litres": "25"}, 2020).results[
        0
    ].outcome is (Outcome.FAIL)


def test_two_spellings_of_one_yes_no_key_are_an_error() -> None:
    from tuopin_rules import StandardError

    with pytest.raises(StandardError) as info:
        inline_standard(
            """
            fields:
              household:
                short: {type: bool}
            parameters:
              minimum: {by: short, values: {default: 35, 是: 20, true: 25}, source: doc}
            """
        )
    (d,) = info.value.diagnostics
    assert d.code == "parameter-values" and "is short 'true' again" in d.message
