"""One broken standard per diagnostic code (tests/broken/<code>.yaml), each reported at its place.

The first line of every broken file says what it must produce: ``# expect: <code> at <line>[:<col>]``
(or just ``# expect: <code>`` where only the presence of a position is checked).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tuopin_rules.compile import load_standard_file, load_standard_text
from tuopin_rules.errors import DIAGNOSTIC_CODES, Diagnostic, StandardError

BROKEN = Path(__file__).parent / "broken"
_EXPECT = re.compile(r"^# expect: (?P<code>[a-z-]+)(?: at (?P<line>\d+)(?::(?P<col>\d+))?)?$")

#: codes that no file can produce by its content
_NOT_FROM_CONTENT = {
    "file-not-found",
    "loosens-veto",
    "dead-rule",
    "unused-declaration",
}  # loosens-veto: a lint warning, see test_show_lint.py

#: other codes a broken file may produce besides its own (the bomb's anchors live under an unknown key)
_ALSO_ALLOWED = {"alias-limit": {"unknown-key"}}

_BUGS: dict[str, str] = {}  # code -> reason, for a broken file whose expectation is a known bug


def _broken_files() -> list[Path]:
    return sorted(BROKEN.glob("*.yaml"))


def _params() -> list[object]:
    out: list[object] = []
    for path in _broken_files():
        marks = [pytest.mark.xfail(reason=_BUGS[path.stem], strict=True)] if path.stem in _BUGS else []
        out.append(pytest.param(path, id=path.stem, marks=marks))
    return out


def _diagnostics(path: Path | str) -> list[Diagnostic]:
    with pytest.raises(StandardError) as info:
        load_standard_file(str(path))
    return info.value.diagnostics


def test_every_diagnostic_code_has_a_broken_file() -> None:
    have = {p.stem for p in _broken_files()}
    missing = set(DIAGNOSTIC_CODES) - _NOT_FROM_CONTENT - have
    assert not missing, f"no tests/broken/<code>.yaml for: {sorted(missing)}"


def test_every_broken_file_is_named_after_a_code_and_says_what_it_expects() -> None:
    for path in _broken_files():
        assert path.stem in DIAGNOSTIC_CODES, path.name
        first = path.read_text(encoding="utf-8").splitlines()[0]
        m = _EXPECT.match(first)
        assert m is not None, f"{path.name}: first line must be '# expect: <code> at <line>:<col>'"
        assert m["code"] == path.stem


@pytest.mark.parametrize("path", _params())
def test_broken_file_reports_its_code_at_its_place(path: Path) -> None:
    m = _EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert m is not None
    code = m["code"]
    diagnostics = _diagnostics(path)
    found = [d for d in diagnostics if d.code == code]
    assert found, f"{path.name}: expected {code}, got " + "; ".join(d.render() for d in diagnostics)
    d = found[0]
    assert d.position is not None and d.position.line >= 1 and d.position.col >= 1
    assert d.file == str(path)
    if m["line"]:
        assert d.position.line == int(m["line"]), d.render()
    if m["col"]:
        assert d.position.col == int(m["col"]), d.render()
    # rendered compiler-style, with the source line and a caret
    lines = d.render().splitlines()
    assert lines[0] == f"{path}:{d.position.line}:{d.position.col}: error[{code}]: {d.message}"
    assert lines[1].startswith(f" {d.position.line} | ")
    assert "^" in lines[2]
    # a broken file holds one mistake: nothing else is reported
    others = {x.code for x in diagnostics} - {code} - _ALSO_ALLOWED.get(code, set())
    assert not others, [x.render() for x in diagnostics]


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "does-not-exist.yaml"
    diagnostics = _diagnostics(path)
    assert [d.code for d in diagnostics] == ["file-not-found"]
    assert diagnostics[0].position is None
    assert diagnostics[0].file == str(path)
    assert diagnostics[0].render().startswith(f"{path}: error[file-not-found]: cannot read {path}")


def test_alias_bomb_file_fails_fast() -> None:
    start = time.perf_counter()
    codes = {d.code for d in _diagnostics(BROKEN / "alias-limit.yaml")}
    assert "alias-limit" in codes
    assert time.perf_counter() - start < 2.0


def test_yaml_tag_file_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> int:
        raise AssertionError("os.system was called while loading a standard")

    monkeypatch.setattr(os, "system", forbidden)
    assert "yaml-tag" in {d.code for d in _diagnostics(BROKEN / "yaml-tag.yaml")}


def test_bad_parameter_time_key_points_at_the_key() -> None:
    (d,) = _diagnostics(BROKEN / "parameter-values.yaml")
    assert d.position is not None
    assert (d.position.line, d.position.col) == (11, 24)


# ---- several mistakes in one file --------------------------------------------------------------

_THREE = """\
standard: three-mistakes
title: {zh: 三处错误, en: three mistakes}
version: "1"
sources:
  s1: {title: 关于建立贫困退出机制的意见, issuer: 中共中央办公厅 国务院办公厅, date: 2016-04}
