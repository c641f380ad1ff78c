"""Static analysis for ``tuopin lint``: rules that can never fire, and declarations nothing reads.

A condition is analysed as a two-valued formula over its atoms: a comparison of a field with a
constant (a literal or a parameter, whose every value is considered), ``between``, ``in``, a yes/no
field. Every other true/false sub-expression (aggregates, field-against-field comparisons, functions)
is a free atom. The formula is evaluated at representative points — each constant of a field and
the values just around it, each code of a coded field and one outside the list, true and false for
atoms — which decides exactly whether a formula of such comparisons can be true and can be false.
Found this way:

* ``require`` that can never be true (the rule always fails) or never be false (it never fails);
* ``applies_when`` that can never be true (the rule never applies), or that excludes every record on
  which ``require`` could fail;
* fields a standard declares and parameters it defines that no rule or derivation reads.

Unknown data are left out on purpose: the question is whether the condition can ever hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from tuopin_rules.compile import Rule, Standard
from tuopin_rules.errors import Diagnostic
from tuopin_rules.expr import ast
from tuopin_rules.expr.parser import to_text
from tuopin_rules.source import load_yaml_file

__all__ = ["absent_fields", "analyse"]

MAX_POINTS = 20_000  # assignments tried per condition; beyond this the condition is not analysed
_EPS = Decimal("0.000001")


class _TooBig(Exception):
    pass


def _constants(node: ast.Expr, standard: Standard) -> list[Any] | None:
    """The values a constant side can take: a literal, or every value of a parameter."""
    if isinstance(node, ast.Literal):
        return [node.value]
    if isinstance(node, ast.Neg) and isinstance(node.operand, ast.Literal) and isinstance(node.operand.value, Decimal):
        return [-node.operand.value]
    if isinstance(node, ast.ParamRef):
        return [pv.value for tl in standard.params[node.name].timelines.values() for pv in tl]
    return None


class _Formula:
    """Collects the variables of a condition and their representative values."""

    def __init__(self, standard: Standard) -> None:
        self.standard = standard
        self.points: dict[str, set[Any]] = {}
        self.atoms: dict[str, ast.Expr] = {}

    def field_key(self, node: ast.Expr) -> str | None:
        return f"{node.entity}.{node.name}" if isinstance(node, ast.FieldRef) else None

    def add_points(self, key: str, values: list[Any]) -> None:
        bucket = self.points.setdefault(key, set())
        for v in values:
            bucket.add(v)
            if isinstance(v, Decimal):
                bucket.update({v - _EPS, v + _EPS})

    def scan(self, node: ast.Expr) -> None:
        match node:
            case ast.BoolOp(operands=ops):
                for o in ops:
                    self.scan(o)
            case ast.Not(operand=o):
                self.scan(o)
            case ast.Literal():
                return
            case ast.FieldRef(entity=e, name=n) if self.standard.schema.entities[e].fields[n].type == "bool":
                self.points[f"{e}.{n}"] = {True, False}
            case ast.Compare(left=a, right=b) if self._simple(a, b):
                key, values = self._split(a, b)
                self.add_points(key, values)
                self._codes(key)
            case ast.Between(operand=a, low=lo, high=hi) if (
                self.field_key(a)
                and _constants(lo, self.standard) is not None
                and _constants(hi, self.standard) is not None
            ):
                bkey = self.field_key(a) or ""
                self.add_points(bkey, [*(_constants(lo, self.standard) or []), *(_constants(hi, self.standard) or [])])
            case ast.In(operand=a, items=items) if self.field_key(a) and all(
                isinstance(i, ast.Literal) for i in items.items
            ):
                ikey = self.field_key(a) or ""
                self.add_points(ikey, [i.value for i in items.items if isinstance(i, ast.Literal)])
                self._codes(ikey)
            case _:
                self.atoms[to_text(node)] = node

    def _simple(self, a: ast.Expr, b: ast.Expr) -> bool:
        return (self.field_key(a) is not None and _constants(b, self.standard) is not None) or (
            self.field_key(b) is not None and _constants(a, self.standard) is not None
        )

    def _split(self, a: ast.Expr, b: ast.Expr) -> tuple[str, list[Any]]:
        if self.field_key(a) is not None:
            return self.field_key(a) or "", _constants(b, self.standard) or []
        return self.field_key(b) or "", _constants(a, self.standard) or []

    def _codes(self, key: str) -> None:
        entity, name = key.split(".", 1)
        f = self.standard.schema.entities[entity].fields[name]
        if f.codes:  # a coded field holds one of its codes (others are data errors, never values)
            self.points[key] = set(f.codes)

    def assignments(self) -> Iterator[dict[str, Any]]:
        keys = list(self.points) + list(self.atoms)
        domains = [sorted(self.points[k], key=repr) for k in self.points] + [[True, False] for _ in self.atoms]
        total = 1
        for d in domains:
            total *= max(1, len(d))
        if total > MAX_POINTS:
            raise _TooBig
        for combo in itertools.product(*domains):
            yield dict(zip(keys, combo, strict=True))


def _value(node: ast.Expr, env: dict[str, Any], standard: Standard, param_choice: dict[str, Any]) -> Any:
    match node:
        case ast.Literal(value=v):
            return v
        case ast.Neg(operand=o):
            return -_value(o, env, standard, param_choice)
        case ast.FieldRef(entity=e, name=n):
            return env.get(f"{e}.{n}")
        case ast.ParamRef(name=n):
            return param_choice.get(n)
    raise KeyError(to_text(node))


def _truth(node: ast.Expr, env: dict[str, Any], standard: Standard, params: dict[str, Any]) -> bool:
    match node:
        case ast.BoolOp(op="and", operands=ops):
            return all(_truth(o, env, standard, params) for o in ops)
        case ast.BoolOp(operands=ops):
            return any(_truth(o, env, standard, params) for o in ops)
        case ast.Not(operand=o):
            return not _truth(o, env, standard, params)
        case ast.Literal(value=bool() as constant):
            return constant
    key = to_text(node)
    if key in env and not isinstance(node, ast.FieldRef):
        return bool(env[key])
    try:
        match node:
            case ast.FieldRef():
                return bool(_value(node, env, standard, params))
            case ast.Compare(op=op, left=a, right=b):
                x, y = _value(a, env, standard, params), _value(b, env, standard, params)
                return bool({"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])
            case ast.Between(operand=a, low=lo, high=hi):
                x = _value(a, env, standard, params)
                return bool(_value(lo, env, standard, params) <= x <= _value(hi, env, standard, params))
            case ast.In(operand=a, items=items, negated=neg):
                x = _value(a, env, standard, params)
                hit = any(x == _value(i, env, standard, params) for i in items.items)
                return hit != neg
    except (KeyError, TypeError):
        pass
    return bool(env.get(key, False))


def _param_choices(trees: list[ast.Expr], standard: Standard) -> list[dict[str, Any]]:
    """Each combination of the values of the parameters a condition reads (a rule sees one at a time)."""
    names = sorted({n.name for t in trees for n in ast.walk(t) if isinstance(n, ast.ParamRef)})
    values = [[pv.value for tl in standard.params[n].timelines.values() for pv in tl] for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)] or [{}]


def _can(formula: ast.Expr, within: ast.Expr | None, want: bool, standard: Standard) -> bool | None:
    """Whether ``formula`` can take the value ``want`` where ``within`` holds; ``None`` if too big."""
    f = _Formula(standard)
    f.scan(formula)
    if within is not None:
        f.scan(within)
    try:
        for params in _param_choices([formula] if within is None else [formula, within], standard):
            for env in f.assignments():
                if within is not None and not _truth(within, env, standard, params):
                    continue
                if _truth(formula, env, standard, params) is want:
                    return True
    except _TooBig:
        return None
    return False


def _rule_findings(rule: Rule, standard: Standard) -> Iterator[tuple[str, str]]:
    """``(part, message)`` for each way ``rule`` can never fire."""
    if rule.applies_when is not None and _can(rule.applies_when, None, True, standard) is False:
        yield (
            "applies_when",
            f"rule {rule.id} can never apply: applies_when ({to_text(rule.applies_when)}) is never true",
        )
        return
    if _can(rule.require, rule.applies_when, True, standard) is False:
        yield "require", f"rule {rule.id} can never pass: require ({to_text(rule.require)}) is never true"
    elif _can(rule.require, rule.applies_when, False, standard) is False:
        where = " where it applies" if rule.applies_when is not None else ""
        yield "require", f"rule {rule.id} can never fail{where}: require ({to_text(rule.require)}) is always true"


def analyse(standard: Standard) -> list[Diagnostic]:
    """Warnings (code ``dead-rule`` / ``unused-declaration``) for ``standard``, located in its files."""
    docs = {}
    for file in standard.files:
        doc, _ = load_yaml_file(file)
        if doc is not None:
            docs[file] = doc
    out: list[Diagnostic] = []
    for rule in standard.rules:
        for part, message in _rule_findings(rule, standard):
            doc = docs.get(rule.file)
            index = _rule_index(doc.data if doc else None, rule.id)
            if doc is not None and index is not None:
                out.append(doc.diagnostic("dead-rule", message, ("rules", index, part), severity="warning"))
            else:
                out.append(Diagnostic("dead-rule", message, file=rule.file, severity="warning"))
    out += _unused(standard, docs.get(standard.file))
    return out


def _rule_index(data: Any, rule_id: str) -> int | None:
    rules = data.get("rules") if isinstance(data, dict) else None
    for i, raw in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(raw, dict) and raw.get("id") == rule_id:
            return i
    return None


def _unused(standard: Standard, doc: Any) -> list[Diagnostic]:
    """Fields this standard declares and parameters it defines that nothing reads."""
    if doc is None or not isinstance(doc.data, dict):
        return []
    trees = [t for r in standard.rules for t in (r.require, r.applies_when) if t is not None]
    trees += list(standard.derived.values())
    read_fields = {(n.entity, n.name) for t in trees for n in ast.walk(t) if isinstance(n, ast.FieldRef)}
    read_params = {n.name for t in trees for n in ast.walk(t) if isinstance(n, ast.ParamRef)}
    by_fields = {p.by for p in standard.params.values() if p.by}
    out = []
    for name in doc.data.get("parameters") or {}:
        if name not in read_params:
            out.append(
                doc.diagnostic(
                    "unused-declaration",
                    f"parameter {name!r} is defined but no rule reads it",
                    ("parameters", name),
                    key=True,
                    severity="warning",
                )
            )
    for entity, fields in (doc.data.get("fields") or {}).items():
        for name, spec in (fields or {}).items():
            declared_new = isinstance(spec, dict) and "type" in spec
            if declared_new and (entity, name) not in read_fields and name not in by_fields:
                out.append(
                    doc.diagnostic(
                        "unused-declaration",
                        f"field {entity}.{name} is declared but no rule reads it",
                        ("fields", entity, name),
                        key=True,
                        severity="warning",
                    )
                )
    return out


def absent_fields(standard: Standard, tables: dict[str, list[Any]], kinds: list[str]) -> dict[str, list[str]]:
    """Per entity kind, the fields its rules read that no record of the data has (so those rules are
    UNKNOWN everywhere): what a summary should say once instead of a reason per record."""
    out: dict[str, list[str]] = {}
    for kind in kinds:
        records = tables.get(kind) or []
        if not records:
            continue
        trees = [t for r in standard.rules if r.entity == kind for t in (r.applies_when, r.require) if t is not None]
        needed = dict.fromkeys(n.name for n in standard.fields_read(trees, same_record=True))
        present = {name for r in records for name, v in r.values.items() if v is not None} | {
            name for r in records for name in r.issues
        }
        fields = standard.schema.entities[kind].fields
        missing = [
            f"{fields[n].label.zh}（{n}）" for n in needed if n not in present and (kind, n) not in standard.derived
        ]
        if missing:
            out[kind] = missing
    return out
