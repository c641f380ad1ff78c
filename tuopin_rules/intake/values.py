"""Cell values to typed values, by field type; a cell that cannot be read gives a reason, not a crash.

* text: kept as written (stripped); ID numbers and codes never pass through a number, so ``0012``
  stays ``0012`` and a trailing ``X`` survives.
* number / integer: exact decimals; full-width digits, thousands separators and stray spaces are
  accepted (``"５,２３０.５ "`` → 5230.5); JSON numbers are read through their text, never a float.
* percent: ``"2.6%"`` is 0.026; a plain number is read as the field declares
  (``percent_input``: percent points, ``2.6`` → 2.6%; or a fraction, ``0.026`` → 2.6%).
* bool: 是/否, 有/无, 对/错, true/false, yes/no, y/n, 1/0, √/×.
* code: the code, its label or an alias (normalised: full-width brackets, spaces).
* date: ``2019-12-31``, ``2019/12/31``, ``2019.12.31``, ``2019年12月31日``, ``20191231``.

A blank cell (empty, spaces, ``-``, ``/``, ``无数据``) is missing (``None``) for every type.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from tuopin_rules.entities.schema import FieldDef

__all__ = ["BLANKS", "CellError", "convert"]

BLANKS = frozenset({"", "-", "--", "—", "/", "null", "none", "n/a", "无数据", "空"})
MAX_DIGITS = 28  # significant digits a number cell may have
MAX_MAGNITUDE = 15  # a number cell's absolute value stays below 10**15 and above 10**-12 (or is 0)
_TRUE = frozenset({"是", "有", "对", "true", "yes", "y", "1", "√", "t"})
_FALSE = frozenset({"否", "无", "错", "false", "no", "n", "0", "×", "f"})
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_GROUPED = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


class CellError(ValueError):
    """A cell that cannot be read as its field's type; ``code`` is a data-issue code."""

    def __init__(self, message: str, code: str = "bad-value") -> None:
        super().__init__(message)
        self.code = code


def _text(raw: Any) -> str:
    if isinstance(raw, float):
        # a float here means a reader already lost exactness; keep its shortest repr
        return repr(raw)
    return unicodedata.normalize("NFKC", str(raw)).strip()


def _number(text: str) -> Decimal:
    cleaned = text.replace(" ", "")
    if _GROUPED.match(cleaned):
        cleaned = cleaned.replace(",", "")
    if not _NUMBER.match(cleaned):
        raise CellError(f"not a number: {text!r}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid literals
        raise CellError(f"not a number: {text!r}") from None
    digits = value.as_tuple().digits
    if value and (len(digits) > MAX_DIGITS or not Decimal("1e-12") <= abs(value) < Decimal(10) ** MAX_MAGNITUDE):
        raise CellError(f"number out of range: {text!r}")
    return value


def convert(fdef: FieldDef, raw: Any) -> Any:
    """Convert one raw cell to the typed value of ``fdef``.

    Args:
        fdef: the field the cell belongs to.
        raw: the cell as read (``str`` from CSV; ``str``/``int``/``Decimal``/``bool``/``None`` from
            JSON, where numbers are parsed as ``Decimal``).

    Returns:
        ``None`` for a blank cell, else ``str`` / ``Decimal`` / ``bool`` / ``datetime.date``.

    Raises:
        CellError: when the cell cannot be read as the field's type.

    >>> from tuopin_rules.entities.schema import base_schema
    >>> hh = base_schema().entities["household"]
    >>> convert(hh.fields["per_capita_net_income"], "５,２３０.５")
    Decimal('5230.5')
    >>> convert(hh.fields["dangerous_house"], "否")
    False
    >>> convert(hh.fields["exit_status"], "已脱贫")
    '1'
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        if fdef.type == "bool":
            return raw
        raise CellError(f"expected {fdef.type}, got true/false")
    text = _text(raw)
    if text.lower() in BLANKS:
        return None
    kind = fdef.type
    if kind == "text":
        return text
    if kind in ("number", "integer"):
        value = _number(text)
        if kind == "integer" and value != value.to_integral_value():
            raise CellError(f"expected a whole number, got {text!r}")
        return value
    if kind == "percent":
        if text.endswith("%"):
            return _number(text[:-1].strip()) / 100
        value = _number(text)
        return value / 100 if fdef.percent_input == "percent_points" else value
    if kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise CellError(f"expected 是/否 (yes/no), got {text!r}")
    if kind == "code":
        code = fdef.code_for(text)
        if code is None:
            allowed = ", ".join(fdef.code_label(c, "zh") for c in (fdef.codes or {}))
            raise CellError(f"{text!r} is not a code of {fdef.label.zh} ({allowed})", "unknown-code")
        return code
    if kind == "date":
        if isinstance(raw, dt.date):
            return raw
        m = _DATE.match(text) or _COMPACT_DATE.match(text)
        if not m:
            raise CellError(f"not a date: {text!r}")
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            raise CellError(f"not a date: {text!r} ({exc})") from None
    raise CellError(f"unsupported field type {kind}")  # pragma: no cover
