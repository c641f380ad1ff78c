"""Stage 6 — turn a rule's trace into its explanation: reason, evidence, gap, missing fields.

Reasons come from the rule's own template for the outcome (``explain.fail.zh`` ...) where it has
one, else they are generated from the trace, e.g. "人均纯收入 3,650 元，未超过 2020 年扶贫标准
4,000 元". Both languages are always produced, so one verdict serves zh and en readers.
"""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal
from typing import Any

from tuopin_rules.compile import Rule, Standard
from tuopin_rules.entities.records import Record
from tuopin_rules.evaluate.scalar import Trace
from tuopin_rules.expr import ast
from tuopin_rules.expr.parser import to_text
from tuopin_rules.i18n import (
    COMPARE_FAIL,
    COMPARE_PASS,
    DATE_FAIL,
    DATE_PASS,
    FUNCTION_NAMES,
    fmt_number,
    fmt_percent,
    fmt_plain,
    phrase,
)
from tuopin_rules.verdicts import Evidence, Gap, Localized, Outcome

__all__ = ["Explainer"]

LANGS = ("zh", "en")
MAX_CHILDREN = 5
_UNVERIFIED = Localized(zh="未核实的数值（出处标注为 U）", en="an unverified value (marked U in the standard)")
MAX_LINKED = 20


