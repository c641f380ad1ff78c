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

__all__ = [
    "Record",
    "TableIndex",
    "index_tables",
    "link",
    "record_from_mapping",
    "resolve_header",
    "with_nested_children",
]

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
    table: TableIndex | None = field(default=None, repr=False)


class TableIndex:
    """All records of one entity kind in a data set, indexed by field value on demand (for ``unique``)."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self._by_field: dict[str, dict[Any, list[Record]]] = {}

    def same(self, field_name: str, value: Any) -> list[Record]:
        """The records whose ``field_name`` equals ``value``."""
        if field_name not in self._by_field:
            index: dict[Any, list[Record]] = {}
            for r in self.records:
                v = r.values.get(field_name)
                if v is not None:
                    index.setdefault(_fold(v), []).append(r)
            self._by_field[field_name] = index
        return self._by_field[field_name].get(_fold(value), [])


def _fold(value: Any) -> Any:
    """Text compared for sameness as a person would: case and surrounding spaces aside (…002x = …002X)."""
    return value.strip().upper() if isinstance(value, str) else value


def index_tables(tables: dict[str, list[Record]]) -> None:
    """Give every record its table (what ``unique(field)`` compares against)."""
    for records in tables.values():
        index = TableIndex(records)
        for r in records:
            r.table = index


def with_nested_children(tables: dict[str, list[Record]]) -> dict[str, list[Record]]:
    """``tables`` plus every child record nested under their records (a JSON household's
    ``members``), each in its kind's table once, after the records given for that kind.

    The nested records are already linked to their parents; tables given are not copied when nothing
    is nested.
    """
    extra: dict[str, list[Record]] = {}
    seen = {id(r) for records in tables.values() for r in records}

    def walk(rec: Record) -> None:
        for kids in rec.children.values():
            for kid in kids:
                if id(kid) not in seen:
                    seen.add(id(kid))
                    extra.setdefault(kid.entity, []).append(kid)
                walk(kid)

    for records in list(tables.values()):
        for rec in records:
            walk(rec)
    if not extra:
        return tables
    out = dict(tables)
    for kind, kids in extra.items():
        out[kind] = [*out.get(kind, []), *kids]
    return out


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
    """Link child records to parents and fill child collections; returns the link issues.

    Parents are found by code (e.g. 村编号), else by name (e.g. 行政村), a name shared by two
    parents being told apart by the township when both rows have one. Member rows given without a
    household table form households of their own (identified by the household code and described by
    the household columns the person rows repeat, such as 行政村). When a
    member table is given, a household with no member rows gets a ``no-members`` issue and its
    members are UNKNOWN (never an empty list that would make ``all(...)`` vacuously true), and a
    declared household size that differs from the member rows gets a ``member-count`` issue.
    """
    issues: list[DataIssue] = []
    if "member" in tables and "household" not in tables:
        groups: dict[str, Record] = {}
        for m in tables["member"]:
            hid = m.values.get("household_id")
            if hid is not None and hid not in groups:
                # household columns repeated on person rows (村, 乡, 人均纯收入 ...) describe the household
                hh, _ = record_from_mapping(schema, "household", {**m.unknown_columns, "household_id": hid})
                hh.source = m.source
                groups[hid] = hh
        tables["household"] = list(groups.values())
    for child_kind in [k for k in schema.kinds() if schema.entities[k].parent is not None]:
        ent = schema.entities[child_kind]
        if child_kind not in tables or ent.parent is None or ent.parent not in tables:
            continue
        parent_ent = schema.entities[ent.parent]
        parents = tables[ent.parent]
        coll = next((c for c, k in parent_ent.children.items() if k == child_kind), None)
        by_id = _index(parents, parent_ent.id_field)
        by_name = _index(parents, parent_ent.name_field)
        if coll:
            for p in parents:
                p.children.setdefault(coll, [])
        uncertain: set[int] = set()
        for rec in tables[child_kind]:
            parent, why = _find(rec, ent, by_id, by_name)
            if parent is None:
                linked_by_name = ent.parent_key is None or rec.values.get(ent.parent_key) is None
                if coll and child_kind != "member" and linked_by_name:
                    # linked by a name that matches no parent (a typo such as 河湾 for 河湾村): the parents it may
                    # belong to are not judged on an incomplete collection (a village must not pass at 0%)
                    township = rec.values.get("township")
                    uncertain |= {
                        id(p) for p in parents if township is None or p.values.get("township") in (None, township)
                    }
                file, _, row = (rec.source or "").rpartition(":")
                issues.append(
                    DataIssue(
                        "orphan-link",
                        f"{child_kind} {rec.id} {why}",
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
        if coll and uncertain:
            issues += _uncertain_parents(parents, uncertain, coll, child_kind, ent.parent or "")
    if "member" in tables:
        issues += _check_members(tables.get("household", []))
    return issues


def _uncertain_parents(
    parents: list[Record], uncertain: set[int], coll: str, child_kind: str, parent_kind: str
) -> list[DataIssue]:
    """Drop the collections of parents an unlinked child may belong to (so they are UNKNOWN), with an issue."""
    issues = []
    for p in parents:
        if id(p) in uncertain and coll in p.children:
            del p.children[coll]
            file, _, row = (p.source or "").rpartition(":")
            issues.append(
                DataIssue(
                    "unlinked-children",
                    f"{parent_kind} {p.id}: some {child_kind} rows could not be linked and may belong here, "
                    f"so rules over its {coll} are UNKNOWN",
                    file or (p.source or ""),
                    int(row) if row.isdigit() else None,
                    None,
                    None,
                    coll,
                    parent_kind,
                    p.id,
                )
            )
    return issues


def _check_members(households: list[Record]) -> list[DataIssue]:
    issues = []
    for hh in households:
        members = hh.children.get("members")
        if members is None:
            continue
        file, _, row = (hh.source or "").rpartition(":")
        where = (file or (hh.source or ""), int(row) if row.isdigit() else None)
        if not members:
            del hh.children["members"]
            issues.append(
                DataIssue(
                    "no-members",
                    f"household {hh.id} has no rows in the member data; rules about its members are UNKNOWN",
                    *where,
                    None,
                    None,
                    "members",
                    "household",
                    hh.id,
                )
            )
            continue
        size = hh.values.get("household_size")
        if size is not None and size != len(members):
            del hh.children["members"]  # an incomplete (or padded) member list must not decide member rules
            issues.append(
                DataIssue(
                    "member-count",
                    f"household {hh.id} declares {size} members but the member data has {len(members)};"
                    " rules about its members are UNKNOWN",
                    *where,
                    None,
                    str(size),
                    "household_size",
                    "household",
                    hh.id,
                )
            )
    return issues


def _index(records: Iterable[Record], key: str | None) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    if key is None:
        return out
    for r in records:
        v = r.values.get(key)
        if v is not None:
            out.setdefault(str(v), []).append(r)
    return out


def _pick(candidates: list[Record], rec: Record) -> Record | None:
    if len(candidates) == 1:
        return candidates[0]
    township = rec.values.get("township")
    narrowed = [c for c in candidates if township is not None and c.values.get("township") == township]
    return narrowed[0] if len(narrowed) == 1 else None


def _find(
    rec: Record, ent: EntityDef, by_id: dict[str, list[Record]], by_name: dict[str, list[Record]]
) -> tuple[Record | None, str]:
    """The parent of ``rec``, or ``None`` and why not."""
    key = rec.values.get(ent.parent_key) if ent.parent_key else None
    name = rec.values.get(ent.parent_name_key) if ent.parent_name_key else None
    for value, index in ((key, by_id), (name, by_name), (key, by_name), (name, by_id)):
        if value is None or str(value) not in index:
            continue
        found = _pick(index[str(value)], rec)
        if found is not None:
            return found, ""
        return None, (
            f"points to {ent.parent} {value!r}, which names {len(index[str(value)])} of them"
            " (add the parent code, or the township, to tell them apart)"
        )
    if key is None and name is None:
        return None, f"names no {ent.parent} (no {ent.parent_key} column or it is blank)"
    return None, f"points to {ent.parent} {key if key is not None else name!r}, which is not in the data"
