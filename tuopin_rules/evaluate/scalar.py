"""The scalar evaluator: one record, Kleene three-valued logic, exact decimals, a full trace.

``None`` is the unknown value. ``and``/``or``/``not`` follow Kleene logic (``false and unknown`` is
false, ``true or unknown`` is true); every other operation on an unknown value is unknown. Division
by zero is unknown (with a note), never an exception. Numbers are :class:`decimal.Decimal`, so
``512.3 + 1538.6 + 1949.1 == 4000.0`` and ``3 / 150 == 2%`` hold exactly.

The :class:`Trace` records the value of every node evaluated, the parameter values read, the
derived fields computed and, for aggregates, each child record's value — the explainer renders
reasons, evidence, gaps and missing fields from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, DivisionByZero, InvalidOperation, localcontext
from typing import Any

from tuopin_rules.compile import Standard
from tuopin_rules.entities.records import Record
from tuopin_rules.expr import ast
from tuopin_rules.expr.functions import FUNCTIONS
from tuopin_rules.resolve.params import ParamValue

__all__ = ["ChildTrace", "Trace", "evaluate", "kleene_and", "kleene_not", "kleene_or", "related_record"]

PRECISION = 34  # decimal digits; exact for any money or rate met in practice


def kleene_and(values: list[bool | None]) -> bool | None:
    """Kleene conjunction: false if any is false, else unknown if any is unknown, else true."""
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def kleene_or(values: list[bool | None]) -> bool | None:
    """Kleene disjunction: true if any is true, else unknown if any is unknown, else false."""
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def kleene_not(value: bool | None) -> bool | None:
    """Kleene negation: not unknown is unknown."""
    return None if value is None else not value


DerivedCache = dict[tuple[int, str], tuple[Any, "Trace"]]


@dataclass
class ChildTrace:
    """One child record's part in an aggregate: its filter value, its argument value, its trace."""

    record: Record
    included: bool | None
    value: Any
    trace: Trace


@dataclass
class Trace:
    """What one evaluation of a record saw.

    Attributes:
        record: the record evaluated.
        values: ``id(node)`` -> value for every node evaluated.
        params: parameter name -> value read (with effective date).
        derived: field name -> ``(value, trace)`` for fields computed by ``derive``.
        children: ``id(aggregate node)`` -> per-child traces.
        related: ``id(related node)`` -> the trace on the related record (``None``: no such record).
        notes: ``id(node)`` -> a note (e.g. division by zero).
    """

    record: Record
    values: dict[int, Any] = field(default_factory=dict)
    params: dict[str, ParamValue] = field(default_factory=dict)
    derived: dict[str, tuple[Any, Trace]] = field(default_factory=dict)
    children: dict[int, list[ChildTrace] | None] = field(default_factory=dict)
    related: dict[int, Trace | None] = field(default_factory=dict)
    duplicates: dict[int, list[Record]] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)

    def value(self, node: ast.Expr) -> Any:
        """The value ``node`` had (``None`` if unknown or not evaluated)."""
        return self.values.get(id(node))


