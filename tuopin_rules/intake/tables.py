"""Stage 5 — data files to typed, linked entity tables, with per-cell data issues and accounting.

Formats: CSV (UTF-8, UTF-8 with BOM; GB18030 when the bytes are not UTF-8), JSON / JSON Lines,
XLSX / XLS (each sheet a table) and Parquet (:mod:`~tuopin_rules.intake.files`,
:mod:`~tuopin_rules.intake.excel`, :mod:`~tuopin_rules.intake.parquet`). The header is found
below title rows, also as a two-row merged header (:mod:`~tuopin_rules.intake.headers`). Which
entity a table holds is read from its headers (the most specific entity whose id column is
present), or given as ``kind=path`` (e.g. ``household=hh.csv``).

Every row is accounted for: it becomes a record or a rejected row with a data issue, and
``rows_read == records + rejected`` for every file (for every sheet of a workbook).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tuopin_rules.entities.records import (
    Record,
    index_tables,
    link,
    record_from_mapping,
    resolve_header,
    with_nested_children,
)
from tuopin_rules.entities.schema import ENTITY_KINDS, FieldDef, Schema
from tuopin_rules.errors import DataFileError, DataIssue, NotDataError, did_you_mean
from tuopin_rules.intake.files import DATA_SUFFIXES, RawTable, read_tables
from tuopin_rules.intake.headers import HeaderMatch
from tuopin_rules.intake.values import StoredNumber

__all__ = ["Dataset", "FileAccount", "detect_entity", "read_dataset"]


@dataclass
class FileAccount:
    """What happened to the rows of one file."""

    file: str
    entity: str
    encoding: str | None = None
    rows_read: int = 0
    records: int = 0
    rejected: int = 0
    rejected_parents: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    suggestions: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | None = None

    @property
    def balanced(self) -> bool:
        """True when every row read is a record or a rejected row."""
        return self.rows_read == self.records + self.rejected


@dataclass
class Dataset:
    """Linked entity tables, their data issues, and the per-file accounting."""

    tables: dict[str, list[Record]]
    issues: list[DataIssue]
    accounts: list[FileAccount]

    def find(self, entity: str, ident: str) -> Record | None:
        """The record of ``entity`` with this id, or ``None``."""
        return next((r for r in self.tables.get(entity, []) if r.id == ident), None)


def detect_entity(schema: Schema, headers: Iterable[str], file: str = "<data>") -> str:
    """The entity kind a file holds, from its headers.

    Candidates are the kinds whose identifier column is among the headers. The kind matching the
    most headers wins; on a tie the more specific one (member rows carry their household's code, so
    a member file names the household id too; a household file with a person-number column still
    names far more household fields).

    Raises:
        DataFileError: when no entity's identifier column is present.
    """
    present = list(headers)
    kinds = schema.kinds()
    matched: dict[str, int] = {}
    for kind in kinds:
        ent = schema.entities[kind]
        fields = {f.name for h in present if (f := resolve_header(ent, h)) is not None}
        if ent.id_field in fields:
            matched[kind] = len(fields)
    if matched:
        depth = {k: _depth(schema, k) for k in matched}
        return max(matched, key=lambda k: (matched[k], depth[k], -kinds.index(k)))
    ids = "; ".join(f"{k}: {schema.entities[k].fields[schema.entities[k].id_field].label.zh}" for k in kinds)
    raise NotDataError(f"{file}: no identifier column found ({ids}); or name the kind as KIND=PATH")


def _depth(schema: Schema, kind: str) -> int:
    """How many parents up a kind's chain goes (member 3, household 2, village 1, county 0)."""
    n, parent = 0, schema.entities[kind].parent
    while parent is not None and n < len(schema.entities):
        n, parent = n + 1, schema.entities[parent].parent
    return n


def _issue(
    code: str,
    message: str,
    file: str,
    row: int | None = None,
    *,
    column: str | None = None,
    raw: str | None = None,
    field: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
) -> DataIssue:
    return DataIssue(code, message, file, row, column, raw, field, entity, entity_id)


def header_match(schema: Schema) -> HeaderMatch:
    """How header names are matched against ``schema``: a row's score is the number of distinct
    fields of one entity it names (the best entity), used to find the header row."""
    ents = list(schema.entities.values())

    def score(names: Sequence[str]) -> int:
        best = 0
        for ent in ents:
            found = {f.name for n in names if n and (f := resolve_header(ent, n)) is not None}
            best = max(best, len(found))
        return best

    def resolves(name: str) -> bool:
        return bool(name) and any(resolve_header(ent, name) is not None for ent in ents)

    return HeaderMatch(score, resolves)


