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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuopin_rules.entities.records import Record, with_nested_children
from tuopin_rules.errors import EvaluationError

if TYPE_CHECKING:
    import polars as pl

    from tuopin_rules.compile import Standard
    from tuopin_rules.evaluate.engine import Engine
    from tuopin_rules.render.text import Summary
    from tuopin_rules.verdicts import Verdict

__all__ = [
    "BACKENDS",
    "BatchResult",
    "arrow_kernel",
    "evaluate_arrow",
    "evaluate_batch",
    "fill_summary",
    "have_polars",
    "preferred_backend",
]

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
    # children nested under their records (a JSON household's members) are rows of their own table
    tables: dict[str, list[Record]] = with_nested_children(getattr(data, "tables", data))
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


# ---- the Arrow-batch kernel -----------------------------------------------------------------------


def _as_polars(batch: Any) -> tuple[pl.DataFrame, str]:
    """``batch`` as a polars frame, and what it was (``arrow-batch``, ``arrow-table``, ``polars``)."""
    import polars as pl

    if isinstance(batch, pl.DataFrame):
        return batch, "polars"
    kind = type(batch).__name__
    if kind in ("RecordBatch", "Table") and type(batch).__module__.startswith("pyarrow"):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        return frame, "arrow-batch" if kind == "RecordBatch" else "arrow-table"
    raise EvaluationError(f"a batch must be a pyarrow RecordBatch or Table or a polars DataFrame, not {kind}")


def _by_field(standard: Standard, entity: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Columns renamed from field names, Chinese labels or aliases to field names (others dropped)."""
    ent = standard.schema.entities[entity]
    names: dict[str, str] = {}
    for col in frame.columns:
        fdef = ent.resolve(col)
        if fdef is not None and fdef.name not in names.values():
            names[col] = fdef.name
    return frame.select([frame.get_column(c).alias(n) for c, n in names.items()])


def evaluate_arrow(
    standard: Standard,
    batch: Any,
    entity: str,
    as_of: int | str | dt.date,
    *,
    children: Mapping[str, Any] | None = None,
    patch: bool = True,
) -> Any:
    """Evaluate one batch of records of ``entity``: the per-partition kernel for distributed engines.

    Args:
        standard: the loaded standard.
        batch: a ``pyarrow.RecordBatch``, ``pyarrow.Table`` or ``polars.DataFrame``, one row per
            record, columns named by field name, Chinese label or alias (others are ignored);
            typed columns (numbers as integer, decimal or float; ``bool``; ``date``; text).
        entity: the entity kind of the rows (``household``, ``village``, ...).
        as_of: year, month or date.
        children: child rows by entity kind (e.g. ``{"member": members}``), same formats, linked
            to the batch by the schema's parent key (a member's ``household_id``). Without them an
            aggregate over the collection (``all(members, ...)``) is UNKNOWN with
            ``missing:members``, as the scalar engine gives for a household with no member rows.
        patch: re-evaluate with the scalar engine the rows the vector scheme cannot decide exactly
            (column ``scalar``), built from the batch's own cells; ``False`` leaves them as computed.

    Returns:
        The outcome columns, in the batch's own type (a RecordBatch for a RecordBatch, a Table
        for a Table, a polars DataFrame for one): ``row`` (position in the batch), ``id``, per rule
        ``<rule id>`` and ``<rule id>:reason``, ``scalar`` and ``outcome`` — the frame
        :func:`evaluate_batch` gives.

    Raises:
        EvaluationError: unknown entity, bad ``as_of``, no parameter in force, or an unsupported batch.
    """
    from tuopin_rules.evaluate.batch import evaluate_tables
    from tuopin_rules.evaluate.engine import Engine, coerce_as_of
    from tuopin_rules.evaluate.frames import tables_from_frames

    _require_polars()
    import polars as pl

    if entity not in standard.schema.entities:
        raise EvaluationError(f"unknown entity {entity!r}; use one of {', '.join(standard.schema.entities)}")
    day = coerce_as_of(as_of)
    engine = Engine(standard)
    engine.check_in_force(day)
    frame, given = _as_polars(batch)
    frames = {entity: _by_field(standard, entity, frame)}
    for kind, rows in (children or {}).items():
        frames[kind] = _by_field(standard, kind, _as_polars(rows)[0])
    ent = standard.schema.entities[entity]
    if ent.id_field not in frames[entity].columns:  # no ids: rows are named by their position
        frames[entity] = frames[entity].with_columns(pl.int_range(pl.len()).cast(pl.String).alias(ent.id_field))
    result = evaluate_tables(standard, tables_from_frames(standard.schema, frames), day, [entity])[entity]
    if patch and result.height and result["scalar"].any():
        result = _patch(engine, frames, entity, result, day)
    if given == "polars":
        return result
    table = result.to_arrow(compat_level=pl.CompatLevel.oldest())
    if given == "arrow-table":
        return table
    chunks = table.combine_chunks().to_batches()
    return chunks[0] if chunks else type(batch).from_pylist([], schema=table.schema)


def _patch(
    engine: Engine, frames: dict[str, pl.DataFrame], entity: str, result: pl.DataFrame, day: dt.date
) -> pl.DataFrame:
    """Rows marked ``scalar`` re-evaluated by the scalar engine from the batch's cells (and children's)."""
    import polars as pl

    from tuopin_rules.entities.records import link, record_from_mapping

    schema = engine.standard.schema
    rows = result.filter(pl.col("scalar"))["row"].to_list()
    parents = frames[entity][rows]
    tables: dict[str, list[Record]] = {
        entity: [record_from_mapping(schema, entity, r)[0] for r in parents.iter_rows(named=True)]
    }
    ent = schema.entities[entity]
    for kind, frame in frames.items():
        key = schema.entities[kind].parent_key
        if kind == entity or schema.entities[kind].parent != entity or key is None or key not in frame.columns:
            continue
        ids = parents.get_column(ent.id_field).cast(pl.String)
        kids = frame.filter(pl.col(key).cast(pl.String).is_in(ids.implode()))
        tables[kind] = [record_from_mapping(schema, kind, r)[0] for r in kids.iter_rows(named=True)]
    link(schema, tables)
    cols = _scalar_rows(engine, tables[entity], range(len(rows)), day)
    cols["row"] = rows
    patch = pl.DataFrame(cols, schema=_schema(cols)).drop("id")
    return result.update(patch, on="row")


def arrow_kernel(
    standard: Standard, entity: str, as_of: int | str | dt.date, *, patch: bool = True
) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """``evaluate_arrow`` as an iterator-of-batches function, the shape Spark's ``mapInArrow`` calls
    (``df.mapInArrow(arrow_kernel(standard, "village", 2020), schema)``).

    Each batch is evaluated on its own (so rules that aggregate child rows need
    :func:`evaluate_arrow` with ``children``; see docs/batch.md).
    """

    def kernel(batches: Iterable[Any]) -> Iterator[Any]:
        for batch in batches:
            yield evaluate_arrow(standard, batch, entity, as_of, patch=patch)

    return kernel
