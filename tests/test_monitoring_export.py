"""A data-quality standard with one check of each kind, run on a monitoring-export-shaped fixture:
person rows under two title rows, a work-spell table and a village table. It must flag exactly the
planted records, with reasons naming the related records."""

from __future__ import annotations

from pathlib import Path

from tuopin_rules import Engine, Outcome
from tuopin_rules.compile import load_standard_file
from tuopin_rules.intake.tables import read_dataset

FIXTURE = Path(__file__).parent / "fixtures" / "monitoring"

EXPECTED_FAILS = {
    ("member", "000402"): {"member.eliminated_without_date", "member.in_known_village"},  # several fields
    ("member", "000302"): {"member.name_blank", "member.work_months_range"},  # blank; a look-up in work spells
    ("member", "000401"): {
        "member.eliminated_before_identified",  # date order
        "member.eliminated_too_soon",  # months between
        "member.id_number_valid",  # format: MOD 11-2 check digit
        "member.in_known_village",  # the village row: 西庄村 is not in the village table
    },
    ("member", "000201"): {"member.eliminated_too_soon", "member.phone_format"},
    ("member", "000202"): {"member.eliminated_too_soon", "member.young_in_high_school"},  # age from the ID
    ("member", "000102"): {"member.no_labour_but_working"},  # a look-up: a work spell of a no-labour person
    ("member", "000101"): {"member.id_number_unique"},  # the same ID as 000301
    ("member", "000301"): {"member.id_number_unique"},
    ("household", "0004"): {"household.one_head"},  # all members: no 户主
    ("village", "V2"): {"village.unsafe_water_count"},  # village level: 95 > 80
}


def test_the_checks_flag_exactly_the_planted_records() -> None:
    standard = load_standard_file(FIXTURE / "dq-monitoring.yaml")
    dataset = read_dataset(standard.schema, [str(FIXTURE)])
    assert all(a.balanced for a in dataset.accounts)
    person = next(a for a in dataset.accounts if a.entity == "member")
    assert (person.rows_read, person.records) == (8, 8)  # the header on row 3 was found
    verdicts = Engine(standard).evaluate_all(dataset.tables, "2023-06-30", entities=("member", "household", "village"))
    fails = {(v.entity, v.entity_id): {r.rule_id for r in v.results if r.outcome is Outcome.FAIL} for v in verdicts}
    assert {k: v for k, v in fails.items() if v} == EXPECTED_FAILS


def test_reasons_name_the_related_records() -> None:
    standard = load_standard_file(FIXTURE / "dq-monitoring.yaml")
    dataset = read_dataset(standard.schema, [str(FIXTURE)])
    engine = Engine(standard)
    spells = engine.evaluate_record(dataset.find("member", "000302"), "2023-06-30")
    months = next(r for r in spells.results if r.rule_id == "member.work_months_range")
    assert "外出务工信息 W3" in months.reason.zh and "14" in months.reason.zh
    dup = engine.evaluate_record(dataset.find("member", "000101"), "2023-06-30")
    unique = next(r for r in dup.results if r.rule_id == "member.id_number_unique")
    assert "000301" in unique.reason.zh and "监测对象信息.csv" in unique.reason.zh
