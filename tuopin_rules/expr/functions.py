"""The fixed table of functions the rule language may call.

Each function declares its argument types and result type (checked when a standard loads) and a
scalar implementation. Implementations get ``None`` for unknown arguments and return ``None`` when
the result is unknown — except ``is_blank``, which exists to test for missing data and is never
unknown. No function can reach files, the network or the clock: "today" is always ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tuopin_rules.expr import calendar, text

__all__ = ["FUNCTIONS", "Function", "age_at", "birth_date_from_id", "id_check_digit", "id_number_valid"]

Value = Any  # Decimal | bool | str | date | None
Impl = Callable[[list[Value], dt.date], Value]


@dataclass(frozen=True)
class Function:
    """A callable of the rule language.

    Attributes:
        name: as written in expressions.
        params: accepted types per argument (``"any"`` accepts everything); ``("text", "date")``
            means either.
        result: result type, or ``"same"`` for the type of the first argument.
        impl: the scalar implementation ``(args, as_of) -> value``.
        doc: one line for docs/language.md.
        total: True if the function is defined on unknown arguments (never returns unknown).
        vector: the vectorised implementation over columns, for the batch engine (``None``: the batch
            engine falls back to the scalar one row by row).
        constant_args: positions of arguments that must be literals (checked when the standard loads).
        check_constant: validates those literals at load time; returns why one is refused, or ``None``.
    """

    name: str
    params: tuple[tuple[str, ...], ...]
    result: str
    impl: Impl
    doc: str
    total: bool = False
    vector: Callable[..., Any] | None = None
    constant_args: tuple[int, ...] = ()
    check_constant: Callable[[Any], str | None] | None = None


def birth_date_from_id(id_number: str) -> dt.date | None:
    """The birth date encoded in a citizen ID number (GB 11643-1999; 15 or 18 characters).

    >>> birth_date_from_id("11010519491231002X")
    datetime.date(1949, 12, 31)
    >>> birth_date_from_id("110105491231002")
    datetime.date(1949, 12, 31)
    >>> birth_date_from_id("1101051949") is None
    True
    """
    text = id_number.strip()
    try:
        if len(text) == 18:
            return dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
        if len(text) == 15:
            return dt.date(1900 + int(text[6:8]), int(text[8:10]), int(text[10:12]))
    except ValueError:
        return None
    return None


#: GB 11643-1999 check digit: weights of the 17 body digits (2**(17-i) mod 11) and the check
#: character for each remainder of the weighted sum mod 11 (ISO 7064 MOD 11-2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_18 = re.compile(r"[0-9]{17}[0-9Xx]")
_ID_15 = re.compile(r"[0-9]{15}")


def id_check_digit(body: str) -> str:
    """The check character (``0``-``9`` or ``X``) of the 17 body digits of a citizen ID number.

    >>> id_check_digit("11010519491231002")
    'X'
    >>> id_check_digit("44052418800101001")
    '4'
    """
    if not re.fullmatch(r"[0-9]{17}", body):
        raise ValueError(f"expected 17 ASCII digits, not {body!r}")
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def id_number_valid(id_number: str) -> bool:
    """True if ``id_number`` is a well-formed citizen ID number (GB 11643-1999).

    18 characters: 17 ASCII digits whose characters 7-14 are a real date (YYYYMMDD), then the
    MOD 11-2 check character (``X`` may be written ``x``). 15 characters (the pre-1999 form):
    15 ASCII digits whose characters 7-12 are a real date in the 1900s (YYMMDD); it has no check
    digit. Surrounding spaces are ignored; anything else (other lengths, full-width digits, inner
    spaces) is not valid. The address code and the birth date's plausibility are not checked.

    >>> id_number_valid("11010519491231002X"), id_number_valid("110105194912310021")
    (True, False)
    >>> id_number_valid("110105491231002"), id_number_valid("110105491331002")
    (True, False)
    """
    text = id_number.strip()
    if _ID_18.fullmatch(text):
        return birth_date_from_id(text) is not None and id_check_digit(text[:17]) == text[17].upper()
    if _ID_15.fullmatch(text):
        return birth_date_from_id(text) is not None
    return False


def age_at(born: dt.date, as_of: dt.date) -> int:
    """Whole years from ``born`` to ``as_of`` (a birthday on ``as_of`` counts).

    >>> age_at(dt.date(2008, 12, 31), dt.date(2020, 12, 31))
    12
    >>> age_at(dt.date(2009, 1, 1), dt.date(2020, 12, 31))
    11
    """
    return as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))


def _age(args: list[Value], as_of: dt.date) -> Value:
    (x,) = args
    if x is None:
        return None
    born = x if isinstance(x, dt.date) else birth_date_from_id(str(x))
    if born is None or born > as_of:
        return None
    return Decimal(age_at(born, as_of))


def _is_blank(args: list[Value], as_of: dt.date) -> Value:
    (x,) = args
    return x is None or (isinstance(x, str) and not x.strip())


def _coalesce(args: list[Value], as_of: dt.date) -> Value:
    return next((a for a in args if a is not None), None)


def _abs(args: list[Value], as_of: dt.date) -> Value:
    (x,) = args
    return None if x is None else abs(x)


def _round(args: list[Value], as_of: dt.date) -> Value:
    x, places = args
    if x is None or places is None:
        return None
    return Decimal(x).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


def _year(args: list[Value], as_of: dt.date) -> Value:
    (x,) = args
    return None if x is None else Decimal(x.year)


def _length(args: list[Value], as_of: dt.date) -> Value:
    (x,) = args
    return None if x is None else Decimal(len(str(x)))


def _id_number_valid(args: list[Value], as_of: dt.date) -> Value:
    (x,) = args
    return None if x is None else id_number_valid(str(x))


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "age",
            (("text", "date"),),
            "number",
            _age,
            "whole years at `as_of` from a birth date or a citizen ID number; unknown if unreadable",
        ),
        Function(
            "is_blank",
            (("any",),),
            "bool",
            _is_blank,
            "true if the value is missing or empty (unknown if the cell was there but unreadable)",
            total=True,
        ),
        Function("coalesce", (("any",), ("any",)), "same", _coalesce, "the first argument that is known"),
        Function("abs", (("number",),), "number", _abs, "absolute value"),
        Function("round", (("number",), ("number",)), "number", _round, "round half up to N decimal places"),
        Function("year", (("date",),), "number", _year, "the year of a date"),
        Function("length", (("text",),), "number", _length, "number of characters of a text"),
        Function(
            "id_number_valid",
            (("text",),),
            "bool",
            _id_number_valid,
            "true if a text is a well-formed citizen ID number (GB 11643-1999: 18 characters with a valid"
            " birth date and MOD 11-2 check digit, or the old 15-digit form with a valid birth date)",
        ),
    )
}


def _register(*fns: Function) -> None:
    for fn in fns:
        FUNCTIONS[fn.name] = fn


def _check_date(text: Any) -> str | None:
    from tuopin_rules.spec.models import parse_date_like

    try:
        parse_date_like(str(text))
    except ValueError as exc:
        return str(exc)
    return None


_register(
    Function(
        "date",
        (("text",),),
        "date",
        calendar.date_of,
        'a date constant: date("2020-12-31"), date("2020-06") (its first day), date("2020")',
        constant_args=(0,),
        check_constant=_check_date,
    ),
    Function(
        "months_between",
        (("date",), ("date",)),
        "number",
        calendar.months_between,
        "whole months from the first date to the second (a month counts once its day is reached)",
    ),
    Function(
        "days_between",
        (("date",), ("date",)),
        "number",
        calendar.days_between,
        "days from the first date to the second",
    ),
    Function("start_of_year", (("date",),), "date", calendar.start_of_year, "1 January of the date's year"),
    Function("end_of_year", (("date",),), "date", calendar.end_of_year, "31 December of the date's year"),
    Function("start_of_month", (("date",),), "date", calendar.start_of_month, "the first day of the date's month"),
    Function("end_of_month", (("date",),), "date", calendar.end_of_month, "the last day of the date's month"),
    Function(
        "matches",
        (("text",), ("text",)),
        "bool",
        text.matches,
        "true if the whole text matches a regular expression (a constant, checked when the standard loads)",
        constant_args=(1,),
        check_constant=lambda p: text.check_pattern(str(p)),
    ),
    Function(
        "unique",
        (("any",),),
        "bool",
        lambda args, as_of: True,  # evaluated by the engine against the record's whole table
        "true if no other record of the data set has the same value of this field (the others are named)",
    ),
    Function("starts_with", (("text",), ("text",)), "bool", text.starts_with, "true if the text starts with a prefix"),
    Function("ends_with", (("text",), ("text",)), "bool", text.ends_with, "true if the text ends with a suffix"),
)

#: aggregate functions over a child collection (checked and evaluated specially)
AGGREGATES: frozenset[str] = frozenset({"count", "any", "all", "sum", "min", "max"})
