"""Reading workbooks: XLSX (openpyxl, read-only) and legacy XLS (xlrd), one raw table per sheet.

Each worksheet is a table. Its header is found below any title and notes rows, and may be a
two-row merged header (:mod:`tuopin_rules.intake.headers`). Cells keep what the workbook says
about them: text stays text (a code ``0012`` stored as text is ``0012``), numbers arrive as
:class:`~tuopin_rules.intake.values.StoredNumber` with their number format (a 0.02 cell shown as
``2%``; a 12 shown as ``0012``), date-formatted cells as dates. Blank rows are not rows; the
sheet's declared dimension is ignored (a sheet claiming a million rows is read for the rows it
has), and rows are never padded past their last cell.

A formula cell whose result the file does not store (a workbook written by a script and never
opened in Excel) arrives as :class:`~tuopin_rules.intake.values.UnstoredFormula`: unreadable, with
the formula named, never a blank.

Hidden sheets (hidden or very hidden in the workbook: old versions, lookup lists) are skipped with a
``skipped-sheet`` notice unless ``sheet`` names one.

Locations: every row keeps its sheet row number and every column its letter, so a bad cell is
reported as ``file:sheet!C5``.

Merged cells in the data area: a cell merged down one column (a 户编号 or 行政村 spanning the rows of
a household's members) holds its value only in the top cell; the cells below it read that value, as
a person sees it, and the table counts them (``RawTable.filled``, reported as ``merged-cells``).
Ranges wider than one column are left as they are (which column would the value belong to?).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from tuopin_rules.errors import DataFileError
from tuopin_rules.intake.files import RawRow, RawTable
from tuopin_rules.intake.headers import SCAN_ROWS, HeaderMatch, find_header
from tuopin_rules.intake.values import StoredNumber, UnstoredFormula

__all__ = ["column_letter", "read_workbook"]

#: a sheet row: its 1-based number and its cell values
SheetRow = tuple[int, list[Any]]


def column_letter(index: int) -> str:
    """The letter of a 0-based column index.

    >>> column_letter(0), column_letter(25), column_letter(26), column_letter(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

#: row -> {0-based column: the top row of the one-column merged range the cell lies below}
MergedDown = dict[int, dict[int, int]]


def sheet_table(
    name: str,
    rows: Iterator[SheetRow],
    match: HeaderMatch,
    header_row: int | None,
    label: str,
    merged: MergedDown | None = None,
) -> RawTable:
    """One sheet's rows (non-blank, numbered) as a raw table: header found, data rows after it;
    blank cells under a one-column merged range that starts below the header get its value."""
    top: list[SheetRow] = []
    for number, cells in rows:
        top.append((number, cells))
        if len(top) >= SCAN_ROWS and (header_row is None or number >= header_row):
            break
    if not top:
        return RawTable([], iter(()), None, sheet=name, skipped="the sheet is empty")
    at = None
    if header_row is not None:
        at = next((i for i, (number, _) in enumerate(top) if number == header_row), None)
        if at is None:
            raise DataFileError(f"{label}:{name}!{header_row}:{header_row}: no header on this row (a blank row?)")
    found = find_header([cells for _, cells in top], match, at)
    names = [n or column_letter(i) for i, n in enumerate(found.names)]
    letters: dict[str, str] = {}
    for i, n in enumerate(names):
        letters.setdefault(n, column_letter(i))
    width = len(names)

    first_data = top[found.index + found.depth - 1][0] + 1 if found.depth else top[found.index][0] + 1
    tops: dict[tuple[int, int], Any] = {}  # (top row, column) -> the merged value
    top_cols: dict[int, set[int]] = {}  # top row -> its columns that head a merged range
    for spans in (merged or {}).values():
        for col, top_row in spans.items():
            top_cols.setdefault(top_row, set()).add(col)
    filled: dict[str, int] = {}

    def data() -> Iterator[RawRow]:
        for number, cells in [*top[found.index + found.depth :], *rows]:
            for col in top_cols.get(number, ()):
                if col < len(cells) and not _blank(cells[col]):
                    tops[(number, col)] = cells[col]
            if merged:
                cells = _fill_merged(number, cells, merged, first_data, tops, names, filled)
            record = dict(zip(names, cells, strict=False))
            for i in range(width, len(cells)):  # a cell right of the header: an unnamed column
                if not _blank(cells[i]):
                    letter = column_letter(i)
                    record[letter] = cells[i]
                    letters.setdefault(letter, letter)
            yield RawRow(number, record)

    return RawTable(names, data(), None, sheet=name, letters=letters, header_row=top[found.index][0], filled=filled)


def _fill_merged(
    number: int,
    cells: list[Any],
    merged: MergedDown,
    first_data: int,
    tops: dict[tuple[int, int], Any],
    names: list[str],
    filled: dict[str, int],
) -> list[Any]:
    """``cells`` of row ``number`` with the blank cells under a merged range given its value."""
    for col, top in merged.get(number, {}).items():
        if top >= first_data and col < len(names) and (col >= len(cells) or _blank(cells[col])):
            value = tops.get((top, col))
            if value is None:
                continue
            if col >= len(cells):
                cells = [*cells, *([None] * (col + 1 - len(cells)))]
            cells[col] = value
            filled[names[col]] = filled.get(names[col], 0) + 1
    return cells


def _sheet_layout(ws: Any) -> tuple[MergedDown, dict[int, dict[int, str]]]:
    """What read-only sheets do not keep, from the sheet's XML: its one-column merged ranges, and
    its formula cells without a stored result (row -> {0-based column: the formula}).

    An unreadable sheet source or an unexpected openpyxl layout gives neither (nothing is changed).
    """
    from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries

    merged: MergedDown = {}
    unstored: dict[int, dict[int, str]] = {}
    try:
        with ws._get_source() as src:  # the sheet's XML part, as openpyxl's read-only reader opens it
            for _, el in ElementTree.iterparse(src):
                tag = el.tag.rpartition("}")[2]
                if tag == "c":
                    formula = el.find(f"{{{_NS}}}f")
                    value = el.find(f"{{{_NS}}}v")
                    if formula is not None and (value is None or not value.text) and el.get("r"):
                        row, col = coordinate_to_tuple(el.get("r", ""))
                        unstored.setdefault(row, {})[col - 1] = "=" + (formula.text or "…")
                    el.clear()
                elif tag == "row":
                    el.clear()
                elif tag == "mergeCell":
                    min_col, min_row, max_col, max_row = range_boundaries(el.get("ref", ""))
                    if min_col is None or min_row is None or max_row is None:  # whole rows or columns
                        continue
                    if min_col == max_col and max_row > min_row:
                        for r in range(min_row + 1, max_row + 1):
                            merged.setdefault(r, {})[min_col - 1] = min_row
    except (AttributeError, ElementTree.ParseError, ValueError, TypeError, KeyError, OSError):
        return {}, {}
    return merged, unstored


def _xlsx_value(cell: Any, epoch_1904: bool) -> Any:
    value = cell.value
    if value is None or isinstance(value, (str, bool, dt.date)):
        return value
    if isinstance(value, (int, float)):
        return StoredNumber(value, cell.number_format or "General", epoch_1904)
    return str(value)  # a time or duration: shown as text


def _xlsx_rows(ws: Any, epoch_1904: bool, unstored: dict[int, dict[int, str]] | None = None) -> Iterator[SheetRow]:
    ws.reset_dimensions()  # ignore the declared dimension: no padding to phantom rows or columns
    for number, row in enumerate(ws.iter_rows(), start=1):
        cells = [_xlsx_value(c, epoch_1904) for c in row]
        for col, formula in (unstored or {}).get(number, {}).items():
            if col < len(cells) and _blank(cells[col]):
                cells[col] = UnstoredFormula(formula)
        if not all(_blank(c) for c in cells):  # a row blank but for merged cells has no data of its own
            yield number, cells


def _pick(names: Sequence[str], sheet: str | None, label: str) -> list[int]:
    if sheet is None:
        return list(range(len(names)))
    if sheet in names:
        return [names.index(sheet)]
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return [int(sheet) - 1]
    raise DataFileError(f"{label}: no sheet {sheet!r} (sheets: {', '.join(names)})")


def _read_xlsx(path: Path, match: HeaderMatch, header_row: int | None, sheet: str | None) -> list[RawTable]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        hint = " (password-protected, or not really an .xlsx file?)" if isinstance(exc, zipfile.BadZipFile) else ""
        raise DataFileError(f"{path}: not a readable Excel workbook{hint} ({exc})") from None
    try:
        sheets = wb.worksheets
        epoch_1904 = wb.epoch.year == 1904
        tables = []
        for i in _pick([ws.title for ws in sheets], sheet, str(path)):
            ws = sheets[i]
            if sheet is None and getattr(ws, "sheet_state", "visible") != "visible":
                why = f"the sheet is {ws.sheet_state} in the workbook; name it with --sheet to read it"
                tables.append(RawTable([], iter(()), None, sheet=ws.title, skipped=why))
                continue
            try:
                merged, unstored = _sheet_layout(ws)
                rows = _xlsx_rows(ws, epoch_1904, unstored)
                table = sheet_table(ws.title, rows, match, header_row, str(path), merged)
                # the workbook closes below: read the sheet's rows now
                table.rows = iter(list(table.rows))
            except (ElementTree.ParseError, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
                raise DataFileError(f"{path}: sheet {ws.title!r} is damaged and cannot be read ({exc})") from None
            tables.append(table)
        return tables
    finally:
        wb.close()


def _xls_rows(book: Any, sh: Any) -> Iterator[SheetRow]:
    import xlrd  # type: ignore[import-untyped,unused-ignore]

    formats = {i: book.format_map[xf.format_key].format_str for i, xf in enumerate(book.xf_list)}
    for r in range(sh.nrows):
        cells: list[Any] = []
        for c in sh.row(r):
            if c.ctype == xlrd.XL_CELL_NUMBER:
                cells.append(StoredNumber(c.value, formats.get(c.xf_index, "General"), book.datemode == 1))
            elif c.ctype == xlrd.XL_CELL_DATE:
                cells.append(xlrd.xldate_as_datetime(c.value, book.datemode))
            elif c.ctype == xlrd.XL_CELL_BOOLEAN:
                cells.append(bool(c.value))
            elif c.ctype == xlrd.XL_CELL_ERROR:
                cells.append(xlrd.error_text_from_code.get(c.value, "#ERROR"))
            else:
                cells.append(c.value if c.value != "" else None)
        if not all(_blank(x) for x in cells):
            yield r + 1, cells


def _read_xls(path: Path, match: HeaderMatch, header_row: int | None, sheet: str | None) -> list[RawTable]:
    try:
        import xlrd  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise DataFileError(
            f"{path}: reading .xls needs the xlrd package (pip install 'tuopin-rules[xls]'), or save it as .xlsx"
        ) from None
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except Exception as exc:  # xlrd raises many kinds on a damaged file
        raise DataFileError(f"{path}: not a readable .xls workbook ({exc})") from None
    try:
        names = book.sheet_names()
        tables = []
        for i in _pick(names, sheet, str(path)):
            sh = book.sheet_by_index(i)
            table = sheet_table(names[i], _xls_rows(book, sh), match, header_row, str(path))
            table.rows = iter(list(table.rows))
            tables.append(table)
        return tables
    finally:
        book.release_resources()


def read_workbook(
    path: Path, match: HeaderMatch, *, header_row: int | None = None, sheet: str | None = None
) -> list[RawTable]:
    """Every sheet of a workbook (or only ``sheet``: a name or 1-based position) as a raw table.

    An empty sheet is a table with ``skipped`` set, so the caller can report it.

    Raises:
        DataFileError: the file is not a readable workbook, names no such sheet, or (with
            ``header_row``) has a blank row there.
    """
    if path.suffix.lower() == ".xls":
        return _read_xls(path, match, header_row, sheet)
    return _read_xlsx(path, match, header_row, sheet)
