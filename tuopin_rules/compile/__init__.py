"""Stages 3–4 — compile a validated standard: schema additions, parameters, expressions, rules.

Every expression (``require``, ``applies_when``, ``derive``) is parsed and type-checked against the
entity schema here, once, when the standard loads; problems are collected from the whole file and
reported together with their YAML positions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import string
from dataclasses import dataclass, field, replace
from typing import Any

from tuopin_rules.entities.schema import ENTITY_KINDS, Schema, base_schema
from tuopin_rules.errors import Diagnostic, Position, StandardError, did_you_mean
from tuopin_rules.expr import ast
from tuopin_rules.expr.check import check
from tuopin_rules.expr.parser import ExprSyntaxError, parse
from tuopin_rules.resolve.params import ParamDef, build_param
from tuopin_rules.source import PathKey, SourceDoc, load_yaml, load_yaml_file
from tuopin_rules.spec import Explain, RuleSpec, SourceSpec, StandardSpec, Text, validate

__all__ = ["Rule", "Standard", "compile_standard", "load_standard_file", "load_standard_text"]

_TYPE_EXPECT = {
    "bool": "bool",
    "integer": "number",
    "number": "number",
    "percent": "number",
    "text": "text",
    "code": "text",
    "date": "date",
}


@dataclass(frozen=True)
class Rule:
    """A compiled rule.

    Attributes:
        id: unique within the standard, e.g. ``household.income``.
        entity: the entity kind it judges.
        require: the bound condition that must hold.
        applies_when: the bound condition that selects records (``None``: every record).
        source_id / source: the cited document.
        position: where the rule starts in its file.
    """

    id: str
    entity: str
    title: Text
    severity: str
    working_group: str | None
    require: ast.Expr
    applies_when: ast.Expr | None
    source_id: str
    source: SourceSpec | None
    explain: Explain | None
    remedy: Text | None
    notes: Text | None
    effective_from: dt.date | None
    effective_until: dt.date | None
    file: str
    line: int

    def in_force(self, as_of: dt.date) -> bool:
        """True if the rule is in force on ``as_of``."""
        if self.effective_from and as_of < self.effective_from:
            return False
        return not (self.effective_until and as_of >= self.effective_until)


@dataclass
class Standard:
    """A loaded, compiled standard, ready to evaluate.

    Attributes:
        id / version / title: from the file.
        content_hash: ``sha256:`` of the file text (and the bundled schema), pinned in verdicts.
        schema: the entity schema with the standard's field additions.
        params: compiled parameters by name.
        derived: ``(entity, field)`` -> bound ``derive`` expression.
        rules: compiled rules in file order.
        warnings: non-fatal diagnostics found while loading.
    """

    id: str
    version: str
    title: Text
    content_hash: str
    file: str
    effective_from: dt.date | None
    sources: dict[str, SourceSpec]
    schema: Schema
    params: dict[str, ParamDef]
    derived: dict[tuple[str, str], ast.Expr]
    rules: list[Rule]
    warnings: list[Diagnostic] = field(default_factory=list)

    def rules_for(self, entity: str, as_of: dt.date) -> list[Rule]:
        """The rules judging ``entity`` that are in force on ``as_of``, in file order."""
        return [r for r in self.rules if r.entity == entity and r.in_force(as_of)]

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id.

        Raises:
            KeyError: with a did-you-mean in the message.
        """
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"no rule {rule_id!r}; {did_you_mean(rule_id, [r.id for r in self.rules]) or ''}".strip())


