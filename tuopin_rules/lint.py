"""Checks beyond loading, for ``tuopin lint``: a variant that loosens or disables a veto rule of its base.

A variant may tighten a national standard freely; loosening it is allowed but must be visible. For
each veto rule of the base standard this warns when the variant disables it, makes it advisory,
rewrites its condition, or changes a parameter it compares against in the loosening direction (a
limit raised where the rule requires ``value < limit``, a line lowered where it requires
``value > line``), naming the rule and the values.
"""

from __future__ import annotations

from decimal import Decimal

from tuopin_rules.compile import Rule, Standard, load_standard_file
from tuopin_rules.errors import Diagnostic, StandardError
from tuopin_rules.expr import ast
from tuopin_rules.resolve.compose import Change
from tuopin_rules.resolve.params import ParamDef

__all__ = ["check_variant"]

CODE = "loosens-veto"


def _direction(rule: Rule, param: str) -> set[str]:
    """How raising ``param`` affects ``rule``: ``{"loosens"}`` / ``{"tightens"}`` / both / neither."""
    out: set[str] = set()
    for node in ast.walk(rule.require):
        if not isinstance(node, ast.Compare) or node.op in ("==", "!="):
            continue
        left_is = isinstance(node.left, ast.ParamRef) and node.left.name == param
        right_is = isinstance(node.right, ast.ParamRef) and node.right.name == param
        if not (left_is or right_is):
            continue
        upper = node.op in ("<", "<=")  # the param is an upper bound when it is on the right of < / <=
        if left_is:
            upper = not upper
        out.add("loosens" if upper else "tightens")
    return out


def _show(value: Decimal, p: ParamDef) -> str:
    percent = any(pv.percent for tl in p.timelines.values() for pv in tl)
    return f"{(value * 100).normalize():f}%" if percent else f"{value.normalize():f}"


def _points(p: ParamDef) -> dict[tuple[str | None, str], Decimal]:
    out: dict[tuple[str | None, str], Decimal] = {}
    for key, timeline in p.timelines.items():
        for pv in timeline:
            if isinstance(pv.value, Decimal):
                out[(key, pv.effective_from.isoformat() if pv.effective_from else "always")] = pv.value
    return out


def check_variant(standard: Standard) -> list[Diagnostic]:
    """Warnings for every veto rule of the base that ``standard`` loosens or disables.

    Returns an empty list for a standard that extends nothing (or whose base cannot be loaded:
    loading already reported that).
    """
    if not standard.extends or len(standard.files) < 2:
        return []
    try:
        base = load_standard_file(standard.files[-2])
    except StandardError:
        return []
    veto = {r.id: r for r in base.rules if r.severity == "veto"}
    out: list[Diagnostic] = []
    for change in standard.changes:
        at = change.at
        if change.kind == "rule" and change.name in veto:
            message = _rule_message(change)
            if message:
                out.append(at.diagnostic(CODE, message, key=True, severity="warning"))
        elif change.kind == "field" and change.action == "modify":
            entity, _, name = change.name.partition(".")
            readers = [r.id for r in veto.values() if r.entity == entity and _reads(r, standard, entity, name)]
            if readers:
                out.append(
                    at.diagnostic(
                        CODE,
                        f"changes how {change.name} is derived, which veto rule(s) {', '.join(readers)} of "
                        f"{base.id} read (check it is not looser)",
                        key=True,
                        severity="warning",
                    )
                )
        elif change.kind == "parameter" and change.action == "replace":
            before, after = base.params.get(change.name), standard.params.get(change.name)
            if before is None or after is None:
                continue
            old, new = _points(before), _points(after)
            for rule in veto.values():
                ways = _direction(rule, change.name)
                for point, value in new.items():
                    previous = old.get(point) or _in_force(before, point)
                    if previous is None or previous == value:
                        continue
                    raised = value > previous
                    if ("loosens" in ways and raised) or ("tightens" in ways and not raised):
                        where = "" if point[0] in (None, "default") else f" for {point[0]}"
                        out.append(
                            at.diagnostic(
                                CODE,
                                f"loosens {base.id} veto rule {rule.id}: {change.name}{where}"
                                f" {_show(previous, before)} → {_show(value, after)}",
                                key=True,
                                severity="warning",
                            )
                        )
    return out


def _in_force(p: ParamDef, point: tuple[str | None, str]) -> Decimal | None:
    """The base's value at a point the variant adds (e.g. a new year key): what was in force then."""
    import datetime as dt

    try:
        day = dt.date.min if point[1] == "always" else dt.date.fromisoformat(point[1])
        value = p.lookup(day, point[0]).value
    except Exception:
        return None
    return value if isinstance(value, Decimal) else None


def _reads(rule: Rule, standard: Standard, entity: str, name: str) -> bool:
    """True if ``rule`` reads the field (directly or through derived fields)."""
    trees = [t for t in (rule.require, rule.applies_when) if t is not None]
    return any((n.entity, n.name) == (entity, name) for n in standard.fields_read(trees))


def _rule_message(change: Change) -> str | None:
    if change.action == "disable":
        return f"disables veto rule {change.name} of the base standard"
    if change.action == "modify":
        before, after = change.before, change.after
        if after.severity != "veto":
            return f"makes veto rule {change.name} of the base standard advisory"
        if before.require != after.require or before.applies_when != after.applies_when:
            return f"rewrites the condition of veto rule {change.name} of the base standard (check it is not looser)"
        if before.effective != after.effective:
            return f"changes when veto rule {change.name} of the base standard is in force"
    return None
