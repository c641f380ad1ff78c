"""Related records (a member's household, a household's village and head) and uniqueness across the data set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import inline_standard
from tuopin_rules import Engine, Outcome, StandardError
from tuopin_rules.intake.tables import read_dataset

STANDARD = inline_standard(
    """
    rules:
      - id: member.household_exited
        entity: member
        title: {zh: 成员所在户已脱贫}
        require: household.exit_status == "已脱贫"
        source: doc
      - id: member.village_west
        entity: member
        title: {zh: 成员所在村在西部}
        require: household.village.region == "西部"
        source: doc
      - id: household.head_insured
        entity: household
        title: {zh: 户主参保}
        require: head.medical_insured
        source: doc
      - id: member.unique_id
        entity: member
        title: {zh: 证件号码不重复}
        require: unique(id_number)
        source: doc
    """
)


@pytest.fixture
def dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "v.csv").write_text("村编号,行政村,区域\nV1,甲村,西部\n", encoding="utf-8")
    (tmp_path / "h.csv").write_text(
        "户编号,村编号,脱贫状态\n0001,V1,已脱贫\n0002,V9,未脱贫\n0003,V1,已脱贫\n", encoding="utf-8"
    )
    (tmp_path / "m.csv").write_text(
        "人编号,户编号,证件号码,与户主关系,是否参加城乡居民基本医疗保险\n"
        "a,0001,11010519491231002X,户主,否\n"
        "b,0001,110105201001010011,之子,是\n"
        "c,0002,11010519491231002X,户主,是\n"
        "d,0003,110105197001010011,之子,是\n",
        encoding="utf-8",
    )
    return read_dataset(STANDARD.schema, [str(tmp_path)])


def _result(engine: Engine, record, rule_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in engine.evaluate_record(record, 2020).results if r.rule_id == rule_id)


def test_member_reads_its_household_and_village(dataset) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(STANDARD)
    a, c = dataset.find("member", "a"), dataset.find("member", "c")
    assert _result(engine, a, "member.household_exited").outcome is Outcome.PASS
    r = _result(engine, c, "member.household_exited")
    assert r.outcome is Outcome.FAIL and r.reason.zh == "所属贫困户的脱贫状态 未脱贫，不等于 已脱贫(享受政策)"
    assert _result(engine, a, "member.village_west").outcome is Outcome.PASS
    r = _result(engine, c, "member.village_west")  # household 0002 points to a village not in the data
    assert r.outcome is Outcome.UNKNOWN and r.missing == ["household.village"]


def test_household_head(dataset) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(STANDARD)
    r = _result(engine, dataset.find("household", "0001"), "household.head_insured")
    assert r.outcome is Outcome.FAIL and r.reason.zh == "户主的参加城乡居民基本医疗保险：否"
    assert r.reason_code == "fail:head.medical_insured"
    r = _result(engine, dataset.find("household", "0003"), "household.head_insured")  # no 户主 row
    assert r.outcome is Outcome.UNKNOWN and r.missing == ["head"]


def test_unique_names_the_other_occurrences(dataset) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(STANDARD)
    r = _result(engine, dataset.find("member", "a"), "member.unique_id")
    assert r.outcome is Outcome.FAIL
    assert "11010519491231002X 重复，另见：c（" in r.reason.zh and "m.csv:4" in r.reason.zh
    assert _result(engine, dataset.find("member", "b"), "member.unique_id").outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("require", "code"),
    [("village.nonsense", "unknown-field"), ("members.age > 1", "unknown-relation"), ("unique(1)", "bad-argument")],
)
def test_bad_related_names(require: str, code: str) -> None:
    with pytest.raises(StandardError) as info:
        inline_standard(
            f"rules:\n  - {{id: r, entity: household, title: {{zh: r}}, source: doc, require: '{require}'}}\n"
        )
    assert info.value.diagnostics[0].code == code


def test_unique_folds_case_and_spaces(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(
        "人编号,户编号,证件号码\na,0001,11010519491231002X\nb,0002, 11010519491231002x\n", encoding="utf-8"
    )
    dataset = read_dataset(STANDARD.schema, [str(tmp_path)])
    engine = Engine(STANDARD)
    assert _result(engine, dataset.find("member", "a"), "member.unique_id").outcome is Outcome.FAIL


def test_two_heads_say_so(dataset) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(STANDARD)
    hh = dataset.find("household", "0001")
    for m in hh.children["members"]:
        m.values["relation_to_head"] = "户主"
    r = _result(engine, hh, "household.head_insured")
    assert r.outcome is Outcome.UNKNOWN and "不止一人" in r.reason.zh
