"""The type checker, through ``load_standard_text`` on small inline standards."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tuopin_rules.compile import Standard, load_standard_text
from tuopin_rules.errors import Diagnostic, StandardError
from tuopin_rules.expr import ast

HEAD = """\
standard: t
title: {zh: 测试}
version: "1"
sources:
  s1: {title: 文件, issuer: 国务院, date: 2016-04}
parameters:
  poverty_line:
    values: {2016: 2952, 2020: 4000}
  incidence_limit:
    by: region
    values: {default: 2%, western: 3%}
"""
REQUIRE_LINE = 16  # the line of `require:` in a standard built by _rule()
REQUIRE_COL = 14  # the column where its expression starts


def _rule(require: str, entity: str = "household", extra: str = "") -> str:
    return (
        HEAD
        + "rules:\n"
        + "  - id: r1\n"
        + f"    entity: {entity}\n"
        + "    title: {zh: 规则}\n"
        + f"    require: {require}\n"
        + "    source: s1\n"
        + extra
    )


def _ok(require: str, entity: str = "household", extra: str = "") -> Standard:
    return load_standard_text(_rule(require, entity, extra), "t.yaml")


def _errors(text: str) -> list[Diagnostic]:
    with pytest.raises(StandardError) as info:
        load_standard_text(text, "t.yaml")
    return info.value.diagnostics


def _one(require: str, code: str, entity: str = "household", extra: str = "") -> Diagnostic:
    """The single diagnostic of ``require``, which must have ``code``."""
    diagnostics = _errors(_rule(require, entity, extra))
    assert [d.code for d in diagnostics] == [code], [d.render() for d in diagnostics]
    return diagnostics[0]


def _at(d: Diagnostic, offset: int, length: int, line: int = REQUIRE_LINE) -> None:
    """Assert ``d`` points at ``offset`` (0-based, in the expression) spanning ``length`` characters."""
    assert d.position is not None
    assert (d.position.line, d.position.col, d.position.end_col) == (
        line,
        REQUIRE_COL + offset,
        REQUIRE_COL + offset + length,
    )


# ---- names -------------------------------------------------------------------------------------


def test_a_clean_rule_binds_fields_and_parameters() -> None:
    (rule,) = _ok("per_capita_net_income > poverty_line").rules
    assert rule.require == ast.Compare(
        ">",
        ast.FieldRef("household", "per_capita_net_income", "per_capita_net_income"),
        ast.ParamRef("poverty_line", "poverty_line"),
    )


def test_unknown_field_with_did_you_mean() -> None:
    d = _one("per_capita_net_incom > poverty_line", "unknown-field")
    assert d.message == "unknown field or parameter 'per_capita_net_incom' for a household"
    assert d.hint == "did you mean 'per_capita_net_income'?"
    _at(d, 0, len("per_capita_net_incom"))


def test_unknown_field_in_a_member_scope_suggests_member_fields() -> None:
    d = _one("count(members where ag > 60) > 0", "unknown-field")
    assert "for a member" in d.message
    assert d.hint == "did you mean 'age'?"
    _at(d, len("count(members where "), 2)


def test_chinese_alias_resolves_to_the_field() -> None:
    (rule,) = _ok("人均纯收入 > poverty_line").rules
    assert isinstance(rule.require, ast.Compare)
    assert rule.require.left == ast.FieldRef("household", "per_capita_net_income", "人均纯收入")


@pytest.mark.parametrize(
    ("written", "field"),
    [
        ("人均纯收入", "per_capita_net_income"),  # the label
        ("PER_CAPITA_NET_INCOME", "per_capita_net_income"),  # case folded
        ("家庭纯收入", "net_income"),  # an alias
        ("ｎｅｔ_ｉｎｃｏｍｅ", "net_income"),  # full-width letters folded
        ("aac017", "household_size"),  # a system column code
    ],
)
def test_aliases_resolve_after_folding(written: str, field: str) -> None:
    (rule,) = _ok(f"{written} > 0").rules
    assert isinstance(rule.require, ast.Compare)
    assert rule.require.left == ast.FieldRef("household", field, written)


def test_unknown_chinese_name_gets_a_chinese_did_you_mean() -> None:
    d = _one("人均收入 > poverty_line", "unknown-field")
    assert d.hint == "did you mean '人均纯收入'?"


def test_special_names() -> None:
    (rule,) = _ok("as_of_year >= 2016").rules
    assert isinstance(rule.require, ast.Compare)
    assert rule.require.left == ast.Special("as_of_year")


def test_misspelt_parameter_suggests_the_parameter() -> None:
    diagnostics = _errors(_rule("per_capita_net_income > povrty_line"))
    assert len(diagnostics) == 1
    d = diagnostics[0]
    assert "'povrty_line'" in d.message
    assert d.hint == "did you mean 'poverty_line'?"
    _at(d, len("per_capita_net_income > "), len("povrty_line"))


def test_unknown_parameter_code() -> None:
    _one("per_capita_net_income > povrty_line", "unknown-parameter")


def test_parameter_by_region_from_an_entity_without_region() -> None:
    d = _one("per_capita_net_income > incidence_limit", "type-mismatch")
    assert d.message == "parameter 'incidence_limit' varies by 'region', which a household record does not have"
    _at(d, len("per_capita_net_income > "), len("incidence_limit"))


def test_parameter_by_region_from_an_entity_with_region() -> None:
    (rule,) = _ok("poverty_incidence < incidence_limit", entity="village").rules
    assert isinstance(rule.require, ast.Compare)
    assert rule.require.right == ast.ParamRef("incidence_limit", "incidence_limit")


def test_a_collection_is_not_a_value() -> None:
    d = _one("members > 0", "type-mismatch")
    assert "collection of member records" in d.message
    assert d.hint is not None and "count(members)" in d.hint


# ---- functions ---------------------------------------------------------------------------------


def test_unknown_function_with_did_you_mean() -> None:
    d = _one("ag(head_id_number) >= 16", "unknown-function")
    assert d.message == "unknown function 'ag'"
    assert d.hint == "did you mean 'age'?"
    _at(d, 0, len("ag(head_id_number)"))


def test_unknown_function_without_a_close_match() -> None:
    d = _one("frobnicate(head_id_number) >= 16", "unknown-function")
    assert d.hint is None


@pytest.mark.parametrize(
    ("require", "words"),
    [
        ("age(head_id_number, 3) > 3", "age() takes 1 argument(s), not 2"),
        ("round(per_capita_net_income) > 0", "round() takes 2 argument(s), not 1"),
        ("is_blank() ", "is_blank() takes 1 argument(s), not 0"),
        ("count() > 0", "count() needs a collection"),
        ("sum(members) > 0", "sum() takes a collection and a value"),
        ("max(members, age, age) > 0", "max() takes a collection and a value"),
        ("any(members)", "any() takes a collection and a condition"),
        ("count(members, age > 1, age > 2) > 0", "count() takes a collection and a condition"),
    ],
)
def test_wrong_arity(require: str, words: str) -> None:
    d = _one(require, "bad-arity")
    assert words in d.message
    _at(d, 0, len(_call_text(require)))


def _call_text(require: str) -> str:
    """The call at the start of ``require`` (up to its closing parenthesis)."""
    depth = 0
    for i, ch in enumerate(require):
        depth += ch == "("
        depth -= ch == ")"
        if ch == ")" and depth == 0:
            return require[: i + 1]
    raise AssertionError(require)


def test_function_result_types() -> None:
    (rule,) = _ok("age(head_id_number) >= 16 and not is_blank(head_name) and abs(net_income) > 0").rules
    assert isinstance(rule.require, ast.BoolOp)
    first = rule.require.operands[0]
    assert isinstance(first, ast.Compare)
    assert first.left == ast.FuncCall("age", (ast.FieldRef("household", "head_id_number", "head_id_number"),))


# ---- types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("require", "message", "offset", "length"),
    [
        ('per_capita_net_income > "abc"', "cannot compare per_capita_net_income (number) with a text", 24, 5),
        ("head_name == 3", "cannot compare head_name (text) with a number", 13, 1),
        ("per_capita_net_income + food_secure > 0", "expected a number, but this is food_secure (bool)", 24, 11),
        ("-food_secure > 0", "expected a number, but this is food_secure (bool)", 1, 11),
        ("abs(head_name) > 0", "abs() argument 1 must be number, not text", 4, 9),
        ("head_name between 1 and 3", "'between' needs a number or date, not text", 0, 9),
        ('per_capita_net_income between "a" and 3', "expected a number, but this is a text", 30, 3),
        ("sum(members, name) > 0", "sum() needs number values, not text", 13, 4),
        ("as_of > 3", "cannot compare a date with a number", 8, 1),
    ],
)
def test_type_mismatch(require: str, message: str, offset: int, length: int) -> None:
    d = _one(require, "type-mismatch")
    assert d.message == message
    _at(d, offset, length)


def test_ordering_text_is_a_type_mismatch() -> None:
    diagnostics = _errors(_rule("head_name > 3"))
    assert [d.code for d in diagnostics] == ["type-mismatch", "type-mismatch"]
    assert diagnostics[0].message == "'>' needs numbers or dates, not head_name (text)"


@pytest.mark.parametrize(
    ("require", "offset", "length", "what"),
    [
        ("per_capita_net_income and food_secure", 0, 21, "per_capita_net_income (number)"),
        ("food_secure or per_capita_net_income", 15, 21, "per_capita_net_income (number)"),
        ("not per_capita_net_income", 4, 21, "per_capita_net_income (number)"),
        ("per_capita_net_income", 0, 21, "per_capita_net_income (number)"),
        ("per_capita_net_income + 1", 0, 25, "a number"),
        ('"yes"', 0, 5, "a text"),
    ],
)
def test_not_boolean(require: str, offset: int, length: int, what: str) -> None:
    text = _rule(require if not require.startswith('"') else f"'{require}'")
    diagnostics = _errors(text)
    assert [d.code for d in diagnostics] == ["not-boolean"], [d.render() for d in diagnostics]
    assert diagnostics[0].message == f"expected a true/false condition, but this is {what}"
    if not require.startswith('"'):
        _at(diagnostics[0], offset, length)


def test_aggregate_filter_must_be_boolean() -> None:
    diagnostics = _errors(_rule("count(members where age) > 0"))
    assert [d.code for d in diagnostics] == ["not-boolean"]
    assert diagnostics[0].message == "expected a true/false condition, but this is age (integer)"
    _at(diagnostics[0], len("count(members where "), 3)


def test_applies_when_must_be_boolean() -> None:
    diagnostics = _errors(_rule("food_secure", extra="    applies_when: household_size\n"))
    assert [d.code for d in diagnostics] == ["not-boolean"]
    assert diagnostics[0].position is not None
    assert (diagnostics[0].position.line, diagnostics[0].position.col) == (REQUIRE_LINE + 2, 19)


# ---- codes -------------------------------------------------------------------------------------


def test_unknown_code_literal_with_did_you_mean() -> None:
    d = _one('exit_status == "已托贫"', "unknown-code")
    assert (
        d.message
        == "'已托贫' is not a code of exit_status (0 未脱贫, 1 已脱贫(享受政策), 3 返贫, 4 已脱贫(不再享受政策))"
    )
    assert d.hint == "did you mean '已脱贫'?"
    _at(d, len("exit_status == "), len('"已托贫"'))


def test_code_literal_is_normalised_to_the_code() -> None:
    (rule,) = _ok('exit_status == "已脱贫"').rules
    assert rule.require == ast.Compare("==", ast.FieldRef("household", "exit_status", "exit_status"), ast.Literal("1"))


@pytest.mark.parametrize(
    ("literal", "code"),
    [
        ('"已脱贫"', "1"),
        ('"已脱贫(享受政策)"', "1"),
        ('"已脱贫（享受政策）"', "1"),  # full-width parentheses fold to ASCII
        ('"返贫"', "3"),
        ('"未脱贫"', "0"),
        ('"1"', "1"),
        ("4", "4"),  # a bare number compared with a code field is a code
        ('"exited (no longer receiving policies)"', "4"),
    ],
)
def test_code_spellings(literal: str, code: str) -> None:
    (rule,) = _ok("food_secure", extra=f"    applies_when: 脱贫状态 == {literal}\n").rules
    assert rule.applies_when == ast.Compare(
        "==", ast.FieldRef("household", "exit_status", "脱贫状态"), ast.Literal(code)
    )


def test_codes_in_a_list_are_normalised() -> None:
    (rule,) = _ok("exit_status in [\"已脱贫\", '返贫']").rules
    assert rule.require == ast.In(
        ast.FieldRef("household", "exit_status", "exit_status"),
        ast.ListExpr((ast.Literal("1"), ast.Literal("3"))),
    )


def test_code_literal_on_the_left() -> None:
    (rule,) = _ok("'\"已脱贫\" == exit_status'").rules
    assert isinstance(rule.require, ast.Compare)
    assert rule.require.left == ast.Literal("1")


def test_unknown_code_in_a_list_and_in_a_member_scope() -> None:
    diagnostics = _errors(_rule('any(members, health_status in ["健康", "患有大症"])'))
    assert [d.code for d in diagnostics] == ["unknown-code"]
    assert diagnostics[0].hint == "did you mean '患有大病'?"


# ---- aggregates --------------------------------------------------------------------------------


def test_aggregate_binds_collection_and_child_scope() -> None:
    (rule,) = _ok("count(members where age >= 60) > 0").rules
    assert isinstance(rule.require, ast.Compare)
    agg = rule.require.left
    assert agg == ast.Aggregate(
        "count",
        "members",
        "member",
        ast.Compare(">=", ast.FieldRef("member", "age", "age"), ast.Literal(Decimal("60"))),
        None,
    )


@pytest.mark.parametrize(
    ("require", "entity", "written", "words", "hint"),
    [
        ("count(food_secure) > 0", "household", "food_secure", "(it has: members)", None),
        ("count(member) > 0", "household", "member", "(it has: members)", "did you mean 'members'?"),
        ("any(people, age > 60)", "household", "people", "(it has: members)", None),
        ("count(members) > 0", "village", "members", "(it has: households)", None),
        ("count(households) > 0", "county", "households", "(it has: villages, samples)", None),
        ("count(households) > 0", "member", "households", "(it has none)", None),
    ],
)
def test_aggregate_over_a_non_collection(require: str, entity: str, written: str, words: str, hint: str) -> None:
    d = _one(require, "unknown-collection", entity=entity)
    assert d.message.startswith(f"{written!r} is not a collection of a {entity}")
    assert words in d.message
    assert d.hint == hint
    _at(d, require.index("(") + 1, len(written))


# ---- derived fields ----------------------------------------------------------------------------

_FIELDS_HEAD = HEAD + "fields:\n  household:\n"


def test_derive_cycle_between_two_fields() -> None:
    text = (
        _FIELDS_HEAD
        + "    net_income:\n      derive: per_capita_net_income * household_size\n"
        + "    per_capita_net_income:\n      derive: net_income / household_size\n"
    )
    diagnostics = _errors(text)
    assert [d.code for d in diagnostics] == ["derive-cycle"]
    d = diagnostics[0]
    assert "household.net_income" in d.message and "household.per_capita_net_income" in d.message
    assert d.message.startswith("derived fields form a cycle: ")
    assert d.position is not None and d.position.line in (15, 17)  # one of the two `derive:` lines


def test_derive_cycle_of_one_field() -> None:
    text = _FIELDS_HEAD + "    loop_a:\n      type: number\n      derive: loop_a + 1\n"
    diagnostics = _errors(text)
    assert [d.code for d in diagnostics] == ["derive-cycle"]
    assert "household.loop_a -> household.loop_a" in diagnostics[0].message
    assert diagnostics[0].position is not None
    assert (diagnostics[0].position.line, diagnostics[0].position.col) == (16, 15)


def test_an_aggregate_over_a_derived_child_field_is_not_a_cycle() -> None:
    text = (
        HEAD
        + "fields:\n  household:\n    net_income:\n      derive: sum(members, age)\n"
        + "  member:\n    age:\n      derive: age(id_number)\n"
    )
    std = load_standard_text(text)
    assert set(std.derived) == {("household", "net_income"), ("member", "age")}


def test_derive_is_type_checked_against_the_field_type() -> None:
    diagnostics = _errors(_FIELDS_HEAD + "    food_secure:\n      derive: household_size + 1\n")
    assert [d.code for d in diagnostics] == ["not-boolean"]


def test_a_valid_derive_is_bound() -> None:
    std = load_standard_text(_FIELDS_HEAD + "    household_size:\n      derive: count(members)\n")
    assert std.derived[("household", "household_size")] == ast.Aggregate("count", "members", "member", None, None)


# ---- reason templates --------------------------------------------------------------------------


def test_template_naming_a_field_the_rule_does_not_read() -> None:
    extra = '    explain:\n      fail: {zh: "收入 {per_capita_net_income} 元，户主 {head_name}"}\n'
    d = _one("per_capita_net_income > poverty_line", "template-name", extra=extra)
    assert d.message == "the fail reason names {head_name}, which this rule does not read"
    assert d.position is not None and d.position.line == REQUIRE_LINE + 3


def test_template_typo_gets_did_you_mean() -> None:
    extra = "    explain:\n      fail: {zh: '收入 {per_capita_net_incom}'}\n"
    d = _one("per_capita_net_income > poverty_line", "template-name", extra=extra)
    assert d.hint == "did you mean 'per_capita_net_income'?"


def test_template_may_name_what_the_rule_reads() -> None:
    extra = (
        "    applies_when: exit_status == '已脱贫'\n"
        "    explain:\n"
        "      fail:\n"
        "        zh: '人均纯收入 {人均纯收入} 元，{as_of_year} 年标准 {poverty_line}，状态 {exit_status}'\n"
        "        en: 'short by {gap}'\n"
    )
    (rule,) = _ok("人均纯收入 > poverty_line", extra=extra).rules
    assert rule.explain is not None


def test_malformed_template() -> None:
    extra = "    explain:\n      fail: {zh: '收入 {per_capita_net_income'}\n"
    d = _one("per_capita_net_income > poverty_line", "template-name", extra=extra)
    assert d.message.startswith("bad reason template")


# ---- expression positions in the file ----------------------------------------------------------


def test_position_in_a_quoted_expression() -> None:
    d = _one('"per_capita_net_incom > poverty_line"', "unknown-field")
    _at(d, 1, len("per_capita_net_incom"))


def test_position_in_a_literal_block_expression() -> None:
    d = _one("|-\n      food_secure and\n      clothing_secur", "unknown-field")
    assert d.position is not None
    assert (d.position.line, d.position.col) == (REQUIRE_LINE + 2, 7)


def test_position_in_a_folded_block_expression() -> None:
    d = _one(">-\n      food_secure and\n      clothing_secur", "unknown-field")
    assert d.position is not None
    assert (d.position.line, d.position.col) == (REQUIRE_LINE + 2, 7)


def test_position_in_a_structured_condition() -> None:
    diagnostics = _errors(_rule("\n      all:\n        - food_secure\n        - clothng_secure"))
    assert [d.code for d in diagnostics] == ["unknown-field"]
    d = diagnostics[0]
    assert d.hint == "did you mean 'clothing_secure'?"
    assert d.position is not None
    assert (d.position.line, d.position.col) == (REQUIRE_LINE + 3, 11)


def test_every_problem_of_every_rule_is_reported() -> None:
    text = _rule(
        "ag(head_id_number) > 1 and per_capita_net_incom > 0",
        extra=(
            "  - id: r2\n    entity: village\n    title: {zh: 二}\n"
            "    require: count(member) > 0 and poverty_incidence < incidence_limit\n    source: s1\n"
        ),
    )
    codes = [(d.code, d.position.line if d.position else None) for d in _errors(text)]
    assert codes == [
        ("unknown-function", REQUIRE_LINE),
        ("unknown-field", REQUIRE_LINE),
        ("unknown-collection", REQUIRE_LINE + 5),
    ]


def test_parameter_by_its_chinese_label() -> None:
    from tests.conftest import inline_standard

    standard = inline_standard(
        """
        parameters:
          poverty_line: {label: {zh: 扶贫标准}, values: {2020: 4000}, source: doc}
        rules:
          - {id: r, entity: household, title: {zh: r}, source: doc, require: 人均纯收入 > 扶贫标准}
        """
    )
    assert standard.rules[0].require == ast.Compare(
        ">",
        ast.FieldRef("household", "per_capita_net_income", "人均纯收入"),
        ast.ParamRef("poverty_line", "扶贫标准"),
    )


def test_yes_is_not_a_boolean_in_expressions() -> None:
    d = _one("yes", "unknown-field")
    assert d.hint == "write true or false"
