"""Cell values to typed values, by field type; a cell that cannot be read gives a reason, not a crash.

* text: kept as written (stripped); ID numbers and codes never pass through a number, so ``0012``
  stays ``0012`` and a trailing ``X`` survives.
* number / integer: exact decimals; full-width digits, thousands separators, stray spaces and the
  field's own unit (``4,100元``, ``3人``) are accepted (``"５,２３０.５ "`` → 5230.5); JSON numbers are
  read through their text, never a float.
* percent: ``"2.6%"`` is 0.026; a plain number is read as the field declares
  (``percent_input``: percent points, ``2.6`` → 2.6%; or a fraction, ``0.026`` → 2.6%).
* bool: 是/否, 有/无, 对/错, true/false, yes/no, y/n, 1/0, √/×.
* code: the code, its label or an alias (normalised: full-width brackets, spaces).
* date: ``2019-12-31``, ``2019/12/31``, ``2019.12.31``, ``2019年12月31日``, ``20191231``; a year and
  month alone (``2019.12``, ``2019-12``, ``2019年12月``) is the first day of that month.

A blank cell (empty, spaces, ``-``, ``/``, ``无数据``) is missing (``None``) for every type; a
spreadsheet error (``#N/A``, ``#DIV/0!``, ``#REF!`` …, as Excel writes a failed formula) is
unreadable in every field — never a code, a name or an ID.

Cells of spreadsheets and Parquet files that hold a number (not text) arrive as
:class:`StoredNumber`, which keeps the cell's number format:

* in a percent field, a cell formatted as a percentage is the fraction it stores (0.02 shown as
  ``2%`` is 2%); without that format the field's ``percent_input`` applies;
* in a text field (codes, ID numbers) an integer is its digits, padded to a zero format such as
  ``0000`` (12 shown as ``0012`` is ``0012``); a stored number of more than 15 significant digits was
  rounded by Excel (an 18-digit ID number) and is refused (``lost-precision``);
* floats are read to 15 significant digits, as Excel shows them (0.1 + 0.2 is 0.3);
* in a date field, a plain number is an Excel serial date (1900 date system, or 1904 when the
  workbook says so); cells with a date format are already dates. Only date fields read serials.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tuopin_rules.entities.schema import FieldDef

__all__ = ["BLANKS", "CellError", "StoredNumber", "UnstoredFormula", "convert"]

#: a cell holding one of these is a failed formula (VLOOKUP's #N/A…), never a value, in any field
SPREADSHEET_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"})
BLANKS = frozenset({"", "-", "--", "—", "/", "null", "none", "n/a", "无数据", "空"})
MAX_DIGITS = 28  # significant digits a number cell may have
MAX_MAGNITUDE = 15  # a number cell's absolute value stays below 10**15 and above 10**-12 (or is 0)
_TRUE = frozenset({"是", "有", "对", "true", "yes", "y", "1", "√", "t"})
_FALSE = frozenset({"否", "无", "错", "false", "no", "n", "0", "×", "f"})
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_GROUPED = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
_ZERO_FORMAT = re.compile(r"^0+$")
_QUOTED = re.compile(r'"[^"]*"|\\.')
EXCEL_DIGITS = 15  # significant digits Excel keeps in a number cell
_SERIAL_MAX = 2958465  # 9999-12-31 in the 1900 date system


@dataclass(frozen=True, slots=True)
class StoredNumber:
    """A cell that a spreadsheet or Parquet file stored as a number, with its number format.

    Attributes:
        value: the number as the file stores it (``int`` when the file wrote an integer literal).
        number_format: the cell's Excel number format (``General``, ``0.00%``, ``0000``...).
        epoch_1904: True when the workbook uses the 1904 date system.
    """

    value: int | float | Decimal
    number_format: str = "General"
    epoch_1904: bool = False

    @property
    def is_percent(self) -> bool:
        """True when the number format shows the value as a percentage."""
        return "%" in _QUOTED.sub("", self.number_format)

    def decimal(self) -> Decimal:
        """The value as an exact decimal (a float to the 15 significant digits Excel shows)."""
        v = self.value
        if isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")):
                raise CellError(f"not a number: {v!r}")
            return Decimal(f"{v:.{EXCEL_DIGITS}g}")
        return Decimal(v)

    def text(self) -> str:
        """The digits a text field reads (integers padded to a ``0000`` format).

        Raises:
            CellError: a float with more significant digits than Excel keeps (``lost-precision``).
        """
        v = self.value
        if isinstance(v, float) and v.is_integer() and abs(v) >= 10**EXCEL_DIGITS:
            raise CellError(
                f"stored as the number {int(v)}: Excel keeps only {EXCEL_DIGITS} significant digits,"
                " so the last digits of this code or ID number are lost; store the column as text",
                "lost-precision",
            )
        d = self.decimal()
        if d == d.to_integral_value():
            digits = str(int(d))
            fmt = self.number_format.strip()
            return digits.zfill(len(fmt)) if _ZERO_FORMAT.match(fmt) else digits
        return format(d.normalize(), "f")

    def __str__(self) -> str:
        try:
            return self.text()
        except CellError:
            return repr(self.value)


class UnstoredFormula(str):
    """A workbook cell holding a formula (the text, ``=E2*10000``) whose result the file does not
    store: unreadable in every field, never blank."""

    __slots__ = ()


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
    if isinstance(raw, UnstoredFormula):
        raise CellError(
            f"the formula {raw} has no stored result in the file (written by a program, never opened in"
            " Excel): open and save it in Excel or WPS, or export values"
        )
    if isinstance(raw, bool):
        if fdef.type == "bool":
            return raw
        raise CellError(f"expected {fdef.type}, got true/false")
    if isinstance(raw, StoredNumber):
        return _stored(fdef, raw)
    if isinstance(raw, dt.date):
        return _date_cell(fdef, raw)
    text = _text(raw)
    if text.lower() in BLANKS:
        return None
    if text.upper() in SPREADSHEET_ERRORS:
        raise CellError(f"the cell holds the spreadsheet error {text} (a formula that failed), not a value")
    kind = fdef.type
    if kind == "text":
        return text
    if kind in ("number", "integer"):
        value = _number(_strip_unit(fdef, text))
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
        m = _DATE.match(text) or _COMPACT_DATE.match(text)
        ym = None if m else _YEAR_MONTH.match(text)
        if not m and not ym:
            raise CellError(f"not a date: {text!r}")
        try:
            if ym:
                return dt.date(int(ym.group(1)), int(ym.group(2)), 1)
            assert m is not None
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            raise CellError(f"not a date: {text!r} ({exc})") from None
    raise CellError(f"unsupported field type {kind}")  # pragma: no cover


def _strip_unit(fdef: FieldDef, text: str) -> str:
    unit = fdef.unit.zh if fdef.unit is not None else None
    if unit and text.endswith(unit) and len(text) > len(unit):
        return text[: -len(unit)].rstrip()
    return text


def _stored(fdef: FieldDef, cell: StoredNumber) -> Any:
    """A number cell of a spreadsheet or Parquet file, read as ``fdef`` declares."""
    kind = fdef.type
    if kind == "text":
        return cell.text()
    if kind == "date":
        return _serial_date(cell)
    value = cell.decimal()
    if kind == "percent":
        return value if cell.is_percent or fdef.percent_input != "percent_points" else value / 100
    if kind in ("number", "integer"):
        if value and not Decimal("1e-12") <= abs(value) < Decimal(10) ** MAX_MAGNITUDE:
            raise CellError(f"number out of range: {cell.value!r}")
        if kind == "integer" and value != value.to_integral_value():
            raise CellError(f"expected a whole number, got {format(value, 'f')}")
        return value
    if kind == "bool":
        if value in (0, 1):
            return value == 1
        raise CellError(f"expected 是/否 (yes/no), got the number {format(value, 'f')}")
    return convert(fdef, cell.text())  # code: the digits are the code or its alias


def _serial_date(cell: StoredNumber) -> dt.date:
    value = cell.decimal()
    whole = int(value)
    if value == whole and 1900 <= whole <= 2100:
        raise CellError(
            f"the number {whole} in a date field: a year, not a date? write the date (2019-12-31) or"
            " format the cell as a date"
        )
    if value != whole and 1900 <= whole <= 2100:
        text = format(value, "f")
        if len(text.partition(".")[2]) == 2:  # 2019.12 typed into a General cell
            return convert_year_month(whole, int(text.partition(".")[2]), text)
        raise CellError(f"the number {text} in a date field is ambiguous (2019.1 may be January or October)")
    if not 1 <= whole <= _SERIAL_MAX:
        raise CellError(f"the number {format(value, 'f')} is not an Excel date")
    if cell.epoch_1904:
        return dt.date(1904, 1, 1) + dt.timedelta(days=whole)
    # the 1900 system counts a 29 February 1900 that did not exist
    return dt.date(1899, 12, 30 if whole >= 61 else 31) + dt.timedelta(days=whole)


def convert_year_month(year: int, month: int, text: str) -> dt.date:
    """The first day of a year and month (a date cell that gives no day).

    Raises:
        CellError: when the month is not 1-12.
    """
    try:
        return dt.date(year, month, 1)
    except ValueError as exc:
        raise CellError(f"not a date: {text!r} ({exc})") from None


def _date_cell(fdef: FieldDef, value: dt.date) -> Any:
    """A cell a spreadsheet or Parquet file stored as a date or date-time."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if fdef.type == "date":
        return day
    if fdef.type == "text":
        return value.isoformat() if isinstance(value, dt.datetime) and value.time() != dt.time() else day.isoformat()
    raise CellError(f"expected {fdef.type}, got the date {day.isoformat()}")
