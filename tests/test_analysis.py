"""Static analysis: rules that can never fire are reported with their position; nothing on the bundled standards."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import inline_standard
from tuopin_rules.analysis import analyse
from tuopin_rules.compile import load_standard_file
from tuopin_rules.registry import installed_standards

DEAD = Path(__file__).parent / "fixtures" / "variants" / "dead-rules.yaml"


def test_each_planted_dead_rule_is_reported() -> None:
    found = analyse(load_standard_file(DEAD))
    by_rule = {d.message.split()[1]: d for d in found if d.code == "dead-rule"}
    assert set(by_rule) == {
        "empty_range",
        "tautology",
        "contradiction",
        "never_applies",
        "applies_excludes_failure",
        "every_code",
        "above_the_cap",
    }
    assert "can never pass" in by_rule["empty_range"].message
    assert "can never fail" in by_rule["tautology"].message
    assert "can never apply" in by_rule["never_applies"].message
    assert "where it applies" in by_rule["applies_excludes_failure"].message
    assert by_rule["never_applies"].position is not None and by_rule["never_applies"].position.line == 33
    unused = sorted(d.message for d in found if d.code == "unused-declaration")
    assert unused == [
        "field household.never_read is declared but no rule reads it",
        "parameter 'forgotten' is defined but no rule reads it",
    ]
    assert all(d.severity == "warning" for d in found)


def test_no_false_alarm_on_the_bundled_standards() -> None:
    for sid, path in installed_standards().items():
        assert analyse(load_standard_file(path)) == [], sid


def test_aggregates_and_field_comparisons_are_free_atoms() -> None:
    standard = inline_standard(
        """
        rules:
          - {id: a, entity: household, title: {zh: a}, source: doc, require: 'any(members, age > 5) or food_secure'}
          - {id: b, entity: household, title: {zh: b}, source: doc, require: per_capita_net_income > net_income}
        """
    )
    assert analyse(standard) == []
