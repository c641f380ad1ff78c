"""A standard in words: the merged standard (``tuopin show``) and what a variant changes against its
base (``tuopin show --diff``), in Chinese or English, for policy officers."""

from __future__ import annotations

from typing import Any

from tuopin_rules.compile import Rule, Standard
from tuopin_rules.expr.parser import to_text
from tuopin_rules.resolve.compose import Change
from tuopin_rules.resolve.params import ParamDef, parse_value
from tuopin_rules.spec import ParameterSpec, RuleSpec, parse_date_like

__all__ = ["change_lines", "describe_standard"]

_SEVERITY = {"veto": ("否决项", "veto"), "advisory": ("参考项", "advisory")}
_ACTION = {
    "add": ("新增", "adds"),
    "replace": ("替换", "replaces"),
    "modify": ("修改", "changes"),
    "disable": ("停用", "disables"),
}
_KIND = {
    "rule": ("规则", "rule"),
    "parameter": ("参数", "parameter"),
    "field": ("字段", "field"),
    "source": ("文件", "source"),
    "entity": ("数据表", "table"),
}


def _w(lang: str, pair: tuple[str, str]) -> str:
    return pair[1] if lang == "en" else pair[0]


def _value(raw: Any) -> str:
    if isinstance(raw, dict) and "value" in raw:  # an annotated value {value:, confidence:}
        shown = _value(raw["value"])
        return shown + ("（未核实）" if raw.get("confidence") == "U" else "")
    try:
        value, percent = parse_value(raw)
    except ValueError:
        return str(raw)
    if percent and not isinstance(value, bool) and not isinstance(value, str):
        return f"{(value * 100).normalize():f}%"
    return str(raw)


def _key(key: str, by: str | None, standard: Standard, lang: str) -> str:
    """A values key in words: a code of the ``by`` field (西部), 默认, or "自 2016-04 起"."""
    if key == "default":
        return "默认" if lang == "zh" else "default"
    if by is not None:
        for ent in standard.schema.entities.values():
            f = ent.fields.get(by)
            if f is not None and f.codes:
                code = f.code_for(key)
                if code is not None:
                    return f.code_label(code, lang)
        return key
    try:
        parse_date_like(key)
    except ValueError:
        return key
    return f"自 {key} 起" if lang == "zh" else f"from {key}"


def _param_label(name: str, standard: Standard, lang: str) -> str:
    p = standard.params.get(name)
    return p.label.get(lang) if p is not None and p.label else name


def _rule_label(rule_id: str, spec: RuleSpec | None, lang: str) -> str:
    return (
        f"{rule_id}（{spec.title.get(lang)}）"
        if spec is not None and lang == "zh"
        else (f"{rule_id} ({spec.title.get(lang)})" if spec is not None else rule_id)
    )


def _param_change(c: Change, standard: Standard, lang: str) -> list[str]:
    before: ParameterSpec = c.before
    after: ParameterSpec = c.after
    head = f"{_w(lang, _ACTION['replace'])} {_w(lang, _KIND['parameter'])} {_param_label(c.name, standard, lang)}"
    lines = []
    for key in dict.fromkeys([*before.values, *after.values]):
        old, new = before.values.get(key), after.values.get(key)
        if old == new:
            continue
        where = _key(str(key), after.by, standard, lang)
        old_text = _value(old) if old is not None else ("（无）" if lang == "zh" else "(none)")
        lines.append(f"{head}: {old_text} → {_value(new)}" + (f"（{where}）" if lang == "zh" else f" ({where})"))
    return lines or [f"{head}: " + ("说明或出处有变" if lang == "zh" else "label, notes or source changed")]


def _rule_change(c: Change, lang: str) -> list[str]:
    before: RuleSpec = c.before
    after: RuleSpec = c.after
    head = f"{_w(lang, _ACTION['modify'])} {_w(lang, _KIND['rule'])} {_rule_label(c.name, after, lang)}"
    parts = []
    if before.severity != after.severity:
        parts.append(f"{_w(lang, _SEVERITY[before.severity])} → {_w(lang, _SEVERITY[after.severity])}")
    none = "（无）" if lang == "zh" else "(none)"
    for name, label in (("require", ("条件", "condition")), ("applies_when", ("适用条件", "applies when"))):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            parts.append(f"{_w(lang, label)}: {none if old is None else old} → {none if new is None else new}")
    if before.source != after.source:
        parts.append(f"{'出处' if lang == 'zh' else 'source'}: {before.source} → {after.source}")
    other = [
        k
        for k in ("title", "explain", "remedy", "notes", "effective", "working_group")
        if getattr(before, k) != getattr(after, k)
    ]
    if other:
        parts.append(("另改 " if lang == "zh" else "also ") + ", ".join(other))
    return [f"{head}: " + ("；" if lang == "zh" else "; ").join(parts)]


