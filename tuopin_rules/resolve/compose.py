"""Stage 3 — resolve: one effective standard from a chain of ``extends``.

Each file of the chain is a :class:`Layer` (its YAML with positions and its validated parts). The
chain is merged base first: a variant's ``override`` changes parameters (``values`` merged key by
key) and rule fields, ``disable`` removes rules (each with a reason), and new sources, parameters,
fields and rules are added. Every merged item keeps the file and path it came from (:class:`At`), so
diagnostics point at the line that wrote it, and every change is recorded as a :class:`Change` for
``tuopin show --diff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuopin_rules.errors import Diagnostic, did_you_mean
from tuopin_rules.source import PathKey, SourceDoc, load_yaml_file
from tuopin_rules.spec import EntitySpec, FieldSpec, ParameterSpec, RuleSpec, SourceSpec, StandardSpec, Text, validate

__all__ = ["At", "Change", "Layer", "Merged", "MergedRule", "load_chain", "merge", "read_layer"]

MAX_CHAIN = 16


@dataclass(frozen=True)
class At:
    """Where something was written: a document and the path in it."""

    doc: SourceDoc
    path: PathKey

    def diagnostic(
        self, code: str, message: str, *, key: bool = False, hint: str | None = None, severity: str = "error"
    ) -> Diagnostic:
        """A diagnostic located here."""
        return self.doc.diagnostic(code, message, self.path, key=key, hint=hint, severity=severity)


@dataclass
class Layer:
    """One file of an ``extends`` chain: its document, its validated frame and its valid rules."""

    doc: SourceDoc
    spec: StandardSpec
    rules: list[tuple[int, RuleSpec]]
    invalid_rules: list[tuple[int, dict[str, Any]]]


@dataclass
class MergedRule:
    """A rule of the effective standard, with where each of its parts was written."""

    spec: RuleSpec
    at: At
    parts: dict[str, At]
    origin: str

    def part(self, name: str) -> At:
        """Where the field ``name`` of the rule was (last) written."""
        return self.parts.get(name) or At(self.at.doc, (*self.at.path, name))


@dataclass
class Change:
    """One thing a variant changes against its base, for ``tuopin show --diff``.

    ``action`` is add | replace | disable | modify; ``kind`` is rule | parameter | field | source.
    """

    action: str
    kind: str
    name: str
    before: Any
    after: Any
    at: At
    reason: Text | None = None


@dataclass
class Merged:
    """The effective content of a standard after its chain is merged."""

    spec: StandardSpec
    layers: list[Layer]
    sources: dict[str, tuple[SourceSpec, At]]
    parameters: dict[str, tuple[ParameterSpec, At]]
    fields: list[tuple[str, str, FieldSpec, At]]
    rules: list[MergedRule]
    entities: list[tuple[str, EntitySpec, At]]
    invalid_rules: list[tuple[dict[str, Any], At]]
    disabled: dict[str, tuple[Text, At]]
    changes: list[Change]
    problems: list[Diagnostic]

    @property
    def effective(self) -> Any:
        """The ``effective`` of the nearest file in the chain that sets one (the variant's first)."""
        return next((layer.spec.effective for layer in reversed(self.layers) if layer.spec.effective), None)

    @property
    def base_id(self) -> str | None:
        """The id of the standard this one extends, or ``None``."""
        return self.layers[-2].spec.standard if len(self.layers) > 1 else None


def read_layer(doc: SourceDoc, problems: list[Diagnostic]) -> Layer | None:
    """Validate a document's frame and each rule on its own, so one bad rule hides nothing else."""
    data = doc.data if isinstance(doc.data, dict) else {}
    raw_rules = data.get("rules")
    frame = {**data, "rules": []} if isinstance(raw_rules, list) else data
    spec, invalid = validate(doc, StandardSpec, frame if isinstance(doc.data, dict) else None)
    problems += invalid
    rules: list[tuple[int, RuleSpec]] = []
    bad: list[tuple[int, dict[str, Any]]] = []
    for i, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule, rule_problems = validate(doc, RuleSpec, raw, ("rules", i))
        problems += rule_problems
        if rule is not None:
            rules.append((i, rule))
        elif isinstance(raw, dict):
            bad.append((i, raw))
    return Layer(doc, spec, rules, bad) if spec is not None else None


def load_chain(doc: SourceDoc, problems: list[Diagnostic], find: Any) -> list[Layer]:
    """The layers of ``doc``'s ``extends`` chain, base first.

    Args:
        doc: the variant's document.
        problems: collects every diagnostic of every file.
        find: ``find(name, relative_to) -> Path`` resolving an ``extends`` value (raises on failure).
    """
    chain: list[Layer] = []
    seen: list[str] = []
    current: SourceDoc | None = doc
    while current is not None:
        layer = read_layer(current, problems)
        if layer is None:
            break
        chain.insert(0, layer)
        seen.append(str(Path(current.file).resolve()) if current.file != "<string>" else current.file)
        parent = layer.spec.extends
        current = None
        if parent is None:
            break
        at = At(layer.doc, ("extends",))
        if len(chain) >= MAX_CHAIN:
            problems.append(at.diagnostic("invalid-value", f"the extends chain is longer than {MAX_CHAIN}"))
            break
        try:
            here = Path(layer.doc.file) if layer.doc.file != "<string>" else None
            path = find(parent, here.parent if here else None, here)
        except Exception as exc:
            problems.append(at.diagnostic("unknown-standard", f"cannot extend {parent!r}: {exc}"))
            break
        if str(Path(path).resolve()) in seen:
            problems.append(at.diagnostic("invalid-value", f"extends {parent!r} forms a cycle"))
            break
        base_doc, base_problems = load_yaml_file(path)
        problems += base_problems
        current = base_doc
    return chain


def _in_base_schema(entity: str, name: str) -> bool:
    from tuopin_rules.entities.schema import base_schema

    ent = base_schema().entities.get(entity)
    return ent is not None and name in ent.fields


def merge(chain: list[Layer]) -> Merged:
    """Merge a chain (base first) into the effective standard content."""
    top = chain[-1]
    m = Merged(top.spec, chain, {}, {}, [], [], [], [], {}, [], [])
    for depth, layer in enumerate(chain):
        _apply(m, layer, is_base=depth == 0)
    return m


def _apply(m: Merged, layer: Layer, *, is_base: bool) -> None:
    spec, doc = layer.spec, layer.doc
    record = not is_base and layer is m.layers[-1]  # changes of the top variant against its base
    for sid, src in spec.sources.items():
        if record and sid not in m.sources:
            m.changes.append(Change("add", "source", sid, None, src.title, At(doc, ("sources", sid))))
        m.sources[sid] = (src, At(doc, ("sources", sid)))
    for kind, espec in spec.entities.items():
        at = At(doc, ("entities", kind))
        if record:
            m.changes.append(Change("add", "entity", kind, None, espec.label.zh, at))
        m.entities.append((kind, espec, at))
    for name, pspec in spec.parameters.items():
        at = At(doc, ("parameters", name))
        if name in m.parameters:
            m.problems.append(
                at.diagnostic(
                    "invalid-value",
                    f"parameter {name!r} is already defined by the base; change it under override: parameters:",
                    key=True,
                )
            )
            continue
        if record:
            m.changes.append(Change("add", "parameter", name, None, pspec.values, at))
        m.parameters[name] = (pspec, at)
    for entity, fields in spec.fields.items():
        for fname, fspec in fields.items():
            at = At(doc, ("fields", entity, fname))
            if record:
                known = any(e == entity and n == fname for e, n, _, _ in m.fields) or _in_base_schema(entity, fname)
                action, what = ("modify", "derive") if known else ("add", fspec.type or "derive")
                m.changes.append(Change(action, "field", f"{entity}.{fname}", None, what, at))
            m.fields.append((entity, fname, fspec, at))
    override = spec.override
    if override is not None:
        for name, po in override.parameters.items():
            at = At(doc, ("override", "parameters", name))
            if name not in m.parameters:
                m.problems.append(
                    at.diagnostic(
                        "unknown-parameter",
                        f"override of unknown parameter {name!r}",
                        key=True,
                        hint=did_you_mean(name, m.parameters),
                    )
                )
                continue
            before, _ = m.parameters[name]
            updates = po.model_dump(exclude_none=True, exclude={"values"}, by_alias=False)
            updates = {k: getattr(po, k) for k in updates}
            values = dict(before.values)
            if po.values is not None:
                values.update(po.values)
            after = before.model_copy(update={**updates, "values": values})
            m.parameters[name] = (after, at)
            if record:
                m.changes.append(Change("replace", "parameter", name, before, after, at))
        ids = {r.spec.id: r for r in m.rules}
        for rule_id, ro in override.rules.items():
            at = At(doc, ("override", "rules", rule_id))
            target = ids.get(rule_id)
            if target is None:
                m.problems.append(
                    at.diagnostic(
                        "unknown-rule",
                        f"override of unknown rule {rule_id!r}",
                        key=True,
                        hint=did_you_mean(rule_id, ids),
                    )
                )
                continue
            changed = {k: getattr(ro, k) for k in ro.model_fields_set}
            before_spec = target.spec
            target.spec = before_spec.model_copy(update=changed)
            for k in changed:
                target.parts[k] = At(doc, ("override", "rules", rule_id, k))
            if record:
                m.changes.append(Change("modify", "rule", rule_id, before_spec, target.spec, at))
    for rule_id, reason in spec.disable.items():
        at = At(doc, ("disable", rule_id))
        found = next((r for r in m.rules if r.spec.id == rule_id), None)
        if found is None:
            m.problems.append(
                at.diagnostic(
                    "unknown-rule",
                    f"cannot disable unknown rule {rule_id!r}",
                    key=True,
                    hint=did_you_mean(rule_id, [r.spec.id for r in m.rules]),
                )
            )
            continue
        m.rules.remove(found)
        m.disabled[rule_id] = (reason, at)
        if record:
            m.changes.append(Change("disable", "rule", rule_id, found.spec, None, at, reason))
    existing = {r.spec.id: r for r in m.rules}
    for index, rs in layer.rules:
        at = At(doc, ("rules", index))
        if rs.id in existing:
            first = existing[rs.id]
            message = (
                f"rule id {rs.id!r} is already used by rule #{first.at.path[-1] + 1}"  # type: ignore[operator]
                if first.at.doc is doc
                else f"rule {rs.id!r} is already defined by the base; change it under override: rules:"
            )
            m.problems.append(At(doc, ("rules", index, "id")).diagnostic("duplicate-rule", message))
            continue
        if record:
            m.changes.append(Change("add", "rule", rs.id, None, rs, at))
        merged_rule = MergedRule(rs, at, {}, spec.standard)
        m.rules.append(merged_rule)
        existing[rs.id] = merged_rule
    m.invalid_rules += [(raw, At(doc, ("rules", i))) for i, raw in layer.invalid_rules]