def _relocate(issue: DataIssue, table: RawTable, path: Path) -> DataIssue:
    """A workbook table's issue, located as ``file:sheet!C5``."""
    letter = table.letters.get(issue.column) if issue.column is not None else None
    cell = f"{letter}{issue.row}" if letter is not None and issue.row is not None else None
    return replace(issue, file=str(path), sheet=table.sheet, cell=cell)


def read_table(
    schema: Schema, table: RawTable, path: Path, entity: str | None = None
) -> tuple[str, list[Record], list[DataIssue], FileAccount]:
    """Read one raw table (a CSV or JSON file, a sheet) into records of one entity kind.

    Every row becomes a record or a rejected row with an issue (bad row shape, no identifier,
    identifier repeated within the table). A workbook table's issues are located as
    ``file:sheet!C5`` and its account is named ``file:sheet``.

    Raises:
        DataFileError: the table holds no recognisable entity (or, with an explicit kind, lacks
            that kind's identifier column).
    """
    file = f"{path}:{table.sheet}" if table.sheet is not None else str(path)
    kind = entity or detect_entity(schema, table.headers, file)
    ent = schema.entities[kind]
    resolved: dict[str, FieldDef | None] = {h: resolve_header(ent, h) for h in table.headers}
    id_label = ent.fields[ent.id_field].label.zh
    if not any(f is not None and f.name == ent.id_field for f in resolved.values()) and table.headers:
        raise DataFileError(f"{file}: a {kind} table needs the identifier column {id_label} ({ent.id_field})")
    issues: list[DataIssue] = []
    by_field: dict[str, str] = {}
    for header, fdef in resolved.items():
        if fdef is None:
            continue
        if fdef.name in by_field:
            issues.append(
                _issue(
                    "duplicate-column",
                    f"columns {by_field[fdef.name]!r} and {header!r} both mean "
                    f"{fdef.label.zh} ({fdef.name}); the first non-blank one is used in each row",
                    file,
                    column=header,
                    field=fdef.name,
                    entity=kind,
                )
            )
        else:
            by_field[fdef.name] = header
    unknown = [h for h, f in resolved.items() if f is None and h not in ent.children and h]
    account = FileAccount(
        file,
        kind,
        table.encoding,
        unknown_columns=unknown,
        suggestions={h: hint for h in unknown if (hint := did_you_mean(h, ent.spellings()))},
        sheet=table.sheet,
        header_row=table.header_row,
    )
    text_columns = [h for h, f in resolved.items() if f is not None and f.type == "text"]  # in column order
    numeric_codes: dict[str, tuple[int, int, str]] = {}  # header -> (count, first row, first value)
    records: list[Record] = []
    seen: dict[str, int] = {}
    for raw in table.rows:
        account.rows_read += 1
        if raw.problem is None:
            raw.problem = _not_a_record(raw.cells, len(table.headers))
        if raw.problem is not None:
            account.rejected += 1
            issues.append(_issue("bad-row", raw.problem, file, raw.row, raw=raw.raw, entity=kind))
            continue
        headers = (
            resolved
            if raw.cells.keys() <= resolved.keys()
            else {**resolved, **{k: resolve_header(ent, k) for k in raw.cells if k not in resolved}}
        )
        rec, row_issues = record_from_mapping(schema, kind, raw.cells, file=file, row=raw.row, headers=headers)
        if table.sheet is not None:
            row_issues = [_relocate(i, table, path) for i in row_issues]
            rec.issues = {k: _relocate(i, table, path) for k, i in rec.issues.items()}
        issues.extend(row_issues)
        for header in text_columns:
            value = raw.cells.get(header)
            fdef = resolved[header]
            if isinstance(value, StoredNumber) and fdef is not None and fdef.name not in rec.issues:
                count, first, shown = numeric_codes.get(header, (0, raw.row, str(value)))
                numeric_codes[header] = (count + 1, first, shown)
        if rec.id is None or rec.id in seen:
            parent_key = rec.values.get(ent.parent_key) if ent.parent_key else None
            if parent_key is not None:
                account.rejected_parents.append(str(parent_key))  # that parent's collection is incomplete
        if rec.id is None:
            account.rejected += 1
            issues.append(
                _issue(
                    "missing-id",
                    f"the row has no {id_label} ({ent.id_field})",
                    file,
                    raw.row,
                    field=ent.id_field,
                    entity=kind,
                )
            )
            continue
        if rec.id in seen:
            account.rejected += 1
            issues.append(
                _issue(
                    "duplicate-id",
                    f"{kind} {rec.id} already appears on row {seen[rec.id]}",
                    file,
                    raw.row,
                    raw=rec.id,
                    field=ent.id_field,
                    entity=kind,
                    entity_id=rec.id,
                )
            )
            continue
        seen[rec.id] = raw.row
        records.append(rec)
    for header, (count, first, shown) in numeric_codes.items():
        fdef = resolved[header]
        if fdef is None:  # pragma: no cover - only text fields are counted
            continue
        issues.append(
            _issue(
                "code-as-number",
                f"{count} cell(s) of column {header!r} ({fdef.label.zh}, {fdef.name}) are stored as numbers,"
                " not text: they are read as their digits, but leading zeros (0012) are lost if the codes had"
                " any; store the column as text",
                file,
                first,
                column=header,
                raw=shown,
                field=fdef.name,
                entity=kind,
            )
        )
    for header, count in table.filled.items():
        issues.append(
            _issue(
                "merged-cells",
                f"{count} blank cell(s) of column {header!r} lie under a merged cell and read its value"
                " (as the sheet shows them)",
                file,
                column=header,
                entity=kind,
            )
        )
    if table.sheet is not None:
        issues = [_relocate(i, table, path) if i.file == file else i for i in issues]
    account.records = len(records)
    return kind, records, issues, account


