"""Date functions of the rule language. "Today" is always ``as_of``: nothing here reads the clock.

Dates are :class:`datetime.date`; a year-month (``"2019-12"``) is its first day. Every function is
unknown (``None``) for an unknown argument.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

from tuopin_rules.spec.models import parse_date_like

__all__ = [
    "date_of",
    "days_between",
    "end_of_month",
    "end_of_year",
    "months_between",
    "start_of_month",
    "start_of_year",
]


def date_of(args: list[Any], as_of: dt.date) -> Any:
    """``date("2020-12-31")`` / ``date("2020-06")`` / ``date("2020")``: a date constant (first day)."""
    (text,) = args
    try:
        return parse_date_like(str(text))
    except ValueError:
        return None


def months_between(args: list[Any], as_of: dt.date) -> Any:
    """Whole months from the first date to the second (negative if the second is earlier).

    A month counts once its day is reached: 2020-01-31 → 2020-02-29 is 0 months, → 2020-03-31 is 2.

    >>> months_between([dt.date(2020, 1, 15), dt.date(2020, 7, 15)], dt.date(2021, 1, 1))
    Decimal('6')
    >>> months_between([dt.date(2020, 1, 31), dt.date(2020, 2, 29)], dt.date(2021, 1, 1))
    Decimal('0')
    """
    a, b = args
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if b.day < a.day:
        months -= 1
    return Decimal(sign * months)


def days_between(args: list[Any], as_of: dt.date) -> Any:
    """Days from the first date to the second (negative if the second is earlier)."""
    a, b = args
    return Decimal((b - a).days)


def start_of_year(args: list[Any], as_of: dt.date) -> Any:
    """1 January of the date's year."""
    (d,) = args
    return dt.date(d.year, 1, 1)


def end_of_year(args: list[Any], as_of: dt.date) -> Any:
    """31 December of the date's year."""
    (d,) = args
    return dt.date(d.year, 12, 31)


def start_of_month(args: list[Any], as_of: dt.date) -> Any:
    """The first day of the date's month."""
    (d,) = args
    return dt.date(d.year, d.month, 1)


def end_of_month(args: list[Any], as_of: dt.date) -> Any:
    """The last day of the date's month."""
    (d,) = args
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])