class _Compiler:
    def __init__(self, doc: SourceDoc, spec: StandardSpec, rule_specs: list[tuple[int, RuleSpec]]) -> None:
        self.doc = doc
        self.spec = spec
        self.rule_specs = rule_specs
        self.problems: list[Diagnostic] = []
        self.schema = base_schema()
        self.params: dict[str, ParamDef] = {}
        self.derived: dict[tuple[str, str], ast.Expr] = {}

    def add(
        self,
        code: str,
        message: str,
        path: PathKey,
        *,
        key: bool = False,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
        self.problems.append(self.doc.diagnostic(code, message, path, key=key, hint=hint, severity=severity))

    # ---- expressions with positions ---------------------------------------------------------
    def expr_position(self, path: PathKey, text: str, offset: int, length: int) -> Position | None:
        """Map a character offset in an expression to a file position."""
        base = self.doc.position(path)
        if base is None:
            return None
        line_text = self.doc.line(base.line)
        start = base.col - 1
        for lead in (0, 1):  # plain, or quoted
            if line_text[start + lead : start + lead + len(text)] == text:
                col = start + lead + offset + 1
                return Position(base.line, col, col + length)
        # a multi-line value (block, folded or flowed scalar): find the offending token itself,
        # counting earlier occurrences of it in the expression
        token = text[offset : offset + length].strip() or text[offset : offset + 1]
        nth = text[:offset].count(token) if token else 0
        seen = 0
        for n in range(base.line, base.line + text.count("\n") + text.count(" ") + 2):
            line = self.doc.line(n)
            start_at = base.col - 1 if n == base.line else 0
            idx = line.find(token, start_at) if token else -1
            while idx >= 0:
                if seen == nth:
                    return Position(n, idx + 1, idx + 1 + length)
                seen += 1
                idx = line.find(token, idx + 1)
        return base

    def expr_diag(
        self, path: PathKey, text: str, code: str, message: str, span: tuple[int, int], hint: str | None
    ) -> None:
        length = max(1, span[1] - span[0])
        pos = self.expr_position(path, text, span[0], length)
        self.problems.append(self.doc.diagnostic(code, message, path, hint=hint, position=pos))

    def expression(self, raw: Any, path: PathKey, entity: str, expect: str | None) -> ast.Expr | None:
        """Compile a text expression, or a structured ``all:``/``any:``/``not:`` condition."""
        if isinstance(raw, bool) and expect == "bool":
            return ast.Literal(raw)
        if isinstance(raw, dict) and expect == "bool":
            if len(raw) != 1 or next(iter(raw)) not in ("all", "any", "not"):
                keys = ", ".join(map(str, raw)) or "nothing"
                hint = did_you_mean(str(next(iter(raw))), ["all", "any", "not"]) if len(raw) == 1 else None
                self.add(
                    "invalid-value",
                    f"a structured condition has exactly one of all:, any:, not: (got {keys})",
                    path,
                    hint=hint or "split it: put one condition inside the other, e.g. all: [..., {any: [...]}]",
                )
                return None
            ((op, body),) = raw.items()
            if op == "not":
                inner = self.expression(body, (*path, "not"), entity, "bool")
                return ast.Not(inner) if inner is not None else None
            if not isinstance(body, list) or not body:
                self.add("invalid-value", f"'{op}:' needs a non-empty list of conditions", (*path, op))
                return None
            parts = [self.expression(item, (*path, op, i), entity, "bool") for i, item in enumerate(body)]
            if any(p is None for p in parts):
                return None
            items = tuple(p for p in parts if p is not None)
            return items[0] if len(items) == 1 else ast.BoolOp("and" if op == "all" else "or", items)
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            self.add("invalid-value", "expected an expression (text)", path)
            return None
        text = str(raw)
        try:
            tree = parse(text)
        except ExprSyntaxError as exc:
            self.expr_diag(path, text, "expr-syntax", exc.message, (exc.offset, exc.offset + exc.length), exc.hint)
            return None
        bound, _, problems = check(tree, self.schema, entity, self.params, expect=expect)
        for p in problems:
            self.expr_diag(path, text, p.code, p.message, p.span, p.hint)
        return bound if not problems else None

    # ---- sections ---------------------------------------------------------------------------
    def compile(self) -> Standard:
        spec = self.spec
        for entity, fields in spec.fields.items():
            if entity not in self.schema.entities:
                self.add(
                    "unknown-entity",
                    f"unknown entity {entity!r}",
                    ("fields", entity),
                    key=True,
                    hint=did_you_mean(entity, ENTITY_KINDS),
                )
                continue
            for name, fspec in fields.items():
                msg = self.schema.add_field(entity, name, fspec, spec.standard)
                if msg:
                    self.add("invalid-value", msg, ("fields", entity, name), key=True)
        for name, pspec in spec.parameters.items():
            pdef, problems = build_param(name, pspec)
            for sub, msg, at_key in problems:
                self.add(
                    "parameter-values", f"parameter {name!r}: {msg}", ("parameters", name, "values", *sub), key=at_key
                )
            if pspec.source is not None and pspec.source not in spec.sources:
                self.add(
                    "unknown-source",
                    f"unknown source {pspec.source!r}",
                    ("parameters", name, "source"),
                    hint=did_you_mean(pspec.source, spec.sources),
                )
            self.params[name] = pdef
            self.check_param_keys(name, pdef)
            self.check_param_start(name, pdef)
        for entity, ent in self.schema.entities.items():
            for fname, fdef in ent.fields.items():
                if fdef.derive is None:
                    continue
                path: PathKey = ("fields", entity, fname, "derive")
                bound = self.expression(fdef.derive, path, entity, _TYPE_EXPECT[fdef.type])
                if bound is not None:
                    self.derived[(entity, fname)] = bound
        self.check_cycles()
        rules = [r for i, rs in self.rule_specs if (r := self.rule(rs, i)) is not None]
        self.check_invalid_rules()
        text_hash = hashlib.sha256(self.doc.text.encode("utf-8")).hexdigest()
        return Standard(
            id=spec.standard,
            version=spec.version,
            title=spec.title,
            content_hash=f"sha256:{text_hash}",
            file=self.doc.file,
            effective_from=spec.effective.from_ if spec.effective else None,
            sources=dict(spec.sources),
            schema=self.schema,
            params=self.params,
            derived=self.derived,
            rules=rules,
        )

    def check_param_keys(self, name: str, pdef: ParamDef) -> None:
        """Map ``by`` keys to the field's codes (``西部`` -> ``western``); unknown keys are errors."""
        if pdef.by is None:
            return
        fields = [e.fields[pdef.by] for e in self.schema.entities.values() if pdef.by in e.fields]
        if not fields:
            self.add(
                "parameter-values",
                f"parameter {name!r} varies by {pdef.by!r}, which no entity has",
                ("parameters", name, "by"),
            )
            return
        coded = next((f for f in fields if f.codes), None)
        if coded is None:
            return
        renamed: dict[str | None, list[Any]] = {}
        for key, timeline in pdef.timelines.items():
            code = "default" if key == "default" else coded.code_for(str(key))
            if code is None:
                allowed = ", ".join(["default", *(coded.codes or {})])
                self.add(
                    "parameter-values",
                    f"parameter {name!r}: {key!r} is not a code of {pdef.by} ({allowed})",
                    ("parameters", name, "values", str(key)),
                    key=True,
                    hint=did_you_mean(str(key), ["default", *(coded.codes or {})]),
                )
                continue
            renamed[code] = [replace(pv, by_key=code) for pv in timeline]
        pdef.timelines = renamed

    def check_param_start(self, name: str, pdef: ParamDef) -> None:
        """Warn when a parameter has no value in force on the day the standard takes effect."""
        start = self.spec.effective.from_ if self.spec.effective else None
        first = pdef.first_date()
        if start is not None and first is not None and first > start:
            self.add(
                "parameter-values",
                f"parameter {name!r} has no value from {start.isoformat()} (the standard's start) until "
                f"{first.isoformat()}; evaluating in between is an error",
                ("parameters", name, "values"),
                key=True,
                severity="warning",
            )

    def check_invalid_rules(self) -> None:
        """Compile the expressions of rules that failed validation, so their mistakes show too."""
        raw_rules = self.doc.data.get("rules") if isinstance(self.doc.data, dict) else None
        valid = {i for i, _ in self.rule_specs}
        for i, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
            if i in valid or not isinstance(raw, dict):
                continue
            entity = raw.get("entity")
            if not isinstance(entity, str) or entity not in self.schema.entities:
                continue
            for key in ("applies_when", "require"):
                if raw.get(key) is not None:
                    self.expression(raw[key], ("rules", i, key), entity, "bool")

    def check_cycles(self) -> None:
        graph = {
            k: {(r.entity, r.name) for r in ast.walk(v) if isinstance(r, ast.FieldRef)} for k, v in self.derived.items()
        }
        for agg_key, tree in self.derived.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.Aggregate):
                    for sub in (node.filter, node.arg):
                        if sub is not None:
                            graph[agg_key] |= {(r.entity, r.name) for r in ast.walk(sub) if isinstance(r, ast.FieldRef)}
        state: dict[tuple[str, str], int] = {}

        def visit(k: tuple[str, str], trail: list[tuple[str, str]]) -> None:
            state[k] = 1
            for nxt in graph.get(k, ()):
                if nxt not in graph:
                    continue
                if state.get(nxt) == 1:
                    loop = " -> ".join(f"{e}.{f}" for e, f in [*trail, k, nxt])
                    self.add("derive-cycle", f"derived fields form a cycle: {loop}", ("fields", k[0], k[1], "derive"))
                elif nxt not in state:
                    visit(nxt, [*trail, k])
            state[k] = 2

        for k in graph:
            if k not in state:
                visit(k, [])

    def rule(self, rs: RuleSpec, index: int) -> Rule | None:
        base: PathKey = ("rules", index)
        ok = True
        if rs.entity not in self.schema.entities:
            self.add(
                "unknown-entity",
                f"unknown entity {rs.entity!r}",
                (*base, "entity"),
                hint=did_you_mean(rs.entity, ENTITY_KINDS),
            )
            return None
        if rs.source not in self.spec.sources:
            self.add(
                "unknown-source",
                f"unknown source {rs.source!r}",
                (*base, "source"),
                hint=did_you_mean(rs.source, self.spec.sources),
            )
            ok = False
        require = self.expression(rs.require, (*base, "require"), rs.entity, "bool")
        applies = None
        if rs.applies_when is not None:
            applies = self.expression(rs.applies_when, (*base, "applies_when"), rs.entity, "bool")
            ok = ok and applies is not None
        if require is None:
            return None
        self.check_templates(rs, base, [t for t in (require, applies) if t is not None])
        pos = self.doc.position(base)
        return (
            Rule(
                id=rs.id,
                entity=rs.entity,
                title=rs.title,
                severity=rs.severity,
                working_group=rs.working_group,
                require=require,
                applies_when=applies,
                source_id=rs.source,
                source=self.spec.sources.get(rs.source),
                explain=rs.explain,
                remedy=rs.remedy,
                notes=rs.notes,
                effective_from=rs.effective.from_ if rs.effective else None,
                effective_until=rs.effective.until if rs.effective else None,
                file=self.doc.file,
                line=pos.line if pos else 0,
            )
            if ok
            else None
        )

    def check_templates(self, rs: RuleSpec, base: PathKey, trees: list[ast.Expr]) -> None:
        if rs.explain is None:
            return
        read = {"as_of", "as_of_year", "gap"}
        for tree in trees:
            for node in ast.top_level(tree):
                if isinstance(node, (ast.FieldRef, ast.ParamRef)):
                    read.update({node.name, node.written})
        for outcome in ("pass", "fail", "unknown"):
            text = getattr(rs.explain, "pass_" if outcome == "pass" else outcome)
            if text is None:
                continue
            for lang in ("zh", "en"):
                template = getattr(text, lang)
                if not template:
                    continue
                try:
                    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
                except ValueError as exc:
                    self.add("template-name", f"bad reason template: {exc}", (*base, "explain", outcome, lang))
                    continue
                for name in names:
                    if name not in read:
                        self.add(
                            "template-name",
                            f"the {outcome} reason names {{{name}}}, which this rule does not read",
                            (*base, "explain", outcome, lang),
                            hint=did_you_mean(name, read),
                        )


