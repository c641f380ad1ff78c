"""The entity schema: member, household, village, county — their fields, links and code lists.

The base schema ships as ``schema.yaml`` beside this module; a standard may add fields or give a
field a ``derive:`` expression. Field names follow GLOSSARY.md; ``aliases`` are the column headers
seen in real exports, so the same table maps data headers and Chinese names in expressions.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from tuopin_rules.errors import Diagnostic, StandardError
from tuopin_rules.source import SourceDoc, load_yaml
from tuopin_rules.spec import CodeSpec, EntitySpec, FieldSpec, SchemaSpec, Text, validate

__all__ = ["ENTITY_KINDS", "EntityDef", "FieldDef", "Schema", "base_schema", "normalize_header"]

#: the entity kinds, children before parents (a file's kind is the first whose id column it has)
ENTITY_KINDS: tuple[str, ...] = ("sample", "member", "household", "village", "county")


def normalize_header(text: str) -> str:
    """Fold a header or code for matching: NFKC (full-width to ASCII), no spaces, lower case.

    >>> normalize_header(" 人均纯收入（元） ")
    '人均纯收入(元)'
    """
    folded = unicodedata.normalize("NFKC", str(text))
    return "".join(folded.split()).lower()


@dataclass(frozen=True)
class FieldDef:
    """One field of an entity.

    Attributes:
        name: the identifier (GLOSSARY.md).
        entity: the entity kind it belongs to.
        type: text | code | bool | integer | number | percent | date.
        label: zh / en label used in explanations.
        unit: zh / en unit (e.g. 元 / yuan) or ``None``.
        aliases: column headers and Chinese names that mean this field.
        codes: for ``code`` fields, code -> CodeSpec (labels, aliases).
        derive: the raw ``derive`` expression (compiled by the standard), or ``None``.
        percent_input: how a plain number in a percent cell is read.
    """

    name: str
    entity: str
    type: str
    label: Text
    unit: Text | None = None
    aliases: tuple[str, ...] = ()
    codes: dict[str, CodeSpec] | None = None
    derive: Any = None
    percent_input: str = "percent_points"
    origin: str = "schema"

    @property
    def numeric(self) -> bool:
        """True for integer, number and percent fields."""
        return self.type in ("integer", "number", "percent")

    @functools.cached_property
    def _code_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for code, spec in (self.codes or {}).items():
            for spelling in (code, spec.zh or "", spec.en or "", *spec.aliases):
                if spelling:
                    index.setdefault(normalize_header(spelling), code)
        return index

    def code_for(self, raw: str) -> str | None:
        """The code that ``raw`` (a code, label or alias) stands for, or ``None``."""
        if not self.codes:
            return None
        return self._code_index.get(normalize_header(raw))

    def code_label(self, code: str, lang: str) -> str:
        """The display label of ``code`` in ``lang``."""
        spec = (self.codes or {}).get(code)
        if spec is None:
            return code
        return (spec.en if lang == "en" else spec.zh) or spec.zh or code


@dataclass
class EntityDef:
    """One entity kind: its id field, parent link, child collections and fields."""

    name: str
    label: Text
    id_field: str
    name_field: str | None
    parent: str | None
    parent_key: str | None
    parent_name_key: str | None
    children: dict[str, str]
    fields: dict[str, FieldDef]
    _lookup: dict[str, str] = field(default_factory=dict, repr=False)

    def reindex(self) -> None:
        """Rebuild the name/alias lookup after fields change."""
        self._lookup = {}
        for f in self.fields.values():
            for spelling in (f.label.zh, *f.aliases):
                self._lookup.setdefault(normalize_header(spelling), f.name)
        for f in self.fields.values():  # English names win over any alias
            self._lookup[normalize_header(f.name)] = f.name

    def resolve(self, written: str) -> FieldDef | None:
        """The field that ``written`` (a name, Chinese label or alias) names, or ``None``."""
        name = self._lookup.get(normalize_header(written))
        return self.fields.get(name) if name else None

    def spellings(self) -> list[str]:
        """Every accepted spelling (for did-you-mean)."""
        return sorted({*self.fields, *(f.label.zh for f in self.fields.values())})


@dataclass
class Schema:
    """All entity kinds of a standard."""

    entities: dict[str, EntityDef]

    def copy(self) -> Schema:
        """A deep enough copy for a standard to add fields to."""
        entities = {}
        for k, e in self.entities.items():
            copy = EntityDef(
                e.name,
                e.label,
                e.id_field,
                e.name_field,
                e.parent,
                e.parent_key,
                e.parent_name_key,
                dict(e.children),
                dict(e.fields),
            )
            copy.reindex()
            entities[k] = copy
        return Schema(entities)

    def kinds(self) -> list[str]:
        """Entity kinds, children before parents (deepest first; then in declaration order)."""

        def depth(kind: str) -> int:
            d, seen = 0, {kind}
            parent = self.entities[kind].parent
            while parent is not None and parent in self.entities and parent not in seen:
                seen.add(parent)
                d += 1
                parent = self.entities[parent].parent
            return d

        order = list(self.entities)
        return sorted(order, key=lambda k: (-depth(k), order.index(k)))

    def add_entity(self, kind: str, spec: EntitySpec, origin: str) -> str | None:
        """Add a table a standard declares; returns an error message or ``None``."""
        if kind in self.entities:
            return f"entity {kind!r} already exists"
        if spec.parent is not None and spec.parent.entity not in self.entities:
            return f"entity {kind!r}: unknown parent {spec.parent.entity!r}"
        if spec.id not in spec.fields:
            return f"entity {kind!r}: its id field {spec.id!r} is not among its fields"
        if spec.parent is not None and spec.parent.key not in spec.fields:
            return f"entity {kind!r}: its parent key {spec.parent.key!r} is not among its fields"
        self.entities[kind] = _entity_def(kind, spec, origin)
        if spec.parent is not None:
            self.entities[spec.parent.entity].children[spec.collection or f"{kind}s"] = kind
        return None

    def add_field(self, entity: str, name: str, spec: FieldSpec, origin: str) -> str | None:
        """Add a field or give an existing one a ``derive``; returns an error message or ``None``."""
        ent = self.entities[entity]
        existing = ent.fields.get(name)
        if existing is not None:
            if spec.type is not None and spec.type != existing.type:
                return f"field {entity}.{name} is already declared as {existing.type}"
            merged = replace(
                existing,
                derive=spec.derive if spec.derive is not None else existing.derive,
                aliases=tuple(dict.fromkeys((*existing.aliases, *spec.aliases))),
                label=spec.label or existing.label,
                unit=spec.unit or existing.unit,
            )
            ent.fields[name] = merged
        else:
            if spec.type is None:
                return f"new field {entity}.{name} needs a type"
            ent.fields[name] = _field_def(entity, name, spec, origin)
        ent.reindex()
        return None


def _field_def(entity: str, name: str, spec: FieldSpec, origin: str) -> FieldDef:
    return FieldDef(
        name=name,
        entity=entity,
        type=spec.type or "text",
        label=spec.label or Text(zh=name, en=name),
        unit=spec.unit,
        aliases=tuple(spec.aliases),
        codes={c.code: c for c in spec.codes} if spec.codes else None,
        derive=spec.derive,
        percent_input=spec.percent_input,
        origin=origin,
    )


def schema_from_spec(spec: SchemaSpec, origin: str) -> Schema:
    """Build a :class:`Schema` from a validated schema file."""
    entities: dict[str, EntityDef] = {}
    for kind, ent in spec.entities.items():
        entities[kind] = _entity_def(kind, ent, origin)
    return Schema(entities)


def _entity_def(kind: str, spec: EntitySpec, origin: str) -> EntityDef:
    ed = EntityDef(
        name=kind,
        label=spec.label,
        id_field=spec.id,
        name_field=spec.name,
        parent=spec.parent.entity if spec.parent else None,
        parent_key=spec.parent.key if spec.parent else None,
        parent_name_key=spec.parent.name_key if spec.parent else None,
        children=dict(spec.children),
        fields={n: _field_def(kind, n, f, origin) for n, f in spec.fields.items()},
    )
    ed.reindex()
    return ed


@functools.cache
def _base_doc() -> SourceDoc:
    text = resources.files("tuopin_rules.entities").joinpath("schema.yaml").read_text(encoding="utf-8")
    doc, problems = load_yaml(text, "tuopin_rules/entities/schema.yaml")
    if doc is None or problems:
        raise StandardError(problems)
    return doc


@functools.cache
def _base_schema() -> Schema:
    doc = _base_doc()
    spec, problems = validate(doc, SchemaSpec)
    if spec is None:
        raise StandardError(problems)
    return schema_from_spec(spec, "schema")


def base_schema() -> Schema:
    """A fresh copy of the bundled entity schema.

    Raises:
        StandardError: if the bundled schema file is broken (a packaging bug).
    """
    return _base_schema().copy()


def check_schema(diagnostics: list[Diagnostic]) -> None:
    """Raise :class:`StandardError` if ``diagnostics`` holds an error."""
    if any(d.severity == "error" for d in diagnostics):
        raise StandardError(diagnostics)
