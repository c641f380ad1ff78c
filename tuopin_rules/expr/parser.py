"""Parse rule-language text into the syntax tree, and print a tree back to text.

The grammar lives in ``grammar.lark`` (an LALR(1) grammar run by lark). Nothing is ever ``eval``-ed:
the text becomes a tree of :mod:`tuopin_rules.expr.ast` nodes and only our evaluators interpret it.

>>> tree = parse("per_capita_net_income > poverty_line and not dangerous_house")
>>> to_text(tree)
'per_capita_net_income > poverty_line and not dangerous_house'
>>> to_text(parse("count(members where age between 6 and 15) >= 1"))
'count(members where age between 6 and 15) >= 1'
"""

from __future__ import annotations

import functools
from decimal import Decimal
from importlib import resources
from typing import Any

import lark
from lark import Token, Transformer, v_args

from tuopin_rules.expr import ast

__all__ = ["ExprSyntaxError", "parse", "to_text"]

KEYWORDS = frozenset({"and", "or", "not", "in", "between", "where", "true", "false"})
MAX_DEPTH = 64  # nesting levels of one expression (a readable rule needs far fewer)
MAX_LENGTH = 10_000  # characters of one expression


class ExprSyntaxError(Exception):
    """An expression cannot be parsed.

    Attributes:
        message: what went wrong, in words.
        offset: 0-based character offset of the problem in the expression text.
        length: how many characters the problem spans (at least 1).
        hint: a suggestion, or ``None``.
    """

    def __init__(self, message: str, offset: int, length: int = 1, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.length = max(1, length)
        self.hint = hint


@functools.cache
def _parser() -> lark.Lark:
    grammar = resources.files("tuopin_rules.expr").joinpath("grammar.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _span(meta: Any) -> ast.Span:
    if getattr(meta, "empty", True):
        return (0, 0)
    return (meta.start_pos, meta.end_pos)


def _tok_span(tok: Token) -> ast.Span:
    start = tok.start_pos or 0
    return (start, start + len(tok))


@v_args(meta=True)
class _Build(Transformer[Token, ast.Expr]):
    def number(self, meta: Any, children: list[Token]) -> ast.Expr:
        return ast.Literal(Decimal(str(children[0])), span=_span(meta))

    def percent(self, meta: Any, children: list[Token]) -> ast.Expr:
        digits = Decimal(str(children[0])[:-1])
        return ast.Literal(digits / 100, percent=True, span=_span(meta))

    def string(self, meta: Any, children: list[Token]) -> ast.Expr:
        return ast.Literal(str(children[0])[1:-1], span=_span(meta))

    def true(self, meta: Any, children: list[Any]) -> ast.Expr:
        return ast.Literal(True, span=_span(meta))

    def false(self, meta: Any, children: list[Any]) -> ast.Expr:
        return ast.Literal(False, span=_span(meta))

    def name(self, meta: Any, children: list[Token]) -> ast.Expr:
        return ast.Name(str(children[0]), span=_span(meta))

    def path(self, meta: Any, children: list[Token]) -> ast.Expr:
        return ast.Path(tuple(str(c) for c in children), span=_span(meta))

    def list_lit(self, meta: Any, children: list[ast.Expr]) -> ast.Expr:
        return ast.ListExpr(tuple(c for c in children if c is not None), span=_span(meta))

    def neg(self, meta: Any, children: list[ast.Expr]) -> ast.Expr:
        return ast.Neg(children[0], span=_span(meta))

    def arith(self, meta: Any, children: list[Any]) -> ast.Expr:
        left, op, right = children
        return ast.Arith(str(op), left, right, span=_span(meta))  # type: ignore[arg-type]

    def compare(self, meta: Any, children: list[Any]) -> ast.Expr:
        left, op, right = children
        return ast.Compare(str(op), left, right, span=_span(meta))  # type: ignore[arg-type]

    def between(self, meta: Any, children: list[ast.Expr]) -> ast.Expr:
        return ast.Between(children[0], children[1], children[2], span=_span(meta))

    def in_op(self, meta: Any, children: list[Any]) -> ast.Expr:
        return ast.In(children[0], children[1], negated=False, span=_span(meta))

    def not_in_op(self, meta: Any, children: list[Any]) -> ast.Expr:
        return ast.In(children[0], children[1], negated=True, span=_span(meta))

    def and_op(self, meta: Any, children: list[ast.Expr]) -> ast.Expr:
        return ast.BoolOp("and", tuple(children), span=_span(meta))

    def or_op(self, meta: Any, children: list[ast.Expr]) -> ast.Expr:
        return ast.BoolOp("or", tuple(children), span=_span(meta))

    def not_op(self, meta: Any, children: list[ast.Expr]) -> ast.Expr:
        return ast.Not(children[0], span=_span(meta))

    def filtered(self, meta: Any, children: list[Any]) -> ast.Expr:
        tok = children[0]
        return ast.Filtered(ast.Name(str(tok), span=_tok_span(tok)), children[1], span=_span(meta))

    def call(self, meta: Any, children: list[Any]) -> ast.Expr:
        name = str(children[0])
        args = tuple(c for c in children[1:] if c is not None)
        return ast.Call(name, args, span=_span(meta))


def parse(text: str) -> ast.Expr:
    """Parse one expression.

    Args:
        text: the expression, e.g. ``"per_capita_net_income > poverty_line"``.

    Returns:
        The syntax tree (names not yet resolved; see :func:`tuopin_rules.expr.check`).

    Raises:
        ExprSyntaxError: with the 0-based offset of the offending character.
    """
    if not text.strip():
        raise ExprSyntaxError("the expression is empty", 0)
    if len(text) > MAX_LENGTH:
        raise ExprSyntaxError(f"the expression is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as exc:
        pos = exc.pos_in_stream or 0
        raise ExprSyntaxError(f"unexpected character {text[pos]!r}", pos, hint=_char_hint(text, pos)) from None
    except lark.exceptions.UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise ExprSyntaxError(
                "the expression ends too early", len(text.rstrip()), hint=_expected_hint(exc.expected)
            ) from None
        start = tok.start_pos or 0
        what = f"keyword {str(tok)!r}" if str(tok) in KEYWORDS else repr(str(tok))
        raise ExprSyntaxError(f"unexpected {what}", start, len(str(tok)), hint=_expected_hint(exc.expected)) from None
    except lark.exceptions.UnexpectedEOF as exc:  # pragma: no cover - LALR reports UnexpectedToken
        raise ExprSyntaxError("the expression ends too early", len(text), hint=_expected_hint(exc.expected)) from None
    if _depth(tree) > MAX_DEPTH:
        raise ExprSyntaxError(
            f"the expression is nested more than {MAX_DEPTH} levels deep", 0, len(text), hint="split it into rules"
        )
    return _Build().transform(tree)


def _depth(tree: lark.Tree[Token]) -> int:
    """Nesting depth of a parse tree, without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, lark.Tree))
    return deepest


_EXPECTED_WORDS = {
    "RPAR": "')'",
    "RSQB": "']'",
    "COMMA": "','",
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a quoted text",
    "COMP_OP": "a comparison",
    "AND": "'and'",
}


def _expected_hint(expected: Any) -> str | None:
    words = sorted({_EXPECTED_WORDS[e] for e in expected or () if e in _EXPECTED_WORDS})
    return f"expected {', '.join(words)}" if words else None


def _char_hint(text: str, pos: int) -> str | None:
    ch = text[pos]
    if ch == "=":
        return "use '==' to compare"
    if ch in "“”‘’":
        return "use plain quotes \" or ' around text"
    if ch in "（）":
        return "use ASCII parentheses ( )"
    if ch in "，":
        return "use an ASCII comma ,"
    if ch == "&":
        return "write 'and'"
    if ch == "|":
        return "write 'or'"
    if ch == "!":
        return "write 'not' (or '!=' to compare)"
    return None


# ---- printing -------------------------------------------------------------------------------

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "atom": 8}


def _prec(node: ast.Expr) -> int:
    match node:
        case ast.BoolOp(op=op):
            return _PREC[op]
        case ast.Not():
            return _PREC["not"]
        case ast.Compare() | ast.Between() | ast.In():
            return _PREC["cmp"]
        case ast.Arith(op=op):
            return _PREC[op]
        case ast.Neg():
            return _PREC["neg"]
    return _PREC["atom"]


def _wrap(node: ast.Expr, above: int, *, strict: bool = False) -> str:
    text = to_text(node)
    p = _prec(node)
    return f"({text})" if p < above or (strict and p == above) else text


def _number(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_text(node: ast.Expr) -> str:
    """Print a (syntax or bound) tree as canonical rule-language text.

    ``parse(to_text(t)) == t`` for every syntax tree ``t`` (spans aside).
    """
    match node:
        case ast.Literal(value=bool() as b):
            return "true" if b else "false"
        case ast.Literal(value=Decimal() as d, percent=True):
            return _number(d * 100) + "%"
        case ast.Literal(value=Decimal() as d):
            return _number(d)
        case ast.Literal(value=str() as s):
            return f"'{s}'" if '"' in s else f'"{s}"'
        case ast.Name(name=n):
            return n
        case ast.Path(names=names):
            return ".".join(names)
        case ast.Related(written=w):
            return w
        case ast.FieldRef(written=w) | ast.ParamRef(written=w):
            return w
        case ast.Special(name=n):
            return n
        case ast.ListExpr(items=items):
            return "[" + ", ".join(to_text(i) for i in items) + "]"
        case ast.Neg(operand=o):
            return "-" + _wrap(o, _PREC["neg"])
        case ast.Arith(op=op, left=a, right=b):
            p = _PREC[op]
            return f"{_wrap(a, p)} {op} {_wrap(b, p, strict=True)}"
        case ast.Compare(op=op, left=a, right=b):
            p = _PREC["cmp"]
            return f"{_wrap(a, p, strict=True)} {op} {_wrap(b, p, strict=True)}"
        case ast.Between(operand=a, low=lo, high=hi):
            p = _PREC["cmp"]
            return f"{_wrap(a, p, strict=True)} between {_wrap(lo, p, strict=True)} and {_wrap(hi, p, strict=True)}"
        case ast.In(operand=a, items=items, negated=neg):
            word = "not in" if neg else "in"
            return f"{_wrap(a, _PREC['cmp'], strict=True)} {word} {to_text(items)}"
        case ast.BoolOp(op=op, operands=ops):
            p = _PREC[op]
            return f" {op} ".join(_wrap(o, p, strict=True) for o in ops)
        case ast.Not(operand=o):
            return "not " + _wrap(o, _PREC["not"])
        case ast.Filtered(collection=c, condition=cond):
            return f"{c.name} where {to_text(cond)}"
        case ast.Call(name=n, args=args) | ast.FuncCall(name=n, args=args):
            return f"{n}(" + ", ".join(to_text(a) for a in args) + ")"
        case ast.Aggregate(func=f, collection=c, filter=flt, arg=arg):
            first = f"{c} where {to_text(flt)}" if flt is not None else c
            rest = f", {to_text(arg)}" if arg is not None else ""
            return f"{f}({first}{rest})"
    raise TypeError(f"not an expression node: {node!r}")
