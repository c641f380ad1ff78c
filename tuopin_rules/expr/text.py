"""Text functions of the rule language, and the load-time check of regular expressions.

A pattern given to ``matches`` must be a constant; it is compiled when the standard loads, and a
pattern that is invalid, over-long, or shaped for catastrophic backtracking (a quantified group that
itself contains a quantifier, such as ``(a+)+`` or ``(\\d*)*``) is rejected there, with its position.
Texts longer than :data:`MAX_TEXT` characters never match.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

__all__ = ["MAX_PATTERN", "MAX_TEXT", "check_pattern", "ends_with", "matches", "starts_with"]

MAX_PATTERN = 200
MAX_TEXT = 1_000
# a group containing a quantifier, itself quantified: (x+)+ (x*)* (x+){2,} (x|y+)* ...
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,?\d*\})(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,\d*\})")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` is not accepted, or ``None`` if it is.

    >>> check_pattern(r"^1[3-9]\\d{9}$") is None
    True
    >>> check_pattern(r"(a+)+$")
    'the pattern nests quantifiers ((a+)+), which can take exponential time; simplify it'
    """
    if len(pattern) > MAX_PATTERN:
        return f"the pattern is longer than {MAX_PATTERN} characters"
    try:
        _compiled(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    nested = _NESTED.search(pattern)
    if nested:
        return f"the pattern nests quantifiers ({nested.group(0)}), which can take exponential time; simplify it"
    return None


def matches(args: list[Any], as_of: dt.date) -> Any:
    """True if the whole text matches the pattern (``re.fullmatch``)."""
    text, pattern = args
    text = str(text)
    if len(text) > MAX_TEXT:
        return False
    return _compiled(str(pattern)).fullmatch(text) is not None


def starts_with(args: list[Any], as_of: dt.date) -> Any:
    """True if the text starts with the prefix."""
    text, prefix = args
    return str(text).startswith(str(prefix))


def ends_with(args: list[Any], as_of: dt.date) -> Any:
    """True if the text ends with the suffix."""
    text, suffix = args
    return str(text).endswith(str(suffix))
