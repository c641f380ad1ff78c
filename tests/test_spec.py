"""Stage ``spec``: the ruleset format's models, and validation errors mapped back to file positions."""

from __future__ import annotations

import pytest

from tuopin_rules.compile import load_standard_text
from tuopin_rules.errors import Diagnostic, Position, StandardError
from tuopin_rules.source import load_yaml
from tuopin_rules.spec import StandardSpec, validate

HEAD = """\
standard: t
title: {zh: 测试, en: test}
version: "1"
sources:
  s1: {title: 文件, issuer: 国务院, date: 2016-04}
"""

RULE = """\
rules:
  - id: r1
    entity: household
    title: {zh: 收入}
    require: food_secure
    source: s1
"""


def _errors(text: str, file: str = "t.yaml") -> list[Diagnostic]:
    """Load ``text`` as a standard that must fail; return its diagnostics in file order."""
    with pytest.raises(StandardError) as info:
        load_standard_text(text, file)
    return info.value.diagnostics


def _where(d: Diagnostic) -> tuple[int, int]:
    assert d.position is not None, d.render()
    return d.position.line, d.position.col


def _only(diagnostics: list[Diagnostic], code: str) -> Diagnostic:
    found = [d for d in diagnostics if d.code == code]
    assert len(found) == 1, [d.render() for d in diagnostics]
    return found[0]


def test_a_minimal_standard_is_valid() -> None:
    doc, problems = load_yaml(HEAD + RULE)
    assert doc is not None and problems == []
    spec, invalid = validate(doc, StandardSpec)
    assert invalid == []
    assert spec is not None
    assert spec.standard == "t"
    assert spec.rules[0].severity == "veto"  # the default
    assert spec.sources["s1"].date == "2016-04"


# ---- unknown keys ------------------------------------------------------------------------------


def test_unknown_key_in_a_rule_points_at_the_key_with_did_you_mean() -> None:
    text = HEAD + RULE.replace("    require: food_secure\n", "    requir: food_secure\n")
    diagnostics = _errors(text)
    d = _only(diagnostics, "unknown-key")
    assert d.message == "unknown key 'requir' in rules.0"
    assert _where(d) == (10, 5)
    assert d.position is not None and d.position.end_col == 11
    assert d.hint == "did you mean 'require'?"
    # the rule now lacks `require` too
    missing = _only(diagnostics, "missing-key")
    assert "'require'" in missing.message


@pytest.mark.parametrize(
    ("line", "wrong", "right", "where"),
    [
        ("rule: []\n", "rule", "rules", (6, 1)),
        ("descripton: {zh: x}\n", "descripton", "description", (6, 1)),
        ("effective: {form: 2016-04-01}\n", "form", "from", (6, 13)),
        ("parameters:\n  p:\n    value: {2016: 1}\n", "value", "values", (8, 5)),
        ("fields:\n  household:\n    x: {type: number, alias: [y]}\n", "alias", "aliases", (8, 23)),
    ],
)
def test_unknown_keys_anywhere_get_did_you_mean(line: str, wrong: str, right: str, where: tuple[int, int]) -> None:
    d = _only(_errors(HEAD + line), "unknown-key")
    assert f"unknown key {wrong!r}" in d.message
    assert _where(d) == where
    assert d.hint == f"did you mean {right!r}?"


def test_unknown_key_in_a_nested_text_mapping() -> None:
    d = _only(_errors(HEAD.replace("title: {zh: 测试, en: test}", "title: {zh: 测试, eng: test}")), "unknown-key")
    assert d.message == "unknown key 'eng' in title"
    assert _where(d) == (2, 17)
    assert d.hint == "did you mean 'en'?"


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    d = _only(_errors(HEAD + "parameters:\n  p:\n    values: {2016: 1}\n    frobnicate: 1\n"), "unknown-key")
    assert _where(d) == (9, 5)
    assert d.hint == "allowed keys: by, label, notes, source, unit, values"


# ---- missing keys ------------------------------------------------------------------------------


def test_missing_key_of_a_rule_points_at_the_rule() -> None:
    text = HEAD + RULE.replace("    source: s1\n", "")
    d = _only(_errors(text), "missing-key")
    assert d.message == "rules.0 needs the key 'source'"
    assert _where(d) == (7, 5)  # the first key of the rule mapping


def test_missing_top_level_key() -> None:
    text = HEAD.replace('version: "1"\n', "")
    d = _only(_errors(text), "missing-key")
    assert d.message == "the standard needs the key 'version'"
    assert d.position is not None


