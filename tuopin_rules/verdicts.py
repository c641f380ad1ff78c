"""Verdicts: the typed, versioned output of an evaluation (DESIGN §5).

The JSON form (``Verdict.to_json()``) is stable: keys in a fixed order, decimals as strings so no
money or rate is ever rounded through a binary float, and ``schema_version`` bumped on any change
of shape. ``tests/golden/verdict.schema.json`` pins the JSON Schema.

The classes are frozen, slotted dataclasses — a verdict is built for every record, so building one
must be cheap — and a pydantic ``TypeAdapter`` serialises them and gives their JSON Schema
(:meth:`Verdict.json_schema`). They are built only by the engine, which gives well-typed values, so
nothing is validated on construction.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter

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


_CONFIG = ConfigDict(extra="forbid")
_EMPTY = Field(json_schema_extra={"default": []})  # the schema shows the default an empty list gets


@dataclass(frozen=True, slots=True, kw_only=True)
class Localized:
    """A message in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``zh`` or ``en``)."""
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """The document a rule comes from."""

    id: str
    title: str
    issuer: str
    date: str
    number: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleResult:
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
    missing: Annotated[list[str], _EMPTY] = field(default_factory=list)
    remedy: Localized | None = None
    citation: Citation | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StandardRef:
    """Which standard judged: id, version and the content hash of its file."""

    id: str
    version: str
    content_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
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
    data_issues: Annotated[list[dict[str, Any]], _EMPTY] = field(default_factory=list)

    def failed(self) -> list[RuleResult]:
        """The rule results that failed."""
        return [r for r in self.results if r.outcome is Outcome.FAIL]

    def to_json(self, *, indent: int | None = None) -> str:
        """Stable JSON: same inputs give byte-identical output."""
        return _adapter().dump_json(self, indent=indent).decode()

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready data (what :meth:`to_json` writes)."""
        data: dict[str, Any] = _adapter().dump_python(self, mode="json")
        return data

    def only(self, outcomes: Iterable[Outcome]) -> Verdict:
        """A copy holding only the rule results with one of ``outcomes`` (the entity outcome kept)."""
        keep = set(outcomes)
        return replace(self, results=[r for r in self.results if r.outcome in keep])

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The JSON Schema of a verdict as :meth:`to_json` writes it."""
        return _adapter().json_schema(mode="serialization")


for _cls in (Localized, Evidence, Gap, Citation, RuleResult, StandardRef, Verdict):
    _cls.__pydantic_config__ = _CONFIG  # type: ignore[union-attr]


@functools.cache
def _adapter() -> TypeAdapter[Verdict]:
    return TypeAdapter(Verdict)
