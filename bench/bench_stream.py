"""Benchmark: stream mode over N households and their members, larger than memory at N = 10^7.

Writes N households and about 3.5 N members (seeded) as CSV in the national export's shape (Chinese
headers, 是/否 cells, code labels; UTF-8) into a temporary folder, block by block with polars — the
data are never held whole — then runs ``evaluate_stream`` (cn-national, 2020, output to Parquet) in
a **child process**, so that the generator's memory does not count, and prints rows per second,
the child's peak resident memory (``resource.getrusage(...).ru_maxrss``), the number of
partitions and the time of each pass. Not a test: the numbers depend on the machine.

Usage: ``python bench/bench_stream.py [N] [--budget MB] [--keep DIR]`` (default N = 10,000; the
issue's sizes are 10^4, 10^6 and 10^7: 10^7 writes about 7 GB of CSV and takes minutes).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

BLOCK = 200_000  # households generated per block
SEED = 2020

HOUSEHOLD_COLUMNS = [
    "县",
    "乡(镇)",
    "行政村",
    "户编号",
    "户主姓名",
    "户主证件号码",
    "家庭人口数",
    "脱贫状态",
    "脱贫年度",
    "人均纯收入",
    "是否不愁吃",
    "是否不愁穿",
    "是否危房户",
    "危房级别",
    "是否解决安全饮用水",
    "主要致贫原因",
    "联系电话",
]
MEMBER_COLUMNS = [
    "县(市、区、旗)",
    "乡(镇)",
    "行政村",
    "户编号",
    "人编号",
    "姓名",
    "证件号码",
    "与户主关系",
    "民族",
    "是否参加城乡居民基本医疗保险",
    "是否参加城镇职工基本医疗保险",
    "是否义务教育阶段适龄儿童少年失学辍学",
]
NAMES = ["李振兴", "蔡明", "王秀英", "张建国", "刘桂兰", "陈小龙", "杨淑珍", "赵德胜", "黄丽", "周国强"]
STATUS = ["已脱贫", "已脱贫(享受政策)", "已脱贫(不再享受政策)", "未脱贫"]
CAUSES = ["因病", "因残", "因学", "缺资金", "缺技术", "缺劳动力"]


def _pick(h: pl.Expr, options: list[str]) -> pl.Expr:
    return pl.lit(pl.Series(options)).gather((h % len(options)).cast(pl.Int64))


def _rand(name: str, salt: int) -> pl.Expr:
    return pl.col(name).hash(seed=SEED + salt)


def households(start: int, n: int) -> pl.DataFrame:
    """Households ``start`` … ``start + n - 1`` (with their member count in ``__n``)."""
    frame = pl.DataFrame({"i": pl.int_range(start, start + n, eager=True, dtype=pl.Int64)})
    village = (pl.col("i") // 400).cast(pl.String).str.zfill(4)
    income = (_rand("i", 1) % 95_000 + 25_000).cast(pl.Int64)
    grade = pl.when(_rand("i", 2) % 100 < 2).then(pl.lit("C级")).otherwise(_pick(_rand("i", 3), ["A级", "B级"]))
    return frame.select(
        pl.lit("示范县").alias("县"),
        pl.lit("东岗镇").alias("乡(镇)"),
        (pl.lit("村") + village).alias("行政村"),
        pl.col("i").cast(pl.String).str.zfill(16).alias("户编号"),
        _pick(_rand("i", 4), NAMES).alias("户主姓名"),
        (pl.lit("4105221980") + (pl.col("i") % 10_000).cast(pl.String).str.zfill(4) + pl.lit("5831")).alias(
            "户主证件号码"
        ),
        (1 + _rand("i", 5) % 6).cast(pl.Int64).alias("__n"),
        _pick(_rand("i", 6), STATUS).alias("脱贫状态"),
        (2016 + _rand("i", 7) % 5).cast(pl.String).alias("脱贫年度"),
        ((income // 10).cast(pl.String) + pl.lit(".") + (income % 10).cast(pl.String)).alias("人均纯收入"),
        pl.lit("是").alias("是否不愁吃"),
        pl.when(_rand("i", 8) % 100 < 1).then(pl.lit("否")).otherwise(pl.lit("是")).alias("是否不愁穿"),
        pl.when(grade == "C级").then(pl.lit("是")).otherwise(pl.lit("否")).alias("是否危房户"),
        grade.alias("危房级别"),
        pl.when(_rand("i", 9) % 100 < 2).then(pl.lit("否")).otherwise(pl.lit("是")).alias("是否解决安全饮用水"),
        _pick(_rand("i", 10), CAUSES).alias("主要致贫原因"),
        (pl.lit("176") + (pl.col("i") % 100_000_000).cast(pl.String).str.zfill(8)).alias("联系电话"),
    )


def members(hh: pl.DataFrame) -> pl.DataFrame:
    """The members of households ``hh`` (``__n`` each; the first is the head)."""
    rows = hh.select("县", "乡(镇)", "行政村", "户编号", "户主姓名", pl.int_ranges(0, "__n").alias("j")).explode("j")
    key = (pl.col("户编号") + pl.col("j").cast(pl.String)).alias("k")
    rows = rows.with_columns(key)
    year = (1940 + _rand("k", 11) % 76).cast(pl.String)
    return rows.select(
        pl.col("县").alias("县(市、区、旗)"),
        "乡(镇)",
        "行政村",
        "户编号",
        (pl.col("户编号") + pl.col("j").cast(pl.String).str.zfill(2)).alias("人编号"),
        pl.when(pl.col("j") == 0).then(pl.col("户主姓名")).otherwise(_pick(_rand("k", 12), NAMES)).alias("姓名"),
        (pl.lit("410522") + year + pl.lit("0101") + (_rand("k", 13) % 1000).cast(pl.String).str.zfill(3) + "1").alias(
            "证件号码"
        ),
        pl.when(pl.col("j") == 0).then(pl.lit("户主")).otherwise(pl.lit("子女")).alias("与户主关系"),
        pl.lit("汉族").alias("民族"),
        pl.when(_rand("k", 14) % 100 < 1)
        .then(pl.lit("否"))
        .otherwise(pl.lit("是"))
        .alias("是否参加城乡居民基本医疗保险"),
        pl.lit("否").alias("是否参加城镇职工基本医疗保险"),
        pl.when(_rand("k", 15) % 100 < 1)
        .then(pl.lit("是"))
        .otherwise(pl.lit("否"))
        .alias("是否义务教育阶段适龄儿童少年失学辍学"),
    )


def generate(n: int, folder: Path) -> tuple[int, int]:
    """Write ``n`` households and their members as CSV into ``folder``; returns (households, members)."""
    m = 0
    with open(folder / "贫困户信息.csv", "wb") as hf, open(folder / "家庭成员信息.csv", "wb") as mf:
        for start in range(0, n, BLOCK):
            hh = households(start, min(BLOCK, n - start))
            hh.rename({"__n": "家庭人口数"}).select(HOUSEHOLD_COLUMNS).write_csv(hf, include_header=start == 0)
            mm = members(hh)
            mm.select(MEMBER_COLUMNS).write_csv(mf, include_header=start == 0)
            m += mm.height
    return n, m


def evaluate(folder: Path, budget_mb: int) -> None:
    """The child: stream-evaluate ``folder`` and print the figures as JSON."""
    from tuopin_rules import load_standard
    from tuopin_rules.evaluate.stream import evaluate_stream

    marks: dict[str, float] = {}
    start = time.perf_counter()

    def progress(stage: str, done: int, total: int, rows: int) -> None:
        marks.setdefault(stage, time.perf_counter())
        marks[stage + "-end"] = time.perf_counter()

    result = evaluate_stream(
        load_standard("cn-national"),
        [str(folder)],
        2020,
        str(folder.parent / "verdicts.parquet"),
        memory_budget=budget_mb << 20,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    rows = sum(a.rows_read for a in result.accounts)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "read": marks.get("read-end", start) - start,
                "evaluate": marks.get("evaluate-end", start) - marks.get("read-end", start),
                "rows": rows,
                "households": sum(n for (k, _), n in result.outcomes.items() if k == "household"),
                "partitions": result.partitions,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "balanced": all(a.balanced for a in result.accounts),
                "issues": result.issue_count,
                "outcomes": {f"{k}.{o.value}": n for (k, o), n in sorted(result.outcomes.items())},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("--budget", type=int, default=768, help="memory budget in MB (evaluate_stream)")
    parser.add_argument("--keep", type=Path, default=None, help="write the data under this folder and keep them")
    parser.add_argument("--evaluate", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.evaluate is not None:
        evaluate(args.evaluate, args.budget)
        return
    with tempfile.TemporaryDirectory(prefix="tuopin-bench-") as tmp:
        folder = (args.keep or Path(tmp)) / "data"
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        if not (folder / "贫困户信息.csv").exists():
            hh, mm = generate(args.n, folder)
            size = sum(p.stat().st_size for p in folder.glob("*.csv")) / 1e9
            print(f"generated {hh:,} households, {mm:,} members ({size:.2f} GB CSV) in {time.perf_counter() - t:.0f} s")
        child = subprocess.run(
            [sys.executable, __file__, "--evaluate", str(folder), "--budget", str(args.budget)],
            check=True,
            capture_output=True,
            text=True,
        )
        got = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"stream (cn-national, CSV in, Parquet out): {got['rows']:,} rows ({got['households']:,} households) in"
        f" {got['seconds']:.1f} s = {got['rows'] / got['seconds']:,.0f} rows/s,"
        f" {got['households'] / got['seconds']:,.0f} households/s"
    )
    print(
        f"  read + partition {got['read']:.1f} s, evaluate {got['evaluate']:.1f} s; {got['partitions']} partitions"
        f" (budget {args.budget} MB); peak RSS {got['peak_mb']:,.0f} MB; accounting balanced: {got['balanced']};"
        f" data issues: {got['issues']}"
    )
    print("  outcomes:", ", ".join(f"{k} {v:,}" for k, v in got["outcomes"].items()))


if __name__ == "__main__":
    main()
