"""The lowered form of a node, and small helpers shared by the lowering and the batch engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce

import polars as pl

__all__ = ["COMPARE", "AggColumns", "Low", "any_of", "first_of", "odd"]


@dataclass
class Low:
    """A lowered node.

    Attributes:
        value: the node's value (numbers in half-units, see :mod:`~tuopin_rules.evaluate.frames`).
        kind: ``num`` / ``bool`` / ``text`` / ``date``.
        exact: statically known to hold no inexact (odd) number.
        missing: the first missing path (``U``/``M`` + path) when the value is null; ``None`` if never.
        divzero: true where a division by zero was noted; ``None`` if never.
    """

    value: pl.Expr
    kind: str
    exact: bool = True
    missing: pl.Expr | None = None
    divzero: pl.Expr | None = None
    level: int = 0


@dataclass(frozen=True)
class AggColumns:
    """The columns an aggregate was computed into (joined onto the parent table)."""

    value: str
    missing: str
    kind: str
    exact: bool


def first_of(exprs: Sequence[pl.Expr | None]) -> pl.Expr | None:
    """The first non-null of several optional expressions (``None`` if there are none)."""
    present = [e for e in exprs if e is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else pl.coalesce(present)


def any_of(exprs: Sequence[pl.Expr | None]) -> pl.Expr | None:
    """True where any of several optional boolean expressions is true (nulls count as false)."""
    present = [e.fill_null(False) for e in exprs if e is not None]
    return reduce(lambda a, b: a | b, present) if present else None


def odd(e: pl.Expr) -> pl.Expr:
    return (e % 2) != 0


COMPARE: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
