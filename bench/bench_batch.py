"""Benchmark: the national household rules over N households, outcome and reason for every rule and row.

Prints records per second and peak memory, all in one run, for
  * ``vector``   — the vector engine (``evaluate_tables`` over polars frames: every rule's outcome and
    reason code, the entity verdict; members aggregated by group-by);
  * ``scalar``   — ``Engine.evaluate_record`` (every rule traced and explained) on a sample, extrapolated;
  * ``baseline`` — a hand-written per-row Python loop of the same checks with a short reason each;
  * ``floor``    — a hand-written polars select of the same checks (outcome and reason per rule);
and each one's ratio to the baseline. Not a test: the numbers depend on the machine.

Usage: ``python bench/bench_batch.py [N]`` (default 10,000; try 1000000). Peak memory is each stage's
resident high-water mark: on Linux the mark is reset before the stage (``/proc/self/clear_refs``), so
it is that stage's peak (the generated frames, held throughout, included); elsewhere it is the
process's mark so far (``resource.getrusage``), which only grows. For 10^7 households and more, see
``bench/bench_stream.py`` (streamed from files with bounded memory).
"""

from __future__ import annotations

import contextlib
import random
import re
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from tuopin_rules import Engine, load_standard
from tuopin_rules.entities.records import link, record_from_mapping
from tuopin_rules.evaluate.batch import evaluate_tables
from tuopin_rules.evaluate.engine import coerce_as_of
from tuopin_rules.evaluate.frames import tables_from_frames

EXITED = ["已脱贫(享受政策)", "已脱贫(不再享受政策)"]
SCALAR_SAMPLE = 2_000
BASELINE_SAMPLE = 200_000


