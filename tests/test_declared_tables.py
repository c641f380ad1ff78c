"""A standard declares a table of its own (migrant-work spells of members), joined by a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import inline_standard
from tuopin_rules import Engine, Outcome, StandardError
from tuopin_rules.intake.tables import read_dataset

STANDARD = inline_standard(
    """
    entities:
      work_spell:
        label: {zh: 外出务工信息, en: migrant work spell}
        id: spell_id
        parent: {entity: member, key: person_id}
        collection: work_spells
        fields:
          spell_id: {type: text, label: {zh: 务工记录编号}, aliases: [务工记录编号]}
          person_id: {type: text, label: {zh: 人编号}, aliases: [人编号]}
          months: {type: integer, label: {zh: 务工时间（月）}, aliases: [务工时间（月）, 务工时间(月)]}
          monthly_wage: {type: number, label: {zh: 月工资}, aliases: [月工资]}
    rules:
      - id: member.months_in_range
        entity: member
        title: {zh: 务工月数在 0–12 之间}
        require: all(work_spells, months between 0 and 12)
        source: doc
      - id: household.wage_without_worker
        entity: household
        title: {zh: 有工资性收入但无外出务工成员}
        require: wage_income <= 0 or any(members, count(work_spells where months > 0) > 0)
        source: doc
    fields:
      household:
        wage_income: {type: number, label: {zh: 工资性收入}, aliases: [工资性收入]}
    """
)


@pytest.fixture
def dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "h.csv").write_text("户编号,工资性收入\n0001,12000\n0002,8000\n0003,5000\n", encoding="utf-8")
    (tmp_path / "m.csv").write_text("人编号,户编号\na,0001\nb,0002\nc,0003\n", encoding="utf-8")
    (tmp_path / "w.csv").write_text(
        "务工记录编号,人编号,务工时间（月）,月工资\nw1,a,6,3000\nw2,b,0,0\nw3,b,13,100\nw4,zz,3,100\nw5,c,0,0\n",
        encoding="utf-8",
    )
    return read_dataset(STANDARD.schema, [str(tmp_path)])


def test_the_declared_table_is_read_and_linked(dataset) -> None:  # type: ignore[no-untyped-def]
    acc = next(a for a in dataset.accounts if a.entity == "work_spell")
    assert (acc.rows_read, acc.records, acc.rejected) == (5, 5, 0)
    orphans = [i for i in dataset.issues if i.code == "orphan-link"]
    assert [(i.entity, i.entity_id) for i in orphans] == [("work_spell", "w4")]
    assert [w.id for w in dataset.find("member", "b").children["work_spells"]] == ["w2", "w3"]


def test_rules_over_the_declared_table(dataset) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(STANDARD)
    b = engine.evaluate_record(dataset.find("member", "b"), 2020)
    assert b.results[0].outcome is Outcome.FAIL
    assert "w3" in b.results[0].reason.zh
    h1 = engine.evaluate_record(dataset.find("household", "0001"), 2020)
    h3 = engine.evaluate_record(dataset.find("household", "0003"), 2020)
    assert h1.results[0].outcome is Outcome.PASS
    assert h3.results[0].outcome is Outcome.FAIL


def test_a_declared_table_with_an_unknown_parent_is_an_error() -> None:
    with pytest.raises(StandardError) as info:
        inline_standard(
            """
            entities:
              spell:
                label: {zh: x}
                id: sid
                parent: {entity: persn, key: person_id}
                fields:
                  sid: {type: text}
            """
        )
    assert "unknown parent 'persn'" in info.value.diagnostics[0].message


def test_check_and_explain_evaluate_rules_of_a_declared_table(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tuopin_rules.cli import main

    text = """\
standard: spells
title: {zh: 务工}
version: "1"
sources:
  doc: {title: t, issuer: i, date: "2020"}
entities:
  work_spell:
    label: {zh: 外出务工信息}
    id: spell_id
    parent: {entity: member, key: person_id}
    fields:
      spell_id: {type: text, label: {zh: 务工记录编号}, aliases: [务工记录编号]}
      person_id: {type: text, label: {zh: 人编号}, aliases: [人编号]}
      months: {type: integer, label: {zh: 务工时间（月）}, aliases: [务工时间（月）]}
rules:
  - {id: spell.months, entity: work_spell, title: {zh: 月数}, source: doc, require: months between 0 and 12}
"""
    std = tmp_path / "spells.yaml"
    std.write_text(text, encoding="utf-8")
    data = tmp_path / "w.csv"
    data.write_text("务工记录编号,人编号,务工时间（月）\nw1,a,6\nw2,a,13\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "-s", str(std), "--as-of", "2020", f"work_spell={data}"])
    assert result.exit_code == 0 and "外出务工信息 2:" in result.stdout
    result = CliRunner().invoke(
        main, ["explain", "-s", str(std), "--as-of", "2020", f"work_spell={data}", "--id", "w2"]
    )
    assert result.exit_code == 0 and "不通过" in result.stdout
