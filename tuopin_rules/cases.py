"""Tests as data: ``*.cases.yaml`` files beside a standard, run by ``tuopin test`` and by pytest.

A case file::

    standard: cn-national        # an installed id or a path relative to this file;
                                 # default: the standard file beside it (x.cases.yaml -> x.yaml)
    as_of: 2020                  # default evaluation date of the cases
    cases:
      - name: 收入恰等于扶贫标准不通过
        entity: household
        as_of: 2020              # optional, per case
        record: {户编号: "0001", 脱贫状态: 已脱贫, 人均纯收入: "4000.0"}
        expect:
          outcome: FAIL          # the entity verdict (optional)
          rules:
            household.income: FAIL                                  # the outcome only
            household.water: {outcome: UNKNOWN, reason: missing:safe_drinking_water}

``reason`` is the result's ``reason_code``. A record may nest its children under their collection
name (``members`` of a household, ``households`` of a village). Two more keys give a case the
records around it, for rules that read related records or compare across a table::

      - name: 成员所在户已脱贫
        entity: member
        record: {人编号: "01", 证件号码: "110105198001010024"}
        parent: {户编号: "0001", 脱贫状态: 已脱贫}        # the member's household (household.x);
                                                          # it may have its own parent: the village
        others:                                           # more members of the same table:
          - {人编号: "02", 证件号码: "110105198001010024"}  # unique(id_number) fails
        expect: {rules: {member.id_number_unique: FAIL}}

``others`` are siblings of the record (same parent, if given); only ``record`` is evaluated.
Coverage: every rule of the standard needs at least one case expecting PASS and one expecting FAIL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tuopin_rules.compile import Standard, load_standard_file
from tuopin_rules.entities.records import Record, index_tables, record_from_mapping
from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import DataIssue, Diagnostic, EvaluationError, StandardError, TuopinError, did_you_mean
from tuopin_rules.evaluate.engine import Engine
from tuopin_rules.source import SourceDoc, load_yaml_file
from tuopin_rules.spec import validate

__all__ = ["CaseFile", "CaseResult", "Coverage", "FileResult", "find_case_files", "run_case_file"]

OutcomeName = Literal["PASS", "FAIL", "UNKNOWN", "NOT_APPLICABLE"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleExpect(_Model):
    """The expected outcome of one rule, and optionally its reason code."""

    outcome: OutcomeName
    reason: str | None = None


class Expect(_Model):
    """Expectations of one case."""

    outcome: OutcomeName | None = None
    rules: dict[str, OutcomeName | RuleExpect] = {}


class Case(_Model):
    """One case: an input record, its evaluation date, what must come out."""

    name: str
    entity: str
    record: dict[str, Any]
    parent: dict[str, Any] | None = None
    others: list[dict[str, Any]] = []
    as_of: int | str | dt.date | None = None
    expect: Expect


class CaseFile(_Model):
    """A ``*.cases.yaml`` file."""

    standard: str | None = None
    as_of: int | str | dt.date | None = None
    cases: list[Case]


@dataclass
class CaseResult:
    """The result of one case: its name, line, and the expectations that did not hold."""

    name: str
    line: int
    failures: list[str]

    @property
    def passed(self) -> bool:
        """True if every expectation held."""
        return not self.failures


@dataclass
class Coverage:
    """Per rule: how many cases expected PASS and FAIL (and held)."""

    passes: dict[str, int] = field(default_factory=dict)
    fails: dict[str, int] = field(default_factory=dict)

    def missing(self, rule_ids: Iterable[str]) -> list[str]:
        """``rule_id: needs a PASS case`` lines for rules lacking a PASS or a FAIL case."""
        out = []
        for rid in rule_ids:
            lacking = [o for o, seen in (("PASS", self.passes), ("FAIL", self.fails)) if not seen.get(rid)]
            if lacking:
                out.append(f"{rid}: needs a {' and a '.join(lacking)} case")
        return out


@dataclass
class FileResult:
    """The outcome of a case file: its cases, the standard, the coverage, and load problems."""

    file: str
    standard: Standard | None
    cases: list[CaseResult]
    coverage: Coverage
    problems: list[Diagnostic]

    @property
    def uncovered(self) -> list[str]:
        """Coverage gaps (empty when every rule has a PASS and a FAIL case)."""
        if self.standard is None:
            return []
        return self.coverage.missing(r.id for r in self.standard.rules)

    @property
    def passed(self) -> bool:
        """True when the file loaded, every case held, and coverage is complete."""
        return not self.problems and all(c.passed for c in self.cases) and not self.uncovered


def find_case_files(paths: Iterable[str | Path]) -> list[Path]:
    """``*.cases.yaml`` files: the paths themselves, or found under folders (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.rglob("*.cases.yaml")))
        elif p.name.endswith(".cases.yaml"):
            out.append(p)
        elif p.suffix in (".yaml", ".yml") and p.with_name(p.stem + ".cases.yaml").is_file():
            out.append(p.with_name(p.stem + ".cases.yaml"))
    return out


def _standard_for(spec: CaseFile, path: Path) -> Standard:
    from tuopin_rules.registry import find_standard

    if spec.standard is None:
        beside = path.with_name(path.name.removesuffix(".cases.yaml") + ".yaml")
        return load_standard_file(beside)
    for candidate in (path.parent / spec.standard, path.parent / f"{spec.standard}.yaml"):
        if candidate.is_file():  # a path, or the id of a standard beside the case file
            return load_standard_file(candidate)
    return load_standard_file(find_standard(spec.standard))


