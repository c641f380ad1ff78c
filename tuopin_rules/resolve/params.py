"""Parameters: values by effective date, and optionally by a record field (e.g. region).

YAML shapes accepted under ``values:``::

    values: {2016: 2952, 2019: 3218, 2020: 4000}       # keyed by year (in force from 1 January)
    values: {2016-04-23: 2%}                            # keyed by date ("2016-04" = 1 April)
    values: {default: 2%}                               # in force at every date
    by: region
    values: {default: 2%, western: 3%}                  # keyed by a code of the record field
    values: {default: {2016: 2%}, western: {2016: 3%}}  # by field, then by date
    values: {2018: {value: 2995, confidence: U}}        # a value marked unverified (V / P / U)

A value in force runs until the next key. Asking for a date before the first key is an
:class:`~tuopin_rules.errors.EvaluationError` naming the parameter and the first date, not a crash.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tuopin_rules.errors import EvaluationError
from tuopin_rules.spec import ParameterSpec, Text, parse_date_like

__all__ = ["ParamDef", "ParamValue", "build_param", "by_key", "parse_value"]

_PERCENT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*%\s*$")
_BEGINNING = dt.date.min

#: a problem in a parameter's values: (path under ``values``, message, whether it is about the key)
Problem = tuple[tuple[Any, ...], str, bool]


@dataclass(frozen=True)
class ParamValue:
    """One value of a parameter and where it comes from.

    Attributes:
        value: ``Decimal`` (percent held as a fraction), ``bool`` or ``str``.
        percent: the value was written as a percent.
        effective_from: the date it is in force from (``None``: always).
        by_key: the code of the ``by`` field it applies to, or ``"default"``/``None``.
        confidence: ``V`` / ``P`` / ``U`` (verified, partly verified, unverified) when the standard
            says so; a verdict that uses a ``U`` value says the value is unverified.
    """

    value: Decimal | bool | str
    percent: bool
    effective_from: dt.date | None
    by_key: str | None
    confidence: str | None = None


@dataclass
class ParamDef:
    """A compiled parameter: its type and its timeline(s)."""

    name: str
    type: str  # number | bool | text
    label: Text | None
    unit: Text | None
    by: str | None
    source: str | None
    notes: Text | None
    timelines: dict[str | None, list[ParamValue]] = field(default_factory=dict)

    def lookup(self, as_of: dt.date, by_value: Any = None) -> ParamValue:
        """The value in force on ``as_of`` (for the record whose ``by`` field is ``by_value``).

        Raises:
            EvaluationError: when no value is in force on that date.
        """
        key: str | None = None
        if self.by is not None:
            wanted = by_key(by_value)
            key = wanted if wanted in self.timelines else "default"
            if key not in self.timelines:
                raise EvaluationError(f"parameter {self.name!r} has no value for {self.by}={by_value!r} and no default")
        timeline = self.timelines[key]
        current = None
        for pv in timeline:
            if (pv.effective_from or _BEGINNING) <= as_of:
                current = pv
        if current is None:
            first = timeline[0].effective_from
            raise EvaluationError(
                f"parameter {self.name!r} has no value in force on {as_of.isoformat()}"
                f" (its first value is from {first.isoformat() if first else '?'})"
            )
        return current

    def first_date(self) -> dt.date | None:
        """The earliest date from which every timeline has a value (None: always)."""
        firsts = [tl[0].effective_from for tl in self.timelines.values() if tl]
        dated = [d for d in firsts if d is not None]
        return max(dated) if dated else None


def by_key(value: Any) -> str | None:
    """The ``values`` key a record's ``by`` field value selects: a code as is, yes/no as
    ``"true"``/``"false"``, a number in its shortest exact form.

    >>> by_key(True), by_key(Decimal("20.0")), by_key("western")
    ('true', '20', 'western')
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))
    return str(value)


