"""Errors and diagnostics of tuopin_rules.

The error tree::

    TuopinError                      base of everything this package raises on purpose
    ├── StandardError                a standard (YAML ruleset) could not be loaded; carries
    │                                every Diagnostic found, not just the first
    ├── StandardNotFoundError        ``--standard NAME`` names no installed standard or file
    ├── EvaluationError              a request the engine cannot answer (unknown entity kind,
    │                                no parameter value in force at ``as_of``, ...)
    └── DataFileError                a data file cannot be read at all (missing, not CSV/JSON,
                                     no recognisable header); bad *cells* are not exceptions:
                                     they are DataIssue records and the rest still evaluates

Authoring problems are :class:`Diagnostic` records with a stable ``code`` (documented in
``docs/error-codes.md``), a position ``file:line:col`` and, where one fits, a did-you-mean hint.
They render compiler-style::

    cn-national.yaml:12:14: error[unknown-field]: unknown field 'per_capita_net_incom'
       12 |     require: per_capita_net_incom > poverty_line
          |              ^^^^^^^^^^^^^^^^^^^^
          = help: did you mean 'per_capita_net_income'?

Run-time data problems are :class:`DataIssue` records with row provenance
(``file:row:column`` for CSV, ``file:$[i].key`` for JSON, ``file:sheet!C5`` for a workbook).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Literal

Severity = Literal["error", "warning"]

#: Every authoring diagnostic code, with a one-line description (rendered into docs/error-codes.md
#: and pinned by a test, so a code cannot be added without being documented).
DIAGNOSTIC_CODES: dict[str, str] = {
    "yaml-syntax": "The file is not valid YAML.",
    "duplicate-key": "The same key appears twice in one mapping.",
    "alias-limit": "YAML aliases expand beyond the allowed number of nodes.",
    "yaml-tag": "An explicit YAML tag (such as !!python/object) is not allowed in a standard.",
    "unknown-key": "A key the ruleset format does not define.",
    "missing-key": "A key the ruleset format requires is absent.",
    "invalid-value": "A value of the wrong shape or type for its key.",
    "duplicate-rule": "Two rules share one id.",
    "unknown-source": "A rule or parameter cites a source id not declared under `sources:`.",
    "unknown-standard": "`extends:` names a standard that is not installed and not a file.",
    "unknown-rule": "`override:` or `disable:` names a rule the base standard does not have.",
    "unknown-entity": "An entity kind other than member, household, village, county.",
    "expr-syntax": "An expression cannot be parsed.",
    "unknown-field": "An expression names a field the entity does not declare.",
    "unknown-parameter": "An expression or override names an undeclared parameter.",
    "unknown-function": "An expression calls a function that does not exist.",
    "unknown-collection": "An aggregate ranges over something that is not a child collection.",
    "unknown-relation": "A dotted name goes through something that is not a related record (parent or head).",
    "unknown-code": "A literal compared with a coded field is not one of its codes or labels.",
    "type-mismatch": "Operands or arguments of incompatible types.",
    "not-boolean": "A condition (`require`, `applies_when`) is not a true/false expression.",
    "bad-arity": "A function or aggregate called with the wrong number of arguments.",
    "bad-argument": "A function argument that must be a constant is not one, or is refused (an unsafe pattern).",
    "template-name": "A reason template names something the rule does not read.",
    "parameter-values": "A parameter's values are malformed (bad key, bad value, nothing in force).",
    "derive-cycle": "Derived fields depend on each other in a cycle.",
    "file-not-found": "A standard file does not exist or cannot be read.",
    "loosens-veto": "Warning: a variant disables, softens or loosens a veto rule of the standard it extends.",
    "dead-rule": "Warning: a rule that can never fire — its condition is never true, never false, or never applies.",
    "unused-declaration": "Warning: a field the standard declares or a parameter it defines that nothing reads.",
}

#: Every data-issue code (run-time problems in input data).
DATA_ISSUE_CODES: dict[str, str] = {
    "bad-value": "A cell cannot be read as the field's type (number, yes/no, code, date).",
    "unknown-code": "A cell holds a value that is not in the field's code list.",
    "missing-id": "A row has no identifier, so no verdict can carry it.",
    "duplicate-id": "Two rows of one entity share an identifier; the later row is rejected.",
    "orphan-link": "A row points to a parent (household, village, county) that is not in the data.",
    "unknown-columns": "Columns that map to no field; kept, listed, and not evaluated.",
    "bad-row": "A row that cannot be a record: wrong number of cells, unreadable CSV, or not a JSON object.",
    "duplicate-column": "Two columns of one file mean the same field; the first non-blank one is used.",
    "skipped-file": "A file in a data folder that is not a data file of any entity; it was skipped.",
    "unread-file": "A data file in a folder that could not be read (undecodable, damaged); its rows are lost.",
    "no-members": "A household has no member rows although member data were given; member rules are UNKNOWN.",
    "member-count": "A household's declared size differs from its member rows; member rules are UNKNOWN.",
    "unlinked-children": "Unlinked rows may belong to this parent; rules over its children are UNKNOWN.",
    "skipped-sheet": "A sheet of a workbook that holds no data of any entity (a notes or summary sheet); skipped.",
    "lost-precision": "A code or ID number stored as a number with more digits than Excel keeps; the cell is refused.",
    "code-as-number": "A code or ID column stored as numbers, not text; values are kept but leading zeros may be lost.",
    "merged-cells": "Cells under a merged cell of a workbook's data area read the merged value (a notice).",
}


#: data issues about a file's layout, not its records: reported, but ``check --strict`` ignores them
NOTICE_CODES = frozenset({"skipped-file", "skipped-sheet", "unknown-columns", "merged-cells"})


@dataclass(frozen=True)
class Position:
    """A place in a source file: 1-based line and column, with the end column of the span.

    Attributes:
        line: 1-based line number.
        col: 1-based column of the first character.
        end_col: 1-based column one past the last character on ``line`` (>= ``col``).
    """

    line: int
    col: int
    end_col: int | None = None


@dataclass(frozen=True)
class Diagnostic:
    """One authoring problem in a standard, with its position.

    Attributes:
        code: a stable slug from :data:`DIAGNOSTIC_CODES`.
        message: the English message (zh rendering is keyed on ``code``).
        file: the file path as given, or ``"<string>"``.
        position: where in ``file``; ``None`` when the problem has no single place.
        source_line: the text of the line at ``position`` (for the caret snippet).
        hint: a did-you-mean or other help line, or ``None``.
        severity: ``"error"`` or ``"warning"``.
    """

    code: str
    message: str
    file: str = "<string>"
    position: Position | None = None
    source_line: str | None = None
    hint: str | None = None
    severity: Severity = "error"

    def render(self) -> str:
        """Render compiler-style: ``file:line:col: error[code]: message``, line, caret, help."""
        if self.position is None:
            head = f"{self.file}: {self.severity}[{self.code}]: {self.message}"
            return head + (f"\n   = help: {self.hint}" if self.hint else "")
        pos = self.position
        out = [f"{self.file}:{pos.line}:{pos.col}: {self.severity}[{self.code}]: {self.message}"]
        if self.source_line is not None:
            gutter = str(pos.line)
            pad = " " * len(gutter)
            line = self.source_line.rstrip("\n")
            width = max(1, (pos.end_col or pos.col + 1) - pos.col)
            # the caret is placed under display columns (CJK characters are two cells wide)
            lead = _display_width(line[: pos.col - 1])
            span = _display_width(line[pos.col - 1 : pos.col - 1 + width]) or 1
            out.append(f" {gutter} | {line}")
            out.append(f" {pad} | {' ' * lead}{'^' * span}")
            if self.hint:
                out.append(f" {pad} = help: {self.hint}")
        elif self.hint:
            out.append(f"   = help: {self.hint}")
        return "\n".join(out)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (``--format json`` of ``tuopin lint``)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.position.line if self.position else None,
            "col": self.position.col if self.position else None,
            "hint": self.hint,
        }


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return ``"did you mean 'x'?"`` for the closest candidate, or ``None``.

    >>> did_you_mean("per_capita_net_incom", ["per_capita_net_income", "poverty_line"])
    "did you mean 'per_capita_net_income'?"
    """
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f"did you mean '{close[0]}'?" if close else None


