"""Benchmark: reading throughput of a household export as XLSX and as CSV (rows per second).

Generates a seeded household export (the 2019-2020 household columns: codes and ID numbers as
text, incomes as numbers, 是/否 cells, a title row above the header) in a temporary folder, as
``.xlsx`` (openpyxl, the way the system exports it) and as UTF-8 ``.csv``, then times
``read_dataset`` on each: decoding, header search, cell conversion and records, with accounting.
Not a test: numbers vary with the machine.

Usage: ``python bench/bench_intake.py [N]`` (default 100,000 rows).
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from pathlib import Path

import openpyxl

from tuopin_rules.entities.schema import base_schema
from tuopin_rules.intake.tables import read_dataset

HEADER = ["县", "乡(镇)", "行政村", "户编号", "户主姓名", "户主证件号码", "家庭人口数", "脱贫状态", "脱贫年度"]
HEADER += ["人均纯收入", "是否不愁吃", "是否不愁穿", "是否危房户", "危房级别", "是否解决安全饮用水", "主要致贫原因"]


def rows(n: int, seed: int = 4) -> list[list[object]]:
    rng = random.Random(seed)
    out: list[list[object]] = []
    for i in range(n):
        ident = (
            f"410522{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        )
        ident += rng.choice("0123456789X")
        out.append(
            [
                "示范县",
                "东岗镇",
                f"村{i % 50:02d}",
                f"41052210120{i:06d}",
                "张三",
                ident,
                rng.randint(1, 7),
                rng.choice(["已脱贫", "未脱贫", "已脱贫(不再享受政策)"]),
                rng.choice([2016, 2017, 2018, 2019, 2020]),
                round(rng.uniform(2500, 20000), 1),
                "是",
                "是",
                rng.choice(["是", "否"]),
                rng.choice(["A级", "B级", "C级", "D级"]),
                rng.choice(["是", "否"]),
                rng.choice(["因病", "因残", "缺资金", "缺技术"]),
            ]
        )
    return out


def write_xlsx(path: Path, data: list[list[object]]) -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("贫困户信息")
    ws.append(["建档立卡贫困户信息表"])
    ws.append(HEADER)
    for r in data:
        ws.append(r)
    wb.save(path)


def write_csv(path: Path, data: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["建档立卡贫困户信息表"] + [""] * (len(HEADER) - 1))
        w.writerow(HEADER)
        w.writerows(data)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    schema = base_schema()
    data = rows(n)
    with tempfile.TemporaryDirectory() as tmp:
        for name, writer in (("xlsx", write_xlsx), ("csv", write_csv)):
            path = Path(tmp) / f"households.{name}"
            writer(path, data)
            size = path.stat().st_size / 1e6
            start = time.perf_counter()
            ds = read_dataset(schema, [str(path)])
            seconds = time.perf_counter() - start
            (acc,) = ds.accounts
            assert acc.balanced and acc.records == n, acc
            print(f"{name:5} {n:,} rows ({size:.1f} MB): {seconds:.2f} s, {n / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