def change_lines(standard: Standard, lang: str = "zh") -> list[str]:
    """What ``standard`` changes against its base, one line per change, in words."""
    out: list[str] = []
    for c in standard.changes:
        kind = _w(lang, _KIND[c.kind])
        action = _w(lang, _ACTION[c.action])
        if c.kind == "parameter" and c.action == "replace":
            out += _param_change(c, standard, lang)
        elif c.kind == "rule" and c.action == "modify":
            out += _rule_change(c, lang)
        elif c.kind == "rule" and c.action == "disable":
            reason = c.reason.get(lang) if c.reason else ""
            label = _rule_label(c.name, c.before, lang)
            out.append(f"{action} {kind} {label}" + (f"：理由：{reason}" if lang == "zh" else f": reason: {reason}"))
        elif c.kind == "rule":
            spec: RuleSpec = c.after
            sev = _w(lang, _SEVERITY[spec.severity])
            out.append(
                f"{action} {kind} {_rule_label(c.name, spec, lang)}，{sev}：{spec.require}"
                if lang == "zh"
                else f"{action} {kind} {_rule_label(c.name, spec, lang)}, {sev}: {spec.require}"
            )
        elif c.kind == "parameter":
            values = ", ".join(f"{_key(str(k), None, standard, lang)} {_value(v)}" for k, v in (c.after or {}).items())
            out.append(f"{action} {kind} {_param_label(c.name, standard, lang)}: {values}")
        elif c.kind == "field" and c.action == "modify":
            out.append(f"{action} {kind} {c.name}: " + ("改为由标准计算（derive）" if lang == "zh" else "now derived"))
        else:
            out.append(f"{action} {kind} {c.name}" + (f": {c.after}" if c.after else ""))
    return out


def _param_lines(p: ParamDef, standard: Standard, lang: str) -> list[str]:
    label = p.label.get(lang) if p.label else p.name
    out = [f"  {p.name}  {label}" + (f"  [{p.unit.get(lang)}]" if p.unit else "")]
    for key, timeline in p.timelines.items():
        for pv in timeline:
            where = []
            if key is not None:
                where.append(_key(str(key), p.by, standard, lang))
            if pv.effective_from is not None:
                where.append(_key(pv.effective_from.isoformat(), None, standard, lang))
            shown = (
                f"{(pv.value * 100).normalize():f}%"
                if pv.percent and not isinstance(pv.value, (bool, str))
                else str(pv.value)
            )
            out.append(f"      {shown}" + (f"  ({', '.join(where)})" if where else ""))
    return out


def _rule_line(r: Rule, lang: str) -> list[str]:
    sev = _w(lang, _SEVERITY[r.severity])
    head = f"  {r.id}  [{r.entity}, {sev}]  {r.title.get(lang)}"
    out = [head]
    if r.applies_when is not None:
        out.append(f"      {'适用' if lang == 'zh' else 'applies when'}: {to_text(r.applies_when)}")
    out.append(f"      {'要求' if lang == 'zh' else 'require'}: {to_text(r.require)}")
    src = r.source
    if src is not None:
        out.append(
            f"      {'出处' if lang == 'zh' else 'source'}: {src.title}，{src.issuer}，{src.date}"
            + (f"（{src.number}）" if src.number else "")
        )
    return out


def describe_standard(standard: Standard, lang: str = "zh") -> str:
    """The merged standard as text: identity, chain, parameters, rules, disabled rules."""
    zh = lang == "zh"
    lines = [f"{standard.id} {standard.version}  {standard.title.get(lang)}"]
    if standard.extends:
        lines.append(("基于 " if zh else "extends ") + standard.extends)
    if standard.effective_from:
        lines.append(
            ("生效日期 " if zh else "effective from ")
            + standard.effective_from.isoformat()
            + (f" – {standard.effective_until.isoformat()}" if standard.effective_until else "")
        )
    lines.append(("文件 " if zh else "files ") + " ← ".join(reversed(standard.files)))
    lines.append(f"content {standard.content_hash}")
    lines.append("参数：" if zh else "parameters:")
    for p in standard.params.values():
        lines += _param_lines(p, standard, lang)
    lines.append(f"规则（{len(standard.rules)} 条）：" if zh else f"rules ({len(standard.rules)}):")
    for r in standard.rules:
        lines += _rule_line(r, lang)
    if standard.disabled:
        lines.append("停用的规则：" if zh else "disabled rules:")
        lines += [f"  {rid}: {reason.get(lang)}" for rid, reason in standard.disabled.items()]
    return "\n".join(lines)
