"""The Arrow-batch kernel: ``evaluate_arrow`` per partition, the way Spark's ``mapInArrow`` (an
iterator of RecordBatches in, one out) and Dask's ``map_partitions`` (one frame in, one out) call it,
agrees with the scalar engine row by row."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

pl = pytest.importorskip("polars")

from tuopin_rules import Engine, load_standard  # noqa: E402
from tuopin_rules.evaluate.vector import arrow_kernel, evaluate_arrow  # noqa: E402

STANDARD = load_standard("cn-national")


def _data(n: int = 60, seed: int = 3) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    households, members = [], []
    for i in range(n):
        hid = f"H{i:03d}"
        households.append(
            {
                "household_id": hid,
                "exit_status": rng.choice(["已脱贫(享受政策)", "已脱贫(不再享受政策)", "未脱贫", None]),
                "per_capita_net_income": rng.choice([None, Decimal("4000"), Decimal("4000.01"), Decimal("3650.5")]),
                "food_secure": rng.choice([True, True, None]),
                "clothing_secure": rng.choice([True, False, None]),
                "housing_safety_grade": rng.choice(["A", "B", "C", None]),
                "dangerous_house": rng.choice([True, False, None]),
                "safe_drinking_water": rng.choice([True, False, None]),
            }
        )
        for j in range(rng.choice([0, 1, 2, 3])):
            year = rng.choice([1950, 2008, 2012, 2018])
            idn = rng.choice([f"410522{year}0101001X", None, "４１０５２２２０１００１０１００１X"])
            members.append(
                {
                    "person_id": f"{hid}{j:02d}",
                    "household_id": hid,
                    "id_number": idn,
                    "medical_insured": rng.choice([True, False, None]),
                    "employee_medical_insured": rng.choice([False, None]),
                    "dropout_due_to_poverty": rng.choice([True, False, None]),
                }
            )
    return households, members


HEADERS = {"household_id": "户编号", "exit_status": "脱贫状态", "per_capita_net_income": "人均纯收入"}


def _frame(rows: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Any:
    frame = pl.DataFrame(rows, infer_schema_length=None)
    if "per_capita_net_income" in frame.columns:
        frame = frame.with_columns(pl.col("per_capita_net_income").cast(pl.Decimal(38, 2)))
    return frame.rename(headers or {})


def _expected(households: list[dict[str, Any]], members: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    engine = Engine(STANDARD)
    out = {}
    for h in households:
        data = dict(h)
        if members is not None:
            kids = [m for m in members if m["household_id"] == h["household_id"]]
            if kids:
                data["members"] = kids
        v = engine.evaluate("household", data, 2020)
        row: dict[str, Any] = {"outcome": v.outcome.value}
        for res in v.results:
            row[res.rule_id] = res.outcome.value
            row[res.rule_id + ":reason"] = res.reason_code
        out[h["household_id"]] = row
    return out


def _check(result: Any, expected: dict[str, dict[str, Any]]) -> None:
    for row in result.iter_rows(named=True):
        want = expected[row["id"]]
        got = {k: row[k] for k in want}
        assert got == want, row["id"]


def test_map_partitions_with_children_agrees_with_scalar() -> None:
    households, members = _data()
    expected = _expected(households, members)
    parts = [households[i : i + 25] for i in range(0, len(households), 25)]  # three partitions
    seen = 0
    for part in parts:
        ids = {h["household_id"] for h in part}
        kids = _frame([m for m in members if m["household_id"] in ids])
        out = evaluate_arrow(STANDARD, _frame(part, HEADERS), "household", 2020, children={"member": kids})
        assert isinstance(out, pl.DataFrame)
        assert out["row"].to_list() == list(range(len(part)))
        _check(out, expected)
        seen += out.height
    assert seen == len(households)


def test_scalar_rows_are_patched_and_reported() -> None:
    households, members = _data()
    kids = _frame(members)
    out = evaluate_arrow(STANDARD, _frame(households), "household", 2020, children={"member": kids})
    assert out["scalar"].any()  # the full-width ID numbers
    unpatched = evaluate_arrow(STANDARD, _frame(households), "household", 2020, children={"member": kids}, patch=False)
    assert unpatched["scalar"].to_list() == out["scalar"].to_list()
    _check(out, _expected(households, members))


def test_map_in_arrow_without_children() -> None:
    pa = pytest.importorskip("pyarrow")
    households, _ = _data(40, seed=5)
    expected = _expected(households, None)  # no member rows: aggregates over members are unknown
    batches = [_frame(households[i : i + 16], HEADERS).to_arrow() for i in range(0, 40, 16)]
    out = list(arrow_kernel(STANDARD, "household", 2020)(iter(b.to_batches()[0] for b in batches)))
    assert [type(b) for b in out] == [pa.RecordBatch] * 3
    assert [b.num_rows for b in out] == [16, 16, 8]
    assert out[0].schema.names[:2] == ["row", "id"] and out[0].schema.names[-1] == "outcome"
    for b in out:
        _check(pl.from_arrow(b), expected)
    reasons = pl.concat([pl.from_arrow(b) for b in out])["household.medical:reason"].unique().to_list()
    assert set(reasons) <= {"missing:members", "not-applicable", "unknown", "missing:exit_status"}


def test_bad_batch_and_entity() -> None:
    from tuopin_rules.errors import EvaluationError

    with pytest.raises(EvaluationError, match="batch"):
        evaluate_arrow(STANDARD, [{"户编号": "1"}], "household", 2020)
    with pytest.raises(EvaluationError, match="unknown entity"):
        evaluate_arrow(STANDARD, pl.DataFrame({"户编号": ["1"]}), "parish", 2020)
