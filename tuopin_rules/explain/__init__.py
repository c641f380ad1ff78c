"""Stage 6 — turn a rule's trace into its explanation: reason, evidence, gap, missing fields.

Reasons come from the rule's own template for the outcome (``explain.fail.zh`` ...) where it has
one, else they are generated from the trace, e.g. "人均纯收入 3,650 元，未超过 2020 年扶贫标准
4,000 元". Both languages are always produced, so one verdict serves zh and en readers.
"""

from __future__ import annotations

import datetime as dt
import string

from tuopin_rules.compile import Rule
from tuopin_rules.entities.records import Record
from tuopin_rules.evaluate.scalar import Trace
from tuopin_rules.explain.evidence import EvidenceWords
from tuopin_rules.explain.words import LANGS, _all_notes, _failing_leaves, _param_name, _rounded_alike
from tuopin_rules.expr import ast
from tuopin_rules.i18n import fmt_plain, phrase
from tuopin_rules.verdicts import Gap, Localized, Outcome

__all__ = ["Explainer"]


class Explainer(EvidenceWords):
    """Renders explanations for the rules of one standard: reasons, reason codes, missing fields,
    evidence and gaps (see :mod:`.words` and :mod:`.evidence`)."""

    def missing(self, node: ast.Expr, trace: Trace, prefix: str = "") -> list[str]:
        """Names of the missing fields that leave ``node`` unknown (only those that would decide).

        Sub-expressions never evaluated (``coalesce`` stopped before them) are not missing.
        """
        if trace.value(node) is not None or id(node) not in trace.values:
            return []
        match node:
            case ast.FieldRef(name=n):
                if n in trace.derived:
                    tree = self.standard.derived[(node.entity, n)]
                    derived_trace = trace.derived[n][1]
                    inner = self.missing(tree, derived_trace, prefix)
                    if not inner and _all_notes(derived_trace):  # computed, but e.g. divided by zero
                        return []
                    return inner or [prefix + n]
                return [prefix + n]
            case ast.ParamRef(name=n):
                by = self.standard.params[n].by
                return [prefix + by] if by else []
            case ast.Related(relations=rels, target=t):
                sub_trace = trace.related.get(id(node))
                path = prefix + ".".join(rels)
                if sub_trace is None:
                    return [path]
                return self.missing(t, sub_trace, path + ".")
            case ast.Aggregate(collection=c):
                parts = trace.children.get(id(node))
                if parts is None:
                    return [prefix + c]
                out: list[str] = []
                for p in parts:
                    for sub in (node.filter, node.arg):
                        if sub is not None and not (sub is node.arg and p.included is False):
                            out += self.missing(sub, p.trace, f"{prefix}{c}[{p.record.id}].")
                return out
        out = []
        for child in ast.children(node):
            out += self.missing(child, trace, prefix)
        return list(dict.fromkeys(out))

    def reason(
        self, rule: Rule, outcome: Outcome, trace: Trace, missing: list[str], as_of: dt.date, gap: Gap | None = None
    ) -> Localized:
        template = None
        if rule.explain is not None:
            template = {
                Outcome.PASS: rule.explain.pass_,
                Outcome.FAIL: rule.explain.fail,
                Outcome.UNKNOWN: rule.explain.unknown,
            }.get(outcome)
        texts = {}
        for lang in LANGS:
            if template is not None and (lang == "zh" or template.en):
                texts[lang] = self.fill(rule, template.get(lang), trace, lang, as_of, gap)
                unverified = [n for n, pv in trace.params.items() if pv.confidence == "U"]
                if unverified:
                    names = "、".join(_param_name(self.standard, n, lang) for n in unverified)
                    texts[lang] += phrase("unverified_note", lang, names=names)
            else:
                texts[lang] = self.generate(rule, outcome, trace, missing, lang)
        return Localized(zh=texts["zh"], en=texts["en"])

    def generate(self, rule: Rule, outcome: Outcome, trace: Trace, missing: list[str], lang: str) -> str:
        sep = phrase("sep", lang)
        if outcome is Outcome.NOT_APPLICABLE and rule.applies_when is not None:
            return phrase("not_applicable", lang, why=sep.join(self.why(rule.applies_when, trace, lang, False)))
        if outcome is Outcome.UNKNOWN:
            if not missing:
                if any(note == "division by zero" for note in _all_notes(trace)):
                    return phrase("unknown_division", lang)
                return phrase("unknown_generic", lang)
            names = ("、" if lang == "zh" else ", ").join(self.missing_label(m, trace.record, lang) for m in missing)
            return phrase("unknown", lang, names=names)
        return sep.join(self.why(rule.require, trace, lang, outcome is Outcome.PASS))

    def missing_label(self, path: str, record: Record, lang: str) -> str:
        """``members[0012].age`` -> "家庭成员 0012 的年龄"; a plain field -> its label.

        A field whose cell was there but unreadable says so, with the raw value.
        """
        ent = self.standard.schema.entities[record.entity]
        head, _, rest = path.partition(".")
        if "[" in head and rest:
            coll, _, ident = head.partition("[")
            ident = ident.rstrip("]")
            child = self.standard.schema.entities[ent.children[coll]]
            name = rest.split(".")[-1]
            field = child.fields.get(name)
            flabel = field.label.get(lang) if field else rest
            kid = next((k for k in record.children.get(coll) or [] if k.id == ident), None)
            flabel += self._unreadable(kid, name, lang) or self._uncomputed(kid, name, lang)
            clabel = child.label.get(lang)
            return f"{clabel} {ident} 的{flabel}" if lang == "zh" else f"{flabel} of {clabel} {ident}"
        field = ent.fields.get(path)
        if field is not None:
            return field.label.get(lang) + (
                self._unreadable(record, path, lang) or self._uncomputed(record, path, lang)
            )
        relations = {*self.standard.schema.entities, "head"}
        if "[" not in path and all(part in relations for part in path.split(".")):
            if path.split(".")[-1] == "head":  # none, or more than one, member marked 户主
                return (
                    "唯一的户主（没有或不止一人标为户主）"
                    if lang == "zh"
                    else "a single head (none or several marked 户主)"
                )
            return self.related_label(tuple(path.split(".")), "记录" if lang == "zh" else "record", lang)
        if "." in path and "[" not in path:
            *rels, name = path.split(".")
            target = record
            current_ent = ent
            for rel in rels:
                current_ent = self.standard.schema.entities["member" if rel == "head" else rel]
            fdef = current_ent.fields.get(name)
            del target
            return self.related_label(tuple(rels), fdef.label.get(lang) if fdef else name, lang)
        if path in ("household", "village", "county", "head"):
            return self.related_label((path,), "记录" if lang == "zh" else "record", lang)
        if path in ent.children:
            return phrase(
                "collection_data", lang, child=self.standard.schema.entities[ent.children[path]].label.get(lang)
            )
        return path

    @staticmethod
    def _unreadable(record: Record | None, name: str, lang: str) -> str:
        issue = record.issues.get(name) if record is not None else None
        if issue is None:
            return ""
        return f"（{issue.raw!r} 无法读取）" if lang == "zh" else f" ({issue.raw!r} unreadable)"

    def _uncomputed(self, record: Record | None, name: str, lang: str) -> str:
        """For a derived field left unknown although every field it is computed from has a value
        (an age from an ID number whose birth date is after ``as_of``): which values it came from."""
        tree = self.standard.derived.get((record.entity, name)) if record is not None else None
        if record is None or tree is None:
            return ""
        leaves = [n for n in ast.walk(tree) if isinstance(n, ast.FieldRef)]
        if not leaves or any(record.values.get(n.name) is None for n in leaves):
            return ""
        shown = ("、" if lang == "zh" else ", ").join(
            f"{self.label(n, Trace(record), lang)} {self.show(n, record.values[n.name], lang)}" for n in leaves
        )
        return f"（由{shown} 算不出）" if lang == "zh" else f" (cannot be computed from {shown})"

    def fill(self, rule: Rule, template: str, trace: Trace, lang: str, as_of: dt.date, gap: Gap | None) -> str:
        """Fill ``{name}`` placeholders of a reason template from the trace.

        Names: the fields and parameters the rule reads (outside aggregates), ``as_of``,
        ``as_of_year`` and ``gap`` (the amount of a failed comparison's gap; empty otherwise).
        """
        values: dict[str, str] = {
            "as_of_year": str(as_of.year),
            "as_of": as_of.isoformat(),
            "gap": gap.amount_text.get(lang) if gap is not None else "",
        }
        named = [
            node
            for tree in (rule.require, rule.applies_when)
            if tree is not None
            for node in self.top(tree)
            if isinstance(node, (ast.FieldRef, ast.ParamRef))
        ]
        numbers = [trace.value(n) for n in named]
        # two different numbers that would read the same rounded (3999.99999 and 4000) are shown exactly
        exact = any(_rounded_alike(a, b) for i, a in enumerate(numbers) for b in numbers[i + 1 :])
        for ref in named:
            shown = self.show(ref, trace.value(ref), lang, with_unit=False, exact=exact)
            values[ref.name] = values[ref.written] = shown
        for tree in (rule.require, rule.applies_when):
            if tree is None:
                continue
            for node in self.top(tree):
                if isinstance(node, ast.Special):
                    values[node.name] = fmt_plain(trace.value(node), lang)
        formatter = string.Formatter()
        return "".join(
            literal + (values.get(name, "{" + name + "}") if name else "")
            for literal, name, _, _ in formatter.parse(template)
        )

    def reason_code(self, rule: Rule, outcome: Outcome, trace: Trace, missing: list[str]) -> str:
        """A compact, stable code for why a rule came out as it did (for tests and batch output).

        ``pass`` / ``not-applicable``; ``fail:<field>`` naming the field of the first condition that
        failed (``fail`` alone when no field decided); ``missing:<path>`` / ``unreadable:<path>`` for
        the first field that left the rule UNKNOWN; ``division-by-zero``.

        >>> # e.g. "fail:per_capita_net_income", "missing:members[02].dropout_due_to_poverty"
        """
        if outcome is Outcome.PASS:
            return "pass"
        if outcome is Outcome.NOT_APPLICABLE:
            return "not-applicable"
        if outcome is Outcome.UNKNOWN:
            if not missing:
                return "division-by-zero" if "division by zero" in _all_notes(trace) else "unknown"
            first = missing[0]
            record, name = trace.record, first
            if "[" in first:
                coll, _, rest = first.partition("[")
                ident, _, name = rest.partition("].")
                record = next((k for k in record.children.get(coll) or [] if k.id == ident), record)
            return ("unreadable:" if name in record.issues else "missing:") + first
        for leaf in _failing_leaves(rule.require, trace, False):
            names = [
                n.name if isinstance(n, ast.FieldRef) else n.written
                for n in ast.top_level(leaf)
                if isinstance(n, (ast.FieldRef, ast.Related))
            ]
            if names:
                return f"fail:{names[0]}"
            if isinstance(leaf, ast.Aggregate):
                return f"fail:{leaf.collection}"
        return "fail"

    # ---- evidence and gap -------------------------------------------------------------------
