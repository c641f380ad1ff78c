"""Type checking and name binding of expressions against an entity schema.

:func:`check` turns a syntax tree into a *bound* tree: every name is resolved to a field of the
entity in scope (by English name, Chinese label or alias), a parameter, or ``as_of``/``as_of_year``;
aggregate calls bind their collection to a child entity and check their condition in that entity's
scope; text literals compared with a coded field are normalised to the code (``"已脱贫"`` → ``"1"``).
All problems are collected, each with the span of the offending node.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuopin_rules.entities.schema import EntityDef, FieldDef, Schema
from tuopin_rules.errors import did_you_mean
from tuopin_rules.expr import ast
from tuopin_rules.expr.functions import AGGREGATES, FUNCTIONS
from tuopin_rules.resolve.params import ParamDef

__all__ = ["ExprProblem", "Ty", "check"]

SPECIALS = {"as_of": "date", "as_of_year": "number"}


@dataclass(frozen=True)
class Ty:
    """The static type of an expression.

    ``kind`` is one of bool, number, text, date, list, error (already reported; accepted anywhere).
    ``field`` is set for a bare coded field so literals compared with it can be normalised.
    """

    kind: str
    field: FieldDef | None = None


ERROR = Ty("error")
_FIELD_KIND = {"integer": "number", "number": "number", "percent": "number", "code": "text"}


@dataclass(frozen=True)
class ExprProblem:
    """A problem in one expression: a diagnostic code, message, span in the text, and a hint."""

    code: str
    message: str
    span: ast.Span
    hint: str | None = None


class _Checker:
    def __init__(self, schema: Schema, params: dict[str, ParamDef]) -> None:
        self.schema = schema
        self.params = params
        self.param_labels = {p.label.zh: name for name, p in params.items() if p.label is not None}
        self.problems: list[ExprProblem] = []

    def err(self, code: str, message: str, node: ast.Expr, hint: str | None = None) -> tuple[ast.Expr, Ty]:
        self.problems.append(ExprProblem(code, message, node.span, hint))
        return node, ERROR

    # ---- names ----------------------------------------------------------------------------
    def name(self, node: ast.Name, ent: EntityDef) -> tuple[ast.Expr, Ty]:
        if node.name in SPECIALS:
            return ast.Special(node.name, span=node.span), Ty(SPECIALS[node.name])  # type: ignore[arg-type]
        fdef = ent.resolve(node.name)
        if fdef is not None:
            kind = _FIELD_KIND.get(fdef.type, fdef.type)
            return ast.FieldRef(ent.name, fdef.name, node.name, span=node.span), Ty(kind, fdef)
        param = node.name if node.name in self.params else self.param_labels.get(node.name)
        if param is not None:
            p = self.params[param]
            if p.by is not None and ent.resolve(p.by) is None:
                return self.err(
                    "type-mismatch",
                    f"parameter {node.name!r} varies by {p.by!r}, which a {ent.name} record does not have",
                    node,
                )
            return ast.ParamRef(param, node.name, span=node.span), Ty(p.type)
        if node.name in ent.children:
            return self.err(
                "type-mismatch",
                f"{node.name!r} is a collection of {ent.children[node.name]} records, not a value",
                node,
                hint=f"aggregate it, e.g. count({node.name}) or any({node.name}, ...)",
            )
        if node.name in ("True", "TRUE", "False", "FALSE"):
            return self.err("unknown-field", f"{node.name!r} is not a value", node, hint=f"write {node.name.lower()}")
        if node.name.lower() in ("yes", "no", "on", "off", "是", "否"):
            return self.err(
                "unknown-field", f"{node.name!r} is not a value of the rule language", node, hint="write true or false"
            )
        pool = [*ent.spellings(), *self.params, *self.param_labels, *SPECIALS]
        hint = did_you_mean(node.name, pool)
        if hint is not None and any(hint == f"did you mean '{p}'?" for p in (*self.params, *self.param_labels)):
            return self.err("unknown-parameter", f"unknown parameter {node.name!r}", node, hint=hint)
        return self.err("unknown-field", f"unknown field or parameter {node.name!r} for a {ent.name}", node, hint=hint)

    def path(self, node: ast.Path, ent: EntityDef) -> tuple[ast.Expr, Ty]:
        """``household.exit_status`` from a member, ``village.region`` from a household, ``head.age``."""
        current = ent
        relations: list[str] = []
        for name in node.names[:-1]:
            relations_here = self.relations(current)
            target = relations_here.get(name)
            if target is None:
                return self.err(
                    "unknown-relation",
                    f"a {current.name} has no related {name!r}"
                    + (f" (it has: {', '.join(relations_here)})" if relations_here else " (it has none)"),
                    node,
                    hint=did_you_mean(name, relations_here),
                )
            relations.append(name)
            current = self.schema.entities[target]
        written = node.names[-1]
        fdef = current.resolve(written)
        if fdef is None:
            return self.err(
                "unknown-field",
                f"unknown field {written!r} for a {current.name}",
                node,
                hint=did_you_mean(written, current.spellings()),
            )
        target_ref = ast.FieldRef(current.name, fdef.name, written)
        kind = _FIELD_KIND.get(fdef.type, fdef.type)
        bound = ast.Related(tuple(relations), target_ref, ".".join(node.names), span=node.span)
        return bound, Ty(kind, fdef)

    def relations(self, ent: EntityDef) -> dict[str, str]:
        """Single records reachable from a record of ``ent``: its parent, and a household's head."""
        out = {ent.parent: ent.parent} if ent.parent else {}
        if ent.name == "household":
            out["head"] = "member"
        return out

    # ---- generic --------------------------------------------------------------------------
    def bind(self, node: ast.Expr, ent: EntityDef) -> tuple[ast.Expr, Ty]:
        match node:
            case ast.Literal(value=bool()):
                return node, Ty("bool")
            case ast.Literal(value=str()):
                return node, Ty("text")
            case ast.Literal():
                return node, Ty("number")
            case ast.Name():
                return self.name(node, ent)
            case ast.Path():
                return self.path(node, ent)
            case ast.Neg(operand=o):
                bo, to = self.expect(o, ent, "number")
                return ast.Neg(bo, span=node.span), Ty("number") if to is not ERROR else ERROR
            case ast.Arith(op=op, left=a, right=b):
                ba, _ = self.expect(a, ent, "number")
                bb, _ = self.expect(b, ent, "number")
                return ast.Arith(op, ba, bb, span=node.span), Ty("number")
            case ast.Compare():
                return self.compare(node, ent)
            case ast.Between(operand=a, low=lo, high=hi):
                ba, ta = self.bind(a, ent)
                kind = ta.kind if ta.kind in ("number", "date") else "number"
                if ta.kind not in ("number", "date", "error"):
                    self.err("type-mismatch", f"'between' needs a number or date, not {ta.kind}", a)
                blo, _ = self.expect(lo, ent, kind)
                bhi, _ = self.expect(hi, ent, kind)
                return ast.Between(ba, blo, bhi, span=node.span), Ty("bool")
            case ast.In(operand=a, items=items, negated=neg):
                ba, ta = self.bind(a, ent)
                bound_items = tuple(self.literal_like(i, ta, ent) for i in items.items)
                return ast.In(ba, ast.ListExpr(bound_items, span=items.span), neg, span=node.span), Ty("bool")
            case ast.BoolOp(op=op, operands=ops):
                bound = tuple(self.expect(o, ent, "bool")[0] for o in ops)
                return ast.BoolOp(op, bound, span=node.span), Ty("bool")
            case ast.Not(operand=o):
                bo, _ = self.expect(o, ent, "bool")
                return ast.Not(bo, span=node.span), Ty("bool")
            case ast.Call():
                return self.call(node, ent)
            case ast.ListExpr():
                return self.err("type-mismatch", "a list can only follow 'in'", node)
            case ast.Filtered():
                return self.err("type-mismatch", "'where' can only narrow the collection of an aggregate", node)
        return self.err("type-mismatch", "unexpected expression", node)

    def expect(self, node: ast.Expr, ent: EntityDef, kind: str) -> tuple[ast.Expr, Ty]:
        bound, ty = self.bind(node, ent)
        if ty.kind not in (kind, "error", "any"):
            code = "not-boolean" if kind == "bool" else "type-mismatch"
            what = {"bool": "a true/false condition", "number": "a number", "text": "a text", "date": "a date"}
            self.err(code, f"expected {what.get(kind, kind)}, but this is {_describe(ty)}", node)
            return bound, ERROR
        return bound, ty

    def literal_like(self, node: ast.Expr, other: Ty, ent: EntityDef) -> ast.Expr:
        """Bind ``node`` to be compared with something of type ``other`` (normalising codes)."""
        if other.field is not None and other.field.codes and isinstance(node, ast.Literal):
            raw = node.value if isinstance(node.value, str) else str(node.value)
            code = other.field.code_for(raw)
            if code is None:
                spellings = [s for c in other.field.codes.values() for s in (c.code, c.zh or "", *c.aliases) if s]
                self.err(
                    "unknown-code",
                    f"{raw!r} is not a code of {other.field.name} ("
                    + ", ".join(f"{c} {other.field.code_label(c, 'zh')}".strip() for c in other.field.codes)
                    + ")",
                    node,
                    hint=did_you_mean(raw, spellings),
                )
                return node
            return ast.Literal(code, span=node.span)
        bound, ty = self.bind(node, ent)
        if ERROR not in (ty, other) and ty.kind != other.kind:
            self.err("type-mismatch", f"cannot compare {_describe(other)} with {_describe(ty)}", node)
        return bound

    def compare(self, node: ast.Compare, ent: EntityDef) -> tuple[ast.Expr, Ty]:
        left, tl = self.bind(node.left, ent)
        right = self.literal_like(node.right, tl, ent)
        if tl.field is None and isinstance(node.left, ast.Literal):  # "已脱贫" == exit_status
            _, tr = self.bind(node.right, ent)
            if tr.field is not None:
                left = self.literal_like(node.left, tr, ent)
                right = self.bind(node.right, ent)[0]
                tl = tr
        if node.op not in ("==", "!=") and tl.kind not in ("number", "date", "error"):
            self.err("type-mismatch", f"'{node.op}' needs numbers or dates, not {_describe(tl)}", node)
        return ast.Compare(node.op, left, right, span=node.span), Ty("bool")

    # ---- calls ----------------------------------------------------------------------------
    def call(self, node: ast.Call, ent: EntityDef) -> tuple[ast.Expr, Ty]:
        if node.name in AGGREGATES:
            return self.aggregate(node, ent)
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            return self.err(
                "unknown-function",
                f"unknown function {node.name!r}",
                node,
                hint=did_you_mean(node.name, [*FUNCTIONS, *AGGREGATES]),
            )
        if len(node.args) != len(fn.params):
            return self.err("bad-arity", f"{fn.name}() takes {len(fn.params)} argument(s), not {len(node.args)}", node)
        bound_args = []
        arg_types: list[Ty] = []
        first = ERROR
        for i, (arg, accepted) in enumerate(zip(node.args, fn.params, strict=True)):
            b, t = self.bind(arg, ent)
            arg_types.append(t)
            if i == 0:
                first = t
            if fn.name == "unique" and not isinstance(b, ast.FieldRef):
                self.err("bad-argument", "unique() takes a field of the record, e.g. unique(id_number)", arg)
            if i in fn.constant_args:
                if not isinstance(arg, ast.Literal):
                    self.err("bad-argument", f"{fn.name}() argument {i + 1} must be a constant (a literal)", arg)
                elif fn.check_constant is not None and (why := fn.check_constant(arg.value)) is not None:
                    self.err("bad-argument", f"{fn.name}(): {why}", arg)
            if "any" not in accepted and t.kind not in (*accepted, "error"):
                self.err(
                    "type-mismatch", f"{fn.name}() argument {i + 1} must be {' or '.join(accepted)}, not {t.kind}", arg
                )
            bound_args.append(b)
        if fn.result == "same":
            kinds = {t.kind for t in arg_types if t.kind != "error"}
            if len(kinds) > 1:
                self.err(
                    "type-mismatch",
                    f"{fn.name}() arguments must have one type, not {' and '.join(sorted(kinds))}",
                    node,
                )
        result = Ty(first.kind) if fn.result == "same" else Ty(fn.result)
        return ast.FuncCall(fn.name, tuple(bound_args), span=node.span), result

    def aggregate(self, node: ast.Call, ent: EntityDef) -> tuple[ast.Expr, Ty]:
        func = node.name
        if not node.args:
            return self.err("bad-arity", f"{func}() needs a collection, e.g. {func}(members ...)", node)
        first = node.args[0]
        coll = first.collection if isinstance(first, ast.Filtered) else first
        if not isinstance(coll, ast.Name) or coll.name not in ent.children:
            written = coll.name if isinstance(coll, ast.Name) else "this"
            return self.err(
                "unknown-collection",
                f"{written!r} is not a collection of a {ent.name}"
                + (f" (it has: {', '.join(ent.children)})" if ent.children else " (it has none)"),
                coll,
                hint=did_you_mean(written, list(ent.children)),
            )
        child = self.schema.entities[ent.children[coll.name]]
        flt = self.expect(first.condition, child, "bool")[0] if isinstance(first, ast.Filtered) else None
        rest = node.args[1:]
        arg = None
        if func in ("count", "any", "all"):
            allowed = (0, 1)
            if len(rest) not in allowed or (func in ("any", "all") and not rest and flt is None):
                return self.err("bad-arity", f"{func}() takes a collection and a condition", node)
            if rest:
                arg = self.expect(rest[0], child, "bool")[0]
            result = Ty("number") if func == "count" else Ty("bool")
        else:
            if len(rest) != 1:
                return self.err(
                    "bad-arity", f"{func}() takes a collection and a value, e.g. {func}(members, age)", node
                )
            arg, t = self.bind(rest[0], child)
            wanted = ("number",) if func == "sum" else ("number", "date")
            if t.kind not in (*wanted, "error"):
                self.err("type-mismatch", f"{func}() needs {' or '.join(wanted)} values, not {t.kind}", rest[0])
            result = Ty(t.kind if t.kind in wanted else "number")
        return ast.Aggregate(func, coll.name, child.name, flt, arg, span=node.span), result  # type: ignore[arg-type]


def _describe(ty: Ty) -> str:
    if ty.field is not None:
        return f"{ty.field.name} ({ty.field.type})"
    return {"bool": "true/false", "number": "a number", "text": "a text", "date": "a date"}.get(ty.kind, ty.kind)


def check(
    tree: ast.Expr, schema: Schema, entity: str, params: dict[str, ParamDef], *, expect: str | None = "bool"
) -> tuple[ast.Expr, Ty, list[ExprProblem]]:
    """Bind and type-check ``tree`` in the scope of ``entity``.

    Args:
        tree: a syntax tree from :func:`tuopin_rules.expr.parser.parse`.
        schema: the entity schema of the standard.
        entity: the entity kind in scope (``household`` ...).
        params: the standard's parameters.
        expect: the type the whole expression must have (``"bool"`` for conditions), or ``None``.

    Returns:
        ``(bound_tree, type, problems)``; the tree is usable only when ``problems`` is empty.
    """
    checker = _Checker(schema, params)
    ent = schema.entities[entity]
    if expect is None:
        bound, ty = checker.bind(tree, ent)
    else:
        bound, ty = checker.expect(tree, ent, expect)
    return bound, ty, checker.problems
