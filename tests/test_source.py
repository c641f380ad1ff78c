"""Stage ``source``: YAML text to plain data and a source map, with the YAML traps closed."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from tuopin_rules.compile import load_standard_text
from tuopin_rules.errors import Position, StandardError
from tuopin_rules.source import MAX_ALIAS_NODES, load_yaml, load_yaml_file


def _load(text: str) -> Any:
    """Load ``text`` that must be clean YAML; return its data."""
    doc, problems = load_yaml(text, "t.yaml")
    assert problems == []
    assert doc is not None
    return doc.data


def _walk(value: Any) -> list[Any]:
    """Every scalar, key and container in ``value``."""
    out = [value]
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(k)
            out.extend(_walk(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(_walk(v))
    return out


# ---- scalars ---------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF", "Y", "N"])
def test_yaml11_booleans_stay_text(word: str) -> None:
    assert _load(f"flag: {word}\n") == {"flag": word}


@pytest.mark.parametrize(
    ("written", "value"),
    [("true", True), ("false", False), ("True", True), ("False", False), ("TRUE", True), ("FALSE", False)],
)
def test_only_true_and_false_are_booleans(written: str, value: bool) -> None:
    data = _load(f"flag: {written}\n")
    assert data["flag"] is value


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("0012", "0012"),  # leading zeros: a code, never the number 12
        ("00", "00"),
        ("-0012", "-0012"),
        ("007.5", "007.5"),
        ("0x1F", "0x1F"),  # hex
        ("0o17", "0o17"),  # octal
        ("1_000", "1_000"),  # digit separators
        ("12:30", "12:30"),  # YAML 1.1 sexagesimal (would be 750)
        (".5", ".5"),
        ("1.", "1."),
        (".inf", ".inf"),
        (".nan", ".nan"),
        ("2%", "2%"),
        ("11010519491231002X", "11010519491231002X"),
    ],
)
def test_non_decimal_number_forms_stay_text(written: str, value: str) -> None:
    data = _load(f"v: {written}\n")
    assert data["v"] == value
    assert isinstance(data["v"], str)


@pytest.mark.parametrize(
    ("written", "value"),
    [("12", 12), ("0", 0), ("+12", 12), ("-12", -12), ("-0", 0), ("2952", 2952)],
)
def test_decimal_integers_become_int(written: str, value: int) -> None:
    data = _load(f"v: {written}\n")
    assert data["v"] == value
    assert type(data["v"]) is int


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("0.1", Decimal("0.1")),
        ("2.50", Decimal("2.50")),
        ("-2.5", Decimal("-2.5")),
        ("+1.5", Decimal("1.5")),
        ("1e3", Decimal("1000")),
        ("1.0e-2", Decimal("0.01")),
        ("512.3", Decimal("512.3")),
    ],
)
def test_floats_become_exact_decimals(written: str, value: Decimal) -> None:
    data = _load(f"v: {written}\n")
    assert type(data["v"]) is Decimal
    assert data["v"] == value


def test_decimal_keeps_the_digits_as_written() -> None:
    # 0.1 as a binary float would be 0.1000000000000000055511151231257827...
    assert str(_load("v: 0.1\n")["v"]) == "0.1"
    assert _load("a: 512.3\nb: 1538.6\nc: 1949.1\n") == {
        "a": Decimal("512.3"),
        "b": Decimal("1538.6"),
        "c": Decimal("1949.1"),
    }
    data = _load("a: 512.3\nb: 1538.6\nc: 1949.1\n")
    assert data["a"] + data["b"] + data["c"] == Decimal("4000.0")


def test_no_float_anywhere_in_nested_data() -> None:
    data = _load("a: [1.5, {b: 0.25, c: [3.75e1, 0.1]}]\nd: {e: {f: 2.0}}\n")
    assert data == {
        "a": [Decimal("1.5"), {"b": Decimal("0.25"), "c": [Decimal("37.5"), Decimal("0.1")]}],
        "d": {"e": {"f": Decimal("2.0")}},
    }
    assert not any(isinstance(x, float) for x in _walk(data))


@pytest.mark.parametrize("written", ["2016-04-23", "2016-04", "2016-04-23T10:00:00", "2016-4-1"])
def test_dates_stay_text(written: str) -> None:
    data = _load(f"d: {written}\n")
    assert data["d"] == written
    assert isinstance(data["d"], str)


@pytest.mark.parametrize("written", ["~", "null", "Null", "NULL", ""])
def test_nulls(written: str) -> None:
    assert _load(f"v: {written}\n") == {"v": None}


@pytest.mark.parametrize(
    ("written", "value"),
    [("'0012'", "0012"), ('"yes"', "yes"), ("'true'", "true"), ('"2"', "2"), ("'1.5'", "1.5"), ('"~"', "~")],
)
def test_quoted_scalars_are_always_text(written: str, value: str) -> None:
    assert _load(f"v: {written}\n") == {"v": value}


def test_block_scalar_is_text() -> None:
    assert _load("v: |\n  line1\n  0012\n") == {"v": "line1\n0012\n"}
    assert _load("v: >-\n  true\n") == {"v": "true"}


def test_keys_are_always_text() -> None:
    data = _load("2016: a\n0012: b\ntrue: c\n1.5: d\n")
    assert data == {"2016": "a", "0012": "b", "true": "c", "1.5": "d"}
    assert all(isinstance(k, str) for k in data)


def test_utf8_bom_and_chinese() -> None:
    assert _load("\ufeff标准: 国家贫困退出标准\n") == {"标准": "国家贫困退出标准"}


# ---- duplicate keys ----------------------------------------------------------------------------


def test_duplicate_key_names_both_lines_and_points_at_the_second() -> None:
    doc, problems = load_yaml("a: 1\nb: 2\na: 3\n", "t.yaml")
    assert doc is not None
    assert [p.code for p in problems] == ["duplicate-key"]
    (p,) = problems
    assert p.message == "duplicate key 'a': first defined on line 1, again on line 3"
    assert p.position == Position(3, 1, 2)
    assert p.file == "t.yaml"
    assert p.source_line == "a: 3"
    assert p.hint is not None
    # the first value is kept, the repeat is not silently used
    assert doc.data == {"a": 1, "b": 2}


def test_duplicate_key_in_a_nested_mapping() -> None:
    text = "rules:\n  - id: r1\n    severity: veto\n    entity: household\n    severity: advisory\n"
    _, problems = load_yaml(text, "t.yaml")
    assert [p.code for p in problems] == ["duplicate-key"]
    assert "first defined on line 3, again on line 5" in problems[0].message
    assert problems[0].position is not None
    assert (problems[0].position.line, problems[0].position.col) == (5, 5)


def test_duplicate_key_in_a_flow_mapping() -> None:
    _, problems = load_yaml("{a: 1, a: 2}\n", "t.yaml")
    assert [p.code for p in problems] == ["duplicate-key"]
    assert problems[0].position is not None
    assert (problems[0].position.line, problems[0].position.col) == (1, 8)


def test_every_duplicate_is_reported() -> None:
    _, problems = load_yaml("a: 1\nb: 1\na: 2\nb: 2\na: 3\n")
    assert [(p.code, p.position.line if p.position else None) for p in problems] == [
        ("duplicate-key", 3),
        ("duplicate-key", 4),
        ("duplicate-key", 5),
    ]


def test_duplicate_key_renders_compiler_style() -> None:
    _, problems = load_yaml("a: 1\na: 2\n", "std.yaml")
    assert problems[0].render().splitlines()[:3] == [
        "std.yaml:2:1: error[duplicate-key]: duplicate key 'a': first defined on line 1, again on line 2",
        " 2 | a: 2",
        "   | ^",
    ]


# ---- aliases -----------------------------------------------------------------------------------

_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_billion_laughs_is_an_alias_limit_diagnostic_not_a_hang() -> None:
    start = time.perf_counter()
    doc, problems = load_yaml(_LAUGHS, "bomb.yaml")
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"alias expansion took {elapsed:.2f}s"
    assert doc is not None
    assert [p.code for p in problems] == ["alias-limit"]  # reported once, not once per alias
    (p,) = problems
    assert str(MAX_ALIAS_NODES) in p.message
    assert p.position is not None and p.position.line >= 1 and p.position.col >= 1
    assert p.file == "bomb.yaml"


def test_billion_laughs_in_a_standard_raises_standard_error_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(StandardError) as info:
        load_standard_text(_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - start < 2.0
    assert "alias-limit" in {d.code for d in info.value.diagnostics}


def test_a_few_aliases_are_fine() -> None:
    data = _load("a: &x [1, 2]\nb: *x\nc: *x\nd: &s text\ne: *s\n")
    assert data == {"a": [1, 2], "b": [1, 2], "c": [1, 2], "d": "text", "e": "text"}


def test_alias_limit_counts_each_expanded_node_once() -> None:
    # 100 scalars; b repeats a 30 times (+3030 nodes); c repeats b twice (+6062 nodes): 9092 < 10000 added
    text = "a: &a [" + ", ".join(["1"] * 100) + "]\n" + "b: &b [" + ", ".join(["*a"] * 30) + "]\n" + "c: [*b, *b]\n"
    assert MAX_ALIAS_NODES == 10_000
    doc, problems = load_yaml(text)
    assert problems == []
    assert doc is not None and len(doc.data["c"]) == 2 and len(doc.data["c"][1]) == 30


def test_undefined_alias_is_a_syntax_error() -> None:
    doc, problems = load_yaml("a: *nope\n", "t.yaml")
    assert doc is None
    assert [p.code for p in problems] == ["yaml-syntax"]
    assert "nope" in problems[0].message
    assert problems[0].position is not None
    assert (problems[0].position.line, problems[0].position.col) == (1, 4)


# ---- explicit tags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!python/object:os.system x\n", "tag:yaml.org,2002:python/object:os.system"),
        ("a: !!python/object/apply:os.system [echo hi]\n", "tag:yaml.org,2002:python/object/apply:os.system"),
        ("a: !!python/name:builtins.eval ''\n", "tag:yaml.org,2002:python/name:builtins.eval"),
        ("a: !!binary aGVsbG8=\n", "tag:yaml.org,2002:binary"),
        ("a: !!timestamp 2016-04-23\n", "tag:yaml.org,2002:timestamp"),
        ("a: !custom x\n", "!custom"),
        (
            "a: !!python/object:collections.OrderedDict {x: 1}\n",
            "tag:yaml.org,2002:python/object:collections.OrderedDict",
        ),
    ],
)
def test_explicit_tags_are_rejected(text: str, tag: str) -> None:
    doc, problems = load_yaml(text, "t.yaml")
    assert doc is not None
    assert [p.code for p in problems] == ["yaml-tag"]
    assert repr(tag) in problems[0].message
    assert problems[0].position is not None
    assert (problems[0].position.line, problems[0].position.col) == (1, 4)
    assert doc.data == {"a": None}  # nothing constructed from the tagged node


def test_tagged_node_inside_a_list_is_rejected_at_its_position() -> None:
    doc, problems = load_yaml("items:\n  - ok\n  - !!python/object/new:os.system [ls]\n")
    assert doc is not None
    assert [p.code for p in problems] == ["yaml-tag"]
    assert problems[0].position is not None
    assert (problems[0].position.line, problems[0].position.col) == (3, 5)
    assert doc.data == {"items": ["ok", None]}


def test_explicit_str_tag_is_not_silently_turned_into_a_number() -> None:
    doc, problems = load_yaml("code: !!str 12\n")
    assert doc is not None
    assert doc.data == {"code": "12"} or [p.code for p in problems] == ["yaml-tag"]


# ---- syntax errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ("a: [1, 2\nb: 3\n", 2, 2, "expected ',' or ']'"),
        ("a:\n  b: 1\n   c: 2\n", 3, 5, "mapping values are not allowed here"),
        ("a: b: c\n", 1, 5, "mapping values are not allowed here"),
        ("a:\n\tb: 1\n", 2, 1, "cannot start any token"),
        ("a: 1\n---\nb: 2\n", 2, 1, "another document"),
    ],
)
def test_syntax_error_has_line_and_column(text: str, line: int, col: int, words: str) -> None:
    doc, problems = load_yaml(text, "bad.yaml")
    assert doc is None
    assert [p.code for p in problems] == ["yaml-syntax"]
    (p,) = problems
    assert words in p.message
    assert p.position is not None
    assert (p.position.line, p.position.col) == (line, col)
    assert p.render().startswith(f"bad.yaml:{line}:{col}: error[yaml-syntax]: ")


def test_syntax_error_renders_the_line_and_a_caret() -> None:
    _, problems = load_yaml("title: ok\nrules: [a, b\nversion: 1\n", "bad.yaml")
    lines = problems[0].render().splitlines()
    assert lines[0].startswith("bad.yaml:3:8: error[yaml-syntax]: ")
    assert lines[1] == " 3 | version: 1"
    assert lines[2] == "   |        ^"


def test_syntax_error_through_load_standard_text() -> None:
    with pytest.raises(StandardError) as info:
        load_standard_text("standard: x\ntitle: [\n", "s.yaml")
    assert [d.code for d in info.value.diagnostics] == ["yaml-syntax"]
    assert str(info.value).startswith("s.yaml:")


# ---- positions ---------------------------------------------------------------------------------

_NESTED = """\
top:
  inner:
    key: value
    list:
      - one
      - {x: 1, y: "two"}
      - - nested
  规则: 中文值
