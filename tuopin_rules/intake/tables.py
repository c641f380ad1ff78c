"""Stage 5 — data files to typed, linked entity tables, with per-cell data issues and accounting.

Formats here: CSV (UTF-8, UTF-8 with BOM; GB18030 when the bytes are not UTF-8) and JSON / JSON
Lines. Which entity a file holds is read from its headers (the entity whose id column is present
and whose fields match most headers), or given as ``kind=path`` (e.g. ``household=hh.csv``).
Excel and the messier export shapes have their own stage later.

Every row is accounted for: it becomes a record or a rejected row with a data issue, and
``rows_read == records + rejected`` for every file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tuopin_rules.entities.records import Record, link, record_from_mapping, resolve_header
from tuopin_rules.entities.schema import ENTITY_KINDS, FieldDef, Schema
from tuopin_rules.errors import DataFileError, DataIssue

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


def _decode(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: cannot decode as UTF-8 or GB18030 ({exc})") from None


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


def _csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]], str]:
    text, encoding = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DataFileError(f"{path}: the file is empty") from None
    header = [h.strip() for h in header]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for line_no, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue  # a blank line is not a row
            cells = dict(zip(header, row, strict=False))
            if len(row) > len(header):
                cells["(extra cells)"] = ",".join(row[len(header) :])
            yield line_no, cells

    return header, rows(), encoding


def _json_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]], str]:
    text, encoding = _decode(path)
    items: list[Any]
    stripped = text.lstrip()
    try:
        if path.suffix in (".jsonl", ".ndjson") or (stripped.startswith("{") and "\n{" in stripped):
            items = [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text, parse_float=Decimal)
            items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    headers: list[str] = list(dict.fromkeys(k for it in items if isinstance(it, dict) for k in it))

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for i, item in enumerate(items, start=1):
            yield i, item if isinstance(item, dict) else {"(not an object)": item}

    return headers, rows(), encoding


def read_file(
    schema: Schema, path: Path, entity: str | None = None
) -> tuple[str, list[Record], list[DataIssue], FileAccount]:
    """Read one CSV or JSON file into records of one entity kind.

    Raises:
        DataFileError: the file is missing, unreadable, or holds no recognisable entity.
    """
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        headers, rows, encoding = _csv_rows(path)
    elif path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        headers, rows, encoding = _json_rows(path)
    else:
        raise DataFileError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .json or .jsonl)")
    kind = entity or detect_entity(schema, headers, str(path))
    if kind not in schema.entities:
        raise DataFileError(f"{path}: unknown entity kind {kind!r} (use {', '.join(ENTITY_KINDS)})")
    ent = schema.entities[kind]
    resolved: dict[str, FieldDef | None] = {h: resolve_header(ent, h) for h in headers}
    account = FileAccount(
        str(path),
        kind,
        encoding,
        unknown_columns=[h for h, f in resolved.items() if f is None and h not in ent.children],
    )
    records: list[Record] = []
    issues: list[DataIssue] = []
    seen: dict[str, int] = {}
    for row_no, cells in rows:
        account.rows_read += 1
        rec, row_issues = record_from_mapping(
            schema,
            kind,
            cells,
            file=str(path),
            row=row_no,
            headers={**resolved, **{k: resolve_header(ent, k) for k in cells if k not in resolved}},
        )
        issues.extend(row_issues)
        if rec.id is None:
            account.rejected += 1
            issues.append(
                DataIssue(
                    "missing-id",
                    f"row has no {ent.fields[ent.id_field].label.zh} ({ent.id_field})",
                    str(path),
                    row_no,
                    None,
                    None,
                    ent.id_field,
                    kind,
                )
            )
            continue
        if rec.id in seen:
            account.rejected += 1
            issues.append(
                DataIssue(
                    "duplicate-id",
                    f"{kind} {rec.id} already appears on row {seen[rec.id]}",
                    str(path),
                    row_no,
                    None,
                    rec.id,
                    ent.id_field,
                    kind,
                    rec.id,
                )
            )
            continue
        seen[rec.id] = row_no
        records.append(rec)
    account.records = len(records)
    return kind, records, issues, account


def expand_paths(paths: Iterable[str]) -> list[tuple[str | None, Path]]:
    """``KIND=PATH`` or ``PATH`` arguments; a folder means its data files (sorted)."""
    out: list[tuple[str | None, Path]] = []
    for arg in paths:
        kind, sep, rest = arg.partition("=")
        entity, target = (kind, Path(rest)) if sep and kind in ENTITY_KINDS else (None, Path(arg))
        if target.is_dir():
            out.extend((entity, p) for p in sorted(target.iterdir()) if p.suffix.lower() in DATA_SUFFIXES)
        else:
            out.append((entity, target))
    return out


def read_dataset(schema: Schema, paths: Iterable[str]) -> Dataset:
    """Read data files (``KIND=PATH``, ``PATH`` or folders) and link them.

    Member rows whose household is missing, and households whose village is missing (when a
    village file was given), become ``orphan-link`` issues and are counted as rejected.

    Raises:
        DataFileError: a file cannot be read at all, or no data files were given.
    """
    tables: dict[str, list[Record]] = {}
    issues: list[DataIssue] = []
    accounts: list[FileAccount] = []
    targets = expand_paths(paths)
    if not targets:
        raise DataFileError("no data files given (CSV, JSON or JSON Lines; a folder means its data files)")
    for entity, path in targets:
        kind, records, file_issues, account = read_file(schema, path, entity)
        tables.setdefault(kind, []).extend(records)
        issues.extend(file_issues)
        accounts.append(account)
    orphans = link(schema, tables)
    orphan_ids = {(i.entity, i.entity_id) for i in orphans}
    for kind in list(tables):
        before = len(tables[kind])
        tables[kind] = [r for r in tables[kind] if (kind, r.id) not in orphan_ids]
        dropped = before - len(tables[kind])
        if dropped:
            for acc in accounts:
                if acc.entity == kind:
                    n = sum(1 for i in orphans if i.entity == kind and i.file == acc.file)
                    acc.records -= n
                    acc.rejected += n
    issues.extend(orphans)
    return Dataset(tables, issues, accounts)


def as_mapping(record: Record) -> Mapping[str, Any]:
    """The typed values of a record (for debugging and tests)."""
    return dict(record.values)
