"""Benchmark: evaluate-and-explain throughput of the national household rules, one record at a time.

Prints households per second for
  * ``engine``   — Engine.evaluate_record: every rule traced and explained (reasons zh+en, evidence, gap);
  * ``engine+json`` — the same plus the verdict serialised to JSON (what ``tuopin check --out`` does);
  * ``baseline`` — a hand-written per-row Python function doing the same six checks with a short reason
    string, no tracing (what a one-off script does);
and, to show where the engine's time goes,
  * ``conditions`` — only the rules' conditions, evaluated with their traces (no explanation);
  * ``objects``    — only building a verdict's objects (its results, reasons, evidence) again from
    the parts of one already made: no evaluation and no text, the floor of any explained verdict;
and the ratio of each to the baseline, all in one run. Not a test: numbers vary with the machine.

Usage: ``python bench/bench_explain.py [N]`` (default 5,000 households, each with 1–6 members).
"""

from __future__ import annotations

import random
import sys
import time
from decimal import Decimal
from typing import Any

from tuopin_rules import Engine, load_standard
from tuopin_rules.entities.records import Record, link, record_from_mapping
from tuopin_rules.evaluate.engine import coerce_as_of
from tuopin_rules.evaluate.scalar import DerivedCache, Trace, evaluate
from tuopin_rules.verdicts import Evidence, Localized, RuleResult, Verdict


def make_households(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` household mappings with members, in the export's Chinese headers (seeded)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        members = []
        for j in range(rng.randint(1, 6)):
            year = rng.randint(1940, 2015)
            members.append(
                {
                    "人编号": f"{i:08d}{j:02d}",
                    "证件号码": f"410522{year}0101{rng.randrange(1000):03d}1",
                    "是否参加城乡居民基本医疗保险": "是" if rng.random() > 0.01 else "否",
                    "是否参加城镇职工基本医疗保险": "否",
                    "是否义务教育阶段适龄儿童少年失学辍学": "否" if rng.random() > 0.01 else "是",
                }
            )
        out.append(
            {
                "户编号": f"{i:016d}",
                "脱贫状态": "已脱贫" if rng.random() > 0.1 else "未脱贫",
                "人均纯收入": f"{rng.uniform(2500, 12000):.1f}",
                "是否不愁吃": "是",
                "是否不愁穿": "是" if rng.random() > 0.01 else "否",
                "危房级别": rng.choice(["A级", "B级", "B级", "C级"] if rng.random() < 0.02 else ["A级", "B级"]),
                "是否解决安全饮用水": "是" if rng.random() > 0.02 else "否",
                "members": members,
            }
        )
    return out


def baseline(h: dict[str, Any], line: Decimal) -> list[tuple[str, bool | None, str]]:
    """The same six checks by hand, with a short reason each (no trace, no evidence)."""
    if h["脱贫状态"] != "已脱贫":
        return []
    out: list[tuple[str, bool | None, str]] = []
    income = Decimal(h["人均纯收入"]) if h["人均纯收入"] else None
    ok = None if income is None else income > line
    out.append(("income", ok, f"人均纯收入 {income} 元，{'超过' if ok else '未超过'}扶贫标准 {line} 元"))
    out.append(("food", h["是否不愁吃"] == "是" and h["是否不愁穿"] == "是", "两不愁"))
    dropout = any(
        6 <= 2020 - int(m["证件号码"][6:10]) <= 15 and m["是否义务教育阶段适龄儿童少年失学辍学"] == "是"
        for m in h["members"]
    )
    out.append(("education", not dropout, "义务教育"))
    insured = all(m["是否参加城乡居民基本医疗保险"] == "是" for m in h["members"])
    out.append(("medical", insured, "基本医疗"))
    out.append(("housing", h["危房级别"] in ("A级", "B级"), "住房安全"))
    out.append(("water", h["是否解决安全饮用水"] == "是", "饮水安全"))
    return out


def build_records(engine: Engine, households: list[dict[str, Any]]) -> list[Record]:
    schema = engine.standard.schema
    records = []
    for h in households:
        rec, _ = record_from_mapping(schema, "household", h)
        records.append(rec)
    link(schema, {"household": records})
    return records


def rate(label: str, n: int, seconds: float, base: float | None) -> float:
    per_second = n / seconds
    ratio = f"  {per_second / base:5.2f}× baseline" if base else ""
    print(f"{label:<14} {per_second:>12,.0f} households/s  ({seconds * 1e6 / n:8.1f} µs each){ratio}")
    return per_second


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    engine = Engine(load_standard("cn-national"))
    households = make_households(n)
    records = build_records(engine, households)
    line = Decimal(4000)
    print(f"{n:,} households, {sum(len(h['members']) for h in households):,} members, cn-national as of 2020")

    t = time.perf_counter()
    for h in households:
        baseline(h, line)
    base = rate("baseline", n, time.perf_counter() - t, None)

    t = time.perf_counter()
    for rec in records:
        engine.evaluate_record(rec, 2020)
    rate("engine", n, time.perf_counter() - t, base)

    t = time.perf_counter()
    for rec in records:
        engine.evaluate_record(rec, 2020).to_json()
    rate("engine+json", n, time.perf_counter() - t, base)

    t = time.perf_counter()
    build_records(engine, households)
    rate("intake", n, time.perf_counter() - t, base)

    day = coerce_as_of(2020)
    rules = engine.standard.rules_for("household", day)
    t = time.perf_counter()
    for rec in records:
        cache: DerivedCache = {}
        for rule in rules:
            trace = Trace(rec)
            if rule.applies_when is None or evaluate(engine.standard, rule.applies_when, rec, day, trace, cache)[0]:
                evaluate(engine.standard, rule.require, rec, day, trace, cache)
    rate("conditions", n, time.perf_counter() - t, base)

    made = [engine.evaluate_record(rec, day) for rec in records]
    t = time.perf_counter()
    for v in made:
        rebuild(v)
    rate("objects", n, time.perf_counter() - t, base)


def rebuild(v: Verdict) -> Verdict:
    """The same verdict built again, object by object, from the parts of ``v`` (strings shared)."""

    def loc(x: Localized | None) -> Localized | None:
        return None if x is None else Localized(zh=x.zh, en=x.en)

    results = [
        RuleResult(
            rule_id=r.rule_id,
            title=Localized(zh=r.title.zh, en=r.title.en),
            outcome=r.outcome,
            severity=r.severity,
            working_group=r.working_group,
            reason_code=r.reason_code,
            reason=Localized(zh=r.reason.zh, en=r.reason.en),
            evidence=[
                Evidence(
                    kind=e.kind,
                    name=e.name,
                    label=Localized(zh=e.label.zh, en=e.label.en),
                    value=e.value,
                    display=Localized(zh=e.display.zh, en=e.display.en),
                    unit=loc(e.unit),
                    effective_from=e.effective_from,
                    source=e.source,
                    note=loc(e.note),
                )
                for e in r.evidence
            ],
            gap=r.gap,
            missing=list(r.missing),
            remedy=loc(r.remedy),
            citation=r.citation,
        )
        for r in v.results
    ]
    return Verdict(
        entity=v.entity,
        entity_id=v.entity_id,
        outcome=v.outcome,
        as_of=v.as_of,
        standard=v.standard,
        results=results,
        source=v.source,
        data_issues=list(v.data_issues),
    )


if __name__ == "__main__":
    main()
