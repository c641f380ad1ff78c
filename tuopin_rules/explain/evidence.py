"""Explanations, part 2: the evidence a rule read and the gap to pass."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tuopin_rules.compile import Rule
from tuopin_rules.entities.records import Record
from tuopin_rules.evaluate.scalar import Trace
from tuopin_rules.explain.words import (
    LANGS,
    Words,
    _exact,
    _failing_leaves,
    _operands,
    _rounded_alike,
)
from tuopin_rules.expr import ast
from tuopin_rules.i18n import (
    fmt_plain,
    phrase,
)
from tuopin_rules.resolve.params import ParamValue
from tuopin_rules.verdicts import Evidence, Gap, Localized

__all__ = ["EvidenceWords"]

_UNVERIFIED = Localized(zh="未核实的数值（出处标注为 U）", en="an unverified value (marked U in the standard)")
MAX_LINKED = 20


class EvidenceWords(Words):
    """Evidence items and gaps."""

    def evidence(self, rule: Rule, trace: Trace, memo: dict[Any, Evidence] | None = None) -> list[Evidence]:
        """The values ``rule`` read, once each: fields, related fields, parameters, linked records.

        ``memo`` shares the evidence of a record's fields between the rules of one verdict (a field
        has one value per record); leave it out to build every item afresh.
        """
        out: dict[tuple[str, str], Evidence] = {}
        for tree in (rule.applies_when, rule.require):
            if tree is None:
                continue
            for node in self.top(tree):
                if isinstance(node, ast.FieldRef) and ("field", node.name) not in out:
                    if memo is None:
                        out[("field", node.name)] = self.field_evidence(node, trace)
                        continue
                    key = (id(trace.record), node.entity, node.name)
                    item = memo.get(key)
                    if item is None:
                        item = memo[key] = self.field_evidence(node, trace)
                    out[("field", node.name)] = item
                elif isinstance(node, ast.Related) and ("related", node.written) not in out:
                    sub = trace.related.get(id(node))
                    out[("related", node.written)] = Evidence(
                        kind="related",
                        name=node.written,
                        label=Localized(zh=self.label(node, trace, "zh"), en=self.label(node, trace, "en")),
                        value=None if trace.value(node) is None else _exact(trace.value(node)),
                        display=self.display(node, trace.value(node)),
                        source=sub.record.source if sub is not None else None,
                    )
                elif isinstance(node, ast.ParamRef) and node.name in trace.params:
                    pv = trace.params[node.name]
                    pkey = ("param", node.name, id(pv))  # parameter values live as long as the standard
                    item = memo.get(pkey) if memo is not None else None
                    if item is None:
                        item = self.param_evidence(node, pv)
                        if memo is not None:
                            memo[pkey] = item
                    out[("param", node.name)] = item
        for child in self.linked_records(trace, set()):
            out.setdefault(("record", f"{child.entity}:{child.id}"), self.record_evidence(child))
        return list(out.values())

    def param_evidence(self, node: ast.ParamRef, pv: ParamValue) -> Evidence:
        """A parameter's value in force, with its effective date and the document it comes from."""
        p = self.standard.params[node.name]
        return Evidence(
            kind="parameter",
            name=node.name,
            label=self.loc(p.label) or Localized(zh=node.name, en=node.name),
            value=_exact(pv.value),
            display=self.display(node, pv.value),
            note=_UNVERIFIED if pv.confidence == "U" else None,
            unit=self.loc(p.unit),
            effective_from=pv.effective_from,
            source=p.source,
        )

    def linked_records(self, trace: Trace, seen: set[int]) -> list[Record]:
        """Child records that drove derived aggregates (e.g. the households still poor in a village)."""
        found: list[Record] = []
        for name, (_value, sub) in trace.derived.items():
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            tree = self.standard.derived[(sub.record.entity, name)]
            for node in self.top(tree):
                if isinstance(node, ast.Aggregate) and node.filter is not None:
                    found += [
                        p.record
                        for p in sub.children.get(id(node)) or []
                        if p.included is True
                        and (node.arg is None or node.func not in ("count", "any") or p.value is True)
                    ]
            found += self.linked_records(sub, seen)
        return found[:MAX_LINKED]

    def record_evidence(self, child: Record) -> Evidence:
        ent = self.standard.schema.entities[child.entity]
        label = Localized(zh=ent.label.zh, en=ent.label.get("en"))
        name = child.values.get(ent.name_field or "") or child.values.get("head_name") or child.values.get("name")
        shown = f"{child.id}（{name}）" if name else str(child.id)
        return Evidence(
            kind="record",
            name=str(child.id),
            label=label,
            value=str(child.id),
            display=Localized(zh=shown, en=shown.replace("（", " (").replace("）", ")")),
            source=child.source,
        )

    def display(self, node: ast.Expr, value: Any) -> Localized:
        """``value`` shown in both languages, in the type and unit of ``node``."""
        return Localized(zh=self.show(node, value, "zh"), en=self.show(node, value, "en"))

    def field_evidence(self, node: ast.FieldRef, trace: Trace) -> Evidence:
        rec = trace.record
        f = self.standard.schema.entities[node.entity].fields[node.name]
        value = trace.value(node) if id(node) in trace.values else rec.values.get(node.name)
        note = None
        kind = "field"
        if node.name in rec.issues:
            issue = rec.issues[node.name]
            note = Localized(
                **{
                    lang: phrase("bad_cell", lang, column=issue.column, raw=issue.raw, where=issue.location)
                    for lang in LANGS
                }
            )
        elif node.name in trace.derived:
            kind = "derived"
            tree = self.standard.derived[(node.entity, node.name)]
            sub = trace.derived[node.name][1]
            ops = _operands(tree)
            zh_detail = "; ".join(f"{self.text(n)} = {fmt_plain(sub.value(n), 'zh')}" for n in ops)
            en_detail = "; ".join(f"{self.text(n)} = {fmt_plain(sub.value(n), 'en')}" for n in ops)
            zh = self.text(tree) + (f"（{zh_detail}）" if ops else "")
            en = self.text(tree) + (f" ({en_detail})" if ops else "")
            note = Localized(zh=phrase("derived_from", "zh", text=zh), en=phrase("derived_from", "en", text=en))
        shown = None if value is None else _exact(value)
        return Evidence(
            kind=kind,
            name=node.name,
            display=self.display(node, value),
            label=self.loc(f.label) or Localized(zh=node.name, en=node.name),
            value=shown,
            unit=self.loc(f.unit),
            source=rec.source if kind == "field" else None,
            note=note,
        )

    def gap(self, rule: Rule, trace: Trace) -> Gap | None:
        for node in _failing_leaves(rule.require, trace, False):
            if not isinstance(node, ast.Compare) or node.op not in ("<", "<=", ">", ">="):
                continue
            a, b = trace.value(node.left), trace.value(node.right)
            if not isinstance(a, Decimal) or not isinstance(b, Decimal):
                continue
            data_left = not isinstance(node.left, (ast.ParamRef, ast.Literal))
            subject = node.left if data_left else node.right
            value, target = (a, b) if data_left else (b, a)
            op = node.op if data_left else {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[node.op]
            increase = op in (">", ">=")
            amount = (target - value) if increase else (value - target)
            word_zh = {">": "高于", ">=": "不低于", "<": "低于", "<=": "不高于"}[op]
            word_en = {">": "above", ">=": "at least", "<": "below", "<=": "at most"}[op]
            texts = {}
            at_bound = amount == 0 and op in ("<", ">")
            tiny = _rounded_alike(amount, Decimal(0))  # 0.00001 short is not "0 short"
            for lang in LANGS:
                texts[lang] = phrase(
                    "gap_at_bound" if at_bound else "gap_increase" if increase else "gap_decrease",
                    lang,
                    label=self.label(subject, trace, lang),
                    word=word_zh,
                    word_en=word_en,
                    target=self.show(subject, target, lang),
                    amount=self.show(subject, amount, lang, exact=tiny),
                )
            return Gap(
                amount_text=Localized(
                    zh=self.show(subject, amount, "zh", with_unit=False, exact=tiny),
                    en=self.show(subject, amount, "en", with_unit=False, exact=tiny),
                ),
                field=self.text(subject),
                amount=_exact(amount),
                target=_exact(target),
                direction="increase" if increase else "decrease",
                strict=op in ("<", ">"),
                text=Localized(**texts),
            )
        return None
