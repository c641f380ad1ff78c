"""Verdicts: the typed, versioned output of an evaluation (DESIGN §5).

The JSON form (``Verdict.to_json()``) is stable: keys in a fixed order, decimals as strings so no
money or rate is ever rounded through a binary float, and ``schema_version`` bumped on any change
of shape. ``tests/golden/verdict.schema.json`` pins the JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "SCHEMA_VERSION",
    "Citation",
    "Evidence",
    "Gap",
    "Localized",
    "Outcome",
    "RuleResult",
    "StandardRef",
    "Verdict",
]

SCHEMA_VERSION = "1"


class Outcome(enum.StrEnum):
    """The outcome of a rule or of an entity's verdict.

    PASS / FAIL: the condition held / did not hold. UNKNOWN: data missing or unreadable, so it
    cannot be decided. NOT_APPLICABLE: the rule's ``applies_when`` is false for this record.
    """

    PASS = "PASS"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(_Model):
    """A message in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``zh`` or ``en``)."""
        return self.en if lang == "en" else self.zh


class Evidence(_Model):
    """One value a rule read.

    Attributes:
        kind: ``field`` (from the data), ``derived`` (computed by the standard's ``derive``),
            ``parameter`` (from the standard), ``record`` (a child record that drove a derived
            aggregate, e.g. a household still poor in a village).
        name: field / parameter name, or the child record's id.
        label: display label (zh / en).
        value: the value as text (decimals exact, percents as fractions, codes as codes), or ``None``.
        display: the value as a person reads it (``4,000 元``, ``2.6%``, ``是``, code labels).
        unit: display unit (zh / en), or ``None``.
        effective_from: for parameters, the date the value is in force from.
        source: for parameters, the cited document id; for data fields, ``file:row``.
        note: why a value is missing (a data issue), or how a derived value was computed.
    """

    kind: str
    name: str
    label: Localized
    value: str | None
    display: Localized
    unit: Localized | None = None
    effective_from: dt.date | None = None
    source: str | None = None
    note: Localized | None = None


class Gap(_Model):
    """The distance to pass for a failed numeric comparison.

    ``amount`` is how far the value is from the bound (exact, as text; a percent as a fraction);
    ``amount_text`` the same as a person writes it (``0.6%``, ``387.5``); ``strict`` means the bound
    itself does not pass (``>``/``<``), so the value must go beyond it.
    """

    field: str
    amount: str
    amount_text: Localized
    target: str
    direction: str  # "increase" | "decrease"
    strict: bool
    text: Localized


class Citation(_Model):
    """The document a rule comes from."""

    id: str
    title: str
    issuer: str
    date: str
    number: str | None = None
    url: str | None = None


class RuleResult(_Model):
    """The outcome of one rule for one record, with its explanation."""

    rule_id: str
    title: Localized
    outcome: Outcome
    severity: str
    working_group: str | None = None
    reason_code: str
    reason: Localized
    evidence: list[Evidence]
    gap: Gap | None = None
    missing: list[str] = []
    remedy: Localized | None = None
    citation: Citation | None = None


class StandardRef(_Model):
    """Which standard judged: id, version and the content hash of its file."""

    id: str
    version: str
    content_hash: str


class Verdict(_Model):
    """The verdict on one entity record.

    ``outcome`` is FAIL if any veto rule fails, else UNKNOWN if any veto rule is unknown, else PASS;
    NOT_APPLICABLE when no veto rule applies to the record. Advisory rules never decide.
    """

    schema_version: str = SCHEMA_VERSION
    entity: str
    entity_id: str | None
    outcome: Outcome
    as_of: dt.date
    standard: StandardRef
    results: list[RuleResult]
    source: str | None = None
    data_issues: list[dict[str, Any]] = []

    def failed(self) -> list[RuleResult]:
        """The rule results that failed."""
        return [r for r in self.results if r.outcome is Outcome.FAIL]

    def to_json(self, *, indent: int | None = None) -> str:
        """Stable JSON: same inputs give byte-identical output."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=indent)