class TuopinError(Exception):
    """Base class of every error tuopin_rules raises on purpose."""


class StandardError(TuopinError):
    """A standard could not be loaded; ``diagnostics`` holds every problem found.

    Attributes:
        diagnostics: all diagnostics of the load, errors and warnings, in file order.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        first = errors[0].render().splitlines()[0] if errors else "no errors"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)

    def render(self) -> str:
        """All diagnostics, compiler-style, separated by blank lines."""
        return "\n\n".join(d.render() for d in self.diagnostics)


class StandardNotFoundError(TuopinError):
    """No installed standard has this id and no file exists at this path."""


class EvaluationError(TuopinError):
    """The engine cannot answer a request (unknown entity kind, no parameter value in force...)."""


class DataFileError(TuopinError):
    """A data file cannot be read at all (missing, unreadable, or no recognisable header)."""


class NotDataError(DataFileError):
    """A file holds no data of any entity: it is empty, or no header names an identifier column
    (a notes file in a data folder). Skipping it loses no record."""


@dataclass(frozen=True)
class DataIssue:
    """One problem in input data, located to its cell.

    Attributes:
        code: a slug from :data:`DATA_ISSUE_CODES`.
        message: the English reason.
        file: the data file.
        row: 1-based physical row (CSV line with the header as row 1) or JSON record index.
        column: the column header as written in the file, or ``None``.
        raw: the raw cell text, or ``None``.
        field: the schema field the column maps to, or ``None``.
        entity: ``member`` / ``household`` / ``village`` / ``county``.
        entity_id: the id of the record the row belongs to, when known.
        sheet: the worksheet name, for a workbook (XLSX / XLS); ``None`` otherwise.
        cell: the cell reference in ``sheet`` (``C5``), when the issue is about one cell.
    """

    code: str
    message: str
    file: str
    row: int | None = None
    column: str | None = None
    raw: str | None = None
    field: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    extra: dict[str, str] = dc_field(default_factory=dict)
    sheet: str | None = None
    cell: str | None = None

    @property
    def location(self) -> str:
        """``file:row:column`` (parts that are unknown are left out); ``file:sheet!A1`` in a workbook.

        A workbook row without a single cell is ``file:sheet!5:5`` (Excel's reference of row 5).
        """
        if self.sheet is not None:
            if self.cell is not None:
                return f"{self.file}:{self.sheet}!{self.cell}"
            if self.row is not None:
                return f"{self.file}:{self.sheet}!{self.row}:{self.row}"
            return f"{self.file}:{self.sheet}"
        parts = [self.file]
        if self.row is not None:
            parts.append(str(self.row))
        if self.column is not None:
            parts.append(self.column)
        return ":".join(parts)

    def render(self) -> str:
        """``file:row:column: data-error[code]: message (raw value 'x')`` (``data-note`` for a notice)."""
        raw = f" (raw value {self.raw!r})" if self.raw is not None else ""
        kind = "data-note" if self.is_notice else "data-error"
        return f"{self.location}: {kind}[{self.code}]: {self.message}{raw}"

    @property
    def is_notice(self) -> bool:
        """True for an issue about the file's layout (a skipped sheet or file, unknown columns)."""
        return self.code in NOTICE_CODES

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "raw": self.raw,
            "field": self.field,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "sheet": self.sheet,
            "cell": self.cell,
        }