class _Evaluator:
    def __init__(self, standard: Standard, as_of: dt.date, cache: DerivedCache | None = None) -> None:
        self.standard = standard
        self.as_of = as_of
        self.in_progress: set[tuple[int, str]] = set()
        self.cache: DerivedCache = cache if cache is not None else {}

    def field(self, rec: Record, name: str, trace: Trace) -> Any:
        value = rec.values.get(name)
        if value is not None or name in rec.issues:
            return value
        derive = self.standard.derived.get((rec.entity, name))
        if derive is None:
            return None
        if name in trace.derived:
            return trace.derived[name][0]
        key = (id(rec), name)
        if key in self.cache:  # computed already for another rule of the same evaluation
            trace.derived[name] = self.cache[key]
            return self.cache[key][0]
        if key in self.in_progress:  # pragma: no cover - cycles are rejected when loading
            return None
        self.in_progress.add(key)
        sub = Trace(rec)
        result = self.eval(derive, rec, sub)
        self.in_progress.discard(key)
        trace.derived[name] = self.cache[key] = (result, sub)
        return result

    def eval(self, node: ast.Expr, rec: Record, trace: Trace) -> Any:
        value = _DISPATCH[type(node)](self, node, rec, trace)
        trace.values[id(node)] = value
        return value

    # one method per node type, chosen by _DISPATCH (a dict look-up, not a chain of pattern tests)
    def _literal(self, node: ast.Literal, rec: Record, trace: Trace) -> Any:
        return node.value

    def _field(self, node: ast.FieldRef, rec: Record, trace: Trace) -> Any:
        return self.field(rec, node.name, trace)

    def _param(self, node: ast.ParamRef, rec: Record, trace: Trace) -> Any:
        pdef = self.standard.params[node.name]
        by_value = None
        if pdef.by is not None:
            by_value = self.field(rec, pdef.by, trace)
            if by_value is None:
                return None
        pv = pdef.lookup(self.as_of, by_value)
        trace.params[node.name] = pv
        return pv.value

    def _special(self, node: ast.Special, rec: Record, trace: Trace) -> Any:
        return self.as_of if node.name == "as_of" else Decimal(self.as_of.year)

    def _neg(self, node: ast.Neg, rec: Record, trace: Trace) -> Any:
        v = self.eval(node.operand, rec, trace)
        return None if v is None else -v

    def _arith(self, node: ast.Arith, rec: Record, trace: Trace) -> Any:
        a, b = self.eval(node.left, rec, trace), self.eval(node.right, rec, trace)
        return self.arith(node, node.op, a, b, trace)

    def _compare(self, node: ast.Compare, rec: Record, trace: Trace) -> Any:
        return _compare(node.op, self.eval(node.left, rec, trace), self.eval(node.right, rec, trace))

    def _between(self, node: ast.Between, rec: Record, trace: Trace) -> Any:
        x, low, high = (self.eval(n, rec, trace) for n in (node.operand, node.low, node.high))
        if x is None:
            return None
        return kleene_and([None if low is None else low <= x, None if high is None else x <= high])

    def _in(self, node: ast.In, rec: Record, trace: Trace) -> Any:
        x = self.eval(node.operand, rec, trace)
        options = [self.eval(i, rec, trace) for i in node.items.items]
        if x is None:
            return None
        hit = kleene_or([None if o is None else x == o for o in options])
        return kleene_not(hit) if node.negated else hit

    def _boolop(self, node: ast.BoolOp, rec: Record, trace: Trace) -> Any:
        values = [self.eval(o, rec, trace) for o in node.operands]  # every operand: the trace explains
        return kleene_and(values) if node.op == "and" else kleene_or(values)

    def _not(self, node: ast.Not, rec: Record, trace: Trace) -> Any:
        return kleene_not(self.eval(node.operand, rec, trace))

    def _func(self, node: ast.FuncCall, rec: Record, trace: Trace) -> Any:
        name, args = node.name, node.args
        if name == "coalesce":
            for a in args:  # the first known value; an unreadable cell is not "blank", it stops here
                v = self.eval(a, rec, trace)
                if v is not None or self.reads_bad_cell(a, rec):
                    return v
            return None
        if name == "is_blank":
            v = self.eval(args[0], rec, trace)
            return None if v is None and self.reads_bad_cell(args[0], rec) else FUNCTIONS[name].impl([v], self.as_of)
        if name == "unique" and isinstance(args[0], ast.FieldRef):
            v = self.eval(args[0], rec, trace)
            if v is None:
                return None
            others = [r for r in (rec.table.same(args[0].name, v) if rec.table is not None else []) if r is not rec]
            trace.duplicates[id(node)] = others
            return not others
        fn = FUNCTIONS[name]
        values = [self.eval(a, rec, trace) for a in args]
        if not fn.total and any(v is None for v in values):
            return None
        return fn.impl(values, self.as_of)

    def _aggregate(self, node: ast.Aggregate, rec: Record, trace: Trace) -> Any:
        return self.aggregate(node, rec, trace)

    def _related(self, node: ast.Related, rec: Record, trace: Trace) -> Any:
        other = related_record(rec, node.relations)
        if other is None:
            trace.related[id(node)] = None
            return None
        sub = Trace(other)
        value = self.eval(node.target, other, sub)
        trace.related[id(node)] = sub
        return value

    @staticmethod
    def reads_bad_cell(node: ast.Expr, rec: Record) -> bool:
        """True if ``node`` reads a field of ``rec`` whose cell could not be read (a data issue)."""
        return bool(rec.issues) and any(
            isinstance(n, ast.FieldRef) and n.name in rec.issues for n in ast.top_level(node)
        )

    def arith(self, node: ast.Expr, op: str, a: Any, b: Any, trace: Trace) -> Any:
        if a is None or b is None:
            return None
        with localcontext() as ctx:
            ctx.prec = PRECISION
            ctx.traps[DivisionByZero] = True
            ctx.traps[InvalidOperation] = True
            try:
                if op == "+":
                    return a + b
                if op == "-":
                    return a - b
                if op == "*":
                    return a * b
                return _tidy(a / b)
            except (DivisionByZero, InvalidOperation):
                trace.notes[id(node)] = "division by zero"
                return None

    def aggregate(self, node: ast.Aggregate, rec: Record, trace: Trace) -> Any:
        kids = rec.children.get(node.collection)
        if kids is None:
            trace.children[id(node)] = None
            return None
        parts: list[ChildTrace] = []
        for kid in kids:
            sub = Trace(kid)
            included = True if node.filter is None else self.eval(node.filter, kid, sub)
            value = self.eval(node.arg, kid, sub) if node.arg is not None and included is not False else None
            parts.append(ChildTrace(kid, included, value, sub))
        trace.children[id(node)] = parts
        func = node.func
        if func in ("any", "all", "count"):
            # a member counts if it passes the filter and (for a condition) the condition holds
            flags = [kleene_and([p.included, p.value if node.arg is not None else True]) for p in parts]
            if func == "any":
                return kleene_or(flags)
            if func == "all":
                if node.arg is None:  # all(C where f): every child meets f
                    return kleene_and([p.included for p in parts])
                # all(C where f, cond): children outside the filter do not count against it
                return kleene_and([kleene_or([kleene_not(p.included), p.value]) for p in parts])
            if any(f is None for f in flags):
                return None
            return Decimal(sum(1 for f in flags if f))
        chosen = [p for p in parts if p.included is not False]
        if any(p.included is None or p.value is None for p in chosen):
            return None
        values = [p.value for p in chosen]
        if func == "sum":
            return sum(values, Decimal(0))
        if not values:
            return None
        return min(values) if func == "min" else max(values)


