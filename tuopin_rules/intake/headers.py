"""Finding the header of a table: title and notes rows above it, two-row merged headers.

Exports of the national registration system often start with a title row (``建档立卡贫困户信息表``),
a notes row (``单位：元``, ``填报日期``), and a header of one or two rows: a merged parent cell over
sub-columns (``收入情况`` over ``人均纯收入`` and ``纯收入``), and single columns merged down over both
rows (``户编号``). The header is found by scoring the first :data:`SCAN_ROWS` rows against the
schema's field aliases:

* a row's score is the number of distinct fields its cells name (for the entity they name best);
* the best-scoring row is the header; on a tie the upper row wins; a table where no row names a
  field keeps its first row as the header (so the file is reported as holding no known entity);
* a row and the row below form a two-row header when, combined, they name more fields than either
  row alone. A column's name is then parent + child when that names a field (``户主`` over
  ``证件号码`` is ``户主证件号码``), else the child cell when it does (``收入情况`` over ``人均纯收入``),
  else the parent for the first column under it; otherwise parent + child as written (an unknown
  column). A parent cell left blank to the right of a filled one, over
  filled children, continues the merged parent (merged cells store their text in the first cell).

An explicit header row (``header_row``, 1-based, as the spreadsheet numbers rows) skips the
search; a two-row header below it is still recognised.

>>> known = ("户编号", "人均纯收入", "纯收入")
>>> match = HeaderMatch(lambda names: sum(n in known for n in names), lambda n: n in known)
>>> rows = [["贫困户信息表"], ["户编号", "收入情况", None], [None, "人均纯收入", "纯收入"], ["0012", "3650", "7300"]]
>>> found = find_header(rows, match)
>>> found.index, found.depth, found.names
(1, 2, ['户编号', '人均纯收入', '纯收入'])
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tuopin_rules.errors import DataFileError

__all__ = ["SCAN_ROWS", "Header", "HeaderMatch", "clean_header", "combine_rows", "find_header"]

#: how many rows from the top are searched for the header
SCAN_ROWS = 15

_MARKERS = re.compile(r"^[*＊※★\s]+|[*＊※★\s]+$")


@dataclass(frozen=True)
class HeaderMatch:
    """How column names are matched: ``score`` counts the fields a list of names names (for the
    entity they name best); ``resolves`` says whether one name names a field of any entity."""

    score: Callable[[Sequence[str]], int]
    resolves: Callable[[str], bool]


#: a matcher that knows no fields: the first row is the header
FIRST_ROW = HeaderMatch(lambda names: 0, lambda name: False)


@dataclass(frozen=True)
class Header:
    """Where a table's header is and what its columns are called.

    Attributes:
        index: 0-based position of the (first) header row among the rows given.
        depth: 1, or 2 for a two-row merged header.
        names: one name per column ("" for a column without a header).
    """

    index: int
    depth: int
    names: list[str]


def clean_header(cell: Any) -> str:
    """A header cell as text: line breaks and stray spaces inside it removed, required-column
    markers (``*户编号``) dropped; full-width forms are folded later, when matched.

    >>> clean_header(" *人均\\n纯收入 ")
    '人均纯收入'
    """
    if cell is None:
        return ""
    text = unicodedata.normalize("NFC", str(cell))
    text = "".join(text.split())
    return _MARKERS.sub("", text)


def _names(row: Sequence[Any], width: int) -> list[str]:
    cells = [clean_header(c) for c in row[:width]]
    return cells + [""] * (width - len(cells))


def combine_rows(parent: Sequence[Any], child: Sequence[Any], resolves: Callable[[str], bool]) -> list[str]:
    """Column names of a two-row header (see the module docstring).

    >>> combine_rows(["户编号", "收入", None], [None, "人均纯收入", "(元)"], lambda n: n in ("户编号", "人均纯收入"))
    ['户编号', '人均纯收入', '收入(元)']
    """
    width = max(len(parent), len(child))
    top, low = _names(parent, width), _names(child, width)
    names: list[str] = []
    group = ""  # the merged parent over the current run of sub-columns
    used_parent = False
    for p, c in zip(top, low, strict=True):
        if p and c:
            group, used_parent = p, False
        elif not p and c and group:
            p = group
        else:
            group = ""
        if not c:
            names.append(p)
        elif resolves(p + c):
            names.append(p + c)
        elif not p or resolves(c):
            names.append(c)
        elif resolves(p) and not used_parent:
            used_parent = True
            names.append(p)
        else:
            names.append(p + c)
    return names


def find_header(rows: Sequence[Sequence[Any]], match: HeaderMatch, at: int | None = None) -> Header:
    """Locate the header among the first rows of a table.

    Args:
        rows: the first non-blank rows of the table (:data:`SCAN_ROWS` of them when it has them).
        match: how column names are matched to fields.
        at: the 0-based position of the header among ``rows``, when the caller was told it;
            else it is searched.

    Raises:
        DataFileError: ``at`` is past the rows given.
    """
    if not rows:
        return Header(0, 1, [])
    if at is not None:
        if not 0 <= at < len(rows):
            raise DataFileError(f"the header row is not among the table's first {len(rows)} rows")
        return _at(rows, at, match)
    best = 0
    found = Header(0, 1, _names(rows[0], len(rows[0])))
    for i in range(min(len(rows), SCAN_ROWS)):
        here = _at(rows, i, match)
        s = match.score(here.names)
        if s > best:
            best, found = s, here
    return found


def _at(rows: Sequence[Sequence[Any]], i: int, match: HeaderMatch) -> Header:
    single = _names(rows[i], len(rows[i]))
    if i + 1 >= len(rows):
        return Header(i, 1, single)
    combined = combine_rows(rows[i], rows[i + 1], match.resolves)
    below = _names(rows[i + 1], len(rows[i + 1]))
    if match.score(combined) > max(match.score(single), match.score(below)):
        return Header(i, 2, combined)
    return Header(i, 1, single)
