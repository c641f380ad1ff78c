"""Composition: extends, override (parameters merged key by key, rule fields), disable, new rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from tuopin_rules import Engine, Outcome, StandardError
from tuopin_rules.compile import load_standard_file

VARIANT = """\
standard: variant
title: {zh: 变体}
version: "1"
extends: cn-national
sources:
  province: {title: 省标准, issuer: 省扶贫办, date: "2017"}
override:
  parameters:
    incidence_limit:
      values: {default: 3%}
  rules:
    village.road:
      severity: veto
      source: province
disable:
  household.water: {zh: 饮水并入不愁吃, en: water is part of food security here}
rules:
  - id: village.power
    entity: village
    title: {zh: 通生活用电}
    require: power
    source: province
fields:
  village:
    power: {type: bool, label: {zh: 通生活用电, en: household power}, aliases: [是否通生活用电]}
"""


def _write(tmp_path: Path, text: str, name: str = "variant.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_variant_merges_over_the_base(tmp_path: Path) -> None:
    standard = load_standard_file(_write(tmp_path, VARIANT))
    ids = [r.id for r in standard.rules]
    assert "household.water" not in ids and ids[-1] == "village.power"
    assert standard.extends == "cn-national"
    assert standard.disabled["household.water"].zh == "饮水并入不愁吃"
    road = standard.rule("village.road")
    assert road.severity == "veto" and road.source_id == "province"
    assert road.origin == "cn-national" and road.file.endswith("cn-national.yaml")
    limit = standard.params["incidence_limit"]
    assert standard.effective_from == dt.date(2016, 4, 1)  # inherited from the base
    assert limit.lookup(dt.date(2020, 1, 1), "central").value == Decimal("0.03")
    assert limit.lookup(dt.date(2020, 1, 1), "western").value == Decimal("0.03")
    assert len(standard.files) == 2


def test_variant_changes_verdicts(tmp_path: Path) -> None:
    engine = Engine(load_standard_file(_write(tmp_path, VARIANT)))
    v = engine.evaluate(
        "village",
        {"村编号": "1", "区域": "中部", "贫困发生率": "2.5", "是否通硬化路": "否", "是否通生活用电": "是"},
        2020,
    )
    by_rule = {r.rule_id: r.outcome for r in v.results}
    assert by_rule["village.incidence"] is Outcome.PASS  # 2.5% < 3%
    assert by_rule["village.road"] is Outcome.FAIL
    assert v.outcome is Outcome.FAIL  # the road is a veto rule in the variant
    assert by_rule["village.power"] is Outcome.PASS


def test_errors_in_a_variant_point_into_the_variant(tmp_path: Path) -> None:
    bad = VARIANT.replace("require: power", "require: powr").replace("household.water:", "household.watr:")
    with pytest.raises(StandardError) as info:
        load_standard_file(_write(tmp_path, bad))
    got = sorted((d.code, d.file.endswith("variant.yaml")) for d in info.value.diagnostics)
    assert got == [("unknown-field", True), ("unknown-rule", True)]


def test_overridden_expression_is_compiled_at_the_override(tmp_path: Path) -> None:
    text = VARIANT.replace("      source: province\n", "      source: province\n      require: road_hardend\n", 1)
    with pytest.raises(StandardError) as info:
        load_standard_file(_write(tmp_path, text))
    (d,) = info.value.diagnostics
    assert d.code == "unknown-field" and d.file.endswith("variant.yaml") and d.hint == "did you mean 'road_hardened'?"


def test_disable_needs_a_reason(tmp_path: Path) -> None:
    text = VARIANT.replace(
        "  household.water: {zh: 饮水并入不愁吃, en: water is part of food security here}", '  household.water: ""'
    )
    with pytest.raises(StandardError) as info:
        load_standard_file(_write(tmp_path, text))
    assert "needs a reason" in info.value.diagnostics[0].message


def test_redefining_a_base_rule_or_parameter_is_an_error(tmp_path: Path) -> None:
    text = VARIANT.replace("  - id: village.power", "  - id: village.road")
    text += "parameters:\n  poverty_line: {values: {2020: 5000}}\n"
    with pytest.raises(StandardError) as info:
        load_standard_file(_write(tmp_path, text))
    assert sorted(d.code for d in info.value.diagnostics) == ["duplicate-rule", "invalid-value"]


def test_extends_a_relative_file_and_cycles(tmp_path: Path) -> None:
    _write(tmp_path, VARIANT, "base.yaml")
    child = VARIANT.replace("standard: variant", "standard: child").replace(
        "extends: cn-national", "extends: base.yaml"
    )
    child = child.split("override:")[0]  # no overrides of its own
    standard = load_standard_file(_write(tmp_path, child, "child.yaml"))
    assert standard.extends == "variant" and len(standard.files) == 3
    loop = VARIANT.replace("extends: cn-national", "extends: loop.yaml").split("override:")[0]
    with pytest.raises(StandardError) as info:
        load_standard_file(_write(tmp_path, loop, "loop.yaml"))
    assert "cycle" in info.value.diagnostics[0].message


def test_content_hash_covers_the_base(tmp_path: Path) -> None:
    a = load_standard_file(_write(tmp_path, VARIANT))
    b = load_standard_file(_write(tmp_path, VARIANT.replace('version: "1"', 'version: "2"')))
    assert a.content_hash != b.content_hash
    assert a.content_hash.startswith("sha256:")


def test_changes_of_a_middle_standard_are_not_the_childs(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "standard: b\ntitle: {zh: B}\nversion: '1'\nextends: cn-national\n"
        "override:\n  parameters: {poverty_line: {values: {2020: 4100}}}\n"
        "  rules: {household.income: {require: per_capita_net_income >= poverty_line}}\n",
        "b.yaml",
    )
    child = load_standard_file(
        _write(tmp_path, "standard: c\ntitle: {zh: C}\nversion: '1'\nextends: b.yaml\n", "c.yaml")
    )
    assert child.changes == []
    assert child.params["poverty_line"].lookup(dt.date(2020, 6, 1)).value == 4100  # b's change still applies
    from tuopin_rules.lint import check_variant

    assert check_variant(child) == []