def compile_standard(doc: SourceDoc, prior: list[Diagnostic] | None = None) -> Standard:
    """Validate and compile a loaded YAML document.

    Args:
        doc: the loaded YAML.
        prior: problems already found while reading the YAML (reported together with the rest).

    Raises:
        StandardError: with every problem found in the file.
    """
    problems = list(prior or [])
    # validate the frame and each rule on its own, so one bad rule does not hide the others' problems
    data = doc.data if isinstance(doc.data, dict) else {}
    raw_rules = data.get("rules")
    frame = {**data, "rules": []} if isinstance(raw_rules, list) else data
    spec, invalid = validate(doc, StandardSpec, frame if isinstance(doc.data, dict) else None)
    problems += invalid
    rule_specs: list[tuple[int, RuleSpec]] = []
    for i, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule, rule_problems = validate(doc, RuleSpec, raw, ("rules", i))
        problems += rule_problems
        if rule is not None:
            rule_specs.append((i, rule))
    if spec is None:
        raise StandardError(_ordered(problems))
    compiler = _Compiler(doc, spec, rule_specs)
    compiler.problems.extend(problems)
    seen: dict[str, int] = {}
    for i, rs in rule_specs:
        if rs.id in seen:
            compiler.add(
                "duplicate-rule", f"rule id {rs.id!r} is already used by rule #{seen[rs.id] + 1}", ("rules", i, "id")
            )
        seen.setdefault(rs.id, i)
    standard = compiler.compile()
    if any(d.severity == "error" for d in compiler.problems):
        raise StandardError(_ordered(compiler.problems))
    standard.warnings = [d for d in compiler.problems if d.severity == "warning"]
    return standard


def _ordered(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.position.line, d.position.col) if d.position else (0, 0))


def load_standard_text(text: str, file: str = "<string>") -> Standard:
    """Load a standard from YAML text.

    Raises:
        StandardError: with every problem found.
    """
    doc, problems = load_yaml(text, file)
    if doc is None:
        raise StandardError(problems)
    return compile_standard(doc, problems)


def load_standard_file(path: str) -> Standard:
    """Load a standard from a YAML file.

    Raises:
        StandardError: with every problem found (a missing file is a ``file-not-found`` problem).
    """
    doc, problems = load_yaml_file(path)
    if doc is None:
        raise StandardError(problems)
    return compile_standard(doc, problems)
