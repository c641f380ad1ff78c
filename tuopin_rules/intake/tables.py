"""Stage 5 — data files to typed, linked entity tables, with per-cell data issues and accounting.

Formats here: CSV (UTF-8, UTF-8 with BOM; GB18030 when the bytes are not UTF-8) and JSON / JSON
Lines. Which entity a file holds is read from its headers (the entity whose id column is present
and whose fields match most headers), or given as ``kind=path`` (e.g. ``household=hh.csv``).
Excel and the messier export shapes have their own stage later.

Every row is accounted for: it becomes a record or a rejected row with a data issue, and
``rows_read == records + rejected`` for every file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tuopin_rules.entities.records import Record, link, record_from_mapping, resolve_header
from tuopin_rules.entities.schema import ENTITY_KINDS, FieldDef, Schema
from tuopin_rules.errors import DataFileError, DataIssue, did_you_mean
from tuopin_rules.intake.files import read_raw

__all__ = ["Dataset", "FileAccount", "detect_entity", "read_dataset"]

DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")


@dataclass
class FileAccount:
    """What happened to the rows of one file."""

    file: str
    entity: str
    encoding: str | None = None
    rows_read: int = 0
    records: int = 0
    rejected: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    suggestions: dict[str, str] = field(default_factory=dict)

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

    A file holds the most specific kind (member before household before village before county)
    whose identifier column is among its headers: member rows also carry the household code,
    household rows the village, village rows the county.

    Raises:
        DataFileError: when no entity's identifier column is present.
    """
    present = list(headers)
    for kind in ENTITY_KINDS:
        ent = schema.entities[kind]
        if any((f := resolve_header(ent, h)) is not None and f.name == ent.id_field for h in present):
            return kind
    ids = "; ".join(f"{k}: {schema.entities[k].fields[schema.entities[k].id_field].label.zh}" for k in ENTITY_KINDS)
    raise DataFileError(f"{file}: no identifier column found ({ids}); or name the kind as KIND=PATH")


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


def read_file(
    schema: Schema, path: Path, entity: str | None = None
) -> tuple[str, list[Record], list[DataIssue], FileAccount]:
    """Read one CSV or JSON file into records of one entity kind.

    Every row becomes a record or a rejected row with an issue (bad row shape, no identifier,
    identifier repeated within the file).

    Raises:
        DataFileError: the file is missing, unreadable, or holds no recognisable entity (or,
            with an explicit kind, lacks that kind's identifier column).
    """
    table = read_raw(path)
    kind = entity or detect_entity(schema, table.headers, str(path))
    ent = schema.entities[kind]
    resolved: dict[str, FieldDef | None] = {h: resolve_header(ent, h) for h in table.headers}
    id_label = ent.fields[ent.id_field].label.zh
    if not any(f is not None and f.name == ent.id_field for f in resolved.values()) and table.headers:
        raise DataFileError(f"{path}: a {kind} file needs the identifier column {id_label} ({ent.id_field})")
    file = str(path)
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
    )
    records: list[Record] = []
    seen: dict[str, int] = {}
    for raw in table.rows:
        account.rows_read += 1
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
        issues.extend(row_issues)
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
    account.records = len(records)
    return kind, records, issues, account


def expand_paths(paths: Iterable[str]) -> list[tuple[str | None, Path, bool]]:
    """``KIND=PATH`` or ``PATH`` arguments; a folder means its data files (sorted).

    Returns ``(kind or None, path, named)``; ``named`` is False for files found in a folder.

    Raises:
        DataFileError: ``KIND=PATH`` with an unknown kind.
    """
    out: list[tuple[str | None, Path, bool]] = []
    for arg in paths:
        kind, sep, rest = arg.partition("=")
        if sep and kind not in ENTITY_KINDS and not Path(arg).exists():
            raise DataFileError(f"{arg}: unknown entity kind {kind!r} (use {', '.join(ENTITY_KINDS)}, as KIND=PATH)")
        entity, target = (kind, Path(rest)) if sep and kind in ENTITY_KINDS else (None, Path(arg))
        if target.is_dir():
            out.extend(
                (entity, p, False)
                for p in sorted(target.iterdir())
                if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
            )
        else:
            out.append((entity, target, True))
    return out


def read_dataset(schema: Schema, paths: Iterable[str]) -> Dataset:
    """Read data files (``KIND=PATH``, ``PATH`` or folders), check identifiers across files, and link.

    A file found in a folder that is not a data file of any entity is skipped with a
    ``skipped-file`` issue; a file named on the command line must be readable. Member rows whose
    household is missing are rejected (``orphan-link``); households and villages whose parent is
    missing are still evaluated on their own, with an ``orphan-link`` issue.

    Raises:
        DataFileError: a named file cannot be read, or no data files were given.
    """
    tables: dict[str, list[Record]] = {}
    issues: list[DataIssue] = []
    accounts: list[FileAccount] = []
    targets = expand_paths(paths)
    if not targets:
        raise DataFileError("no data files given (CSV, JSON or JSON Lines; a folder means its data files)")
    first_seen: dict[tuple[str, str], str] = {}
    for entity, path, named in targets:
        try:
            kind, records, file_issues, account = read_file(schema, path, entity)
        except DataFileError as exc:
            if named:
                raise
            issues.append(_issue("skipped-file", f"skipped: {exc}", str(path)))
            continue
        kept = []
        for rec in records:
            key = (kind, str(rec.id))
            if key in first_seen:
                account.records -= 1
                account.rejected += 1
                row = (
                    int(rec.source.rpartition(":")[2])
                    if rec.source and rec.source.rpartition(":")[2].isdigit()
                    else None
                )
                file_issues.append(
                    _issue(
                        "duplicate-id",
                        f"{kind} {rec.id} already appears in {first_seen[key]}",
                        str(path),
                        row,
                        raw=rec.id,
                        entity=kind,
                        entity_id=rec.id,
                    )
                )
                continue
            first_seen[key] = rec.source or str(path)
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
    issues.extend(orphans)
    return Dataset(tables, issues, accounts)
