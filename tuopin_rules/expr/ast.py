"""The expression tree of the rule language.

Nodes are frozen dataclasses. ``span`` is the ``(start, end)`` character offset of the node in its
expression text (used to point diagnostics at a column); it does not take part in equality, so two
trees parsed from differently spaced text compare equal.

The parser produces the *syntax* tree (:class:`Name` for every identifier, :class:`Call` for every
call). The type checker produces the *bound* tree, in which names became :class:`FieldRef`,
:class:`ParamRef` or :class:`Special`, and aggregate calls became :class:`Aggregate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal as TLiteral
from typing import TypeAlias

Span = tuple[int, int]
CompareOp = TLiteral["==", "!=", "<", "<=", ">", ">="]
ArithOp = TLiteral["+", "-", "*", "/"]


@dataclass(frozen=True)
class Literal:
    """A constant: ``Decimal`` (numbers; ``percent=True`` for ``2%``), ``bool`` or ``str``."""

    value: Decimal | bool | str
    percent: bool = False
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Name:
    """An identifier as written: a field (English name or Chinese alias), parameter or special."""

    name: str
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Path:
    """``household.exit_status``: a field of a related record (the parent, or a household's head)."""

    names: tuple[str, ...]
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class ListExpr:
    """``[a, b, c]`` (only as the right side of ``in``)."""

    items: tuple[Expr, ...]
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Neg:
    """Unary minus."""

    operand: Expr
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Arith:
    """``left op right`` with op in ``+ - * /`` (exact decimal arithmetic)."""

    op: ArithOp
    left: Expr
    right: Expr
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op in ``== != < <= > >=``."""

    op: CompareOp
    left: Expr
    right: Expr
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Between:
    """``operand between low and high`` (both bounds inclusive)."""

    operand: Expr
    low: Expr
    high: Expr
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class In:
    """``operand in [..]`` or, with ``negated``, ``operand not in [..]``."""

    operand: Expr
    items: ListExpr
    negated: bool = False
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class BoolOp:
    """``a and b and ...`` / ``a or b or ...`` (Kleene three-valued logic)."""

    op: TLiteral["and", "or"]
    operands: tuple[Expr, ...]
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Not:
    """``not operand`` (Kleene: not unknown is unknown)."""

    operand: Expr
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Filtered:
    """``members where cond`` — a child collection narrowed by a condition (aggregate argument)."""

    collection: Name
    condition: Expr
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Call:
    """``name(args...)``: a function or an aggregate, resolved by the type checker."""

    name: str
    args: tuple[Expr, ...]
    span: Span = field(default=(0, 0), compare=False)


# ---- bound nodes (produced by the type checker) -------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """A field of the entity in scope (``entity``), as resolved from a name or alias."""

    entity: str
    name: str
    written: str
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class ParamRef:
    """A parameter of the standard, looked up by ``as_of`` (and by a record field if it has ``by``)."""

    name: str
    written: str
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Special:
    """``as_of`` (a date) or ``as_of_year`` (a number): the only notion of "now" a rule has."""

    name: TLiteral["as_of", "as_of_year"]
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Related:
    """A field of a record reached through ``relations`` from the record in scope.

    ``relations`` are ``household`` / ``village`` / ``county`` (the parent link) or ``head`` (a
    household's head of household among its members). ``target`` is bound in the reached entity.
    """

    relations: tuple[str, ...]
    target: FieldRef
    written: str
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Aggregate:
    """``func(collection [where filter] [, arg])`` over the child entity ``child``.

    ``func`` is one of count, any, all, sum, min, max. For count/any/all ``arg`` is a condition
    (optional for count); for sum/min/max it is the value summed or compared.
    """

    func: TLiteral["count", "any", "all", "sum", "min", "max"]
    collection: str
    child: str
    filter: Expr | None
    arg: Expr | None
    span: Span = field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class FuncCall:
    """A call of a function from the function table (see :mod:`tuopin_rules.expr.functions`)."""

    name: str
    args: tuple[Expr, ...]
    span: Span = field(default=(0, 0), compare=False)


Expr: TypeAlias = (
    Literal
    | Name
    | Path
    | Related
    | ListExpr
    | Neg
    | Arith
    | Compare
    | Between
    | In
    | BoolOp
    | Not
    | Filtered
    | Call
    | FieldRef
    | ParamRef
    | Special
    | Aggregate
    | FuncCall
)


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node``, in source order."""
    match node:
        case Neg(operand=o) | Not(operand=o):
            return (o,)
        case Arith(left=a, right=b) | Compare(left=a, right=b):
            return (a, b)
        case Between(operand=a, low=b, high=c):
            return (a, b, c)
        case In(operand=a, items=items):
            return (a, *items.items)
        case BoolOp(operands=ops):
            return ops
        case ListExpr(items=items):
            return items
        case Filtered(collection=c, condition=cond):
            return (c, cond)
        case Call(args=args) | FuncCall(args=args):
            return args
        case Aggregate(filter=f, arg=a):
            return tuple(x for x in (f, a) if x is not None)
        case Related(target=t):
            return (t,)
    return ()


def walk(node: Expr) -> list[Expr]:
    """``node`` and all its descendants, depth first, in source order."""
    out = [node]
    for child in children(node):
        out.extend(walk(child))
    return out


def top_level(node: Expr) -> list[Expr]:
    """``node`` and its descendants in the scope of the record itself (not inside aggregates or
    related records)."""
    out = [node]
    if isinstance(node, (Aggregate, Related)):
        return out
    for child in children(node):
        out.extend(top_level(child))
    return out
