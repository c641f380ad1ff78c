"""Stage 7 — verdicts and summaries as text for a terminal, in Chinese or English."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tuopin_rules.compare import VerdictDiff
from tuopin_rules.errors import DataIssue
from tuopin_rules.intake.tables import FileAccount
from tuopin_rules.verdicts import Outcome, RuleResult, Verdict

__all__ = ["Summary", "render_summary", "render_verdict"]

_OUTCOME = {
    "zh": {Outcome.PASS: "通过", Outcome.FAIL: "不通过", Outcome.UNKNOWN: "无法判断", Outcome.NOT_APPLICABLE: "不适用"},
    "en": {Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.UNKNOWN: "UNKNOWN", Outcome.NOT_APPLICABLE: "N/A"},
}
_ENTITY = {
    "zh": {"member": "成员", "household": "户", "village": "村", "county": "县", "sample": "抽样人口"},
    "en": {
        "member": "members",
        "household": "households",
        "village": "villages",
        "county": "counties",
        "sample": "sampled people",
    },
}
_MARK = {Outcome.PASS: "✓", Outcome.FAIL: "✗", Outcome.UNKNOWN: "?", Outcome.NOT_APPLICABLE: "-"}
ORDER = (Outcome.PASS, Outcome.FAIL, Outcome.UNKNOWN, Outcome.NOT_APPLICABLE)


#: labels of entity kinds a standard declares (set by the CLI from the standard's schema)
ENTITY_LABELS: dict[str, tuple[str, str]] = {}


def _entity_word(kind: str, lang: str) -> str:
    if kind in _ENTITY[lang]:
        return _ENTITY[lang][kind]
    zh, en = ENTITY_LABELS.get(kind, (kind, kind))
    return en if lang == "en" else zh


def _severity_word(severity: str, lang: str) -> str:
    words = {"veto": ("否决项", "veto"), "advisory": ("参考项", "advisory")}
    zh, en = words.get(severity, (severity, severity))
    return en if lang == "en" else zh


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


@dataclass
class Summary:
    """Counts gathered while verdicts stream past (so a batch is never held twice in memory)."""

    outcomes: Counter[tuple[str, Outcome]] = field(default_factory=Counter)
    rule_fails: Counter[str] = field(default_factory=Counter)
    rule_unknown: Counter[str] = field(default_factory=Counter)
    titles: dict[str, str] = field(default_factory=dict)
    advisory: set[str] = field(default_factory=set)
    unverified: set[str] = field(default_factory=set)

    def add(self, verdict: Verdict, lang: str) -> None:
        """Count one verdict."""
        self.outcomes[(verdict.entity, verdict.outcome)] += 1
        for r in verdict.results:
            self.titles[r.rule_id] = r.title.get(lang)
            if r.severity != "veto":
                self.advisory.add(r.rule_id)
            for ev in r.evidence:
                if ev.kind == "parameter" and ev.note is not None:
                    self.unverified.add(f"{ev.name}" + (f"@{ev.effective_from}" if ev.effective_from else ""))
            if r.outcome is Outcome.FAIL:
                self.rule_fails[r.rule_id] += 1
            elif r.outcome is Outcome.UNKNOWN:
                self.rule_unknown[r.rule_id] += 1

    def merge(self, other: Summary) -> None:
        """Add the counts of ``other`` (gathered elsewhere, e.g. in a worker process)."""
        self.outcomes.update(other.outcomes)
        self.rule_fails.update(other.rule_fails)
        self.rule_unknown.update(other.rule_unknown)
        self.titles.update(other.titles)
        self.advisory |= other.advisory
        self.unverified |= other.unverified

    @property
    def any_fail(self) -> bool:
        """True if some entity verdict is FAIL."""
        return any(o is Outcome.FAIL for (_, o) in self.outcomes)


def summary_payload(
    standard: Any, as_of: str, summary: Summary, issues: list[DataIssue], accounts: list[FileAccount]
) -> dict[str, Any]:
    """``tuopin check --format json``: the standard, ``as_of``, outcome counts per entity kind, the
    most-failed and most-unknown rules, every data issue and the accounting of every file."""
    return {
        "standard": {"id": standard.id, "version": standard.version, "content_hash": standard.content_hash},
        "as_of": as_of,
        "outcomes": {
            f"{k}.{o.value}": n
            for (k, o), n in sorted(summary.outcomes.items(), key=lambda x: (x[0][0], x[0][1].value))
        },
        "rule_fails": dict(summary.rule_fails.most_common()),
        "rule_unknown": dict(summary.rule_unknown.most_common()),
        "data_issues": [i.to_dict() for i in issues],
        "accounting": [vars(a) | {"balanced": a.balanced} for a in accounts],
    }


def render_summary(
    summary: Summary,
    accounts: list[FileAccount],
    issues: list[DataIssue],
    lang: str,
    *,
    standard: str,
    as_of: str,
    top: int = 10,
    max_issues: int = 20,
    absent: dict[str, list[str]] | None = None,
    issue_count: int | None = None,
) -> str:
    """The end-of-run summary: outcome counts per entity, most-failed rules, missing columns, data
    issues, accounting. ``absent``: per entity, fields the rules read that no record has;
    ``issue_count``: how many issues there were, when ``issues`` holds only the first of them."""
    lines = [_t(lang, f"标准 {standard}，评估日期 {as_of}", f"standard {standard}, as of {as_of}")]
    kinds = list(dict.fromkeys(k for (k, _) in summary.outcomes))
    for kind in kinds:
        total = sum(n for (k, _), n in summary.outcomes.items() if k == kind)
        parts = [f"{_OUTCOME[lang][o]} {summary.outcomes[(kind, o)]}" for o in ORDER if summary.outcomes[(kind, o)]]
        lines.append(f"  {_entity_word(kind, lang)} {total}: " + ", ".join(parts))
    if summary.rule_fails:
        lines.append(_t(lang, "不通过最多的规则：", "most-failed rules:"))
        for rule_id, n in summary.rule_fails.most_common(top):
            mark = _t(lang, "  [参考项]", "  [advisory]") if rule_id in summary.advisory else ""
            lines.append(f"  {n:>5}  {rule_id}  {summary.titles.get(rule_id, '')}{mark}")
    if summary.rule_unknown:
        lines.append(_t(lang, "无法判断最多的规则：", "most-unknown rules:"))
        for rule_id, n in summary.rule_unknown.most_common(top):
            mark = _t(lang, "  [参考项]", "  [advisory]") if rule_id in summary.advisory else ""
            lines.append(f"  {n:>5}  {rule_id}  {summary.titles.get(rule_id, '')}{mark}")
    for kind, names in (absent or {}).items():
        lines.append(
            _t(
                lang,
                f"数据中没有这些{_entity_word(kind, lang)}字段（用到它们的规则均为无法判断）：",
                f"the data have no column for these {kind} fields (rules reading them are UNKNOWN): ",
            )
            + ", ".join(names)
        )
    if summary.unverified:
        used = ", ".join(sorted(summary.unverified))
        lines.append(
            _t(
                lang,
                f"注意：结论用到了标准中标为未核实（U）的参数值：{used}",
                f"note: verdicts used parameter values the standard marks unverified (U): {used}",
            )
        )
    count = len(issues) if issue_count is None else issue_count
    if count:
        lines.append(_t(lang, f"数据问题 {count} 个：", f"{count} data issues:"))
        lines.extend("  " + i.render() for i in issues[:max_issues])
        if count > max_issues:
            lines.append(
                _t(
                    lang,
                    f"  ……另有 {count - max_issues} 个（--format json 或 --out 查看全部）",
                    f"  ... and {count - max_issues} more (see --format json or --out)",
                )
            )
    for acc in accounts:
        status = "" if acc.balanced else _t(lang, "  ⚠ 不平衡", "  ⚠ UNBALANCED")
        lines.append(
            _t(
                lang,
                f"核对 {acc.file}（{_entity_word(acc.entity, lang)}）：读取 {acc.rows_read} 行"
                f" = 评估 {acc.records} 条 + 拒收 {acc.rejected} 行{status}",
                f"accounting {acc.file} ({_entity_word(acc.entity, lang)}): rows read {acc.rows_read}"
                f" = records evaluated {acc.records} + rows rejected {acc.rejected}{status}",
            )
        )
        if acc.unknown_columns:
            shown = [c + (f" ({acc.suggestions[c]})" if c in acc.suggestions else "") for c in acc.unknown_columns]
            lines.append(
                _t(lang, "  未识别的列（保留，不参与评估）：", "  unrecognised columns (kept, not evaluated): ")
                + ", ".join(shown)
            )
    return "\n".join(lines)


def _result_lines(r: RuleResult, lang: str) -> list[str]:
    sev = _t(lang, "否决项", "veto") if r.severity == "veto" else _t(lang, "参考项", "advisory")
    out = [f"{_MARK[r.outcome]} {_OUTCOME[lang][r.outcome]}  {r.rule_id}  {r.title.get(lang)}  [{sev}]"]
    out.append(f"    {_t(lang, '理由', 'reason')}: {r.reason.get(lang)}")
    if r.gap is not None:
        out.append(f"    {_t(lang, '差距', 'gap')}: {r.gap.text.get(lang)}")
    if r.missing:
        out.append(f"    {_t(lang, '缺少', 'missing')}: {', '.join(r.missing)}")
    for ev in r.evidence:
        value = ev.display.get(lang)
        extra = []
        if ev.effective_from:
            extra.append(_t(lang, f"自 {ev.effective_from} 起", f"from {ev.effective_from}"))
        if ev.source:
            extra.append(ev.source)
        if ev.note:
            extra.append(ev.note.get(lang))
        tail = f"  ({'; '.join(extra)})" if extra else ""
        out.append(f"    {_t(lang, '依据', 'evidence')}: {ev.label.get(lang)} = {value}{tail}")
    if r.remedy is not None:
        out.append(f"    {_t(lang, '整改', 'remedy')}: {r.remedy.get(lang)}")
    if r.citation is not None:
        c = r.citation
        number = f" {c.number}" if c.number else ""
        out.append(
            f"    {_t(lang, '出处', 'source')}: 《{c.title}》{number}，{c.issuer}，{c.date}"
            if lang == "zh"
            else f"    source: {c.title}{number}, {c.issuer}, {c.date}"
        )
    return out


def render_verdict(verdict: Verdict, lang: str, *, only: Iterable[Outcome] | None = None) -> str:
    """One entity's verdict in full: each rule's outcome, reason, evidence, gap, remedy and source."""
    head = _t(
        lang,
        f"{_entity_word(verdict.entity, lang)} {verdict.entity_id}：{_OUTCOME[lang][verdict.outcome]}",
        f"{verdict.entity} {verdict.entity_id}: {_OUTCOME[lang][verdict.outcome]}",
    )
    lines = [
        head,
        _t(
            lang,
            f"标准 {verdict.standard.id} {verdict.standard.version}，评估日期 {verdict.as_of}",
            f"standard {verdict.standard.id} {verdict.standard.version}, as of {verdict.as_of}",
        ),
    ]
    if verdict.source:
        lines.append(_t(lang, f"数据来源 {verdict.source}", f"data from {verdict.source}"))
    keep = set(only) if only is not None else None
    for r in verdict.results:
        if keep is None or r.outcome in keep:
            lines.extend(_result_lines(r, lang))
    return "\n".join(lines)


def render_diff(diff: VerdictDiff, lang: str, *, limit: int = 50) -> str:
    """What changes between two evaluations: counts, by rule, by village, and the flipped records."""
    out = [_t(lang, f"比较 {diff.old.label} → {diff.new.label}", f"comparing {diff.old.label} → {diff.new.label}")]
    flips_by_kind = Counter(f.entity for f in diff.flips)
    for kind, total in diff.evaluated.items():
        out.append(
            _t(
                lang,
                f"  {_entity_word(kind, lang)} {total} 条中结论变化 {flips_by_kind[kind]} 条",
                f"  {_entity_word(kind, lang)}: {flips_by_kind[kind]} of {total} verdicts change",
            )
        )
    if not diff.flips:
        out.append(_t(lang, "没有结论变化。", "no verdict changes."))
    else:
        out.append(_t(lang, "按规则：", "by rule:"))
        for (rule, a, b, sa, sb), n in diff.by_rule().most_common():
            moved = f"  ({_severity_word(sa, lang)} → {_severity_word(sb, lang)})" if sa else ""
            out.append(f"  {n:>5}  {rule}  {_word(a, lang)} → {_word(b, lang)}{moved}")
        out.append(_t(lang, "按村：", "by village:"))
        for village, n in diff.by_village().most_common():
            out.append(f"  {n:>5}  {village}")
        out.append(_t(lang, "变化的记录：", "records that flip:"))
        for f in diff.flips[:limit]:
            rules = "; ".join(
                f"{rid} {_word(a.value if a else '-', lang)} → {_word(b.value if b else '-', lang)}"
                for rid, (a, b) in f.rules.items()
            )
            where = f"（{f.village}）" if f.village and lang == "zh" else (f" ({f.village})" if f.village else "")
            out.append(
                f"  {_entity_word(f.entity, lang)} {f.id}{where}: "
                f"{_word(f.old.value, lang)} → {_word(f.new.value, lang)}; {rules}"
            )
        if len(diff.flips) > limit:
            out.append(
                _t(
                    lang,
                    f"  ……另有 {len(diff.flips) - limit} 条（--limit 或 --format json 查看全部）",
                    f"  ... and {len(diff.flips) - limit} more (--limit or --format json)",
                )
            )
    for label, keys in (
        (_t(lang, "仅在旧数据中", "only on the old side"), diff.only_old),
        (_t(lang, "仅在新数据中", "only on the new side"), diff.only_new),
    ):
        if keys:
            out.append(f"{label}: {len(keys)}")
    return "\n".join(out)


def _word(outcome: str, lang: str) -> str:
    return _OUTCOME[lang][Outcome(outcome)] if outcome in Outcome.__members__ else outcome