_TOTALS = ("合计", "总计", "小计", "共计", "汇总", "total")  # a cell starting with one of these (合计：2户, 总计(户))
_ORDINALS = "甲乙丙丁戊己庚辛壬癸"  # column letters of a statistical form's 栏次 row


def _not_a_record(cells: Mapping[str, Any], width: int | None = None) -> str | None:
    """Rows an export repeats that are not records: the header again (page breaks), a totals row, or
    a form's 栏次 row; ``width`` is the table's number of columns (default: the cells given)."""
    values = [str(v).strip() for v in cells.values() if v is not None and str(v).strip()]
    if values and sum(1 for h, v in cells.items() if v is not None and str(v).strip() == str(h).strip()) >= max(
        2, len(values) // 2
    ):
        return "the header row repeated (a page break in the export?); not a record"
    # a totals label opens the row (合计, or a row number then 合计); a value further on (脱贫状态
    # 合计收入) is data
    for v in values[:2]:
        folded = "".join(unicodedata.normalize("NFKC", v).split()).lower()
        if any(folded.startswith(t) for t in _TOTALS):
            return f"a totals row ({v}); not a record"
    width = len(cells) if width is None else width
    if len(values) >= max(3, (4 * width + 4) // 5) and _column_numbers(values):  # numbers most columns
        return f"the form's column-number row (栏次: {', '.join(values[:4])}, …); not a record"
    return None


def _column_numbers(values: list[str]) -> bool:
    """True for a 栏次 row: 甲, 乙, … then 1, 2, 3, … (or only the numbers), in every non-blank cell."""
    folded = [unicodedata.normalize("NFKC", v).strip() for v in values]
    letters = 0
    while letters < len(folded) and len(folded[letters]) == 1 and folded[letters] in _ORDINALS:
        letters += 1
    if [folded[i] for i in range(letters)] != list(_ORDINALS[:letters]):
        return False
    numbers = folded[letters:]
    if len(numbers) < 3 or not all(n.isdecimal() for n in numbers):
        return False
    return [int(n) for n in numbers] == list(range(int(numbers[0]), int(numbers[0]) + len(numbers)))


def read_file(
    schema: Schema,
    path: Path,
    entity: str | None = None,
    *,
    header_row: int | None = None,
    sheet: str | None = None,
) -> tuple[list[tuple[str, list[Record], list[DataIssue], FileAccount]], list[DataIssue]]:
    """Read one data file: its tables (one, or one per sheet of a workbook) and skipped sheets.

    Returns ``(tables, skipped)``: per table ``(kind, records, issues, account)``; ``skipped`` holds
    a ``skipped-sheet`` issue per sheet that is empty, hidden, or holds no entity's identifier column.

    Raises:
        DataFileError: the file is missing or unreadable; a single-table file (or a sheet named
            with ``sheet``) holds no recognisable entity; no sheet of a workbook holds data.
    """
    tables = read_tables(path, header_match(schema), header_row=header_row, sheet=sheet)
    out = []
    skipped: list[DataIssue] = []
    all_not_data = True
    for table in tables:
        if table.sheet is None:
            out.append(read_table(schema, table, path, entity))
            continue
        try:
            if table.skipped is not None:  # an empty or hidden sheet
                raise NotDataError(f"{path}:{table.sheet}: {table.skipped}")
            out.append(read_table(schema, table, path, entity))
        except DataFileError as exc:
            if sheet is not None:
                raise
            all_not_data = all_not_data and isinstance(exc, NotDataError)
            skipped.append(replace(_issue("skipped-sheet", f"skipped: {exc}", str(path)), sheet=table.sheet))
    if not out:
        why = "; ".join(i.message.removeprefix("skipped: ") for i in skipped)
        raise (NotDataError if all_not_data else DataFileError)(f"{path}: no sheet holds data of any entity ({why})")
    return out, skipped


def _incomplete_parents(
    schema: Schema, tables: dict[str, list[Record]], accounts: list[FileAccount]
) -> list[DataIssue]:
    """Parents one of whose child rows was rejected (no id, a repeated id): their collection of that
    child kind is incomplete, so rules over it are UNKNOWN rather than decided on the rest."""
    issues: list[DataIssue] = []
    for acc in accounts:
        ent = schema.entities.get(acc.entity)
        if ent is None or ent.parent is None or not acc.rejected_parents:
            continue
        parent_ent = schema.entities[ent.parent]
        coll = next((c for c, k in parent_ent.children.items() if k == acc.entity), None)
        if coll is None:
            continue
        keys = set(acc.rejected_parents)
        for parent in tables.get(ent.parent, []):
            if parent.id in keys and coll in parent.children:
                del parent.children[coll]
                issues.append(
                    _issue(
                        "unlinked-children",
                        f"{ent.parent} {parent.id}: a {acc.entity} row of it was rejected in {acc.file}, so rules over "
                        f"its {coll} are UNKNOWN",
                        acc.file,
                        field=coll,
                        entity=ent.parent,
                        entity_id=parent.id,
                    )
                )
    return issues


def expand_paths(paths: Iterable[str], kinds: Iterable[str] = ENTITY_KINDS) -> list[tuple[str | None, Path, bool]]:
    """``KIND=PATH`` or ``PATH`` arguments; a folder means its data files (sorted).

    Returns ``(kind or None, path, named)``; ``named`` is False for files found in a folder.

    Raises:
        DataFileError: ``KIND=PATH`` with an unknown kind.
    """
    out: list[tuple[str | None, Path, bool]] = []
    known = list(kinds)
    for arg in paths:
        kind, sep, rest = arg.partition("=")
        if sep and kind not in known and not Path(arg).exists():
            raise DataFileError(f"{arg}: unknown entity kind {kind!r} (use {', '.join(known)}, as KIND=PATH)")
        entity, target = (kind, Path(rest)) if sep and kind in known else (None, Path(arg))
        if target.is_dir():
            out.extend(
                (entity, p, False)
                for p in sorted(target.iterdir())
                if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
            )
        else:
            out.append((entity, target, True))
    return _once(out)


def _once(targets: list[tuple[str | None, Path, bool]]) -> list[tuple[str | None, Path, bool]]:
    """Each file once, however often it is named (a folder and a file in it): at its first place,
    with a kind named for it anywhere (``household=PATH``), named if it was named anywhere."""
    first: dict[Path, int] = {}
    out: list[tuple[str | None, Path, bool]] = []
    for entity, path, named in targets:
        try:
            key = path.resolve()
        except OSError:
            key = path
        if key not in first:
            first[key] = len(out)
            out.append((entity, path, named))
            continue
        i = first[key]
        kept_entity, kept_path, kept_named = out[i]
        out[i] = (kept_entity or entity, kept_path, kept_named or named)
    return out


def read_dataset(
    schema: Schema, paths: Iterable[str], *, header_row: int | None = None, sheet: str | None = None
) -> Dataset:
    """Read data files (``KIND=PATH``, ``PATH`` or folders), check identifiers across files, and link.

    ``header_row`` (1-based; CSV: the line) names the header row of every file instead of
    searching for it below title rows; ``sheet`` (a name or 1-based position) reads only that
    sheet of each workbook. A workbook sheet that holds no entity's data is skipped with a
    ``skipped-sheet`` issue, and each sheet has its own accounting line (``file:sheet``).

    A file found in a folder that is not a data file of any entity is skipped with a
    ``skipped-file`` issue; a file named on the command line must be readable. Member rows whose
    household is missing are rejected (``orphan-link``); households and villages whose parent is
    missing are still evaluated on their own, with an ``orphan-link`` issue.

    Raises:
        DataFileError: a named file cannot be read, or no data files were given.
    """
    targets = expand_paths(paths, schema.kinds())
    if not targets:
        raise DataFileError(
            "no data files given (CSV, Excel, JSON, JSON Lines or Parquet; a folder means its data files)"
        )
    reads: list[FileRead] = []
    for entity, path, named in targets:
        try:
            read, skipped = read_file(schema, path, entity, header_row=header_row, sheet=sheet)
        except DataFileError as exc:
            if named:
                raise
            if isinstance(exc, NotDataError):
                reads.append((path, [], [_issue("skipped-file", f"skipped: {exc}", str(path))]))
            else:  # a data file whose rows are lost: an error, not a notice
                reads.append((path, [], [_issue("unread-file", f"not read: {exc}", str(path))]))
            continue
        reads.append((path, read, skipped))
    return assemble(schema, reads)


#: one file's tables as read (kind, records, issues, account), with the file's own issues first
FileRead = tuple[Path, list[tuple[str, list[Record], list[DataIssue], FileAccount]], list[DataIssue]]


def assemble(schema: Schema, reads: Iterable[FileRead]) -> Dataset:
    """Files read into a linked data set: identifiers repeated across files rejected (the first
    wins, in file order), children linked to parents, orphan members rejected, parents whose child
    rows were rejected marked incomplete, nested children made records of their kind, tables indexed.

    Every rejection is counted in its file's account and reported as a data issue.
    """
    tables: dict[str, list[Record]] = {}
    issues: list[DataIssue] = []
    accounts: list[FileAccount] = []
    first_seen: dict[tuple[str, str], str] = {}
    workbooks: dict[str, tuple[Path, RawTable]] = {}
    for path, read, own in reads:
        issues.extend(own)
        for kind, records, file_issues, account in read:
            if account.sheet is not None:
                workbooks[account.file] = (path, RawTable([], iter(()), None, sheet=account.sheet))
            kept = []
            for rec in records:
                key = (kind, str(rec.id))
                if key in first_seen:
                    account.records -= 1
                    account.rejected += 1
                    parent_field = schema.entities[kind].parent_key
                    if parent_field and rec.values.get(parent_field) is not None:
                        account.rejected_parents.append(str(rec.values[parent_field]))
                    row = (
                        int(rec.source.rpartition(":")[2])
                        if rec.source and rec.source.rpartition(":")[2].isdigit()
                        else None
                    )
                    dup = _issue(
                        "duplicate-id",
                        f"{kind} {rec.id} already appears in {first_seen[key]}",
                        account.file,
                        row,
                        raw=rec.id,
                        entity=kind,
                        entity_id=rec.id,
                    )
                    if account.sheet is not None:
                        dup = _relocate(dup, workbooks[account.file][1], path)
                    file_issues.append(dup)
                    continue
                first_seen[key] = rec.source or account.file
                kept.append(rec)
            tables.setdefault(kind, []).extend(kept)
            issues.extend(file_issues)
            accounts.append(account)
    orphans = link(schema, tables)
    orphan_members = {i.entity_id for i in orphans if i.entity == "member" and i.code == "orphan-link"}
    if orphan_members:
        tables["member"] = [m for m in tables["member"] if m.id not in orphan_members]
        for acc in accounts:
            if acc.entity == "member":
                n = sum(1 for i in orphans if i.entity == "member" and i.code == "orphan-link" and i.file == acc.file)
                acc.records -= n
                acc.rejected += n
    issues.extend(
        _relocate(i, workbooks[i.file][1], workbooks[i.file][0]) if i.file in workbooks else i for i in orphans
    )
    issues.extend(_incomplete_parents(schema, tables, accounts))
    tables = with_nested_children(tables)  # members nested in a JSON household are member records too
    index_tables(tables)
    return Dataset(tables, issues, accounts)
