"""Batch evaluation behind one interface, two backends: ``vector`` (polars) and ``scalar`` (per record).

:func:`evaluate_batch` takes linked entity tables (a :class:`~tuopin_rules.intake.tables.Dataset`
or ``{kind: [Record, ...]}``) and returns a :class:`BatchResult`: one polars DataFrame per entity kind
with ``row``, ``id``, one outcome column per rule (named by the rule id), its reason code
(``<rule id>:reason``, as :meth:`~tuopin_rules.explain.Explainer.reason_code` gives it), the entity
verdict ``outcome`` and ``scalar`` (true for the rows the scalar engine evaluated). Both backends
give the same frame. Explanations are rendered on request, for the rows someone looks at, by the
scalar engine — so their text is identical by construction.

polars is an optional dependency (``pip install "tuopin-rules[batch]"``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuopin_rules.entities.records import Record
from tuopin_rules.errors import EvaluationError

if TYPE_CHECKING:
    import polars as pl

    from tuopin_rules.evaluate.engine import Engine
    from tuopin_rules.render.text import Summary
    from tuopin_rules.verdicts import Verdict

__all__ = ["BACKENDS", "BatchResult", "evaluate_batch", "fill_summary", "have_polars", "preferred_backend"]

BACKENDS = ("vector", "scalar")


def have_polars() -> bool:
    """True if polars can be imported (the vector backend is available)."""
    try:
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


def _require_polars() -> None:
    if not have_polars():
        raise EvaluationError('the batch engine needs polars: pip install "tuopin-rules[batch]"')


@dataclass
class BatchResult:
    """Per-entity outcome frames of one batch evaluation.

    Attributes:
        engine: the engine (its standard) that produced them.
        as_of: the evaluation date.
        frames: entity kind -> DataFrame (see the module docstring).
        records: entity kind -> the records, in row order (for :meth:`verdict`).
    """

    engine: Engine
    as_of: dt.date
    frames: dict[str, pl.DataFrame]
    records: dict[str, list[Record]]

    def verdict(self, entity: str, row: int) -> Verdict:
        """The full explained verdict of one row (rendered now, by the scalar engine)."""
        return self.engine.evaluate_record(self.records[entity][row], self.as_of)

    def find(self, entity: str, ident: str) -> Verdict | None:
        """The explained verdict of the record with this id, or ``None``."""
        for i, rec in enumerate(self.records.get(entity, [])):
            if rec.id == ident:
                return self.verdict(entity, i)
        return None


def _scalar_rows(engine: Engine, records: list[Record], rows: Iterable[int], day: dt.date) -> dict[str, list[Any]]:
    rules = engine.standard.rules_for(records[0].entity, day) if records else []
    cols: dict[str, list[Any]] = {"row": [], "id": []}
    for r in rules:
        cols[r.id] = []
        cols[r.id + ":reason"] = []
    cols["outcome"] = []
    for i in rows:
        v = engine.evaluate_record(records[i], day)
        cols["row"].append(i)
        cols["id"].append(records[i].id)
        for res in v.results:
            cols[res.rule_id].append(res.outcome.value)
            cols[res.rule_id + ":reason"].append(res.reason_code)
        cols["outcome"].append(v.outcome.value)
    return cols


def evaluate_batch(
    engine: Engine,
    data: Any,
    as_of: int | str | dt.date,
    *,
    backend: str = "vector",
    entities: Iterable[str] | None = None,
) -> BatchResult:
    """Evaluate every record of the given entity kinds; see the module docstring for the result.

    Args:
        engine: the engine of a loaded standard.
        data: a ``Dataset`` or linked tables ``{kind: [Record, ...]}``.
        as_of: year, month or date (see :func:`~tuopin_rules.evaluate.engine.coerce_as_of`).
        backend: ``"vector"`` (polars expressions) or ``"scalar"`` (the reference, record by record).
        entities: kinds to evaluate (default: every kind the standard has rules for).

    Raises:
        EvaluationError: polars missing, unknown backend, bad ``as_of``, or a parameter with no value.
    """
    from tuopin_rules.evaluate.engine import coerce_as_of

    _require_polars()
    import polars as pl

    if backend not in BACKENDS:
        raise EvaluationError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    tables: dict[str, list[Record]] = getattr(data, "tables", data)
    day = coerce_as_of(as_of)
    standard = engine.standard
    if entities is None:
        entities = [k for k in ("sample", "member", "household", "village", "county") if standard.rules_for(k, day)]
    kinds = [k for k in entities if k in tables]
    engine.check_in_force(day)
    frames: dict[str, pl.DataFrame] = {}
    if backend == "scalar":
        for kind in kinds:
            cols = _scalar_rows(engine, tables[kind], range(len(tables[kind])), day)
            order = [c for c in cols if c != "outcome"] + ["scalar", "outcome"]
            frames[kind] = (
                pl.DataFrame(cols, schema=_schema(cols)).with_columns(pl.lit(True).alias("scalar")).select(order)
            )
        return BatchResult(engine, day, frames, {k: tables[k] for k in kinds})
    from tuopin_rules.evaluate.batch import evaluate_tables
    from tuopin_rules.evaluate.frames import tables_from_records

    etables = tables_from_records(standard.schema, tables)
    frames = evaluate_tables(standard, etables, day, kinds)
    for kind, frame in frames.items():
        rows = frame.filter(pl.col("scalar"))["row"].to_list()
        if rows:
            cols = _scalar_rows(engine, tables[kind], rows, day)
            patch = pl.DataFrame(cols, schema=_schema(cols)).drop("id")
            frames[kind] = frame.update(patch, on="row").sort("row")
    return BatchResult(engine, day, frames, {k: tables[k] for k in kinds})


def _schema(cols: dict[str, list[Any]]) -> dict[str, Any]:
    import polars as pl

    return {c: (pl.Int64 if c == "row" else pl.String) for c in cols}


def preferred_backend() -> str:
    """The backend ``tuopin check`` uses: ``TUOPIN_BACKEND`` if set, else ``vector`` when polars is installed."""
    chosen = os.environ.get("TUOPIN_BACKEND", "").strip().lower()
    if chosen in BACKENDS:
        return chosen
    return "vector" if have_polars() else "scalar"


def fill_summary(summary: Summary, result: BatchResult, lang: str) -> None:
    """Count a batch into a :class:`~tuopin_rules.render.text.Summary` exactly as streaming its verdicts
    through ``Summary.add`` would (same counts, same first-seen order, same unverified-value notes)."""
    import polars as pl

    from tuopin_rules.render.text import Summary as _Summary
    from tuopin_rules.verdicts import Outcome

    fails: list[tuple[int, int, int, str, int]] = []
    unknown: list[tuple[int, int, int, str, int]] = []
    for k, (kind, frame) in enumerate(result.frames.items()):
        if frame.height == 0:
            continue
        rules = result.engine.standard.rules_for(kind, result.as_of)
        for value in frame["outcome"].unique(maintain_order=True).to_list():
            summary.outcomes[(kind, Outcome(value))] += int((frame["outcome"] == value).sum())
        for j, rule in enumerate(rules):
            summary.titles[rule.id] = rule.title.get(lang)
            if rule.severity != "veto":
                summary.advisory.add(rule.id)
            col = frame[rule.id]
            for target, out in (("FAIL", fails), ("UNKNOWN", unknown)):
                hits = (col == target).arg_true()
                if len(hits):
                    out.append((k, int(hits[0]), j, rule.id, len(hits)))
            if _reads_unverified(result, rule):
                rows = frame.filter(pl.col(rule.id) != "NOT_APPLICABLE")["row"].to_list()
                for row in rows:
                    probe = _Summary()
                    probe.add(result.verdict(kind, row), lang)
                    if probe.unverified:
                        summary.unverified |= probe.unverified
                        break
    for out, counter in ((fails, summary.rule_fails), (unknown, summary.rule_unknown)):
        for *_, rule_id, n in sorted(out):
            counter[rule_id] += n


def _reads_unverified(result: BatchResult, rule: Any) -> bool:
    from tuopin_rules.expr import ast

    standard = result.engine.standard
    names: set[str] = set()
    stack = [t for t in (rule.applies_when, rule.require) if t is not None]
    seen: set[tuple[str, str]] = set()
    while stack:
        for node in ast.walk(stack.pop()):
            if isinstance(node, ast.ParamRef):
                names.add(node.name)
            elif isinstance(node, ast.FieldRef):
                key = (node.entity, node.name)
                if key in standard.derived and key not in seen:
                    seen.add(key)
                    stack.append(standard.derived[key])
    for name in names:
        for timeline in standard.params[name].timelines.values():
            current = [pv for pv in timeline if (pv.effective_from or dt.date.min) <= result.as_of]
            if current and current[-1].confidence == "U":
                return True
    return False