class Explainer:
    """Renders explanations for the rules of one standard."""

    def __init__(self, standard: Standard) -> None:
        self.standard = standard
        # static per node of the standard's (long-lived) trees: printed text, words, top-level nodes
        self._text: dict[int, str] = {}
        self._words: dict[tuple[int, str], str] = {}
        self._top: dict[int, list[ast.Expr]] = {}

    def text(self, node: ast.Expr) -> str:
        """``to_text(node)``, memoised."""
        key = id(node)
        if key not in self._text:
            self._text[key] = to_text(node)
        return self._text[key]

    def top(self, tree: ast.Expr) -> list[ast.Expr]:
        """``ast.top_level(tree)``, memoised."""
        key = id(tree)
        if key not in self._top:
            self._top[key] = ast.top_level(tree)
        return self._top[key]

    # ---- labels and values ----------------------------------------------------------------
    def label(self, node: ast.Expr, trace: Trace, lang: str) -> str:
        match node:
            case ast.FieldRef(entity=e, name=n):
                return self.standard.schema.entities[e].fields[n].label.get(lang)
            case ast.ParamRef(name=n):
                p = self.standard.params[n]
                base = p.label.get(lang) if p.label else n
                pv = trace.params.get(n)
                if pv is not None and pv.effective_from is not None and len(p.timelines.get(pv.by_key, [])) > 1:
                    base = phrase("param_year", lang, year=pv.effective_from.year, label=base)
                if pv is not None and pv.confidence == "U":
                    base += phrase("unverified", lang)
                return base
            case ast.Special(name="as_of_year"):
                return "评估年度" if lang == "zh" else "the assessment year"
            case ast.Special():
                return "评估日期" if lang == "zh" else "the assessment date"
            case ast.Related(relations=rels, target=t):
                return self.related_label(rels, self.label(t, trace, lang), lang)
        return self.humanize(node, lang)

    def related_label(self, relations: tuple[str, ...], what: str, lang: str) -> str:
        """``所属户的脱贫状态`` / ``exit status of the household``."""
        names = {"head": ("户主", "head of household")}
        words = []
        for rel in relations:
            if rel in names:
                words.append(names["head"][1 if lang == "en" else 0])
            else:
                label = self.standard.schema.entities[rel].label
                words.append(("所属" + label.zh) if lang == "zh" else f"the {label.get('en')}")
        if lang == "zh":
            return "的".join(words) + "的" + what
        return f"{what} of " + " of ".join(reversed(words))

    def unit(self, node: ast.Expr, lang: str) -> str:
        u = None
        if isinstance(node, ast.FieldRef):
            f = self.standard.schema.entities[node.entity].fields[node.name]
            u = f.unit
        elif isinstance(node, ast.ParamRef):
            u = self.standard.params[node.name].unit
        if u is None:
            return ""
        text = u.get(lang)
        return ("" if lang == "zh" else " ") + text if text else ""

    def is_percent(self, node: ast.Expr) -> bool:
        if isinstance(node, ast.FieldRef):
            return self.standard.schema.entities[node.entity].fields[node.name].type == "percent"
        if isinstance(node, ast.ParamRef):
            return any(pv.percent for tl in self.standard.params[node.name].timelines.values() for pv in tl)
        return isinstance(node, ast.Literal) and node.percent

    def show(self, node: ast.Expr, value: Any, lang: str, *, with_unit: bool = True) -> str:
        """A value as a person reads it, in the type and unit of ``node``."""
        if isinstance(node, ast.Related):
            return self.show(node.target, value, lang, with_unit=with_unit)
        if isinstance(node, ast.Aggregate) and node.func in ("sum", "min", "max") and node.arg is not None:
            return self.show(node.arg, value, lang, with_unit=with_unit)  # in the unit of what is summed
        if value is None:
            return phrase("missing", lang)
        if isinstance(node, ast.FieldRef) and isinstance(value, str):
            f = self.standard.schema.entities[node.entity].fields[node.name]
            if f.codes:
                return f.code_label(value, lang)
        if isinstance(value, Decimal) and _year_like(node):
            return str(value)
        if isinstance(value, Decimal) and not isinstance(value, bool):
            text = fmt_percent(value) if self.is_percent(node) else fmt_number(value)
            if with_unit and not self.is_percent(node):
                unit = self.unit(node, lang)
                text += (" " + unit) if lang == "zh" and unit else unit
            return text
        return fmt_plain(value, lang)

    def humanize(self, node: ast.Expr, lang: str) -> str:
        """An expression in words: field labels, and 且/或/非 in Chinese (for reasons, not for parsing)."""
        key = (id(node), lang)
        if key not in self._words:
            self._words[key] = self._humanize(node, lang)
        return self._words[key]

    def _humanize(self, node: ast.Expr, lang: str) -> str:
        zh = lang == "zh"

        def h(sub: ast.Expr) -> str:
            return self.humanize(sub, lang)

        match node:
            case ast.FieldRef(entity=e, name=n):
                return self.standard.schema.entities[e].fields[n].label.get(lang)
            case ast.ParamRef(name=n):
                p = self.standard.params[n]
                return p.label.get(lang) if p.label else n
            case ast.Literal(value=str() as text):
                return text
            case ast.Literal(value=bool() as b):
                return fmt_plain(b, lang)
            case ast.Literal():
                return to_text(node)
            case ast.BoolOp(op=op, operands=ops):
                word = (" 且 " if op == "and" else " 或 ") if zh else f" {op} "
                return word.join(h(o) for o in ops)
            case ast.Not(operand=o):
                return ("非" if zh else "not ") + h(o)
            case ast.Between(operand=a, low=lo, high=hi):
                return f"{h(a)} 在 {h(lo)} 至 {h(hi)} 之间" if zh else f"{h(a)} between {h(lo)} and {h(hi)}"
            case ast.Compare(op=op, left=a, right=b) | ast.Arith(op=op, left=a, right=b):
                return f"{h(a)} {op} {h(b)}"
            case ast.Neg(operand=o):
                return "-" + h(o)
            case ast.In(operand=a, items=items, negated=neg):
                word = ("不属于" if neg else "属于") if zh else ("not in" if neg else "in")
                return f"{h(a)} {word} [{', '.join(h(i) for i in items.items)}]"
            case ast.Aggregate(func=f, child=c, filter=flt, arg=arg):
                child = self.standard.schema.entities[c].label.get(lang)
                inner = ", ".join(h(x) for x in (flt, arg) if x is not None)
                return f"{f}({child}{': ' + inner if inner else ''})"
            case ast.FuncCall(name=n, args=args):
                zh_name, en_name = FUNCTION_NAMES.get(n, (n, n))
                return f"{zh_name if zh else en_name}({', '.join(h(a) for a in args)})"
        return to_text(node)

    def _pair(self, node: ast.Expr, trace: Trace, lang: str, like: ast.Expr | None = None) -> str:
        """``label value`` for a node; a literal is shown as its value, in the type of ``like``."""
        value = trace.value(node)
        if isinstance(node, ast.Literal) or _constant(node):
            if isinstance(like, ast.Related):
                like = like.target
            typed = like if like is not None and (isinstance(like, ast.FieldRef) or _year_like(like)) else node
            return self.show(typed, value, lang)
        return f"{self.label(node, trace, lang)} {self.show(node, value, lang)}"

    # ---- reasons ----------------------------------------------------------------------------
    def why(self, node: ast.Expr, trace: Trace, lang: str, want: bool) -> list[str]:
        """Clauses saying why ``node`` has the value ``want`` (True or False) in ``trace``."""
        value = trace.value(node)
        table = COMPARE_PASS if want else COMPARE_FAIL
        match node:
            case ast.BoolOp(op=op, operands=ops):
                deciding = [o for o in ops if trace.value(o) is want]
                if op == "or" and not want:
                    items = phrase("sep", lang).join(c for o in ops for c in self.why(o, trace, lang, False))
                    return [phrase("none_of", lang, items=items)]
                return [c for o in deciding for c in self.why(o, trace, lang, want)]
            case ast.Not(operand=o):
                return self.why(o, trace, lang, not want)
            case ast.Compare(op=op, left=a, right=b):
                if op in DATE_PASS and isinstance(trace.value(a), dt.date):
                    table = DATE_PASS if want else DATE_FAIL
                word = table[op][1 if lang == "en" else 0]
                joiner = "，" if lang == "zh" else " "
                left = self._pair(a, trace, lang, like=b)
                right = self._pair(b, trace, lang, like=a)
                return [f"{left}{joiner}{word} {right}"]
            case ast.Between(operand=a, low=lo, high=hi):
                return [
                    phrase(
                        "between_pass" if want else "between_fail",
                        lang,
                        label="" if _constant(a) else self.label(a, trace, lang),
                        value=self.show(a, trace.value(a), lang),
                        low=self.show(lo, trace.value(lo), lang),
                        high=self.show(hi, trace.value(hi), lang),
                    ).strip()
                ]
            case ast.In(operand=a, items=items, negated=neg):
                shown = ("、" if lang == "zh" else ", ").join(
                    self.show(a, trace.value(i), lang, with_unit=False) for i in items.items
                )
                key = "in_pass" if want != neg else ("in_fail" if not neg else "not_in_fail")
                return [
                    phrase(
                        key,
                        lang,
                        label=self.label(a, trace, lang),
                        value=self.show(a, trace.value(a), lang),
                        items=f"[{shown}]",
                    )
                ]
            case ast.Related() if isinstance(value, bool):
                return [phrase("bool", lang, label=self.label(node, trace, lang), value=fmt_plain(value, lang))]
            case ast.FieldRef(name=n) if isinstance(value, bool):
                head = phrase("bool", lang, label=self.label(node, trace, lang), value=fmt_plain(value, lang))
                if n in trace.derived:  # say why the standard derived this value
                    tree = self.standard.derived[(node.entity, n)]
                    inner = self.why(tree, trace.derived[n][1], lang, value)
                    if inner:
                        head += ("（" + "；".join(inner) + "）") if lang == "zh" else (" (" + "; ".join(inner) + ")")
                return [head]
            case ast.Aggregate():
                return self.why_aggregate(node, trace, lang, want)
            case ast.FuncCall(name="unique", args=(arg,)) if want is False:
                others = trace.duplicates.get(id(node)) or []
                shown = ("、" if lang == "zh" else ", ").join(
                    f"{o.id}（{o.source}）" if lang == "zh" else f"{o.id} ({o.source})" for o in others[:MAX_CHILDREN]
                )
                more = phrase("more_children", lang, n=len(others)) if len(others) > MAX_CHILDREN else ""
                return [
                    phrase(
                        "duplicate",
                        lang,
                        label=self.label(arg, trace, lang),
                        value=self.show(arg, trace.value(arg), lang),
                        others=shown + more,
                    )
                ]
            case ast.FuncCall(name="is_blank", args=(arg,)) if want is not None:
                return [phrase("blank" if want else "not_blank", lang, label=self.label(arg, trace, lang))]
            case ast.FuncCall(name="coalesce", args=args):
                decided = next((a for a in args if trace.value(a) is not None), None)
                if decided is not None:
                    return self.why(decided, trace, lang, want)
        return [phrase("holds" if want else "fails", lang, text=self.humanize(node, lang))]

    def why_aggregate(self, node: ast.Aggregate, trace: Trace, lang: str, want: bool) -> list[str]:
        parts = trace.children.get(id(node))
        child_label = self.standard.schema.entities[node.child].label.get(lang)
        if parts is None:
            return [phrase("no_collection", lang, child=child_label)]
        cond = node.arg if node.func in ("any", "all", "count") else None
        deciding = []
        if (node.func == "any" and want) or (node.func == "all" and not want):
            target = node.func == "any"
            for p in parts:
                if cond is None:  # any/all(C where f): the children that meet (any) or miss (all) f
                    if p.included is target:
                        deciding.append(p)
                elif p.included is not False and p.value is target:
                    deciding.append(p)
        if not deciding:
            shown = node.filter if node.filter is not None else node.arg
            text = self.humanize(shown, lang) if shown is not None else ""
            if node.func == "any" and not want:
                return [phrase("no_child", lang, child=child_label, cond=text)]
            if node.func == "all" and want:
                chosen = [p for p in parts if p.included is True]
                if node.filter is not None and node.arg is not None:
                    child_label += ("（" if lang == "zh" else " (") + self.humanize(node.filter, lang)
                    child_label += "）" if lang == "zh" else ")"
                    text = self.humanize(node.arg, lang)
                return [phrase("all_children", lang, child=child_label, n=len(chosen), cond=text)]
            return [phrase("holds" if want else "fails", lang, text=self.humanize(node, lang))]
        out = []
        for p in deciding[:MAX_CHILDREN]:
            clauses: list[str] = []
            if node.filter is not None:
                clauses += self.why(node.filter, p.trace, lang, True)
            if cond is not None:
                clauses += self.why(cond, p.trace, lang, node.func == "any")
            name = p.record.values.get("name")
            ident = (
                f"{p.record.id}（{name}）"
                if name and lang == "zh"
                else (f"{p.record.id} ({name})" if name else str(p.record.id))
            )
            out.append(
                phrase(
                    "child_item",
                    lang,
                    child=child_label,
                    id=ident,
                    why="，".join(clauses) if lang == "zh" else ", ".join(clauses),
                )
            )
        if len(deciding) > MAX_CHILDREN:
            out.append(phrase("more_children", lang, n=len(deciding)))
        return out

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
            flabel += self._unreadable(kid, name, lang)
            clabel = child.label.get(lang)
            return f"{clabel} {ident} 的{flabel}" if lang == "zh" else f"{flabel} of {clabel} {ident}"
        field = ent.fields.get(path)
        if field is not None:
            return field.label.get(lang) + self._unreadable(record, path, lang)
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
        for tree in (rule.require, rule.applies_when):
            if tree is None:
                continue
            for node in self.top(tree):
                if isinstance(node, (ast.FieldRef, ast.ParamRef)):
                    shown = self.show(node, trace.value(node), lang, with_unit=False)
                    values[node.name] = values[node.written] = shown
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
    def evidence(self, rule: Rule, trace: Trace) -> list[Evidence]:
        out: dict[tuple[str, str], Evidence] = {}
        for tree in (rule.applies_when, rule.require):
            if tree is None:
                continue
            for node in self.top(tree):
                if isinstance(node, ast.FieldRef) and ("field", node.name) not in out:
                    out[("field", node.name)] = self.field_evidence(node, trace)
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
                    p = self.standard.params[node.name]
                    pv = trace.params[node.name]
                    out[("param", node.name)] = Evidence(
                        kind="parameter",
                        name=node.name,
                        label=Localized(
                            zh=p.label.zh if p.label else node.name, en=p.label.get("en") if p.label else node.name
                        ),
                        value=_exact(pv.value),
                        display=self.display(node, pv.value),
                        note=_UNVERIFIED if pv.confidence == "U" else None,
                        unit=_loc(p.unit),
                        effective_from=pv.effective_from,
                        source=p.source,
                    )
        for child in self.linked_records(trace, set()):
            out.setdefault(("record", f"{child.entity}:{child.id}"), self.record_evidence(child))
        return list(out.values())

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
            label=Localized(zh=f.label.zh, en=f.label.get("en")),
            value=shown,
            unit=_loc(f.unit),
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
            for lang in LANGS:
                texts[lang] = phrase(
                    "gap_at_bound" if at_bound else "gap_increase" if increase else "gap_decrease",
                    lang,
                    label=self.label(subject, trace, lang),
                    word=word_zh,
                    word_en=word_en,
                    target=self.show(subject, target, lang),
                    amount=self.show(subject, amount, lang),
                )
            return Gap(
                amount_text=Localized(
                    zh=self.show(subject, amount, "zh", with_unit=False),
                    en=self.show(subject, amount, "en", with_unit=False),
                ),
                field=self.text(subject),
                amount=_exact(amount),
                target=_exact(target),
                direction="increase" if increase else "decrease",
                strict=op in ("<", ">"),
                text=Localized(**texts),
            )
        return None