def make_frames(n: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    """``n`` households and their 1–6 members as field-named polars frames (seeded)."""
    rng = random.Random(seed)
    hh: dict[str, list[Any]] = {
        k: []
        for k in (
            "household_id",
            "exit_status",
            "per_capita_net_income",
            "food_secure",
            "clothing_secure",
            "housing_safety_grade",
            "safe_drinking_water",
        )
    }
    mm: dict[str, list[Any]] = {
        k: []
        for k in (
            "person_id",
            "household_id",
            "id_number",
            "medical_insured",
            "employee_medical_insured",
            "dropout_due_to_poverty",
        )
    }
    for i in range(n):
        hid = f"{i:016d}"
        hh["household_id"].append(hid)
        hh["exit_status"].append(rng.choice(EXITED) if rng.random() > 0.1 else "未脱贫")
        hh["per_capita_net_income"].append(Decimal(rng.randint(25000, 120000)) / 10)
        hh["food_secure"].append(True)
        hh["clothing_secure"].append(rng.random() > 0.01)
        hh["housing_safety_grade"].append(rng.choice("AABBC" if rng.random() < 0.02 else "AB"))
        hh["safe_drinking_water"].append(rng.random() > 0.02)
        for j in range(rng.randint(1, 6)):
            year = rng.randint(1940, 2015)
            mm["person_id"].append(f"{hid}{j:02d}")
            mm["household_id"].append(hid)
            mm["id_number"].append(f"410522{year}0101{rng.randrange(1000):03d}1")
            mm["medical_insured"].append(rng.random() > 0.01)
            mm["employee_medical_insured"].append(False)
            mm["dropout_due_to_poverty"].append(rng.random() < 0.01)
    households = pl.DataFrame(hh, schema_overrides={"per_capita_net_income": pl.Decimal(38, 1)})
    return {"household": households, "member": pl.DataFrame(mm)}


def reset_peak() -> None:
    """Start a new resident high-water mark (Linux; a no-op elsewhere)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    """The resident high-water mark since the last :func:`reset_peak`, in MB."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline_rows(hh: list[dict[str, Any]], members: dict[str, list[dict[str, Any]]], line: Decimal) -> int:
    """The same six checks by hand, per row, with a short reason each."""
    out = 0
    for h in hh:
        if h["exit_status"] not in EXITED:
            out += 6
            continue
        ms = members.get(h["household_id"], [])
        income = h["per_capita_net_income"]
        results = [
            ("income", income > line, f"fail:per_capita_net_income {income} <= {line}"),
            ("food", h["food_secure"] and h["clothing_secure"], "fail:clothing_secure"),
            (
                "education",
                not any(6 <= 2020 - int(m["id_number"][6:10]) <= 15 and m["dropout_due_to_poverty"] for m in ms),
                "fail:education_guaranteed",
            ),
            (
                "medical",
                all(m["medical_insured"] or m["employee_medical_insured"] for m in ms),
                "fail:medical_guaranteed",
            ),
            ("housing", h["housing_safety_grade"] in ("A", "B"), "fail:housing_safe"),
            ("water", h["safe_drinking_water"], "fail:safe_drinking_water"),
        ]
        out += len([r for r in results if r[1] or r[2]])
    return out


def floor_select(frames: dict[str, pl.DataFrame], line: Decimal) -> pl.DataFrame:
    """A hand-written polars select of the same checks: outcome and reason per rule."""
    m = frames["member"]
    born = pl.col("id_number").str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    age = 2020 - born.dt.year()
    agg = m.group_by("household_id").agg(
        (age.is_between(6, 15) & pl.col("dropout_due_to_poverty")).any().alias("dropout"),
        (pl.col("medical_insured") | pl.col("employee_medical_insured")).all().alias("insured"),
    )
    h = frames["household"].join(agg, on="household_id", how="left")
    exited = pl.col("exit_status").is_in(EXITED)
    checks = {
        "income": pl.col("per_capita_net_income") > line,
        "food": pl.col("food_secure") & pl.col("clothing_secure"),
        "education": ~pl.col("dropout"),
        "medical": pl.col("insured"),
        "housing": pl.col("housing_safety_grade").is_in(["A", "B"]),
        "water": pl.col("safe_drinking_water"),
    }
    cols = []
    for name, ok in checks.items():
        outcome = (
            pl.when(~exited).then(pl.lit("NOT_APPLICABLE")).when(ok).then(pl.lit("PASS")).otherwise(pl.lit("FAIL"))
        )
        cols += [outcome.alias(name), pl.when(outcome == "FAIL").then(pl.lit(f"fail:{name}")).alias(name + ":reason")]
    return h.select("household_id", *cols)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    standard = load_standard("cn-national")
    engine = Engine(standard)
    day = coerce_as_of(2020)
    line = Decimal(4000)
    t = time.perf_counter()
    frames = make_frames(n)
    print(f"generated {n:,} households, {frames['member'].height:,} members in {time.perf_counter() - t:.1f} s")
    rates: dict[str, float] = {}
    mem: dict[str, float] = {}

    reset_peak()
    t = time.perf_counter()
    tables = tables_from_frames(standard.schema, frames)
    result = evaluate_tables(standard, tables, day, ["household"])["household"]
    rates["vector"] = n / (time.perf_counter() - t)
    mem["vector"] = peak_mb()
    scalar_rows = int(result["scalar"].sum())

    reset_peak()
    t = time.perf_counter()
    floor = floor_select(frames, line)
    rates["floor"] = n / (time.perf_counter() - t)
    mem["floor"] = peak_mb()
    assert floor.height == n

    k = min(n, BASELINE_SAMPLE)
    hh = frames["household"].head(k).to_dicts()
    members: dict[str, list[dict[str, Any]]] = {}
    for row in (
        frames["member"].filter(pl.col("household_id").is_in([h["household_id"] for h in hh])).iter_rows(named=True)
    ):
        members.setdefault(row["household_id"], []).append(row)
    reset_peak()
    t = time.perf_counter()
    baseline_rows(hh, members, line)
    rates["baseline"] = k / (time.perf_counter() - t)
    mem["baseline"] = peak_mb()

    s = min(n, SCALAR_SAMPLE)
    hh_recs = [record_from_mapping(standard.schema, "household", r)[0] for r in frames["household"].head(s).to_dicts()]
    ids = {r.id for r in hh_recs}
    m_recs = [
        record_from_mapping(standard.schema, "member", r)[0]
        for r in frames["member"].filter(pl.col("household_id").is_in(list(ids))).to_dicts()
    ]
    link(standard.schema, {"household": hh_recs, "member": m_recs})
    reset_peak()
    t = time.perf_counter()
    verdicts = [engine.evaluate_record(r, day) for r in hh_recs]
    rates["scalar"] = s / (time.perf_counter() - t)
    mem["scalar"] = peak_mb()
    agree = all(
        result.row(i, named=True)[res.rule_id + ":reason"] == res.reason_code
        for i, v in enumerate(verdicts)
        for res in v.results
    )

    print(f"national household rules, {n:,} households (scalar on {s:,}, baseline on {k:,}, extrapolated per record)")
    print(f"{'':10} {'records/s':>14} {'× baseline':>11} {'peak RSS MB':>12}")
    for name in ("vector", "scalar", "baseline", "floor"):
        print(f"{name:10} {rates[name]:>14,.0f} {rates[name] / rates['baseline']:>11.2f} {mem[name]:>12,.0f}")
    ratio = rates["vector"] / rates["floor"]
    print(f"vector / floor: {ratio:.2f}  (the floor is {1 / ratio:.1f}× faster)")
    print(f"rows left to the scalar engine: {scalar_rows}; vector reasons equal scalar on the sample: {agree}")


if __name__ == "__main__":
    main()
