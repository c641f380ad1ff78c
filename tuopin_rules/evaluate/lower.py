"""Lowering: a bound expression tree to polars expressions over one entity table.

Every node becomes a :class:`Low`: its value (``None`` → null, Kleene logic through polars' ``&``,
``|`` and ``~``, which are three-valued), and the two facts the scalar explainer reads from a trace
to give a reason code — the first missing field path that leaves the node unknown (tagged ``U`` when
the cell was unreadable, ``M`` when it was absent) and whether a division by zero was noted. Rows
whose value the vector scheme cannot decide exactly (see :mod:`tuopin_rules.evaluate.frames`) are
collected in :attr:`Lowerer.fallback` and evaluated by the scalar engine instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import reduce
from typing import Any

import polars as pl

from tuopin_rules.compile import Standard
from tuopin_rules.errors import EvaluationError
from tuopin_rules.evaluate.frames import SAFE_UNITS, SCALE, EntityTable, null_of, to_units
from tuopin_rules.evaluate.lowered import COMPARE, AggColumns, Low, any_of, first_of, odd
from tuopin_rules.evaluate.vfuncs import lower_function
from tuopin_rules.expr import ast
from tuopin_rules.resolve.params import by_key

__all__ = ["Lowerer"]


class Lowerer:
    """Lowers the bound trees of one standard over one entity table at one ``as_of``.

    Args:
        standard: the compiled standard (parameters, derived fields).
        as_of: the evaluation date.
        table: the entity table (which columns exist, which have unreadable cells).
        aggregates: ``id(Aggregate or Related node)`` -> the columns it was computed into (joined
            onto the table by the planner).
    """

    def __init__(
        self, standard: Standard, as_of: dt.date, table: EntityTable, aggregates: dict[int, AggColumns]
    ) -> None:
        self.standard = standard
        self.as_of = as_of
        self.table = table
        self.entity = table.entity
        self.aggregates = aggregates
        self.fallback: list[pl.Expr] = []
        self._memo: dict[int, Low] = {}
        self._fields: dict[str, Low] = {}
        self._stack: list[int] = []
        self._pending: list[tuple[int, list[pl.Expr]]] = []
        self._shared: dict[str, tuple[pl.Expr, int]] = {}

    def _enter(self) -> None:
        self._stack.append(0)

    def _leave(self, low: Low) -> Low:
        """Materialise ``low`` as columns one level above what it reads (keeps polars trees shallow)."""
        level = self._stack.pop() + 1
        n = len(self._pending)
        exprs = [low.value.alias(f"__n{n}_v")]
        missing = divzero = None
        if low.missing is not None:
            exprs.append(low.missing.alias(f"__n{n}_m"))
            missing = pl.col(f"__n{n}_m")
        if low.divzero is not None:
            exprs.append(low.divzero.alias(f"__n{n}_d"))
            divzero = pl.col(f"__n{n}_d")
        self._pending.append((level, exprs))
        out = Low(pl.col(f"__n{n}_v"), low.kind, low.exact, missing, divzero, level)
        self._seen(out)
        return out

    def stage(self, expr: pl.Expr) -> pl.Expr:
        """Materialise a helper column under the node being lowered (computed once, read many times)."""
        level = (self._stack[-1] if self._stack else 0) + 1
        name = f"__s{len(self._pending)}"
        self._pending.append((level, [expr.alias(name)]))
        if self._stack:
            self._stack[-1] = level
        return pl.col(name)

    def stage_shared(self, key: str, build: Callable[[], pl.Expr]) -> pl.Expr:
        """:meth:`stage` once per ``key`` (e.g. the digits of one ID column read by ``age`` and
        ``id_number_valid``); later calls read the same column."""
        if key not in self._shared:
            column = self.stage(build())
            self._shared[key] = (column, self._stack[-1] if self._stack else 1)
        column, level = self._shared[key]
        if self._stack:
            self._stack[-1] = max(self._stack[-1], level)
        return column

    def _seen(self, low: Low) -> None:
        if self._stack:
            self._stack[-1] = max(self._stack[-1], low.level)

    def apply(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """``frame`` with the columns of every node lowered so far, level by level."""
        levels: dict[int, list[pl.Expr]] = {}
        for level, exprs in self._pending:
            levels.setdefault(level, []).extend(exprs)
        for level in sorted(levels):
            frame = frame.with_columns(levels[level])
        return frame

    def bad(self, name: str) -> pl.Expr | None:
        """True where the field's cell was unreadable (``None``: no such cell in the table)."""
        return pl.col(f"__bad__{name}") if name in self.table.bad else None

    def reads_bad(self, node: ast.Expr) -> pl.Expr | None:
        """The scalar ``reads_bad_cell``: a top-level field of ``node`` has an unreadable cell."""
        return any_of([self.bad(n.name) for n in ast.top_level(node) if isinstance(n, ast.FieldRef)])

    def lower(self, node: ast.Expr) -> Low:
        """The :class:`Low` of ``node`` (memoised per node, so shared sub-trees share expressions)."""
        key = id(node)
        if key not in self._memo:
            if isinstance(node, (ast.Literal, ast.Special, ast.Aggregate, ast.Related)):
                self._memo[key] = self._lower(node)
            elif isinstance(node, ast.FieldRef):
                self._memo[key] = self.field(node.name)
            else:
                self._enter()
                self._memo[key] = self._leave(self._lower(node))
        self._seen(self._memo[key])
        return self._memo[key]

    def _lower(self, node: ast.Expr) -> Low:
        match node:
            case ast.Literal(value=v):
                return self.constant(v)
            case ast.FieldRef(name=name):
                return self.field(name)
            case ast.ParamRef(name=name):
                return self.param(name)
            case ast.Special(name="as_of"):
                return Low(pl.lit(self.as_of, dtype=pl.Date), "date")
            case ast.Special():
                return self.constant(Decimal(self.as_of.year))
            case ast.Neg(operand=o):
                x = self.lower(o)
                value = pl.lit(0, dtype=pl.Int128) - x.value
                return Low(value, "num", x.exact, self.missing_of(value, [x]), x.divzero)
            case ast.Arith():
                return self.arith(node)
            case ast.Compare(op=op, left=a, right=b):
                x, y = self.lower(a), self.lower(b)
                if x.kind == "num" and y.kind == "num" and not (x.exact or y.exact):
                    self.fallback.append(odd(x.value) & odd(y.value) & (x.value == y.value))
                value = COMPARE[op](x.value, y.value)
                return Low(value, "bool", True, self.missing_of(value, [x, y]), any_of([x.divzero, y.divzero]))
            case ast.Between(operand=a, low=lo, high=hi):
                x, low, high = self.lower(a), self.lower(lo), self.lower(hi)
                for bound in (low, high):
                    if x.kind == "num" and not (x.exact or bound.exact):
                        self.fallback.append(odd(x.value) & odd(bound.value) & (x.value == bound.value))
                value = (
                    pl.when(x.value.is_null()).then(None).otherwise((low.value <= x.value) & (x.value <= high.value))
                )
                parts = [x, low, high]
                return Low(value, "bool", True, self.missing_of(value, parts), any_of([p.divzero for p in parts]))
            case ast.In(operand=a, items=items, negated=neg):
                x = self.lower(a)
                options = [self.lower(i) for i in items.items]
                for opt in options:
                    if x.kind == "num" and not (x.exact or opt.exact):
                        self.fallback.append(odd(x.value) & odd(opt.value) & (x.value == opt.value))
                hits = [x.value == opt.value for opt in options]
                hit = reduce(lambda p, q: p | q, hits) if hits else pl.lit(False)
                value = pl.when(x.value.is_null()).then(None).otherwise(~hit if neg else hit)
                parts = [x, *options]
                return Low(value, "bool", True, self.missing_of(value, parts), any_of([p.divzero for p in parts]))
            case ast.BoolOp(op=op, operands=ops):
                parts = [self.lower(o) for o in ops]
                join: Callable[[pl.Expr, pl.Expr], pl.Expr] = (
                    (lambda p, q: p & q) if op == "and" else (lambda p, q: p | q)
                )
                value = reduce(join, [p.value for p in parts])
                return Low(value, "bool", True, self.missing_of(value, parts), any_of([p.divzero for p in parts]))
            case ast.Not(operand=o):
                x = self.lower(o)
                return Low(~x.value, "bool", True, x.missing, x.divzero)
            case ast.FuncCall(name="coalesce", args=args):
                return self.coalesce(args)
            case ast.FuncCall(name="unique", args=(ast.FieldRef(name=fname) as arg,)):
                return self.unique(fname, self.lower(arg))
            case ast.FuncCall(name=name, args=args):
                parts = [self.lower(a) for a in args]
                value, kind, exact = lower_function(self, name, args, parts)
                return Low(value, kind, exact, self.missing_of(value, parts), any_of([p.divzero for p in parts]))
            case ast.Aggregate() | ast.Related():
                cols = self.aggregates[id(node)]
                value = pl.col(cols.value)
                return Low(value, cols.kind, cols.exact, pl.col(cols.missing))
        raise TypeError(f"cannot lower {node!r}")  # pragma: no cover - the checker binds every node

    @staticmethod
    def missing_of(value: pl.Expr, parts: list[Low]) -> pl.Expr | None:
        """The scalar ``missing()`` of an inner node: its children's, in order, when it is null."""
        inner = first_of([p.missing for p in parts])
        return None if inner is None else pl.when(value.is_null()).then(inner)

    def unique(self, name: str, x: Low) -> Low:
        """``unique(field)``: no other row of the table holds the same (non-null) cell value.

        A window count over the field's own column (the scalar ``TableIndex`` indexes the cells, not
        derived values). Rows go to the scalar engine when the value was derived (an empty cell),
        when it is inexact (two values equal to ten decimals may differ), or when the records were
        not indexed as exactly this table.
        """
        value: pl.Expr
        if name in self.table.kinds and self.table.kinds[name] == x.kind:
            raw = pl.col(name)
            value = pl.when(x.value.is_null() | raw.is_null()).then(None).otherwise(pl.len().over(raw) <= 1)
            self.fallback.append(x.value.is_not_null() & raw.is_null())
        else:  # no cells at all: a value can only be derived
            value = pl.lit(None, dtype=pl.Boolean)
            self.fallback.append(x.value.is_not_null())
        if x.kind == "num" and not x.exact:
            self.fallback.append(odd(x.value))
        if self.table.records is not None and not self.table.indexed:
            self.fallback.append(x.value.is_not_null())
        return Low(value, "bool", True, self.missing_of(value, [x]), x.divzero)

    def constant(self, v: Any) -> Low:
        """A literal or parameter value."""
        if isinstance(v, bool):
            return Low(pl.lit(v, dtype=pl.Boolean), "bool")
        if isinstance(v, Decimal):
            units = to_units(v)
            return Low(pl.lit(units, dtype=pl.Int128), "num", units % 2 == 0)
        if isinstance(v, dt.date):
            return Low(pl.lit(v, dtype=pl.Date), "date")
        return Low(pl.lit(str(v), dtype=pl.String), "text")

    def tagged(self, name: str) -> pl.Expr:
        """``U<name>`` where the cell was unreadable, else ``M<name>``."""
        bad = self.bad(name)
        if bad is None:
            return pl.lit("M" + name)
        return pl.when(bad).then(pl.lit("U" + name)).otherwise(pl.lit("M" + name))

    def field(self, name: str) -> Low:
        """A field of the entity in scope; computed by its ``derive`` when the cell is empty (not unreadable)."""
        if name in self._fields:
            self._seen(self._fields[name])
            return self._fields[name]
        fdef = self.standard.schema.entities[self.entity].fields[name]
        from tuopin_rules.evaluate.frames import kind_of

        kind = self.table.kinds.get(name, kind_of(fdef.type))
        present = name in self.table.kinds
        column = pl.col(name) if present else null_of(kind)
        bad = self.bad(name)
        derive = self.standard.derived.get((self.entity, name))
        exact = name not in self.table.inexact
        if derive is None:
            low = Low(column, kind, exact, pl.when(column.is_null()).then(self.tagged(name)))
        else:
            self._fields[name] = Low(null_of(kind), kind)  # pragma: no cover - cycles are rejected when loading
            self._enter()
            d = self.lower(derive)
            computed = column.is_null() if bad is None else column.is_null() & ~bad
            value = pl.when(computed).then(d.value).otherwise(column) if present else d.value
            if bad is not None and not present:  # pragma: no cover - a bad cell always has its column
                value = pl.when(bad).then(None).otherwise(value)
            own = pl.lit("M" + name) if d.divzero is None else pl.when(~d.divzero).then(pl.lit("M" + name))
            inner = own if d.missing is None else pl.coalesce(d.missing, own)
            missing = pl.when(value.is_null()).then(pl.when(computed).then(inner).otherwise(self.tagged(name)))
            divzero = None if d.divzero is None else (computed & d.divzero)
            low = self._leave(Low(value, kind, exact and d.exact, missing, divzero))
        self._fields[name] = low
        self._seen(low)
        return low

    def param(self, name: str) -> Low:
        """A parameter at ``as_of``: a literal, or a ``when/then`` on its ``by`` field."""
        pdef = self.standard.params[name]
        if pdef.by is None:
            return self.constant(pdef.lookup(self.as_of).value)
        by = self.field(pdef.by)  # a column (materialised if derived)
        keys = [k for k in pdef.timelines if k is not None and k != "default"]
        expr: Any = None
        exact = True
        matched: list[pl.Expr] = []
        for key in keys:
            cond = self._key_matches(by, key)
            if cond is None:
                continue
            matched.append(cond)
            try:
                c = self.constant(pdef.lookup(self.as_of, key).value)
            except EvaluationError:  # the scalar engine raises it for the rows that hit it
                self.fallback.append(cond.fill_null(False))
                continue
            exact = exact and c.exact
            expr = pl.when(cond).then(c.value) if expr is None else expr.when(cond).then(c.value)
        try:
            default = self.constant(pdef.lookup(self.as_of, None).value) if "default" in pdef.timelines else None
        except EvaluationError:
            default = None
        if default is None:  # no default: an unmatched value raises in the scalar engine
            hit_any = any_of(matched)
            unmatched = pl.lit(True) if hit_any is None else ~hit_any
            self.fallback.append(by.value.is_not_null() & unmatched)
            kind = next(self.constant(tl[0].value).kind for tl in pdef.timelines.values())
            fallback_value = null_of(kind)
        else:
            exact = exact and default.exact
            kind, fallback_value = default.kind, default.value
        value = fallback_value if expr is None else expr.otherwise(fallback_value)
        value = pl.when(by.value.is_null()).then(None).otherwise(value)
        missing = pl.when(value.is_null()).then(self.tagged(pdef.by))
        return Low(value, kind, exact, missing, by.divzero)

    def _key_matches(self, by: Low, key: str) -> pl.Expr | None:
        if by.kind == "bool":
            return by.value == (key == "true") if key in ("true", "false") else None
        if by.kind == "num":
            try:
                number = Decimal(key)
            except ArithmeticError:
                return None
            return by.value == pl.lit(to_units(number), dtype=pl.Int128) if by_key(number) == key else None
        if by.kind == "text":
            return by.value == pl.lit(key)
        return None

    def coalesce(self, args: tuple[ast.Expr, ...]) -> Low:
        """``coalesce``: the first known argument; an unreadable cell stops it (scalar semantics)."""
        parts = [self.lower(a) for a in args]
        bads = [self.reads_bad(a) for a in args]
        stops = [
            p.value.is_not_null() if b is None else (p.value.is_not_null() | b)
            for p, b in zip(parts, bads, strict=True)
        ]
        expr: Any = None
        evaluated: list[pl.Expr | None] = []
        reached: pl.Expr | None = None  # every earlier argument was null and readable
        for p, stop in zip(parts, stops, strict=True):
            evaluated.append(reached)
            expr = pl.when(stop).then(p.value) if expr is None else expr.when(stop).then(p.value)
            reached = ~stop if reached is None else (reached & ~stop)
        value = expr.otherwise(null_of(parts[0].kind))
        missing = first_of(
            [
                p.missing if e is None or p.missing is None else pl.when(e).then(p.missing)
                for p, e in zip(parts, evaluated, strict=True)
            ]
        )
        divzero = any_of(
            [
                p.divzero if e is None or p.divzero is None else (e & p.divzero)
                for p, e in zip(parts, evaluated, strict=True)
            ]
        )
        missing = None if missing is None else pl.when(value.is_null()).then(missing)
        return Low(value, parts[0].kind, all(p.exact for p in parts), missing, divzero)

    def arith(self, node: ast.Arith) -> Low:
        """Exact ``+ - * /`` on half-unit integers; division by zero is null with a note."""
        x, y = self.lower(node.left), self.lower(node.right)
        a, b = x.value, y.value
        divzero = any_of([x.divzero, y.divzero])
        missing = None
        if node.op in ("+", "-"):
            if not (x.exact or y.exact):
                self.fallback.append(odd(a) & odd(b))
            value = a + b if node.op == "+" else a - b
            exact = x.exact and y.exact
        else:
            if not x.exact:
                self.fallback.append(odd(a))
            if not y.exact:
                self.fallback.append(odd(b))
            ua, ub = a // 2, b // 2
            if node.op == "*":
                big = (ua.abs() >= 10**19) | (ub.abs() >= 10**19)
                self.fallback.append(big)
                product = pl.when(big).then(0).otherwise(ua * ub)
                value = 2 * (product // SCALE) + (product % SCALE != 0).cast(pl.Int128)
            else:
                zero = ub == 0
                self.fallback.append(ua.abs() >= SAFE_UNITS // SCALE * 10**8)
                safe_a = pl.when(ua.abs() >= SAFE_UNITS // SCALE * 10**8).then(0).otherwise(ua)
                safe_b = pl.when(zero).then(1).otherwise(ub)
                scaled = safe_a * SCALE
                quotient = pl.when(zero).then(None).otherwise(scaled // safe_b)
                value = 2 * quotient + (scaled % safe_b != 0).cast(pl.Int128)
                note = a.is_not_null() & b.is_not_null() & zero
                divzero = any_of([divzero, note])
            exact = False
        missing = self.missing_of(value, [x, y])
        return Low(value.cast(pl.Int128), "num", exact, missing, divzero)