other: [a, b]
"""


def test_key_positions_of_nested_mappings() -> None:
    doc, _ = load_yaml(_NESTED)
    assert doc is not None
    keys = doc.key_positions
    assert keys[("top",)] == Position(1, 1, 4)
    assert keys[("top", "inner")] == Position(2, 3, 8)
    assert keys[("top", "inner", "key")] == Position(3, 5, 8)
    assert keys[("top", "inner", "list")] == Position(4, 5, 9)
    assert keys[("top", "inner", "list", 1, "x")] == Position(6, 10, 11)
    assert keys[("top", "inner", "list", 1, "y")] == Position(6, 16, 17)
    assert keys[("top", "规则")] == Position(8, 3, 5)  # columns count characters, not bytes
    assert keys[("other",)] == Position(9, 1, 6)


def test_value_positions_of_scalars_and_list_items() -> None:
    doc, _ = load_yaml(_NESTED)
    assert doc is not None
    values = doc.value_positions
    assert values[("top", "inner", "key")] == Position(3, 10, 15)
    assert values[("top", "inner", "list", 0)] == Position(5, 9, 12)
    assert values[("top", "inner", "list", 1)].line == 6
    assert values[("top", "inner", "list", 1)].col == 9
    assert values[("top", "inner", "list", 1, "x")] == Position(6, 13, 14)
    assert values[("top", "inner", "list", 1, "y")] == Position(6, 19, 24)  # the quotes are part of the value
    assert values[("top", "inner", "list", 2, 0)] == Position(7, 11, 17)
    assert values[("top", "规则")] == Position(8, 7, 10)
    assert values[("other", 0)] == Position(9, 9, 10)
    assert values[("other", 1)] == Position(9, 12, 13)


def test_position_falls_back_to_the_nearest_ancestor() -> None:
    doc, _ = load_yaml(_NESTED)
    assert doc is not None
    assert doc.position(("top", "inner", "list", 1, "y", "missing")) == Position(6, 19, 24)
    assert doc.position(("top", "inner", "key"), key=True) == Position(3, 5, 8)
    assert doc.position(("nowhere",)) == doc.value_positions[()]
    assert doc.line(8) == "  规则: 中文值"
    assert doc.line(99) == ""


def test_diagnostic_built_from_a_path_carries_line_text() -> None:
    doc, _ = load_yaml(_NESTED, "n.yaml")
    assert doc is not None
    d = doc.diagnostic("invalid-value", "bad", ("top", "inner", "key"), hint="try x")
    assert d.file == "n.yaml"
    assert d.position == Position(3, 10, 15)
    assert d.source_line == "    key: value"
    assert d.render().splitlines() == [
        "n.yaml:3:10: error[invalid-value]: bad",
        " 3 |     key: value",
        "   |          ^^^^^",
        "   = help: try x",
    ]


# ---- empty documents and files ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_document_is_an_empty_mapping(text: str) -> None:
    doc, problems = load_yaml(text)
    assert problems == []
    assert doc is not None
    assert doc.data == {}


def test_empty_standard_reports_missing_keys_not_a_crash() -> None:
    with pytest.raises(StandardError) as info:
        load_standard_text("", "empty.yaml")
    diagnostics = info.value.diagnostics
    assert {d.code for d in diagnostics} == {"missing-key"}
    assert any("'standard'" in d.message for d in diagnostics)


def test_top_level_list_is_not_a_standard() -> None:
    with pytest.raises(StandardError) as info:
        load_standard_text("- a\n- b\n", "list.yaml")
    assert [d.code for d in info.value.diagnostics] == ["invalid-value"]
    assert "mapping" in info.value.diagnostics[0].message


def test_missing_file_is_a_diagnostic(tmp_path: Any) -> None:
    path = tmp_path / "nope.yaml"
    doc, problems = load_yaml_file(path)
    assert doc is None
    assert [p.code for p in problems] == ["file-not-found"]
    assert problems[0].file == str(path)
    assert problems[0].position is None


def test_file_with_bom_loads(tmp_path: Any) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffcode: 0012\n".encode())
    doc, problems = load_yaml_file(path)
    assert problems == []
    assert doc is not None and doc.data == {"code": "0012"}
    assert doc.file == str(path)