_DISPATCH: dict[type, Any] = {
    ast.Literal: _Evaluator._literal,
    ast.FieldRef: _Evaluator._field,
    ast.ParamRef: _Evaluator._param,
    ast.Special: _Evaluator._special,
    ast.Neg: _Evaluator._neg,
    ast.Arith: _Evaluator._arith,
    ast.Compare: _Evaluator._compare,
    ast.Between: _Evaluator._between,
    ast.In: _Evaluator._in,
    ast.BoolOp: _Evaluator._boolop,
    ast.Not: _Evaluator._not,
    ast.FuncCall: _Evaluator._func,
    ast.Aggregate: _Evaluator._aggregate,
    ast.Related: _Evaluator._related,
}  # the checker binds every node to one of these; anything else is a KeyError (a bug)

HEAD_RELATIONS = frozenset({"户主", "本人", "户主本人"})


def related_record(rec: Record, relations: tuple[str, ...]) -> Record | None:
    """The record reached from ``rec`` through ``relations`` (parents, or ``head``), or ``None``.

    A household's head is its one member whose relation to the head is 户主 (or 本人); none, or more
    than one, is no head (unknown).
    """
    current: Record | None = rec
    for name in relations:
        if current is None:
            return None
        if name == "head":
            members = current.children.get("members") or []
            heads = [m for m in members if str(m.values.get("relation_to_head") or "").strip() in HEAD_RELATIONS]
            current = heads[0] if len(heads) == 1 else None
        else:
            current = current.parent if current.parent is not None and current.parent.entity == name else None
    return current


def _tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros a division may add, keeping exact values readable (0.0200 -> 0.02)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def evaluate(
    standard: Standard,
    node: ast.Expr,
    record: Record,
    as_of: dt.date,
    trace: Trace | None = None,
    cache: DerivedCache | None = None,
) -> tuple[Any, Trace]:
    """Evaluate a bound expression against one record.

    Args:
        standard: the compiled standard (parameters, derived fields).
        node: a bound expression of that standard.
        record: the record in scope (with its child collections linked).
        as_of: the evaluation date; the only "today" a rule sees.
        trace: a trace to extend (shared between a rule's ``applies_when`` and ``require``).
        cache: derived values already computed in this evaluation, keyed by ``(id(record), field)``;
            share one only while the records it names are alive and unchanged (one ``evaluate_record``).

    Returns:
        ``(value, trace)`` where value is ``True``/``False``/``None`` for a condition.

    Raises:
        EvaluationError: when a parameter has no value in force on ``as_of``.
    """
    trace = trace if trace is not None else Trace(record)
    value = _Evaluator(standard, as_of, cache).eval(node, record, trace)
    return value, trace
