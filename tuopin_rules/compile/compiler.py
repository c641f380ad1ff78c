"""Stage 4 — compile the merged content of a standard: fields, parameters, derived fields, rules.

Every expression is parsed and type-checked once, here, against the entity schema; every problem
is collected with the position of the file that wrote it (a base standard's file for inherited
parts, the variant's for overrides).
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tuopin_rules.compile.expressions import ExpressionCompiler
from tuopin_rules.compile.model import Rule, Standard
from tuopin_rules.entities.schema import base_schema
from tuopin_rules.errors import Diagnostic, did_you_mean
from tuopin_rules.expr import ast
from tuopin_rules.intake.values import CellError, convert
from tuopin_rules.resolve.compose import At, Merged, MergedRule
from tuopin_rules.resolve.params import ParamDef, build_param, by_key

__all__ = ["compile_merged"]

_TYPE_EXPECT = {
    "bool": "bool",
    "integer": "number",
    "number": "number",
    "percent": "number",
    "text": "text",
    "code": "text",
    "date": "date",
}


class _Compiler:
    def __init__(self, merged: Merged) -> None:
        self.m = merged
        self.problems: list[Diagnostic] = list(merged.problems)
        self.schema = base_schema()
        self.params: dict[str, ParamDef] = {}
        self.derived: dict[tuple[str, str], ast.Expr] = {}
        self.field_at: dict[tuple[str, str], At] = {}
        self.exprs = ExpressionCompiler(self.schema, self.params, self.problems)

    def compile(self) -> Standard:
        m = self.m
        for new_kind, espec, at in m.entities:
            msg = self.schema.add_entity(new_kind, espec, m.spec.standard)
            if msg:
                self.problems.append(at.diagnostic("invalid-value", msg, key=True))
        for entity, fname, fspec, at in m.fields:
            if entity not in self.schema.entities:
                self.problems.append(
                    At(at.doc, at.path[:-1]).diagnostic(
                        "unknown-entity",
                        f"unknown entity {entity!r}",
                        key=True,
                        hint=did_you_mean(entity, self.schema.entities),
                    )
                )
                continue
            msg = self.schema.add_field(entity, fname, fspec, m.spec.standard)
            if msg:
                self.problems.append(at.diagnostic("invalid-value", msg, key=True))
            elif fspec.derive is not None:
                self.field_at[(entity, fname)] = At(at.doc, (*at.path, "derive"))
        for name, (pspec, at) in m.parameters.items():
            pdef, problems = build_param(name, pspec)
            for sub, msg, at_key in problems:
                self.problems.append(
                    At(at.doc, (*at.path, "values", *sub)).diagnostic(
                        "parameter-values", f"parameter {name!r}: {msg}", key=at_key
                    )
                )
            if pspec.source is not None and pspec.source not in m.sources:
                self.problems.append(
                    At(at.doc, (*at.path, "source")).diagnostic(
                        "unknown-source", f"unknown source {pspec.source!r}", hint=did_you_mean(pspec.source, m.sources)
                    )
                )
            self.params[name] = pdef
            self.check_param_keys(name, pdef, at)
            self.check_param_start(name, pdef, at)
        for entity, ent in self.schema.entities.items():
            for fname, fdef in ent.fields.items():
                if fdef.derive is None:
                    continue
                at = self.field_at.get((entity, fname)) or At(m.layers[-1].doc, ("fields", entity, fname, "derive"))
                bound = self.exprs.compile(fdef.derive, at, entity, _TYPE_EXPECT[fdef.type])
                if bound is not None:
                    self.derived[(entity, fname)] = bound
        self.check_cycles()
        rules = [r for mr in m.rules if (r := self.rule(mr)) is not None]
        for raw, at in m.invalid_rules:  # their expressions' mistakes show too, all at once
            kind = raw.get("entity")
            if isinstance(kind, str) and kind in self.schema.entities:
                for key in ("applies_when", "require"):
                    if raw.get(key) is not None:
                        self.exprs.compile(raw[key], At(at.doc, (*at.path, key)), kind, "bool")
        digest = hashlib.sha256()
        for layer in m.layers:
            digest.update(layer.doc.text.encode("utf-8"))
        spec = m.spec
        return Standard(
            id=spec.standard,
            version=spec.version,
            title=spec.title,
            content_hash=f"sha256:{digest.hexdigest()}",
            file=m.layers[-1].doc.file,
            effective_from=m.effective.from_ if m.effective else None,
            effective_until=m.effective.until if m.effective else None,
            sources={k: v for k, (v, _) in m.sources.items()},
            schema=self.schema,
            params=self.params,
            derived=self.derived,
            rules=rules,
            extends=m.base_id,
            files=[layer.doc.file for layer in m.layers],
            disabled={k: reason for k, (reason, _) in m.disabled.items()},
            changes=m.changes,
        )

    # ---- parameters ---------------------------------------------------------------------------
    def check_param_keys(self, name: str, pdef: ParamDef, at: At) -> None:
        """Map ``by`` keys to the field's codes (``西部`` -> ``western``); unknown keys are errors."""
        if pdef.by is None:
            return
        fields = [e.fields[pdef.by] for e in self.schema.entities.values() if pdef.by in e.fields]
        if not fields:
            self.problems.append(
                At(at.doc, (*at.path, "by")).diagnostic(
                    "parameter-values", f"parameter {name!r} varies by {pdef.by!r}, which no entity has"
                )
            )
            return
        coded = next((f for f in fields if f.codes), None)
        if coded is None:
            self.normalise_plain_keys(name, pdef, at, fields[0])
            return
        codes = ["default", *(coded.codes or {})]
        self.rekey(
            name,
            pdef,
            at,
            lambda key: "default" if key == "default" else coded.code_for(key),
            lambda key: (
                f"parameter {name!r}: {key!r} is not a code of {pdef.by} ({', '.join(codes)})",
                did_you_mean(key, codes),
            ),
        )

    def normalise_plain_keys(self, name: str, pdef: ParamDef, at: At, fdef: Any) -> None:
        """Keys of a parameter ``by`` a yes/no, number or text field, in the form records select."""

        def plain(key: str) -> str | None:
            if key == "default" or fdef.type == "text":
                return key
            try:
                return by_key(convert(fdef, key))
            except CellError:
                return None

        self.rekey(
            name,
            pdef,
            at,
            plain,
            lambda key: (f"parameter {name!r}: {key!r} is not a {fdef.type} value of {pdef.by}", None),
        )

    def rekey(
        self,
        name: str,
        pdef: ParamDef,
        at: At,
        to_key: Callable[[str], str | None],
        refused: Callable[[str], tuple[str, str | None]],
    ) -> None:
        """Rename a ``by`` parameter's keys to the values records select; a key that maps to nothing,
        or to a key already taken (西部 and western), is a ``parameter-values`` error at the key."""
        renamed: dict[str | None, list[Any]] = {}
        for key, timeline in pdef.timelines.items():
            where = At(at.doc, (*at.path, "values", str(key)))
            new = to_key(str(key))
            if new is None:
                message, hint = refused(str(key))
                self.problems.append(where.diagnostic("parameter-values", message, key=True, hint=hint))
                continue
            if new in renamed:
                self.problems.append(
                    where.diagnostic(
                        "parameter-values", f"parameter {name!r}: {key!r} is {pdef.by} {new!r} again", key=True
                    )
                )
                continue
            renamed[new] = [replace(pv, by_key=new) for pv in timeline]
        pdef.timelines = renamed

    def check_param_start(self, name: str, pdef: ParamDef, at: At) -> None:
        """Warn when a parameter has no value in force on the day the standard takes effect."""
        effective = self.m.effective
        start = effective.from_ if effective else None
        first = pdef.first_date()
        if start is not None and first is not None and first > start:
            self.problems.append(
                At(at.doc, (*at.path, "values")).diagnostic(
                    "parameter-values",
                    f"parameter {name!r} has no value from {start.isoformat()} (the standard's start) until "
                    f"{first.isoformat()}; evaluating in between is an error",
                    key=True,
                    severity="warning",
                )
            )

    # ---- derived fields -----------------------------------------------------------------------
    def check_cycles(self) -> None:
        graph: dict[tuple[str, str], set[tuple[str, str]]] = {
            k: {(r.entity, r.name) for r in ast.walk(v) if isinstance(r, ast.FieldRef)} for k, v in self.derived.items()
        }
        state: dict[tuple[str, str], int] = {}

        def visit(k: tuple[str, str], trail: list[tuple[str, str]]) -> None:
            state[k] = 1
            for nxt in sorted(graph.get(k, ())):
                if nxt not in graph:
                    continue
                if state.get(nxt) == 1:
                    loop = " -> ".join(f"{e}.{f}" for e, f in [*trail, k, nxt])
                    at = self.field_at.get(k) or At(self.m.layers[-1].doc, ("fields", k[0], k[1], "derive"))
                    self.problems.append(at.diagnostic("derive-cycle", f"derived fields form a cycle: {loop}"))
                elif nxt not in state:
                    visit(nxt, [*trail, k])
            state[k] = 2

        for k in graph:
            if k not in state:
                visit(k, [])

    # ---- rules --------------------------------------------------------------------------------
    def rule(self, mr: MergedRule) -> Rule | None:
        rs = mr.spec
        if rs.entity not in self.schema.entities:
            self.problems.append(
                mr.part("entity").diagnostic(
                    "unknown-entity",
                    f"unknown entity {rs.entity!r}",
                    hint=did_you_mean(rs.entity, self.schema.entities),
                )
            )
            return None
        ok = True
        if rs.source not in self.m.sources:
            self.problems.append(
                mr.part("source").diagnostic(
                    "unknown-source", f"unknown source {rs.source!r}", hint=did_you_mean(rs.source, self.m.sources)
                )
            )
            ok = False
        require = self.exprs.compile(rs.require, mr.part("require"), rs.entity, "bool")
        applies = None
        if rs.applies_when is not None:
            applies = self.exprs.compile(rs.applies_when, mr.part("applies_when"), rs.entity, "bool")
            ok = ok and applies is not None
        if require is None or not ok:
            return None
        self.check_templates(mr, [t for t in (require, applies) if t is not None])
        pos = mr.at.doc.position(mr.at.path)
        source = self.m.sources.get(rs.source)
        return Rule(
            id=rs.id,
            entity=rs.entity,
            title=rs.title,
            severity=rs.severity,
            working_group=rs.working_group,
            require=require,
            applies_when=applies,
            source_id=rs.source,
            source=source[0] if source else None,
            explain=rs.explain,
            remedy=rs.remedy,
            notes=rs.notes,
            effective_from=rs.effective.from_ if rs.effective else None,
            effective_until=rs.effective.until if rs.effective else None,
            file=mr.at.doc.file,
            line=pos.line if pos else 0,
            origin=mr.origin,
        )

    def check_templates(self, mr: MergedRule, trees: list[ast.Expr]) -> None:
        rs = mr.spec
        if rs.explain is None:
            return
        read = {"as_of", "as_of_year", "gap"}
        for tree in trees:
            for node in ast.top_level(tree):
                if isinstance(node, (ast.FieldRef, ast.ParamRef)):
                    read.update({node.name, node.written})
        base = mr.part("explain")
        for outcome in ("pass", "fail", "unknown"):
            text = getattr(rs.explain, "pass_" if outcome == "pass" else outcome)
            if text is None:
                continue
            for lang in ("zh", "en"):
                template = getattr(text, lang)
                if not template:
                    continue
                at = At(base.doc, (*base.path, outcome, lang))
                try:
                    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
                except ValueError as exc:
                    self.problems.append(at.diagnostic("template-name", f"bad reason template: {exc}"))
                    continue
                for name in names:
                    if name not in read:
                        self.problems.append(
                            at.diagnostic(
                                "template-name",
                                f"the {outcome} reason names {{{name}}}, which this rule does not read",
                                hint=did_you_mean(name, read),
                            )
                        )


def compile_merged(merged: Merged) -> tuple[Standard, list[Diagnostic]]:
    """Compile merged content; returns the standard and every diagnostic (errors and warnings)."""
    compiler = _Compiler(merged)
    standard = compiler.compile()
    return standard, compiler.problems
