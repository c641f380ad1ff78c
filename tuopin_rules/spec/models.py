"""Pydantic models of the ruleset format (v1) and of the entity schema file.

Every model forbids unknown keys. Conditions (``require``, ``applies_when``) are kept as the raw
YAML value here (text, or a structured ``all:``/``any:``/``not:`` mapping) and compiled with their
positions by :mod:`tuopin_rules.compile`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "CodeSpec",
    "EntitySpec",
    "Explain",
    "FieldSpec",
    "OverrideSpec",
    "ParameterOverride",
    "ParameterSpec",
    "RuleOverride",
    "RuleSpec",
    "SchemaSpec",
    "SourceSpec",
    "StandardSpec",
    "Text",
    "parse_date_like",
]

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_date_like(value: Any) -> dt.date:
    """Read ``2016``, ``"2016-04"`` or ``"2016-04-23"`` (or a date) as the first day it names.

    Raises:
        ValueError: for anything else.

    >>> parse_date_like("2016-04")
    datetime.date(2016, 4, 1)
    """
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a date like 2016, 2016-04 or 2016-04-23")
    match = _DATE_RE.match(str(value).strip())
    if not match:
        raise ValueError(f"expected a date like 2016, 2016-04 or 2016-04-23, not {value!r}")
    year, month, day = (int(g) if g else 1 for g in match.groups())
    return dt.date(year, month, day)


def _to_str(value: Any) -> Any:
    return str(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else value


def _reason(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("disabling a rule needs a reason (text, or {zh: ..., en: ...})")
    return {"zh": value} if isinstance(value, str) else value


DateLike = Annotated[dt.date, BeforeValidator(parse_date_like)]
Str = Annotated[str, BeforeValidator(_to_str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Text(_Model):
    """A text in Chinese and (optionally) English."""

    zh: Str
    en: Str | None = None

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``zh`` or ``en``), falling back to Chinese."""
        return (self.en if lang == "en" else None) or self.zh


class SourceSpec(_Model):
    """A document a rule cites: title, issuer, date, and optionally its number and where it was read."""

    title: Str
    issuer: Str
    date: Str
    number: Str | None = None
    url: Str | None = None
    confidence: Literal["V", "P", "U"] | None = None
    note: Str | None = None


class Effective(_Model):
    """When something is in force: from a date, optionally until one (exclusive)."""

    from_: DateLike = Field(alias="from")
    until: DateLike | None = None


class ParameterSpec(_Model):
    """A named value the rules read, varying by time (keys are years or dates) and optionally by a
    record field (``by``: keys are that field's codes plus ``default``)."""

    label: Text | None = None
    unit: Text | None = None
    by: Str | None = None
    values: dict[Str, Any]
    source: Str | None = None
    notes: Text | None = None


class Explain(_Model):
    """Reason templates by outcome; ``{name}`` inserts a field or parameter value."""

    pass_: Text | None = Field(default=None, alias="pass")
    fail: Text | None = None
    unknown: Text | None = None


class RuleSpec(_Model):
    """One rule: a condition an entity must meet, with its citation and explanation."""

    id: Str
    entity: Str
    title: Text
    require: Any
    applies_when: Any = None
    severity: Literal["veto", "advisory"] = "veto"
    working_group: Literal["income", "policy", "records", "appearance"] | None = None
    source: Str
    explain: Explain | None = None
    remedy: Text | None = None
    notes: Text | None = None
    effective: Effective | None = None


class CodeSpec(_Model):
    """One code of a code list: the code as stored, its labels, and other spellings seen in data."""

    code: Str
    zh: Str | None = None
    en: Str | None = None
    aliases: list[Str] = []


class FieldSpec(_Model):
    """A field of an entity. In a standard's ``fields:``, an existing field may only get ``derive``."""

    type: Literal["text", "code", "bool", "integer", "number", "percent", "date"] | None = None
    label: Text | None = None
    unit: Text | None = None
    aliases: list[Str] = []
    codes: list[CodeSpec] | None = None
    derive: Any = None
    percent_input: Literal["percent_points", "fraction"] = "percent_points"


class ParentSpec(_Model):
    """How an entity links to its parent: by ``key`` (a code field), or else by ``name_key``."""

    entity: Str
    key: Str
    name_key: Str | None = None


class EntitySpec(_Model):
    """An entity kind: of the schema file, or a table a standard declares under ``entities:`` (for
    example migrant-work spells of a member: ``parent: {entity: member, key: person_id}`` and
    ``collection: work_spells``, the name its parent aggregates it by)."""

    label: Text
    id: Str
    name: Str | None = None
    parent: ParentSpec | None = None
    children: dict[Str, Str] = {}
    collection: Str | None = None
    fields: dict[Str, FieldSpec]


class SchemaSpec(_Model):
    """The entity schema file (``tuopin_rules/entities/schema.yaml``)."""

    entities: dict[Str, EntitySpec]


class ParameterOverride(_Model):
    """Changes to a parameter of the base standard; ``values`` are merged key by key."""

    label: Text | None = None
    unit: Text | None = None
    values: dict[Str, Any] | None = None
    source: Str | None = None
    notes: Text | None = None


class RuleOverride(_Model):
    """Changes to a rule of the base standard: any field but ``id`` and ``entity``."""

    title: Text | None = None
    require: Any = None
    applies_when: Any = None
    severity: Literal["veto", "advisory"] | None = None
    working_group: Literal["income", "policy", "records", "appearance"] | None = None
    source: Str | None = None
    explain: Explain | None = None
    remedy: Text | None = None
    notes: Text | None = None
    effective: Effective | None = None


class OverrideSpec(_Model):
    """``override:`` of a variant: parameters and rules of the base standard, by name / id."""

    parameters: dict[Str, ParameterOverride] = {}
    rules: dict[Str, RuleOverride] = {}


class StandardSpec(_Model):
    """A standard (ruleset) file, format v1.

    A variant names its base with ``extends`` (a standard id or a path relative to the file), then
    ``override``s parameters or rule fields, ``disable``s rules (each with a reason), and adds
    sources, parameters, fields and rules of its own.
    """

    standard: Str
    title: Text
    version: Str
    format: Literal[1] = 1
    extends: Str | None = None
    description: Text | None = None
    effective: Effective | None = None
    sources: dict[Str, SourceSpec] = {}
    entities: dict[Str, EntitySpec] = {}
    parameters: dict[Str, ParameterSpec] = {}
    fields: dict[Str, dict[Str, FieldSpec]] = {}
    override: OverrideSpec | None = None
    disable: dict[Str, Annotated[Text, BeforeValidator(_reason)]] = {}
    rules: list[RuleSpec] = []
