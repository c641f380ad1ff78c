"""Compare two evaluations of the same data: which entities' verdicts flip, and which rules made them.

The two sides may be two standards, two versions of one, or one standard at two ``as_of`` dates
(``cn-national@2019`` against ``cn-national@2020``). The data are read once per side, against each
side's own schema, so a standard that adds fields reads them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from tuopin_rules.compile import Standard
from tuopin_rules.evaluate.engine import Engine, coerce_as_of
from tuopin_rules.intake.tables import Dataset
from tuopin_rules.verdicts import Outcome, Verdict

__all__ = ["Flip", "Side", "VerdictDiff", "compare"]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a standard, the data read against it, and an evaluation date."""

    standard: Standard
    dataset: Dataset
    as_of: dt.date

    @property
    def label(self) -> str:
        """``cn-national 2016.1 @ 2020-12-31``."""
        return f"{self.standard.id} {self.standard.version} @ {self.as_of.isoformat()}"


@dataclass(frozen=True)
class Flip:
    """An entity whose verdict differs between the sides, with the rules whose outcome changed.

    ``rules`` maps rule id -> (old outcome, new outcome); a rule present on one side only has
    ``None`` on the other. ``severity`` maps the rules among them whose severity changed (an advisory
    FAIL that is a veto FAIL now: the same outcome, but it decides) -> (old, new severity).
    """

    entity: str
    id: str | None
    village: str | None
    old: Outcome
    new: Outcome
    rules: dict[str, tuple[Outcome | None, Outcome | None]]
    severity: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


@dataclass
class VerdictDiff:
    """The result of :func:`compare`."""

    old: Side
    new: Side
    flips: list[Flip] = field(default_factory=list)
    evaluated: Counter[str] = field(default_factory=Counter)
    only_old: list[tuple[str, str | None]] = field(default_factory=list)
    only_new: list[tuple[str, str | None]] = field(default_factory=list)

    def by_rule(self) -> Counter[tuple[str, str, str, str, str]]:
        """(rule id, old outcome, new outcome, old severity, new severity) -> number of flipped
        entities it changed for; the severities are ``""`` unless the rule's severity changed."""
        counts: Counter[tuple[str, str, str, str, str]] = Counter()
        for f in self.flips:
            for rule_id, (a, b) in f.rules.items():
                sa, sb = f.severity.get(rule_id, (None, None))
                moved = (sa or "-", sb or "-") if rule_id in f.severity else ("", "")
                counts[(rule_id, a.value if a else "-", b.value if b else "-", *moved)] += 1
        return counts

    def by_village(self) -> Counter[str]:
        """Village -> number of flipped entities in it (households by their village; villages by themselves)."""
        return Counter(f.village or "?" for f in self.flips)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "old": {
                "standard": self.old.standard.id,
                "version": self.old.standard.version,
                "as_of": self.old.as_of.isoformat(),
            },
            "new": {
                "standard": self.new.standard.id,
                "version": self.new.standard.version,
                "as_of": self.new.as_of.isoformat(),
            },
            "evaluated": dict(self.evaluated),
            "flips": [
                {
                    "entity": f.entity,
                    "id": f.id,
                    "village": f.village,
                    "old": f.old.value,
                    "new": f.new.value,
                    "rules": {k: [a.value if a else None, b.value if b else None] for k, (a, b) in f.rules.items()},
                }
                | ({"severity": {k: list(v) for k, v in f.severity.items()}} if f.severity else {})
                for f in self.flips
            ],
            "by_rule": [
                {"rule": r, "old": a, "new": b, "count": n} | ({"severity": {"old": sa, "new": sb}} if sa else {})
                for (r, a, b, sa, sb), n in sorted(self.by_rule().items())
            ],
            "by_village": dict(sorted(self.by_village().items())),
            "only_old": [list(x) for x in self.only_old],
            "only_new": [list(x) for x in self.only_new],
        }


def _village_of(kind: str, record: Any) -> tuple[str | None, str | None]:
    """``(village code, village name)`` of a household (its village record, else its own columns)
    or of a village itself."""
    if kind == "village":
        return record.id, record.values.get("village_name")
    parent = record.parent
    while parent is not None and parent.entity != "village":
        parent = parent.parent
    if parent is not None:
        return parent.id, parent.values.get("village_name")
    return record.values.get("village_id"), record.values.get("village_name")


def _village_labels(villages: list[tuple[str | None, str | None]]) -> list[str | None]:
    """Village names, with the code added where two villages share a name (新村（410522103202）)."""
    codes: dict[str, set[str | None]] = {}
    for code, name in villages:
        if name is not None:
            codes.setdefault(str(name), set()).add(code)
    out: list[str | None] = []
    for code, name in villages:
        if name is None:
            out.append(str(code) if code is not None else None)
        elif len(codes[str(name)]) > 1 and code is not None:
            out.append(f"{name}（{code}）")
        else:
            out.append(str(name))
    return out


def _verdicts(side: Side, kinds: tuple[str, ...]) -> dict[tuple[str, str | None], tuple[Verdict, Any]]:
    engine = Engine(side.standard)
    out: dict[tuple[str, str | None], tuple[Verdict, Any]] = {}
    for kind in kinds:
        for record in side.dataset.tables.get(kind, []):
            out[(kind, record.id)] = (engine.evaluate_record(record, side.as_of), record)
    return out


def compare(old: Side, new: Side, kinds: tuple[str, ...] = ("household", "village", "county")) -> VerdictDiff:
    """Evaluate both sides and list the entities whose verdict differs.

    Raises:
        EvaluationError: when a side's standard has no value in force on its date.
    """
    old_v, new_v = _verdicts(old, kinds), _verdicts(new, kinds)
    diff = VerdictDiff(old, new)
    villages: list[tuple[str | None, str | None]] = []
    for key, (nv, record) in new_v.items():
        diff.evaluated[key[0]] += 1
        if key not in old_v:
            diff.only_new.append(key)
            continue
        ov = old_v[key][0]
        if ov.outcome is nv.outcome:
            continue
        before = {r.rule_id: r.outcome for r in ov.results}
        after = {r.rule_id: r.outcome for r in nv.results}
        severity = {r.rule_id: r.severity for r in ov.results}
        severity_after = {r.rule_id: r.severity for r in nv.results}
        changed = {
            rid: (before.get(rid), after.get(rid))
            for rid in dict.fromkeys([*before, *after])
            if before.get(rid) is not after.get(rid)
            # the same outcome can decide now: an advisory FAIL that became a veto FAIL
            or (severity.get(rid) != severity_after.get(rid) and after.get(rid) is not Outcome.PASS)
        }
        moved = {
            rid: (severity.get(rid), severity_after.get(rid))
            for rid in changed
            if rid in severity and rid in severity_after and severity[rid] != severity_after[rid]
        }
        flip = Flip(key[0], key[1], None, ov.outcome, nv.outcome, changed, moved)
        diff.flips.append(flip)
        villages.append(_village_of(key[0], record))
    diff.flips = [replace(f, village=v) for f, v in zip(diff.flips, _village_labels(villages), strict=True)]
    diff.only_old = [k for k in old_v if k not in new_v]
    return diff


def parse_side(text: str, default_as_of: str | None) -> tuple[str, dt.date | None]:
    """``cn-national@2019`` -> ("cn-national", 2019-12-31); ``cn-national`` -> (it, the default)."""
    name, sep, when = text.rpartition("@") if "@" in text else (text, "", "")
    if not sep:
        name = text
    chosen = when or default_as_of
    return name, coerce_as_of(chosen) if chosen else None