def _failing_leaves(node: ast.Expr, trace: Trace, want: bool) -> list[ast.Expr]:
    """Leaves that made ``node`` differ from ``not want``... i.e. that decided its value ``want``."""
    if trace.value(node) is not want:
        return []
    match node:
        case ast.BoolOp(operands=ops):
            return [leaf for o in ops for leaf in _failing_leaves(o, trace, want)]
        case ast.Not(operand=o):
            return _failing_leaves(o, trace, not want)
    return [node]


def _param_name(standard: Standard, name: str, lang: str) -> str:
    label = standard.params[name].label
    return label.get(lang) if label is not None else name


def _year_like(node: ast.Expr) -> bool:
    """A year is written without a thousands separator (2020, not 2,020)."""
    match node:
        case ast.Special(name="as_of_year") | ast.FuncCall(name="year"):
            return True
        case ast.FieldRef(name=n):
            return n == "year" or n.endswith("_year")
    return False


def _constant(node: ast.Expr) -> bool:
    """True for an expression of literals only (``-3``, ``2 * 5``): shown by its value alone."""
    return all(isinstance(n, (ast.Literal, ast.Neg, ast.Arith, ast.FuncCall)) for n in ast.walk(node)) and not (
        isinstance(node, ast.FuncCall) and not node.args
    )


def _all_notes(trace: Trace) -> list[str]:
    notes = list(trace.notes.values())
    for _value, sub in trace.derived.values():
        notes += _all_notes(sub)
    return notes


def _operands(tree: ast.Expr) -> list[ast.Expr]:
    if isinstance(tree, (ast.Arith, ast.Compare)):
        return [tree.left, tree.right]
    return []


def _exact(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != value.to_integral_value() else str(value.quantize(Decimal(1)))
    return str(value)


def _loc(text: Any) -> Localized | None:
    return None if text is None else Localized(zh=text.zh, en=text.get("en"))
