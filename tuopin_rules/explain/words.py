"""Explanations, part 1: values, labels and reasons in words (zh and en) from a rule's trace."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tuopin_rules.compile import Standard
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
from tuopin_rules.verdicts import Localized

__all__ = ["LANGS", "MAX_CHILDREN", "Words"]

LANGS = ("zh", "en")
MAX_CHILDREN = 5
_UNVERIFIED = Localized(zh="未核实的数值（出处标注为 U）", en="an unverified value (marked U in the standard)")
MAX_LINKED = 20
SHOWN_MAX = 100_000  # values-as-shown memoised per Words before the memo is cleared


class Words:
    """Labels, values and the why of each sub-condition, for the rules of one standard."""

    def __init__(self, standard: Standard) -> None:
        self.standard = standard
        # static per node of the standard's (long-lived) trees: printed text, words, top-level nodes
        self._text: dict[int, str] = {}
        self._words: dict[tuple[int, str], str] = {}
        self._top: dict[int, list[ast.Expr]] = {}
        # values as shown, per node and value (bounded: cleared when full); texts of the standard
        self._shown: dict[tuple[Any, ...], tuple[ast.Expr, str]] = {}
        self._locs: dict[int, tuple[Any, Localized]] = {}

    def loc(self, text: Any) -> Localized | None:
        """A text of the standard (``zh`` and optional ``en``) as one shared :class:`Localized`."""
        if text is None:
            return None
        hit = self._locs.get(id(text))
        if hit is None or hit[0] is not text:
            hit = self._locs[id(text)] = (text, Localized(zh=text.zh, en=text.get("en")))
        return hit[1]

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

    def show(self, node: ast.Expr, value: Any, lang: str, *, with_unit: bool = True, exact: bool = False) -> str:
        """A value as a person reads it, in the type and unit of ``node`` (memoised per node and value).

        Numbers are rounded for display beyond four decimals unless ``exact``.
        """
        try:
            key = (id(node), type(value), value, lang, with_unit, exact)
            hit = self._shown.get(key)
        except TypeError:  # an unhashable value: not memoised
            return self._show(node, value, lang, with_unit=with_unit, exact=exact)
        if hit is None or hit[0] is not node:  # the node is kept, so its id is never reused meanwhile
            if len(self._shown) >= SHOWN_MAX:
                self._shown.clear()
            hit = self._shown[key] = (node, self._show(node, value, lang, with_unit=with_unit, exact=exact))
        return hit[1]

    def _show(self, node: ast.Expr, value: Any, lang: str, *, with_unit: bool = True, exact: bool = False) -> str:
        if isinstance(node, ast.Related):
            return self.show(node.target, value, lang, with_unit=with_unit, exact=exact)
        if isinstance(node, ast.Aggregate) and node.func in ("sum", "min", "max") and node.arg is not None:
            return self.show(node.arg, value, lang, with_unit=with_unit, exact=exact)  # in the unit summed
        if value is None:
            return phrase("missing", lang)
        if isinstance(node, ast.FieldRef) and isinstance(value, str):
            f = self.standard.schema.entities[node.entity].fields[node.name]
            if f.codes:
                return f.code_label(value, lang)
        if isinstance(value, Decimal) and _year_like(node):
            return str(value)
        if isinstance(value, Decimal) and not isinstance(value, bool):
            if exact:
                text = f"{(value * 100).normalize():,f}%" if self.is_percent(node) else f"{value.normalize():,f}"
            else:
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

    def _pair(
        self, node: ast.Expr, trace: Trace, lang: str, like: ast.Expr | None = None, *, exact: bool = False
    ) -> str:
        """``label value`` for a node; a literal is shown as its value, in the type of ``like``
        (``exact``: numbers with every decimal, not rounded for display)."""
        value = trace.value(node)
        if isinstance(node, ast.Literal) or _constant(node):
            if isinstance(like, ast.Related):
                like = like.target
            typed = like if like is not None and (isinstance(like, ast.FieldRef) or _year_like(like)) else node
            return self.show(typed, value, lang, exact=exact)
        return f"{self.label(node, trace, lang)} {self.show(node, value, lang, exact=exact)}"

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
                exact = _rounded_alike(trace.value(a), trace.value(b))  # 4000.0000001 is not shown as 4,000
                left = self._pair(a, trace, lang, like=b, exact=exact)
                right = self._pair(b, trace, lang, like=a, exact=exact)
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


def _rounded_alike(a: Any, b: Any) -> bool:
    """True when two different numbers would read the same once rounded for display."""
    if not isinstance(a, Decimal) or not isinstance(b, Decimal) or isinstance(a, bool) or a == b:
        return False
    return fmt_number(a) == fmt_number(b) or fmt_number(a * 100) == fmt_number(b * 100)


def _exact(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != value.to_integral_value() else str(value.quantize(Decimal(1)))
    return str(value)
