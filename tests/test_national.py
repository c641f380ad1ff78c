"""cn-national on the demo county and the real county announcements: the verdicts an inspector expects."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import ANNOUNCEMENTS, DEMO
from tuopin_rules import Engine, Outcome, Standard, Verdict
from tuopin_rules.intake.tables import Dataset, read_dataset

# the faults planted by examples/demo-county/generate.py (see its README)
PLANTED_HOUSEHOLD_FAILS = {
    "4105221012010028": {"household.income"},  # 3612.5
    "4105221012020057": {"household.income"},  # 3987.4
    "4105221022010045": {"household.income"},  # exactly 4000.0
    "4105221032010036": {"household.income"},  # 2860
    "4105221022020032": {"household.housing"},  # C grade
    "4105221012020010": {"household.education"},  # child out of school
    "4105221012010067": {"household.medical"},  # uninsured member
    "4105221032020022": {"household.water"},
}
PLANTED_HOUSEHOLD_UNKNOWN = {
    "4105221012020058": {"household.income"},
    "4105221032010062": {"household.income"},
    "4105221022020026": {"household.housing"},
}


@pytest.fixture(scope="module")
def demo(national: Standard) -> Dataset:
    return read_dataset(national.schema, [str(DEMO)])


def _verdicts(engine: Engine, dataset: Dataset, as_of: int) -> dict[tuple[str, str | None], Verdict]:
    return {(v.entity, v.entity_id): v for v in engine.evaluate_all(dataset.tables, as_of)}


def test_demo_county_households_flag_exactly_the_planted_faults(engine: Engine, demo: Dataset) -> None:
    verdicts = _verdicts(engine, demo, 2020)
    fails = {
        eid: {r.rule_id for r in v.results if r.outcome is Outcome.FAIL}
        for (kind, eid), v in verdicts.items()
        if kind == "household" and v.outcome is Outcome.FAIL
    }
    unknown = {
        eid: {r.rule_id for r in v.results if r.outcome is Outcome.UNKNOWN}
        for (kind, eid), v in verdicts.items()
        if kind == "household" and v.outcome is Outcome.UNKNOWN
    }
    assert fails == PLANTED_HOUSEHOLD_FAILS
    assert unknown == PLANTED_HOUSEHOLD_UNKNOWN


def test_demo_county_villages(engine: Engine, demo: Dataset) -> None:
    verdicts = _verdicts(engine, demo, 2020)
    village = {eid: v for (kind, eid), v in verdicts.items() if kind == "village"}
    assert len(village) == 6
    assert {eid for eid, v in village.items() if v.outcome is Outcome.FAIL} == {"410522103202"}
    incidence = village["410522103202"].results[0]
    assert incidence.rule_id == "village.incidence"
    assert incidence.reason.zh == "贫困发生率 2.6%，未低于 贫困发生率上限 2%"
    assert incidence.gap is not None and incidence.gap.amount == "0.006"
    linked = [e for e in incidence.evidence if e.kind == "record"]
    assert len(linked) == 6 and all(e.source and "贫困户信息.csv" in e.source for e in linked)
    advisory = {
        (eid, r.rule_id, r.outcome)
        for eid, v in village.items()
        for r in v.results
        if r.severity == "advisory" and r.outcome is not Outcome.PASS
    }
    assert advisory == {
        ("410522101202", "village.doctor", Outcome.FAIL),
        ("410522102202", "village.bus", Outcome.FAIL),
        ("410522103201", "village.broadband", Outcome.UNKNOWN),
    }


def test_poverty_line_rise_2019_to_2020(engine: Engine, demo: Dataset) -> None:
    in_2019 = _verdicts(engine, demo, 2019)
    in_2020 = _verdicts(engine, demo, 2020)
    flipped = {
        k[1]
        for k, v in in_2020.items()
        if k[0] == "household" and v.outcome is Outcome.FAIL and in_2019[k].outcome is Outcome.PASS
    }
    # 3612.5 and 3987.4 are above the 2019 line (3218) and not above the 2020 line (4000); so is 4000.0
    assert flipped == {"4105221012010028", "4105221012020057", "4105221022010045"}


def test_failed_household_explanation(engine: Engine, demo: Dataset) -> None:
    v = _verdicts(engine, demo, 2020)[("household", "4105221012010028")]
    income = v.results[0]
    assert income.reason.zh == "人均纯收入 3,612.5 元，未超过 2020 年扶贫标准 4,000 元"
    assert income.reason.en == "per-capita net income 3,612.5 yuan is not above the 2020 poverty line of 4,000 yuan"
    assert income.gap is not None and income.gap.amount == "387.5"
    assert income.gap.text.zh == "人均纯收入须高于 4,000 元，还差 387.5 元"
    assert income.remedy is not None and income.citation is not None
    assert income.citation.title == "关于建立贫困退出机制的意见"
    line = next(e for e in income.evidence if e.name == "poverty_line")
    assert (line.value, str(line.effective_from), line.source) == ("4000", "2020-01-01", "poverty-monitoring-nbs")


def test_child_out_of_school_names_the_child(engine: Engine, demo: Dataset) -> None:
    v = _verdicts(engine, demo, 2020)[("household", "4105221012020010")]
    education = next(r for r in v.results if r.rule_id == "household.education")
    assert "410522101202001003" in education.reason.zh
    assert "年龄 13 岁" in education.reason.zh


def test_every_rule_cites_a_source(national: Standard) -> None:
    for rule in national.rules:
        assert rule.source is not None, rule.id
        assert rule.source.title and rule.source.issuer and rule.source.date


def test_county_announcements_never_fail(engine: Engine, national: Standard) -> None:
    dataset = read_dataset(national.schema, [str(ANNOUNCEMENTS)])
    verdicts = list(engine.evaluate_all(dataset.tables, 2020))
    assert len(verdicts) == 84
    outcomes = Counter(r.outcome for v in verdicts for r in v.results)
    assert outcomes[Outcome.FAIL] == 0
    assert outcomes[Outcome.PASS] > 0
    for v in verdicts:
        for r in v.results:
            if r.outcome is Outcome.UNKNOWN:
                assert r.missing, (v.entity_id, r.rule_id)  # bound-only figures name what is missing
    lankao = next(v for v in verdicts if v.entity_id == "兰考县")
    by_rule = {r.rule_id: r for r in lankao.results}
    assert by_rule["county.comprehensive_incidence"].outcome is Outcome.PASS  # 0.46% < 2%
    assert by_rule["county.wrongful_exit"].missing == ["wrongful_exit_rate"]


def test_western_county_uses_three_percent(engine: Engine) -> None:
    v = engine.evaluate("county", {"county": "赤水市", "region": "western", "综合贫困发生率": "2.5"}, as_of=2017)
    assert v.results[0].outcome is Outcome.PASS
    v = engine.evaluate("county", {"county": "某县", "region": "central", "综合贫困发生率": "2.5"}, as_of=2017)
    assert v.results[0].outcome is Outcome.FAIL


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("1.99", Outcome.PASS), ("2", Outcome.PASS), ("2.01", Outcome.FAIL)],
)
def test_wrongful_exit_bound_is_inclusive_per_document_56(engine: Engine, rate: str, expected: Outcome) -> None:
    v = engine.evaluate("county", {"county": "某县", "region": "central", "错退率": rate}, as_of=2019)
    assert next(r for r in v.results if r.rule_id == "county.wrongful_exit").outcome is expected


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("89.99", Outcome.FAIL), ("90", Outcome.PASS), ("90.01", Outcome.PASS)],
)
def test_public_approval_bound(engine: Engine, rate: str, expected: Outcome) -> None:
    v = engine.evaluate("county", {"county": "某县", "群众认可度": rate}, as_of=2019)
    assert next(r for r in v.results if r.rule_id == "county.public_approval").outcome is expected


def test_verdict_json_is_deterministic(engine: Engine, demo: Dataset) -> None:
    first = [v.to_json() for v in engine.evaluate_all(demo.tables, 2020)]
    second = [v.to_json() for v in engine.evaluate_all(demo.tables, 2020)]
    assert first == second


def test_unverified_poverty_line_is_never_used_silently(engine: Engine) -> None:
    v = engine.evaluate("household", {"户编号": "1", "脱贫状态": "已脱贫", "人均纯收入": "2900"}, as_of=2018)
    income = v.results[0]
    assert income.reason.zh == "人均纯收入 2,900 元，未超过 2018 年扶贫标准 2,995 元（扶贫标准为未核实的数值）"
    line = next(e for e in income.evidence if e.name == "poverty_line")
    assert line.note is not None and "未核实" in line.note.zh
    v = engine.evaluate("household", {"户编号": "1", "脱贫状态": "已脱贫", "人均纯收入": "2900"}, as_of=2019)
    assert "未核实" not in v.results[0].reason.zh


def test_every_bundled_rule_cites_a_complete_source() -> None:
    from tuopin_rules import installed_standards, load_standard

    for sid in installed_standards():
        standard = load_standard(sid)
        for rule in standard.rules:
            assert rule.source is not None, (sid, rule.id)
            assert rule.source.title and rule.source.issuer and rule.source.date, (sid, rule.id)
