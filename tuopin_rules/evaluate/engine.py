"""The engine: rules of a standard applied to records, giving explained verdicts.

``as_of`` is the only notion of "today": a year ``2020`` means 31 December 2020 (the year-end
assessment: the 2020 poverty line is in force and ages are counted at that date); a date means
itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tuopin_rules.compile import Rule, Standard
from tuopin_rules.entities.records import Record, link, record_from_mapping
from tuopin_rules.errors import DataIssue, EvaluationError
from tuopin_rules.evaluate.scalar import DerivedCache, Trace, evaluate
from tuopin_rules.explain import Explainer
from tuopin_rules.verdicts import Citation, Localized, Outcome, RuleResult, StandardRef, Verdict

if TYPE_CHECKING:
    from tuopin_rules.evaluate.vector import BatchResult

__all__ = ["Engine", "coerce_as_of", "entity_outcome"]


def coerce_as_of(as_of: int | str | dt.date) -> dt.date:
    """Read ``as_of``: a year (``2020`` → 2020-12-31), ``"2020-06"`` (→ month end) or a date.

    Raises:
        EvaluationError: for anything else.

    >>> coerce_as_of(2020)
    datetime.date(2020, 12, 31)
    >>> coerce_as_of("2019-06")
    datetime.date(2019, 6, 30)
    """
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    text = str(as_of).strip()
    try:
        if text.isdigit() and len(text) == 4:
            return dt.date(int(text), 12, 31)
        parts = [int(p) for p in text.replace("/", "-").split("-")]
        if len(parts) == 2:
            if not 1 <= parts[1] <= 12:
                raise ValueError("month out of range")
            first_next = dt.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
            return first_next - dt.timedelta(days=1)
        if len(parts) == 3:
            return dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        pass
    raise EvaluationError(f"as_of must be a year (2020), a month (2020-06) or a date (2020-12-31), not {as_of!r}")


def entity_outcome(results: Iterable[RuleResult]) -> Outcome:
    """The entity verdict from rule results (DESIGN §4).

    FAIL if any veto rule fails; else UNKNOWN if any veto rule is unknown; else PASS; and
    NOT_APPLICABLE if no veto rule applied. Advisory rules never decide.

    >>> entity_outcome([])
    <Outcome.NOT_APPLICABLE: 'NOT_APPLICABLE'>
    """
    veto = [r.outcome for r in results if r.severity == "veto"]
    if Outcome.FAIL in veto:
        return Outcome.FAIL
    if Outcome.UNKNOWN in veto:
        return Outcome.UNKNOWN
    if Outcome.PASS in veto:
        return Outcome.PASS
    return Outcome.NOT_APPLICABLE


class Engine:
    """Evaluates records against one standard.

    Args:
        standard: a loaded standard (see :func:`tuopin_rules.load_standard`).

    Example:
        >>> from tuopin_rules import load_standard
        >>> engine = Engine(load_standard("cn-national"))
        >>> v = engine.evaluate("household", {"户编号": "0012", "脱贫状态": "已脱贫",
        ...                                   "人均纯收入": "3650"}, as_of=2020)
        >>> v.outcome.value, v.results[0].reason.zh
        ('FAIL', '人均纯收入 3,650 元，未超过 2020 年扶贫标准 4,000 元')
    """

    def __init__(self, standard: Standard) -> None:
        self.standard = standard
        self.explainer = Explainer(standard)
        self.ref = StandardRef(id=standard.id, version=standard.version, content_hash=standard.content_hash)
        self._citations: dict[str, tuple[Rule, Citation | None]] = {}  # per rule: the document cited

    def evaluate(self, entity: str, data: Mapping[str, Any], as_of: int | str | dt.date) -> Verdict:
        """Evaluate one record given as a mapping of field names (or Chinese headers) to values.

        A household mapping may carry its members under ``members`` (a list of mappings).

        Raises:
            EvaluationError: unknown entity kind, bad ``as_of``, or no parameter value in force.
        """
        if not isinstance(data, Mapping):
            raise EvaluationError(f"a record must be a mapping of field names to values, not {type(data).__name__}")
        if entity not in self.standard.schema.entities:
            raise EvaluationError(f"unknown entity {entity!r}; use one of {', '.join(self.standard.schema.entities)}")
        record, issues = record_from_mapping(self.standard.schema, entity, data)
        return self.evaluate_record(record, as_of, issues)

    def evaluate_record(
        self, record: Record, as_of: int | str | dt.date, issues: list[DataIssue] | None = None
    ) -> Verdict:
        """Evaluate a built (and linked) record; ``issues`` are its data issues, carried in the verdict."""
        day = coerce_as_of(as_of)
        self.check_in_force(day)
        cache: DerivedCache = {}
        memo: dict[Any, Any] = {}
        results = [
            self.evaluate_rule(rule, record, day, cache, memo) for rule in self.standard.rules_for(record.entity, day)
        ]
        return Verdict(
            entity=record.entity,
            entity_id=record.id,
            outcome=entity_outcome(results),
            as_of=day,
            standard=self.ref,
            results=results,
            source=record.source,
            data_issues=[i.to_dict() for i in issues or []],
        )

    def check_in_force(self, day: dt.date) -> None:
        """Raise :class:`EvaluationError` if the standard is not in force on ``day``."""
        start, until = self.standard.effective_from, self.standard.effective_until
        if until is not None and day >= until:
            raise EvaluationError(
                f"standard {self.standard.id} is in force until {until.isoformat()} (exclusive);"
                f" as_of {day.isoformat()} is after it"
            )
        if start is not None and day < start:
            raise EvaluationError(
                f"standard {self.standard.id} is in force from {start.isoformat()};"
                f" as_of {day.isoformat()} is before it"
            )

    def evaluate_batch(
        self,
        data: Any,
        as_of: int | str | dt.date,
        *,
        backend: str = "vector",
        entities: Iterable[str] | None = None,
    ) -> BatchResult:
        """Evaluate whole tables: per rule an outcome and a reason-code column for every row.

        ``backend="vector"`` lowers the rules to polars expressions; ``"scalar"`` evaluates record by
        record (the reference); both return the same frames (:mod:`tuopin_rules.evaluate.vector`).
        Needs polars (``pip install "tuopin-rules[batch]"``).

        Raises:
            EvaluationError: polars missing, unknown backend, bad ``as_of``, or no parameter value.
        """
        from tuopin_rules.evaluate.vector import evaluate_batch

        return evaluate_batch(self, data, as_of, backend=backend, entities=entities)

    def evaluate_all(
        self,
        tables: dict[str, list[Record]],
        as_of: int | str | dt.date,
        entities: Iterable[str] = ("household", "village", "county"),
    ) -> Iterator[Verdict]:
        """Evaluate every record of the given entity kinds (tables must already be linked)."""
        day = coerce_as_of(as_of)
        for kind in entities:
            for record in tables.get(kind, []):
                yield self.evaluate_record(record, day)

    def evaluate_rule(
        self,
        rule: Rule,
        record: Record,
        as_of: dt.date,
        cache: DerivedCache | None = None,
        memo: dict[Any, Any] | None = None,
    ) -> RuleResult:
        """One rule against one record, explained.

        ``cache`` shares derived values and ``memo`` evidence items between the rules of one
        evaluation of ``record`` (both only while its records are alive and unchanged).
        """
        trace = Trace(record)
        outcome: Outcome
        missing: list[str] = []
        decided_by = rule.require
        applies = (
            True
            if rule.applies_when is None
            else evaluate(self.standard, rule.applies_when, record, as_of, trace, cache)[0]
        )
        if applies is False:
            outcome = Outcome.NOT_APPLICABLE
        elif applies is None:
            outcome = Outcome.UNKNOWN
            assert rule.applies_when is not None
            decided_by = rule.applies_when
        else:
            value = evaluate(self.standard, rule.require, record, as_of, trace, cache)[0]
            outcome = Outcome.PASS if value is True else Outcome.FAIL if value is False else Outcome.UNKNOWN
        if outcome is Outcome.UNKNOWN:
            missing = self.explainer.missing(decided_by, trace)
        ex = self.explainer
        gap = ex.gap(rule, trace) if outcome is Outcome.FAIL else None
        citation = self._citations.get(rule.id)
        if citation is None or citation[0] is not rule:
            citation = self._citations[rule.id] = (rule, _citation(rule))
        return RuleResult(
            rule_id=rule.id,
            title=ex.loc(rule.title) or Localized(zh=rule.id, en=rule.id),
            outcome=outcome,
            severity=rule.severity,
            working_group=rule.working_group,
            reason_code=ex.reason_code(rule, outcome, trace, missing),
            reason=ex.reason(rule, outcome, trace, missing, as_of, gap),
            evidence=ex.evidence(rule, trace, memo) if outcome is not Outcome.NOT_APPLICABLE else [],
            gap=gap,
            missing=missing,
            remedy=ex.loc(rule.remedy) if outcome is Outcome.FAIL else None,
            citation=citation[1],
        )


def _citation(rule: Rule) -> Citation | None:
    s = rule.source
    if s is None:
        return None
    return Citation(id=rule.source_id, title=s.title, issuer=s.issuer, date=s.date, number=s.number, url=s.url)


def link_tables(standard: Standard, tables: dict[str, list[Record]]) -> list[DataIssue]:
    """Link member → household → village → county; returns orphan-link issues."""
    return link(standard.schema, tables)
