"""Conformance: the same cases through the vector and the scalar backend give the same outcomes and
reason codes (every bundled case file, hand-written expression cases, and the demo county)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ANNOUNCEMENTS, DEMO, ROOT, inline_standard
from tests.vector_helpers import agree, flatten, records
from tuopin_rules import Engine, load_standard
from tuopin_rules.cases import CaseFile, _standard_for
from tuopin_rules.entities.records import Record, record_from_mapping
from tuopin_rules.intake.tables import read_dataset
from tuopin_rules.source import load_yaml_file
from tuopin_rules.spec import validate

CASE_FILES = sorted((ROOT / "rulesets").glob("*.cases.yaml"))


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_bundled_cases_agree(path: Path) -> None:
    doc, _ = load_yaml_file(path)
    assert doc is not None
    spec, _ = validate(doc, CaseFile)
    assert spec is not None
    engine = Engine(_standard_for(spec, path))
    batches: dict[tuple[str, str], list[Record]] = {}  # one batch per entity kind and as_of
    for case in spec.cases:
        record, _ = record_from_mapping(engine.standard.schema, case.entity, case.record)
        as_of = case.as_of if case.as_of is not None else spec.as_of
        batches.setdefault((case.entity, str(as_of)), []).append(record)
    for (_, as_of), recs in batches.items():
        agree(engine, flatten(recs), as_of)


@pytest.mark.parametrize("standard", ["cn-national", "henan", "guangxi-village", "data-quality", "water-2018"])
@pytest.mark.parametrize("as_of", [2019, 2020])
def test_demo_county_agrees(standard: str, as_of: int) -> None:
    std = load_standard(standard)
    frames = agree(Engine(std), read_dataset(std.schema, [str(DEMO)]).tables, as_of)
    assert frames["household"].height == 301 if "household" in frames else True


def test_announcements_agree() -> None:
    std = load_standard("cn-county-evaluation")
    agree(Engine(std), read_dataset(std.schema, [str(ANNOUNCEMENTS)]).tables, 2020)


EXPR = inline_standard(
    """
    parameters:
      line: {values: {2019: 3218, 2020: 4000}}
      limit: {by: region, values: {default: 2%, western: 3%}}
    fields:
      household:
        a: {type: number}
        b: {type: number}
        c: {type: number}
        p: {type: bool}
        q: {type: bool}
        t: {type: text}
        d: {type: date}
        rate: {type: number, derive: a / b}
        region: {type: text}
    rules:
      - {id: sum, entity: household, title: {zh: 和}, require: 'a + b + c == 4000.0', source: doc}
      - {id: rate, entity: household, title: {zh: 率}, require: 'a / b == 2%', source: doc}
      - {id: third, entity: household, title: {zh: 三分之一}, require: 'a / b < 0.3333333334', source: doc}
      - {id: third_eq, entity: household, title: {zh: 相等}, require: 'a / b * 3 == 1', source: doc}
      - {id: line, entity: household, title: {zh: 线}, applies_when: p, require: 'a > line', source: doc}
      - {id: derived, entity: household, title: {zh: 派生}, require: 'rate <= limit', source: doc}
      - {id: logic, entity: household, title: {zh: 逻辑}, require: '(p or q) and not (a > b)', source: doc}
      - {id: coalesce, entity: household, title: {zh: 合并}, require: 'coalesce(a, coalesce(b, c)) > 1', source: doc}
      - {id: blank, entity: household, title: {zh: 空}, require: 'not is_blank(t) and length(t) <= 3', source: doc}
      - id: in
        entity: household
        title: {zh: 属于}
        require: 't not in ["x", "ü", "中"] or a between 1 and b'
        source: doc
      - id: funcs
        entity: household
        title: {zh: 函数}
        require: 'abs(a - b) >= round(c, 1) and year(d) > 2000'
        source: doc
      - id: ages
        entity: household
        title: {zh: 成员}
        require: 'all(members, age >= 16) and count(members where age < 6) == 0'
        source: doc
      - id: sums
        entity: household
        title: {zh: 汇总}
        require: 'sum(members, age) > 60 or max(members, age) > 70 or min(members where age > 0, age) < 2'
        source: doc
      - id: anyof
        entity: household
        title: {zh: 任一}
        require: not any(members, age between 6 and 15 and dropout_due_to_poverty)
        source: doc
      - {id: ids, entity: household, title: {zh: 证件}, require: 'all(members, id_number_valid(id_number))',
         source: doc}
    """
)

ROWS = [
    {"household_id": "1", "a": "512.3", "b": "1538.6", "c": "1949.1", "p": "是", "t": "ab", "d": "2020-01-01"},
    {"household_id": "2", "a": "3", "b": "150", "c": "0", "p": "否", "q": "是", "t": "中", "region": "western"},
    {"household_id": "3", "a": "1", "b": "3", "p": "是", "t": "  ", "d": "1999-12-31"},
    {"household_id": "4", "a": "4000", "b": "0", "c": "1", "p": "是", "t": "ü", "region": "eastern"},
    {"household_id": "5", "b": "7", "c": "0.05", "q": "否", "t": "abcd"},
    {"household_id": "6", "a": "abc", "b": "460", "c": "7", "p": "是", "region": "western"},
    {"household_id": "7", "a": "-1.25", "b": "-0.25", "c": "-1.25"},
    {"household_id": "8"},
    {
        "household_id": "9",
        "a": "4000.0000000001",
        "b": "4000",
        "members": [
            {"person_id": "91", "household_id": "9", "id_number": "11010519491231002X", "dropout_due_to_poverty": "否"},
            {"person_id": "92", "household_id": "9", "id_number": "110105201001010011", "dropout_due_to_poverty": "是"},
            {"person_id": "93", "household_id": "9", "id_number": "", "dropout_due_to_poverty": ""},
        ],
    },
    {
        "household_id": "10",
        "a": "1",
        "b": "1",
        "members": [{"person_id": "101", "household_id": "10", "id_number": "110105491231002"}],
    },
]


@pytest.mark.parametrize("as_of", [2019, 2020, "2020-06-30"])
def test_expression_cases_agree(as_of: int | str) -> None:
    engine = Engine(EXPR)
    frames = agree(engine, records(engine, "household", ROWS), as_of)
    hh = frames["household"]
    assert hh["sum"][0] == "PASS"  # 512.3 + 1538.6 + 1949.1 == 4000.0 exactly
    assert hh["rate"][1] == "PASS"  # 3 / 150 == 2%
    assert hh["rate"][3] == "UNKNOWN" and hh["rate:reason"][3] == "division-by-zero"
    assert hh["third_eq"][2] == "FAIL"  # (1/3)*3 is not 1 to 34 digits either
    assert hh["line:reason"][5] == "unreadable:a"


def test_income_exactly_at_the_line_fails() -> None:
    engine = Engine(EXPR)
    rows = [{"household_id": "1", "a": "4000", "p": "是"}, {"household_id": "2", "a": "4000.01", "p": "是"}]
    hh = agree(engine, records(engine, "household", rows), 2020)["household"]
    assert hh["line"].to_list() == ["FAIL", "PASS"]
    assert hh["line:reason"][0] == "fail:a"


def test_households_without_members_and_empty_collections() -> None:
    std = load_standard("cn-national")
    engine = Engine(std)
    tables = records(engine, "household", [{"户编号": "1", "脱贫状态": "已脱贫"}])
    frames = agree(engine, tables, 2020)
    assert frames["household"]["household.medical:reason"][0] == "missing:members"


def test_scalar_only_rows_are_marked() -> None:
    engine = Engine(EXPR)
    rows = [{"household_id": "1", "a": "1", "b": "3"}, {"household_id": "2", "a": "1", "b": "3"}]
    tables = records(engine, "household", rows)
    vector = engine.evaluate_batch(tables, 2020)
    assert vector.frames["household"]["scalar"].to_list() == [True, True]  # (1/3)*3: inexact arithmetic
    assert vector.verdict("household", 0).results[0].rule_id == "sum"


@pytest.mark.parametrize(
    "args",
    [
        ["-s", "cn-national", "--as-of", "2020", str(DEMO)],
        ["-s", "cn-national", "--as-of", "2018", str(DEMO), "--format", "json"],  # 2018: an unverified line
        ["-s", "data-quality", "--as-of", "2020", str(DEMO), "--lang", "en"],
        ["-s", "cn-county-evaluation", "--as-of", "2020", str(ANNOUNCEMENTS)],
    ],
)
def test_check_prints_the_same_with_either_backend(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tuopin_rules.cli import main

    outputs = []
    for backend in ("vector", "scalar"):
        monkeypatch.setenv("TUOPIN_BACKEND", backend)
        result = CliRunner().invoke(main, ["check", *args])
        outputs.append((result.exit_code, result.output))
    assert outputs[0] == outputs[1]


def test_unknown_backend_is_an_error() -> None:
    from tuopin_rules import EvaluationError

    engine = Engine(load_standard("cn-national"))
    with pytest.raises(EvaluationError, match="backend"):
        engine.evaluate_batch({}, 2020, backend="gpu")


RELATED = inline_standard(
    """
    fields:
      household:
        a: {type: number}
        b: {type: number}
        tag: {type: text}
        ratio: {type: number, derive: a / b}
        kids_ok: {type: bool, derive: 'all(members, age >= 0)'}
      village:
        zone: {type: text}
    rules:
      - {id: m_a, entity: member, title: {zh: 户}, require: household.a > 1, source: doc}
      - {id: m_ratio, entity: member, title: {zh: 比}, require: household.ratio > 1, source: doc}
      - {id: m_kids, entity: member, title: {zh: 成员}, require: household.kids_ok, source: doc}
      - {id: m_zone, entity: member, title: {zh: 村}, require: 'household.village.zone == "west"', source: doc}
      - {id: m_or, entity: member, title: {zh: 或}, require: 'age >= 16 or household.a > 2', source: doc}
      - {id: m_blank, entity: member, title: {zh: 空}, require: not is_blank(household.village.zone), source: doc}
      - {id: m_unique, entity: member, title: {zh: 唯一}, require: unique(id_number), source: doc}
      - {id: h_head, entity: household, title: {zh: 户主}, require: head.age >= 18, source: doc}
      - {id: h_ins, entity: household, title: {zh: 参保}, require: head.medical_insured, source: doc}
      - {id: h_zone, entity: household, title: {zh: 村}, require: 'village.zone == "west" and a > 1', source: doc}
      - {id: h_tag, entity: household, title: {zh: 标签}, require: unique(tag), source: doc}
      - {id: h_num, entity: household, title: {zh: 数}, require: unique(a) or b > 5, source: doc}
      - {id: h_kids, entity: household, title: {zh: 成员}, require: 'all(members, unique(id_number) and age >= 0)',
         source: doc}
      - {id: v_zone, entity: village, title: {zh: 片}, require: unique(zone), source: doc}
      - {id: v_heads, entity: village, title: {zh: 户主}, require: 'all(households, head.age >= 18)', source: doc}
    """
)

RELATED_ROWS: dict[str, list[dict[str, str]]] = {
    "village": [
        {"village_id": "V1", "zone": "west"},
        {"village_id": "V2"},
        {"village_id": "V3", "zone": "west"},
    ],
    "household": [
        {"household_id": "H1", "village_id": "V1", "a": "2", "b": "1", "tag": "x"},
        {"household_id": "H2", "village_id": "V2", "a": "0.5", "b": "0", "tag": "x"},
        {"household_id": "H3", "village_id": "V9", "a": "abc", "b": "2"},  # no such village; a unreadable
        {"household_id": "H4", "village_id": "V8", "a": "2.0", "b": "1", "tag": "y"},  # no such village; a as H1
        {"household_id": "H5", "village_id": "V3", "a": "3", "b": "9", "tag": "z"},  # no members
    ],
    "member": [
        {
            "person_id": "M1",
            "household_id": "H1",
            "relation_to_head": "户主",
            "age": "40",
            "id_number": "1",
            "medical_insured": "是",
        },
        {"person_id": "M2", "household_id": "H1", "relation_to_head": "子女", "age": "", "id_number": "1"},
        {"person_id": "M3", "household_id": "H2", "relation_to_head": "户主", "age": "30", "id_number": "3"},
        {"person_id": "M4", "household_id": "H2", "relation_to_head": " 本人 ", "age": "20"},  # two heads
        {"person_id": "M5", "household_id": "H3", "relation_to_head": "妻", "age": "x", "id_number": "5"},  # no head
        {"person_id": "M6", "household_id": "H9", "relation_to_head": "户主", "age": "50", "id_number": "5"},
        {"person_id": "M7", "household_id": "H4", "relation_to_head": "户主本人", "age": "17", "id_number": "7"},
    ],
}


def _related_tables(indexed: bool) -> dict[str, list[Record]]:
    from tuopin_rules.entities.records import index_tables, link

    schema = RELATED.schema
    tables = {
        kind: [record_from_mapping(schema, kind, row, row=i + 1)[0] for i, row in enumerate(rows)]
        for kind, rows in RELATED_ROWS.items()
    }
    link(schema, tables)
    if indexed:
        index_tables(tables)
    return tables


@pytest.mark.parametrize("indexed", [True, False])
def test_related_records_and_unique_agree(indexed: bool) -> None:
    frames = agree(Engine(RELATED), _related_tables(indexed), 2020)
    mem, hh = frames["member"], frames["household"]
    reasons = dict(zip(mem["id"], mem["m_zone:reason"], strict=True))
    assert reasons["M1"] == "pass" and reasons["M3"] == "missing:household.village.zone"
    assert reasons["M5"] == "missing:household.village" and reasons["M6"] == "missing:household.village"
    assert reasons["M7"] == "missing:household.village"
    kids = dict(zip(mem["id"], mem["m_kids:reason"], strict=True))
    assert kids["M5"] == "unreadable:household.members[M5].age"  # the scalar code reads the member's own cell
    assert kids["M1"] == "missing:household.members[M2].age"
    heads = dict(zip(hh["id"], hh["h_head:reason"], strict=True))
    assert heads == {
        "H1": "pass",
        "H2": "missing:head",
        "H3": "missing:head",
        "H4": "fail:head.age",
        "H5": "missing:head",
    }
    if indexed:  # vectorised; unindexed records leave unique to the scalar engine
        assert not mem["scalar"].any() and not hh["scalar"].any()
        assert mem["m_unique:reason"].to_list() == [
            "fail:id_number",
            "fail:id_number",
            "pass",
            "missing:id_number",
            "fail:id_number",
            "fail:id_number",
            "pass",
        ]
        assert hh["h_tag"].to_list() == ["FAIL", "FAIL", "UNKNOWN", "PASS", "PASS"]
        assert hh["h_num"].to_list() == ["FAIL", "PASS", "UNKNOWN", "FAIL", "PASS"]


def test_monitoring_fixture_agrees() -> None:
    root = ROOT / "tests" / "fixtures" / "monitoring"
    std = load_standard(str(root / "dq-monitoring.yaml"))
    for as_of in (2020, 2023):
        frames = agree(Engine(std), read_dataset(std.schema, [str(root)]).tables, as_of)
        member = frames["member"]
        assert not member["scalar"].any()
        assert "fail:household.village.village_id" in member["member.in_known_village:reason"].to_list()
        assert "fail:id_number" in member["member.id_number_unique:reason"].to_list()