def parse_value(raw: Any) -> tuple[Decimal | bool | str, bool]:
    """Read a parameter value: numbers exactly, ``"2%"`` as 0.02, booleans, else text.

    >>> parse_value("2%")
    (Decimal('0.02'), True)
    >>> parse_value(4000)
    (Decimal('4000'), False)
    """
    if isinstance(raw, bool):
        return raw, False
    if isinstance(raw, (int, Decimal)):
        return Decimal(raw), False
    if isinstance(raw, str):
        m = _PERCENT.match(raw)
        if m:
            return Decimal(m.group(1)) / 100, True
        return raw, False
    raise ValueError(f"a parameter value must be a number, percent, true/false or text, not {raw!r}")


def _type_of(value: Decimal | bool | str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Decimal):
        return "number"
    return "text"


def _annotated(raw: Any, path: tuple[Any, ...], problems: list[Problem]) -> tuple[Any, str | None] | None:
    """``{value: 2995, confidence: U}`` -> (2995, "U"); a plain value -> (value, None)."""
    if not isinstance(raw, dict):
        return raw, None
    extra = set(raw) - {"value", "confidence", "note"}
    if "value" not in raw or extra:
        problems.append((path, "an annotated value has the keys value, confidence (V, P or U) and note", False))
        return None
    confidence = raw.get("confidence")
    if confidence is not None and confidence not in ("V", "P", "U"):
        problems.append(((*path, "confidence"), f"confidence must be V, P or U, not {confidence!r}", False))
        return None
    return raw["value"], confidence


def _timeline(raw: Any, by_key: str | None, problems: list[Problem], path: tuple[Any, ...]) -> list[ParamValue]:
    if not isinstance(raw, dict) or "value" in raw:
        annotated = _annotated(raw, path, problems)
        if annotated is None:
            return []
        try:
            value, pct = parse_value(annotated[0])
        except ValueError as exc:
            problems.append((path, str(exc), False))
            return []
        return [ParamValue(value, pct, None, by_key, annotated[1])]
    out: list[ParamValue] = []
    for key, item in raw.items():
        try:
            start = None if key == "default" else parse_date_like(key)
        except ValueError as exc:
            problems.append(((*path, key), f"a time key must be a year, date or 'default': {exc}", True))
            continue
        annotated = _annotated(item, (*path, key), problems)
        if annotated is None:
            continue
        try:
            value, pct = parse_value(annotated[0])
        except ValueError as exc:
            problems.append(((*path, key), str(exc), False))
            continue
        out.append(ParamValue(value, pct, start, by_key, annotated[1]))
    out.sort(key=lambda pv: pv.effective_from or _BEGINNING)
    return out


def build_param(name: str, spec: ParameterSpec) -> tuple[ParamDef, list[Problem]]:
    """Compile a parameter spec; returns the definition and ``(path, message, at_key)`` problems.

    Paths are relative to the parameter's ``values`` mapping.
    """
    problems: list[Problem] = []
    timelines: dict[str | None, list[ParamValue]] = {}
    if spec.by is None:
        timelines[None] = _timeline(spec.values, None, problems, ())
    else:
        for key, raw in spec.values.items():
            timelines[str(key)] = _timeline(raw, str(key), problems, (key,))
    types = {_type_of(pv.value) for tl in timelines.values() for pv in tl}
    percents = {pv.percent for tl in timelines.values() for pv in tl if isinstance(pv.value, Decimal)}
    if len(percents) > 1:
        problems.append(
            ((), "values mix percentages (2%) and plain numbers (2 is 200%); write every value as a percent", False)
        )
    if len(types) > 1:
        problems.append(((), f"values mix types ({', '.join(sorted(types))})", False))
    if not any(timelines.values()) and not problems:
        problems.append(((), "no values", False))
    pdef = ParamDef(
        name=name,
        type=next(iter(types)) if len(types) == 1 else "number",
        label=spec.label,
        unit=spec.unit,
        by=spec.by,
        source=spec.source,
        notes=spec.notes,
        timelines={k: v for k, v in timelines.items() if v},
    )
    return pdef, problems
