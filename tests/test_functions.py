"""Functions of the rule language added for the bundled standards: ``id_number_valid`` (GB 11643-1999).

Unit tests of the implementation, hypothesis properties of the check digit, and the function as a
rule sees it: typed at load time, unknown on an unknown argument, named in words in reasons, listed
in docs/language.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import inline_standard
from tuopin_rules import Engine, Outcome
from tuopin_rules.errors import StandardError
from tuopin_rules.expr.functions import FUNCTIONS, id_check_digit, id_number_valid
from tuopin_rules.i18n import FUNCTION_NAMES

ROOT = Path(__file__).resolve().parent.parent

# ---- id_check_digit / id_number_valid: examples ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("11010519491231002", "X"),  # the example of GB 11643-1999 (北京市朝阳区)
        ("44052418800101001", "4"),  # 广东省汕头市, also a published example
        ("34052419800101001", "X"),
        ("11010519800101001", "6"),
    ],
)
def test_check_digit_of_published_examples(body: str, check: str) -> None:
    assert id_check_digit(body) == check
    assert id_number_valid(body + check)


@pytest.mark.parametrize(
    "body", ["1101051949123100", "110105194912310021", "1101051949123100X", "１１０１０５１９４９１２３１００２"]
)
def test_check_digit_needs_17_ascii_digits(body: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        id_check_digit(body)


@pytest.mark.parametrize(
    "text",
    [
        "11010519491231002X",
        "11010519491231002x",  # a lower-case x is accepted
        " 11010519491231002X ",  # surrounding spaces are ignored
        "440524188001010014",  # born 1880: plausibility is not checked
        "110105200002290013",  # 29 February of a leap year
        "110105491231002",  # the old 15-digit form: 1949-12-31
    ],
)
def test_valid_id_numbers(text: str) -> None:
    assert id_number_valid(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("110105194912310021", "wrong check digit"),
        ("11010519491231002Y", "a letter other than X"),
        ("X10105194912310021", "X anywhere but last"),
        ("1101051949123100", "16 characters"),
        ("1101051949123100211", "19 characters"),
        ("11010519491231002X0", "20 characters (a disability-card number)"),
        ("", "empty"),
        ("110105 19491231002X", "inner space"),
        ("１１０１０５１９４９１２３１００２Ｘ", "full-width digits"),
        ("110105194913310021", "month 13 (check digit right)"),
        ("110105190002290017", "1900-02-29 does not exist (check digit right)"),
        ("110105194900000016", "month 00 (check digit right)"),
        ("11010500000101001X", "year 0000 (check digit right)"),
        ("110105491231002X", "16 characters, old form with X"),
        ("110105491331002", "15 digits, month 13"),
        ("110105000229002", "15 digits, 1900-02-29"),
        ("11010549123100A", "15 characters with a letter"),
    ],
)
def test_invalid_id_numbers(text: str, why: str) -> None:
    assert not id_number_valid(text), why


# ---- hypothesis: generated valid numbers pass, any single-character change fails -------------------

DIGITS = "0123456789"
address = st.text(alphabet=DIGITS, min_size=6, max_size=6)
birth = st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2099, 12, 31))
sequence = st.text(alphabet=DIGITS, min_size=3, max_size=3)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    body = draw(address) + draw(birth).strftime("%Y%m%d") + draw(sequence)
    return body + id_check_digit(body)


@settings(max_examples=300, deadline=None)
@given(valid_ids())
def test_generated_valid_ids_pass(text: str) -> None:
    assert id_number_valid(text)
    assert id_number_valid(text.lower())


@settings(max_examples=300, deadline=None)
@given(valid_ids(), st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10))
def test_any_single_character_change_fails(text: str, position: int, shift: int) -> None:
    alphabet = DIGITS if position < 17 else DIGITS + "X"
    old = text[position]
    new = alphabet[(alphabet.index(old) + shift) % len(alphabet)]
    if new == old:  # shift == len(alphabet) for the body digits: pick the next one
        new = alphabet[(alphabet.index(old) + 1) % len(alphabet)]
    changed = text[:position] + new + text[position + 1 :]
    assert changed != text
    assert not id_number_valid(changed)


@settings(max_examples=200, deadline=None)
@given(valid_ids(), st.integers(min_value=0, max_value=16))
def test_swapping_two_different_adjacent_digits_fails(text: str, position: int) -> None:
    a, b = text[position], text[position + 1]
    if a == b or "X" in (a, b):
        return
    swapped = text[:position] + b + a + text[position + 2 :]
    assert not id_number_valid(swapped)


@settings(max_examples=200, deadline=None)
@given(address, st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)), sequence)
def test_old_15_digit_numbers_with_a_real_date_pass(addr: str, born: dt.date, seq: str) -> None:
    assert id_number_valid(addr + born.strftime("%y%m%d") + seq)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=25))
def test_never_raises(text: str) -> None:
    assert id_number_valid(text) in (True, False)


# ---- in the rule language --------------------------------------------------------------------------

ID_RULES = inline_standard(
    """
    rules:
      - id: member.id
        entity: member
        title: {zh: 证件号码有效}
        require: id_number_valid(id_number)
        source: doc
    """
)


@pytest.mark.parametrize(
    ("value", "outcome"),
    [("11010519491231002X", Outcome.PASS), ("110105194912310021", Outcome.FAIL), (None, Outcome.UNKNOWN)],
)
def test_rule_outcomes(value: str | None, outcome: Outcome) -> None:
    record = {"person_id": "1"} | ({"证件号码": value} if value is not None else {})
    verdict = Engine(ID_RULES).evaluate("member", record, 2020)
    result = verdict.results[0]
    assert result.outcome is outcome
    if outcome is Outcome.UNKNOWN:
        assert result.missing == ["id_number"]


def test_failed_reason_names_the_function_in_words() -> None:
    verdict = Engine(ID_RULES).evaluate("member", {"person_id": "1", "证件号码": "110105194912310021"}, 2020)
    assert "证件号码有效(证件号码)" in verdict.results[0].reason.zh
    assert "id_number_valid(citizen ID number)" in (verdict.results[0].reason.en or "")


def test_argument_is_type_checked_at_load_time() -> None:
    with pytest.raises(StandardError) as info:
        inline_standard(
            """
            rules:
              - {id: r, entity: member, title: {zh: x}, require: id_number_valid(age), source: doc}
            """
        )
    assert [d.code for d in info.value.diagnostics] == ["type-mismatch"]
    assert "id_number_valid() argument 1 must be text, not number" in info.value.diagnostics[0].message


def test_arity_is_checked_at_load_time() -> None:
    with pytest.raises(StandardError) as info:
        inline_standard(
            """
            rules:
              - {id: r, entity: member, title: {zh: x}, require: 'id_number_valid(id_number, "x")', source: doc}
            """
        )
    assert [d.code for d in info.value.diagnostics] == ["bad-arity"]


# ---- every built-in function is documented and has words for reasons -------------------------------

#: the built-in functions (plug-ins, registered from installed packages, are documented by their packages)
BUILT_IN = sorted(n for n, f in FUNCTIONS.items() if f.impl.__module__.startswith("tuopin_rules.expr."))


def test_id_number_valid_is_built_in() -> None:
    assert "id_number_valid" in BUILT_IN


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_function_has_a_name_in_words_and_a_doc_line(name: str) -> None:
    assert name in FUNCTION_NAMES
    zh, en = FUNCTION_NAMES[name]
    assert zh and en
    assert FUNCTIONS[name].doc


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_function_is_in_the_language_docs_table(name: str) -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert f"| `{name}(" in text
