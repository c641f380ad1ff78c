"""Compile one expression written in a YAML file: parse, type-check, and place every problem at its
line and column in that file (also inside quoted, folded and block scalars)."""

from __future__ import annotations

from typing import Any

from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import Diagnostic, Position, did_you_mean
from tuopin_rules.expr import ast
from tuopin_rules.expr.check import check
from tuopin_rules.expr.parser import ExprSyntaxError, parse
from tuopin_rules.resolve.compose import At
from tuopin_rules.resolve.params import ParamDef
from tuopin_rules.source import SourceDoc

__all__ = ["ExpressionCompiler", "expr_position"]


def expr_position(doc: SourceDoc, at: At, text: str, offset: int, length: int) -> Position | None:
    """Map a character offset in the expression written at ``at`` to a file position."""
    base = doc.position(at.path)
    if base is None:
        return None
    line_text = doc.line(base.line)
    start = base.col - 1
    for lead in (0, 1):  # plain, or quoted
        if line_text[start + lead : start + lead + len(text)] == text:
            col = start + lead + offset + 1
            return Position(base.line, col, col + length)
    # a multi-line value (block, folded or flowed scalar): find the offending token itself,
    # counting earlier occurrences of it in the expression
    token = text[offset : offset + length].strip() or text[offset : offset + 1]
    nth = text[:offset].count(token) if token else 0
    seen = 0
    for n in range(base.line, base.line + text.count("\n") + text.count(" ") + 2):
        line = doc.line(n)
        start_at = base.col - 1 if n == base.line else 0
        idx = line.find(token, start_at) if token else -1
        while idx >= 0:
            if seen == nth:
                return Position(n, idx + 1, idx + 1 + length)
            seen += 1
            idx = line.find(token, idx + 1)
    return base


class ExpressionCompiler:
    """Compiles expressions against a schema and parameters, collecting located problems."""

    def __init__(self, schema: Schema, params: dict[str, ParamDef], problems: list[Diagnostic]) -> None:
        self.schema = schema
        self.params = params
        self.problems = problems

    def diag(self, at: At, text: str, code: str, message: str, span: tuple[int, int], hint: str | None) -> None:
        length = max(1, span[1] - span[0])
        pos = expr_position(at.doc, at, text, span[0], length)
        self.problems.append(at.doc.diagnostic(code, message, at.path, hint=hint, position=pos))

    def compile(self, raw: Any, at: At, entity: str, expect: str | None) -> ast.Expr | None:
        """Compile a text expression, or a structured ``all:``/``any:``/``not:`` condition.

        Returns the bound tree, or ``None`` after recording the problems.
        """
        if isinstance(raw, bool) and expect == "bool":
            return ast.Literal(raw)
        if isinstance(raw, dict) and expect == "bool":
            return self.structured(raw, at, entity)
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            self.problems.append(at.diagnostic("invalid-value", "expected an expression (text)"))
            return None
        text = str(raw)
        try:
            tree = parse(text)
        except ExprSyntaxError as exc:
            self.diag(at, text, "expr-syntax", exc.message, (exc.offset, exc.offset + exc.length), exc.hint)
            return None
        bound, _, problems = check(tree, self.schema, entity, self.params, expect=expect)
        for p in problems:
            self.diag(at, text, p.code, p.message, p.span, p.hint)
        return bound if not problems else None

    def structured(self, raw: dict[Any, Any], at: At, entity: str) -> ast.Expr | None:
        if len(raw) != 1 or next(iter(raw)) not in ("all", "any", "not"):
            keys = ", ".join(map(str, raw)) or "nothing"
            hint = did_you_mean(str(next(iter(raw))), ["all", "any", "not"]) if len(raw) == 1 else None
            self.problems.append(
                at.diagnostic(
                    "invalid-value",
                    f"a structured condition has exactly one of all:, any:, not: (got {keys})",
                    hint=hint or "split it: put one condition inside the other, e.g. all: [..., {any: [...]}]",
                )
            )
            return None
        ((op, body),) = raw.items()
        if op == "not":
            inner = self.compile(body, At(at.doc, (*at.path, "not")), entity, "bool")
            return ast.Not(inner) if inner is not None else None
        if not isinstance(body, list) or not body:
            self.problems.append(
                At(at.doc, (*at.path, op)).diagnostic("invalid-value", f"'{op}:' needs a non-empty list")
            )
            return None
        parts = [self.compile(item, At(at.doc, (*at.path, op, i)), entity, "bool") for i, item in enumerate(body)]
        if any(p is None for p in parts):
            return None
        items = tuple(p for p in parts if p is not None)
        return items[0] if len(items) == 1 else ast.BoolOp("and" if op == "all" else "or", items)