def test_missing_key_of_a_source() -> None:
    text = HEAD.replace("issuer: 国务院, ", "")
    d = _only(_errors(text), "missing-key")
    assert d.message == "sources.s1 needs the key 'issuer'"
    assert _where(d)[0] == 5


def test_every_missing_key_of_one_mapping_is_reported() -> None:
    text = HEAD + RULE.replace("    title: {zh: 收入}\n", "").replace("    source: s1\n", "")
    missing = sorted(d.message for d in _errors(text) if d.code == "missing-key")
    assert missing == ["rules.0 needs the key 'source'", "rules.0 needs the key 'title'"]


# ---- bad values --------------------------------------------------------------------------------


def test_bad_severity_points_at_the_value() -> None:
    d = _only(_errors(HEAD + RULE + "    severity: vetoo\n"), "invalid-value")
    assert _where(d) == (12, 15)
    assert d.position is not None and d.position.end_col == 20
    assert "severity" in d.message
    assert "'veto' or 'advisory'" in d.message
    assert "'vetoo'" in d.message


@pytest.mark.parametrize(
    ("extra", "words", "where"),
    [
        ("    working_group: incomes\n", "'income', 'policy', 'records' or 'appearance'", (12, 20)),
        ("    explain: {fail: 不是映射}\n", "rules.0.explain.fail", (12, 21)),
        ("    effective: {from: 2016-13-01}\n", "month must be in 1..12", (12, 23)),
        ("    effective: {from: soon}\n", "expected a date like 2016", (12, 23)),
        ("    notes: plain text\n", "rules.0.notes", (12, 12)),
        ("    remedy: [a, b]\n", "rules.0.remedy", (12, 13)),
    ],
)
def test_bad_values_in_a_rule(extra: str, words: str, where: tuple[int, int]) -> None:
    diagnostics = _errors(HEAD + RULE + extra)
    d = _only(diagnostics, "invalid-value")
    assert words in d.message
    assert _where(d) == where


def test_bad_top_level_values() -> None:
    diagnostics = _errors(HEAD + "format: 2\n")
    d = _only(diagnostics, "invalid-value")
    assert d.message == "format: Input should be 1 (got 2)"
    assert _where(d) == (6, 9)


def test_a_rule_that_is_not_a_mapping() -> None:
    d = _only(_errors(HEAD + RULE + '  - "not a mapping"\n'), "invalid-value")
    assert _where(d) == (12, 5)
    assert "rules.1" in d.message


def test_a_document_that_is_not_a_mapping() -> None:
    doc, _ = load_yaml("- a\n")
    assert doc is not None
    spec, problems = validate(doc, StandardSpec)
    assert spec is None
    assert [p.code for p in problems] == ["invalid-value"]
    assert "mapping" in problems[0].message


# ---- several problems --------------------------------------------------------------------------

_MANY = """\
standard: t
title: {zh: 测试, enn: Test}
version: "1"
rule: []
format: 2
sources:
  s1: {titel: 文件, issuer: 国务院, date: 2016-04, confidence: X}
parameters:
  p:
    value: {2016: 1}
rules:
  - id: r1
    entity: household
    title: {zh: 收入}
    requir: food_secure
    source: s1
    severity: vetoo
  - id: r2
    entity: household
    titel: {zh: x}
    require: food_secure
    source: s1
"""


def test_several_problems_are_all_reported_in_file_order() -> None:
    diagnostics = _errors(_MANY)
    found = [(d.code, *_where(d)) for d in diagnostics]
    expected = [
        ("unknown-key", 2, 17),  # enn
        ("unknown-key", 4, 1),  # rule
        ("invalid-value", 5, 9),  # format: 2
        ("missing-key", 7, 3),  # source s1 lacks title
        ("unknown-key", 7, 8),  # titel
        ("invalid-value", 7, 59),  # confidence: X
        ("missing-key", 9, 3),  # p lacks values
        ("unknown-key", 10, 5),  # value
        ("missing-key", 12, 5),  # r1 lacks require
        ("unknown-key", 15, 5),  # requir
        ("invalid-value", 17, 15),  # vetoo
        ("missing-key", 18, 5),  # r2 lacks title
        ("unknown-key", 20, 5),  # titel
    ]
    assert found == expected
    hints = {d.message: d.hint for d in diagnostics if d.code == "unknown-key"}
    assert hints["unknown key 'requir' in rules.0"] == "did you mean 'require'?"
    assert hints["unknown key 'rule' in the standard"] == "did you mean 'rules'?"
    assert hints["unknown key 'titel' in rules.1"] == "did you mean 'title'?"


