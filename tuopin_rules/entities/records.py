"""Entity records and the links between them (member → household → village → county).

A :class:`Record` holds typed values, the data issues of its bad cells (those fields evaluate as
UNKNOWN with the issue as reason), its child collections and its provenance. :func:`link` groups
member rows into households by household code, households into villages by village code (or name)
and villages into counties; an orphan link is a data issue, never a silent drop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tuopin_rules.entities.schema import EntityDef, FieldDef, Schema
from tuopin_rules.errors import DataIssue
from tuopin_rules.intake.values import CellError, convert

__all__ = ["Record", "link", "record_from_mapping", "resolve_header"]

_UNIT_SUFFIX = re.compile(r"[(（][^()（）]*[)）]\s*$")


@dataclass
class Record:
    """One entity record.

    Attributes:
        entity: ``member`` / ``household`` / ``village`` / ``county``.
        id: the record's identifier (its id field as text), or ``None`` if missing.
        values: field name -> typed value; a field absent or ``None`` is missing.
        issues: field name -> the data issue that made the cell unreadable.
        children: collection name (e.g. ``members``) -> child records; a collection whose table
            was not supplied is absent, which makes aggregates over it UNKNOWN.
        source: ``file:row`` provenance, or ``None``.
        parent: the parent record once linked.
    """

    entity: str
    id: str | None
    values: dict[str, Any] = field(default_factory=dict)
    issues: dict[str, DataIssue] = field(default_factory=dict)
    children: dict[str, list[Record]] = field(default_factory=dict)
    source: str | None = None
    parent: Record | None = field(default=None, repr=False)
    unknown_columns: dict[str, Any] = field(default_factory=dict, repr=False)


def resolve_header(ent: EntityDef, header: str) -> FieldDef | None:
    """The field a column header (or JSON key) names: name, label, alias, or alias plus a unit.

    >>> from tuopin_rules.entities.schema import base_schema
    >>> resolve_header(base_schema().entities["household"], "人均纯收入（元/人）").name
    'per_capita_net_income'
    """
    found = ent.resolve(header)
    if found is None:
        stripped = _UNIT_SUFFIX.sub("", str(header)).strip()
        if stripped and stripped != header:
            found = ent.resolve(stripped)
    return found


def record_from_mapping(
    schema: Schema,
    entity: str,
    mapping: Mapping[str, Any],
    *,
    file: str = "<record>",
    row: int | None = None,
    headers: Mapping[str, FieldDef | None] | None = None,
) -> tuple[Record, list[DataIssue]]:
    """Build a record from a mapping of header -> raw cell.

    Nested lists under a collection name (``members`` for a household) become child records.

    Args:
        schema: the standard's entity schema.
        entity: the entity kind.
        mapping: raw cells keyed by header, field name or alias.
        file / row: provenance for data issues.
        headers: pre-resolved header -> field map (the CSV reader resolves once per file).

    Returns:
        ``(record, issues)``: every unreadable cell is an issue and a missing value in the record.
    """
    ent = schema.entities[entity]
    rec = Record(entity=entity, id=None, source=f"{file}:{row}" if row is not None else file)
    issues: list[DataIssue] = []
    for header, raw in mapping.items():
        if header in ent.children and isinstance(raw, list):
            child_kind = ent.children[header]
            kids = []
            for i, item in enumerate(raw):
                if not isinstance(item, Mapping):
                    issues.append(DataIssue("bad-value", f"{header}[{i}] is not an object", file, row, header))
                    continue
                kid, kid_issues = record_from_mapping(schema, child_kind, item, file=f"{file}:{header}[{i}]", row=row)
                kid.parent = rec
                kids.append(kid)
                issues.extend(kid_issues)
            rec.children[header] = kids
            continue
        fdef = headers.get(header) if headers is not None else resolve_header(ent, header)
        if fdef is None:
            rec.unknown_columns[header] = raw
            continue
        if rec.values.get(fdef.name) is not None:
            continue  # two columns for one field: the first non-blank one wins
        try:
            rec.values[fdef.name] = convert(fdef, raw)
        except CellError as exc:
            rec.values[fdef.name] = None
            issue = DataIssue(exc.code, str(exc), file, row, str(header), _raw_text(raw), fdef.name, entity)
            rec.issues[fdef.name] = issue
            issues.append(issue)
    ident = rec.values.get(ent.id_field)
    rec.id = str(ident) if ident is not None else None
    issues = [_with_id(i, rec.id) if i.entity == entity and i.entity_id is None else i for i in issues]
    rec.issues = {k: _with_id(v, rec.id) for k, v in rec.issues.items()}
    return rec, issues


def _raw_text(raw: Any) -> str:
    return "" if raw is None else str(raw)


def _with_id(issue: DataIssue, ident: str | None) -> DataIssue:
    if ident is None:
        return issue
    return DataIssue(
        issue.code, issue.message, issue.file, issue.row, issue.column, issue.raw, issue.field, issue.entity, ident
    )


def link(schema: Schema, tables: dict[str, list[Record]]) -> list[DataIssue]:
    """Link child records to parents and fill child collections; returns orphan-link issues.

    Member rows whose household is not in the household table form households of their own
    (identified by the household code) when no household table was given; when one was, they
    are orphans. Parents whose child table was supplied get a (possibly empty) collection.
    """
    issues: list[DataIssue] = []
    if "member" in tables and "household" not in tables:
        groups: dict[str, Record] = {}
        for m in tables["member"]:
            hid = m.values.get("household_id")
            if hid is not None and hid not in groups:
                groups[hid] = Record("household", hid, {"household_id": hid}, source=m.source)
        tables["household"] = list(groups.values())
    for child_kind in ("member", "household", "village"):
        ent = schema.entities[child_kind]
        if child_kind not in tables or ent.parent is None or ent.parent not in tables:
            continue
        parent_ent = schema.entities[ent.parent]
        parents = tables[ent.parent]
        coll = (
            next(c for c, k in parent_ent.children.items() if k == child_kind)
            if child_kind in parent_ent.children.values()
            else None
        )
        by_id = _index(parents, parent_ent.id_field)
        by_name = _index(parents, parent_ent.name_field) if parent_ent.name_field else {}
        if coll:
            for p in parents:
                p.children.setdefault(coll, [])
        for rec in tables[child_kind]:
            parent = _find(rec, ent, by_id, by_name)
            if parent is None:
                key = rec.values.get(ent.parent_key or "") or (
                    rec.values.get(ent.parent_name_key or "") if ent.parent_name_key else None
                )
                file, _, row = (rec.source or "").rpartition(":")
                issues.append(
                    DataIssue(
                        "orphan-link",
                        f"{child_kind} {rec.id} points to {ent.parent} {key!r}, which is not in the data"
                        if key is not None
                        else f"{child_kind} {rec.id} names no {ent.parent}",
                        file or (rec.source or ""),
                        int(row) if row.isdigit() else None,
                        None,
                        None,
                        ent.parent_key,
                        child_kind,
                        rec.id,
                    )
                )
                continue
            rec.parent = parent
            if coll:
                parent.children[coll].append(rec)
    return issues


def _index(records: Iterable[Record], key: str | None) -> dict[str, Record | None]:
    out: dict[str, Record | None] = {}
    if key is None:
        return out
    for r in records:
        v = r.values.get(key)
        if v is None:
            continue
        out[str(v)] = None if str(v) in out else r  # None marks an ambiguous key
    return out


def _find(
    rec: Record, ent: EntityDef, by_id: dict[str, Record | None], by_name: dict[str, Record | None]
) -> Record | None:
    key = rec.values.get(ent.parent_key) if ent.parent_key else None
    if key is not None and by_id.get(str(key)) is not None:
        return by_id[str(key)]
    name = rec.values.get(ent.parent_name_key) if ent.parent_name_key else None
    if name is not None:
        hit = by_name.get(str(name)) or by_id.get(str(name))
        if hit is not None:
            return hit
    # a parent keyed by the same field name (e.g. the county name on both sides)
    if key is not None and by_name.get(str(key)) is not None:
        return by_name[str(key)]
    return None