parameters:
  poverty_line:
    values: {2016: 2952, 2020: 4000}
rules:
  - id: household.income
    entity: household
    title: {zh: 人均纯收入超过扶贫标准}
    require: 人均纯收入 > poverty_line and per_capita_net_incom > 0
    source: s1
  - id: household.head_age
    entity: household
    title: {zh: 户主成年}
    require: ag(head_id_number) >= 18
    source: s1
  - id: household.food
    entity: household
    title: {zh: 不愁吃}
    require: food_secure
    severity: vetoo
    source: s1
"""


def test_three_separate_mistakes_give_three_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "three.yaml"
    path.write_text(_THREE, encoding="utf-8")
    with pytest.raises(StandardError) as info:
        load_standard_file(str(path))
    diagnostics = info.value.diagnostics
    assert [(d.code, d.position.line if d.position else None) for d in diagnostics] == [
        ("unknown-field", 13),
        ("unknown-function", 18),
        ("invalid-value", 24),
    ]
    field, function, severity = diagnostics
    assert field.position is not None and field.position.col == 13 + 5 + len(" > poverty_line and ") + 1
    assert field.hint == "did you mean 'per_capita_net_income'?"
    assert function.hint == "did you mean 'age'?"
    assert "'vetoo'" in severity.message

    rendered = info.value.render()
    blocks = rendered.split("\n\n")
    assert len(blocks) == 3
    for d, block in zip(diagnostics, blocks, strict=True):
        assert d.position is not None
        lines = block.splitlines()
        assert lines[0].startswith(f"{path}:{d.position.line}:{d.position.col}: error[{d.code}]: ")
        assert "^" in lines[2]
    field_lines = blocks[0].splitlines()
    assert field_lines[1] == " 13 |     require: 人均纯收入 > poverty_line and per_capita_net_incom > 0"
    # 13 columns of indentation, 5 CJK characters (10 cells), then ' > poverty_line and '
    assert field_lines[2] == "    | " + " " * (13 + 10 + len(" > poverty_line and ")) + "^" * 20
    assert field_lines[3] == "    = help: did you mean 'per_capita_net_income'?"
    assert str(info.value).endswith("(and 2 more)")


def test_three_mistakes_in_one_rule_are_all_reported() -> None:
    text = _THREE.split("rules:\n")[0] + (
        "rules:\n"
        "  - id: household.income\n"
        "    entity: household\n"
        "    title: {zh: 人均纯收入超过扶贫标准}\n"
        "    require: per_capita_net_incom > poverty_line and ag(head_id_number) >= 18\n"
        "    severity: vetoo\n"
        "    source: s1\n"
    )
    with pytest.raises(StandardError) as info:
        load_standard_text(text)
    codes = sorted(d.code for d in info.value.diagnostics)
    assert codes == ["invalid-value", "unknown-field", "unknown-function"]