def test_standard_error_message_is_the_first_problem_and_a_count() -> None:
    with pytest.raises(StandardError) as info:
        load_standard_text(_MANY, "many.yaml")
    assert str(info.value) == "many.yaml:2:17: error[unknown-key]: unknown key 'enn' in title (and 12 more)"
    rendered = info.value.render()
    assert rendered.count("error[") == 13
    assert "\n\n" in rendered  # diagnostics separated by blank lines


# ---- rendering ---------------------------------------------------------------------------------


def test_render_is_compiler_style() -> None:
    text = HEAD + RULE.replace("    require: food_secure\n", "    requir: food_secure\n")
    d = _only(_errors(text, "rules/t.yaml"), "unknown-key")
    assert d.render().splitlines() == [
        "rules/t.yaml:10:5: error[unknown-key]: unknown key 'requir' in rules.0",
        " 10 |     requir: food_secure",
        "    |     ^^^^^^",
        "    = help: did you mean 'require'?",
    ]


def test_caret_after_chinese_text_is_placed_by_display_width() -> None:
    text = HEAD.replace("title: {zh: 测试, en: test}", "title: {zh: 收入标准, enn: Income}")
    d = _only(_errors(text, "t.yaml"), "unknown-key")
    # 'enn' is character 19 on the line, but 4 CJK characters before it take 8 cells, not 4
    assert _where(d) == (2, 19)
    lines = d.render().splitlines()
    assert lines[0] == "t.yaml:2:19: error[unknown-key]: unknown key 'enn' in title"
    assert lines[1] == " 2 | title: {zh: 收入标准, enn: Income}"
    assert lines[2] == "   | " + " " * 22 + "^^^"
    assert lines[3] == "   = help: did you mean 'en'?"


def test_caret_under_an_expression_after_a_chinese_name() -> None:
    text = HEAD + RULE.replace("require: food_secure", "require: 人均纯收入 > poverty_lin")
    d = _only(_errors(text), "unknown-field")
    assert _where(d) == (10, 22)
    lines = d.render().splitlines()
    assert lines[1] == " 10 |     require: 人均纯收入 > poverty_lin"
    # 13 columns of indentation and key, 5 CJK characters (10 cells), then ' > '
    assert lines[2] == "    | " + " " * (13 + 10 + 3) + "^" * len("poverty_lin")


def test_caret_span_over_chinese_text_counts_cells() -> None:
    text = HEAD + RULE.replace("require: food_secure", 'require: exit_status == "已托贫"')
    d = _only(_errors(text), "unknown-code")
    lines = d.render().splitlines()
    assert lines[2] == "    | " + " " * len("    require: exit_status == ") + "^" * 8  # "已托贫" = 2 + 3 * 2 cells


@pytest.mark.parametrize(
    ("diagnostic", "expected"),
    [
        (
            Diagnostic("file-not-found", "cannot read x.yaml", file="x.yaml"),
            "x.yaml: error[file-not-found]: cannot read x.yaml",
        ),
        (
            Diagnostic("missing-key", "needs 'standard'", file="e.yaml", hint="add it"),
            "e.yaml: error[missing-key]: needs 'standard'\n   = help: add it",
        ),
        (
            Diagnostic("unknown-key", "unknown", file="w.yaml", position=Position(3, 5, 8), source_line="  - abc: 1\n"),
            "w.yaml:3:5: error[unknown-key]: unknown\n 3 |   - abc: 1\n   |     ^^^",
        ),
        (
            Diagnostic("unknown-key", "w", file="w.yaml", position=Position(1, 2), severity="warning"),
            "w.yaml:1:2: warning[unknown-key]: w",
        ),
        (
            Diagnostic("yaml-syntax", "eof", file="s.yaml", position=Position(2, 1), source_line=""),
            "s.yaml:2:1: error[yaml-syntax]: eof\n 2 | \n   | ^",
        ),
    ],
)
def test_diagnostic_render_shapes(diagnostic: Diagnostic, expected: str) -> None:
    assert diagnostic.render() == expected


def test_diagnostic_to_dict() -> None:
    d = Diagnostic("unknown-key", "m", file="f.yaml", position=Position(4, 7, 9), hint="h")
    assert d.to_dict() == {
        "code": "unknown-key",
        "severity": "error",
        "message": "m",
        "file": "f.yaml",
        "line": 4,
        "col": 7,
        "hint": "h",
    }