def _check(case: Case, default_as_of: Any, engine: Engine) -> list[str]:
    as_of = case.as_of if case.as_of is not None else default_as_of
    if as_of is None:
        return ["no as_of (give one for the file or the case)"]
    try:
        record, issues = _build(engine.standard.schema, case)
        verdict = engine.evaluate_record(record, as_of, issues)
    except TuopinError as exc:
        return [f"evaluation error: {exc}"]
    failures: list[str] = []  # data issues are part of what a case may test (reason unreadable:...)
    if case.expect.outcome is not None and verdict.outcome.value != case.expect.outcome:
        failures.append(f"verdict: expected {case.expect.outcome}, got {verdict.outcome.value}")
    results = {r.rule_id: r for r in verdict.results}
    for rule_id, want in case.expect.rules.items():
        want = RuleExpect(outcome=want) if isinstance(want, str) else want
        got = results.get(rule_id)
        if got is None:
            failures.append(f"{rule_id}: no such rule in force (rules: {', '.join(results) or 'none'})")
            continue
        if got.outcome.value != want.outcome:
            failures.append(f"{rule_id}: expected {want.outcome}, got {got.outcome.value} ({got.reason.zh})")
        elif want.reason is not None and got.reason_code != want.reason:
            failures.append(f"{rule_id}: expected reason {want.reason}, got {got.reason_code}")
    return failures


def _build(schema: Schema, case: Case) -> tuple[Record, list[DataIssue]]:
    """The case's record, linked to its ``parent`` chain and indexed with its ``others``.

    Raises:
        EvaluationError: an unknown entity, or a ``parent`` for an entity that has none.
    """
    if case.entity not in schema.entities:
        raise EvaluationError(f"unknown entity {case.entity!r}; use one of {', '.join(schema.entities)}")
    record, issues = record_from_mapping(schema, case.entity, case.record)
    _known_columns(schema, record, "record")
    table = [record]
    for i, other in enumerate(case.others):
        rec, _ = record_from_mapping(schema, case.entity, other, file="<others>", row=i + 1)
        _known_columns(schema, rec, f"others[{i}]")
        table.append(rec)
    tables: dict[str, list[Record]] = {}
    for rec in table:
        _collect(rec, tables)
    index_tables(tables)
    kind, mapping, kids = case.entity, case.parent, table
    while mapping is not None:
        ent = schema.entities[kind]
        if ent.parent is None:
            raise EvaluationError(f"a {kind} has no parent record; remove parent:")
        fields = {k: v for k, v in mapping.items() if k != "parent"}
        up, _ = record_from_mapping(schema, ent.parent, fields, file="<parent>")
        _known_columns(schema, up, f"parent ({ent.parent})")
        collection = next(c for c, child in schema.entities[ent.parent].children.items() if child == kind)
        up.children.setdefault(collection, []).extend(kids)
        for kid in kids:
            kid.parent = up
        parent = mapping.get("parent")
        if parent is not None and not isinstance(parent, dict):
            raise EvaluationError(f"parent: of the {ent.parent} must be a mapping of its fields")
        kind, mapping, kids = ent.parent, parent, [up]
    return record, issues


def _known_columns(schema: Schema, rec: Record, where: str) -> None:
    """A key of a case's record that names no field is a mistake (it would silently be blank).

    Raises:
        EvaluationError: naming the keys, with a did-you-mean.
    """
    for collection, kids in rec.children.items():
        for i, kid in enumerate(kids):
            _known_columns(schema, kid, f"{where}.{collection}[{i}]")
    if not rec.unknown_columns:
        return
    spellings = schema.entities[rec.entity].spellings()
    named = []
    for key in rec.unknown_columns:
        hint = did_you_mean(str(key), spellings)
        named.append(f"{key!r}" + (f" ({hint})" if hint else ""))
    raise EvaluationError(f"{where}: no {rec.entity} field is called {', '.join(named)}")


def _collect(rec: Record, tables: dict[str, list[Record]]) -> None:
    tables.setdefault(rec.entity, []).append(rec)
    for kids in rec.children.values():
        for kid in kids:
            _collect(kid, tables)


def run_case_file(path: str | Path) -> FileResult:
    """Load a case file and its standard, run every case, and measure rule coverage.

    Never raises for a broken file: load problems are returned in ``FileResult.problems``.
    """
    path = Path(path)
    doc, problems = load_yaml_file(path)
    if doc is None:
        return FileResult(str(path), None, [], Coverage(), problems)
    spec, invalid = validate(doc, CaseFile)
    if spec is None:
        return FileResult(str(path), None, [], Coverage(), [*problems, *invalid])
    try:
        standard = _standard_for(spec, path)
    except StandardError as exc:
        return FileResult(str(path), None, [], Coverage(), [*problems, *exc.diagnostics])
    except TuopinError as exc:
        return FileResult(str(path), None, [], Coverage(), [doc.diagnostic("file-not-found", str(exc), ("standard",))])
    engine = Engine(standard)
    coverage = Coverage()
    results = []
    for i, case in enumerate(spec.cases):
        failures = _check(case, spec.as_of, engine)
        results.append(CaseResult(case.name, _line(doc, ("cases", i)), failures))
        if not failures:
            for rule_id, want in case.expect.rules.items():
                outcome = want if isinstance(want, str) else want.outcome
                table = coverage.passes if outcome == "PASS" else coverage.fails if outcome == "FAIL" else None
                if table is not None:
                    table[rule_id] = table.get(rule_id, 0) + 1
    return FileResult(str(path), standard, results, coverage, problems)


def _line(doc: SourceDoc, path: tuple[str | int, ...]) -> int:
    pos = doc.position(path)
    return pos.line if pos else 0
