"""Stream mode: households and their members, larger than memory, evaluated in bounded memory.

External hash partitioning in two passes:

1. **Read** (:mod:`~tuopin_rules.intake.partition`): each file is read in chunks
   (:mod:`~tuopin_rules.intake.columnar`: CSV, JSON Lines, Parquet), its cells converted a column
   at a time with the record reader's semantics (:mod:`~tuopin_rules.intake.column_values`), and
   its rows checked as the record reader checks them; every row of one household code goes to one
   of ``K`` partition files (the hash of a household's ``household_id``, of a member's
   ``household_id``).
2. **Evaluate** (:mod:`~tuopin_rules.evaluate.partitions`): each partition is read back whole,
   its duplicate ids and orphan members rejected, its households linked to their members, and
   evaluated by the vector engine; the rows go to ``out`` at once (:class:`RowSink`).

``K`` is chosen so that one partition and its evaluation fit in ``memory_budget``; a chunk and the
rows buffered for the partition files are bounded too, so memory does not grow with the data.

**What stream mode does not do.** Villages and counties are not evaluated: a village's rules
aggregate its households, which are spread over every partition (a county's villages fit in
memory: run without streaming). Rules of households or members that read beyond a household and
its members — a household's village (``village.region``), or ``unique()``, which compares each
record with all others — are refused with an error naming them. Workbooks are not streamed (save
them as CSV). Member rows without a household file are not grouped into households.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl

from tuopin_rules.compile import Standard
from tuopin_rules.errors import DataFileError, DataIssue, EvaluationError, NotDataError
from tuopin_rules.evaluate.engine import Engine, coerce_as_of
from tuopin_rules.evaluate.partitions import PartitionEvaluator
from tuopin_rules.expr import ast
from tuopin_rules.intake.columnar import ColumnarFile, open_columnar
from tuopin_rules.intake.partition import Partitioner
from tuopin_rules.intake.spool import IssueSink
from tuopin_rules.intake.tables import FileAccount, expand_paths
from tuopin_rules.render.text import Summary
from tuopin_rules.verdicts import Outcome

__all__ = ["DEFAULT_BUDGET", "RowSink", "StreamResult", "evaluate_stream", "stream_kinds"]

DEFAULT_BUDGET = 768 << 20  # bytes for one partition's tables and their evaluation
#: bytes a partition takes in memory while evaluated, per byte of input file (measured with
#: bench/bench_stream.py: CSV / JSON Lines text; Parquet is compressed, so it grows more)
GROWTH = {".parquet": 12.0}
TEXT_GROWTH = 3.0

#: ``progress(stage, done, total, rows)``: stage ``read`` counts bytes, ``evaluate`` partitions
Progress = Callable[[str, int, int, int], None]


def stream_kinds(standard: Standard) -> list[str]:
    """The kinds stream mode evaluates: households, and the tables of their members (the children
    of a household, linked by its code)."""
    ents = standard.schema.entities
    return ["household", *(k for k, e in ents.items() if e.parent == "household" and e.parent_key)]


@dataclass
class StreamResult:
    """What a stream run found: counts, accounting and data issues (the verdict rows went to ``out``).

    Attributes:
        kinds: the kinds evaluated.
        as_of: the evaluation date.
        accounts: one per file (rows read = records evaluated + rows rejected).
        issues: the first data issues by place in the data (file, row, column), at most ``max_issues``.
        issue_count: how many data issues there were in all; ``error_count``: of them, not notices.
        partitions: ``K``, the number of hash partitions.
        outcomes: ``(kind, outcome)`` -> records.
        rule_fails / rule_unknown: rule id -> records with that rule FAIL / UNKNOWN, in the order
            of the first such record.
        unverified: parameter values marked unverified (U) that verdicts used (``name@date``).
        absent: per kind, the fields the rules read that no record has.
        not_evaluated: kinds with rules in force that stream mode does not evaluate (village …).
        scalar_rows: rows the vector engine left to the scalar engine.
    """

    kinds: list[str]
    as_of: dt.date
    accounts: list[FileAccount] = field(default_factory=list)
    issues: list[DataIssue] = field(default_factory=list)
    issue_count: int = 0
    error_count: int = 0
    partitions: int = 1
    outcomes: Counter[tuple[str, Outcome]] = field(default_factory=Counter)
    rule_fails: dict[str, int] = field(default_factory=dict)
    rule_unknown: dict[str, int] = field(default_factory=dict)
    unverified: set[str] = field(default_factory=set)
    absent: dict[str, list[str]] = field(default_factory=dict)
    not_evaluated: list[str] = field(default_factory=list)
    scalar_rows: int = 0

    def summary(self, standard: Standard, lang: str) -> Summary:
        """The counts as a :class:`~tuopin_rules.render.text.Summary` (what ``render_summary`` prints)."""
        s = Summary()
        s.outcomes.update(self.outcomes)
        s.rule_fails.update(self.rule_fails)
        s.rule_unknown.update(self.rule_unknown)
        s.unverified |= self.unverified
        for rule in standard.rules:
            if rule.entity in self.kinds:
                s.titles[rule.id] = rule.title.get(lang)
                if rule.severity != "veto":
                    s.advisory.add(rule.id)
        return s

    @property
    def any_fail(self) -> bool:
        """True if some entity verdict is FAIL."""
        return any(o is Outcome.FAIL for (_, o) in self.outcomes)


class RowSink:
    """The verdict rows, written as they are produced, by the suffix of ``out``.

    ``.parquet``: one row group per partition, one schema for every kind (a column per rule of every
    kind evaluated; null where the rule is not of the row's kind). ``.jsonl`` / ``.ndjson`` (or
    ``-``, stdout): one object per record, with the rules of its kind. A file is written to
    ``<out>.partial`` and renamed when complete; on failure it is removed, so no half-written file
    is ever left under the name asked for.

    Raises:
        DataFileError: another suffix, or the file cannot be created.
    """

    def __init__(self, out: str, columns: dict[str, Any]) -> None:
        self.target = None if out == "-" else Path(out)
        suffix = self.target.suffix.lower() if self.target is not None else ".jsonl"
        if suffix not in (".parquet", ".jsonl", ".ndjson"):
            raise DataFileError(f"{out}: stream mode writes .parquet, .jsonl or .ndjson")
        self.columns = columns
        self.partial = self.target.with_name(self.target.name + ".partial") if self.target is not None else None
        self.writer: Any = None
        self.handle: IO[bytes] | None = None
        try:
            if self.partial is None:
                self.handle = sys.stdout.buffer
            elif suffix == ".parquet":
                import pyarrow.parquet as pq  # type: ignore[import-untyped]

                schema = pl.DataFrame(schema=columns).to_arrow().schema
                self.writer = pq.ParquetWriter(self.partial, schema, compression="zstd")
            else:
                self.handle = open(self.partial, "wb")  # noqa: SIM115 - closed by finish / abort
        except OSError as exc:
            raise DataFileError(f"cannot write {out}: {exc.strerror or exc}") from None

    def write(self, frames: Iterable[pl.DataFrame]) -> None:
        """Write one partition's rows (a frame per kind)."""
        frames = [f for f in frames if f.height]
        if not frames:
            return
        if self.writer is not None:
            both = pl.concat(frames, how="diagonal_relaxed")
            both = both.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in self.columns.items() if c not in both)
            self.writer.write_table(
                both.select(list(self.columns)).cast(pl.Schema(self.columns)).to_arrow().cast(self.writer.schema)
            )
            return
        assert self.handle is not None
        for frame in frames:
            frame.write_ndjson(self.handle)
        self.handle.flush()

    def finish(self) -> None:
        """Close the output and give it its name."""
        self._close()
        if self.partial is not None and self.target is not None:
            self.partial.replace(self.target)

    def abort(self) -> None:
        """Close the output and remove the partial file."""
        try:
            self._close()
        finally:
            if self.partial is not None:
                self.partial.unlink(missing_ok=True)

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.handle is not None and self.partial is not None:
            self.handle.close()
        self.handle = None


def _trees(standard: Standard, day: dt.date, kinds: list[str]) -> dict[str, list[tuple[str, ast.Expr]]]:
    """Per kind, ``(rule id, tree)`` for every tree its rules read, derived fields included."""
    out: dict[str, list[tuple[str, ast.Expr]]] = {}
    for kind in kinds:
        for rule in standard.rules_for(kind, day):
            todo = [t for t in (rule.applies_when, rule.require) if t is not None]
            seen: set[tuple[str, str]] = set()
            while todo:
                tree = todo.pop()
                out.setdefault(kind, []).append((rule.id, tree))
                for node in ast.walk(tree):
                    names = []
                    if isinstance(node, ast.FieldRef):
                        names.append((node.entity, node.name))
                    elif isinstance(node, ast.ParamRef) and standard.params[node.name].by:
                        by = standard.params[node.name].by or ""
                        names += [(k, by) for k in standard.schema.entities if (k, by) in standard.derived]
                    for key in names:
                        if key in standard.derived and key not in seen:
                            seen.add(key)
                            todo.append(standard.derived[key])
    return out


def _refused(standard: Standard, trees: dict[str, list[tuple[str, ast.Expr]]]) -> list[str]:
    """Rules that read beyond a household and its members: ``rule (why)``."""
    allowed = set(stream_kinds(standard))
    out: dict[str, str] = {}
    for items in trees.values():
        for rule_id, tree in items:
            for node in ast.walk(tree):
                why = None
                if isinstance(node, ast.FuncCall) and node.name == "unique":
                    why = "unique() compares each record with all others"
                elif isinstance(node, ast.Related) and (
                    node.target.entity not in allowed or any(r not in ("head", *allowed) for r in node.relations)
                ):
                    why = f"{node.written} reads a {node.target.entity} record"
                elif isinstance(node, ast.Aggregate) and node.child not in allowed:
                    why = f"it aggregates {node.collection}"
                if why is not None:
                    out.setdefault(rule_id, f"{rule_id} ({why})")
    return list(out.values())


def _fields(standard: Standard, trees: dict[str, list[tuple[str, ast.Expr]]]) -> dict[str, set[str]]:
    """Per kind, the fields the rules read (what pass 2 needs of each row)."""
    out: dict[str, set[str]] = {}
    schema = standard.schema
    for items in trees.values():
        for _, tree in items:
            for node in ast.walk(tree):
                if isinstance(node, ast.FieldRef):
                    out.setdefault(node.entity, set()).add(node.name)
                elif isinstance(node, ast.ParamRef) and standard.params[node.name].by:
                    by = standard.params[node.name].by or ""
                    for kind, ent in schema.entities.items():
                        if by in ent.fields:
                            out.setdefault(kind, set()).add(by)
                elif isinstance(node, ast.Related) and "head" in node.relations:
                    out.setdefault("member", set()).add("relation_to_head")
    out.setdefault("household", set()).add("household_size")  # the member-count check
    return out


def _unverified_rules(engine: Engine, day: dt.date, kinds: list[str]) -> set[str]:
    """Rules that read a parameter value marked unverified (U) in force on ``day``."""
    from tuopin_rules.evaluate.vector import BatchResult, _reads_unverified

    probe = BatchResult(engine, day, {}, {})
    return {r.id for k in kinds for r in engine.standard.rules_for(k, day) if _reads_unverified(probe, r)}


def _columns(standard: Standard, day: dt.date, kinds: list[str]) -> dict[str, Any]:
    cols: dict[str, Any] = {"kind": pl.String, "id": pl.String, "file": pl.String, "row": pl.Int64}
    for kind in kinds:
        for r in standard.rules_for(kind, day):
            cols[r.id] = pl.String
            cols[r.id + ":reason"] = pl.String
    return {**cols, "scalar": pl.Boolean, "outcome": pl.String}


def _open(
    standard: Standard,
    paths: Iterable[str],
    header_row: int | None,
    chunk_rows: int,
    sink_of: Callable[[list[str]], IssueSink],
) -> tuple[list[ColumnarFile | None], IssueSink]:
    """The files of a run, opened (a file found in a folder that cannot be streamed is skipped)."""
    schema = standard.schema
    allowed = stream_kinds(standard)
    targets = expand_paths(paths, schema.kinds())
    if not targets:
        raise DataFileError("no data files given (CSV, JSON Lines or Parquet; a folder means its data files)")
    sink = sink_of([str(p) for _, p, _ in targets])
    files: list[ColumnarFile | None] = []
    skipped: list[str] = []  # why each file in a folder was not read (named in the error below)
    for i, (kind, path, named) in enumerate(targets):
        try:
            opened = open_columnar(schema, path, kind, header_row=header_row, chunk_rows=chunk_rows)
            if opened.kind not in allowed:  # a notice: the summary says these rules were not evaluated
                raise NotDataError(
                    f"{path}: {opened.kind} data are not read in stream mode ({opened.kind} rules aggregate over"
                    " households of every partition: run without --stream)"
                )
        except DataFileError as exc:
            if named:
                raise
            if isinstance(exc, NotDataError):
                sink.one("skipped-file", f"skipped: {exc}", i)
            else:  # a data file whose rows are lost (undecodable, a workbook): an error, not a notice
                sink.one("unread-file", f"not read: {exc}", i)
            skipped.append(str(exc))
            files.append(None)
            continue
        files.append(opened)
    if not any(f is not None and f.kind == "household" for f in files):
        why = f"; files not read: {'; '.join(skipped)}" if skipped else ""
        raise DataFileError(
            "stream mode needs the household data (member rows alone are grouped into households only when"
            f" read whole: run without --stream){why}"
        )
    return files, sink


def evaluate_stream(
    standard: Standard,
    paths: Iterable[str],
    as_of: int | str | dt.date,
    out: str | None = None,
    *,
    entities: Iterable[str] | None = None,
    header_row: int | None = None,
    chunk_rows: int = 100_000,
    memory_budget: int = DEFAULT_BUDGET,
    partitions: int | None = None,
    max_issues: int = 1000,
    progress: Progress | None = None,
    temp_dir: str | None = None,
) -> StreamResult:
    """Evaluate households (and member rules) of data larger than memory, in bounded memory.

    Args:
        standard: the loaded standard.
        paths: data files or folders (``KIND=PATH`` too): CSV, JSON Lines, Parquet.
        as_of: year, month or date.
        out: where the verdict rows go as they are produced — ``.parquet`` or ``.jsonl`` /
            ``.ndjson`` (``-``: JSON Lines on stdout); ``None`` for counts only. One row per
            record: ``kind``, ``id``, ``file``, ``row`` (its row in that file), per rule
            ``<rule id>`` (PASS / FAIL / UNKNOWN / NOT_APPLICABLE) and ``<rule id>:reason``,
            ``scalar``, ``outcome`` — the columns of the batch frames (docs/batch.md). Rows come
            partition by partition, in file order within a partition.
        entities: kinds to evaluate (default: households and member tables with rules in force).
        header_row: the 1-based line of every CSV file's header, instead of searching for it.
        chunk_rows: rows read and converted at a time.
        memory_budget: bytes one partition may take while it is evaluated; sets ``K``.
        partitions: ``K`` itself, instead of deriving it from the budget.
        max_issues: data issues kept to show (all are counted).
        progress: called after each chunk read (``"read"``, bytes done, bytes in all, rows) and
            each partition evaluated (``"evaluate"``, partitions done, ``K``, records).
        temp_dir: where the partition files go (default: the system's temporary folder); they take
            about the input's size and are removed at the end.

    Returns:
        A :class:`StreamResult` (counts, accounting, data issues).

    Raises:
        EvaluationError: a bad ``as_of``; kinds other than households and their member tables
            asked for; rules that read beyond a household and its members (a village's fields,
            ``unique()``).
        DataFileError: a named file that cannot be read (or is a workbook, or holds village or
            county rows); no household data; an output that cannot be written.
    """
    day = coerce_as_of(as_of)
    engine = Engine(standard)
    engine.check_in_force(day)
    schema = standard.schema
    allowed = stream_kinds(standard)
    ruled = [k for k in schema.kinds() if standard.rules_for(k, day)]
    kinds = [k for k in allowed if k in ruled] if entities is None else list(dict.fromkeys(entities))
    unknown = [k for k in kinds if k not in schema.entities]
    if unknown:
        raise EvaluationError(f"unknown entity {unknown[0]!r}; use one of {', '.join(schema.entities)}")
    other = [k for k in kinds if k not in allowed]
    if other:
        raise EvaluationError(
            f"stream mode evaluates {' and '.join(allowed)} rules only, not {', '.join(other)}: their rules"
            " aggregate over households of every partition. Run without --stream (a county's villages fit"
            " in memory)"
        )
    trees = _trees(standard, day, kinds)
    refused = _refused(standard, trees)
    if refused:
        raise EvaluationError(
            "stream mode evaluates a household with its members only; these rules read further: "
            + "; ".join(refused)
            + ". Run without --stream"
        )
    files, sink = _open(standard, paths, header_row, chunk_rows, lambda names: IssueSink(names, max_issues))
    need = sum(f.size * GROWTH.get(f.path.suffix.lower(), TEXT_GROWTH) for f in files if f is not None)
    k = partitions or max(1, math.ceil(need / max(memory_budget, 1 << 20)))
    total = sum(f.size for f in files if f is not None)
    sink_out = RowSink(out, _columns(standard, day, kinds)) if out is not None else None
    try:
        with tempfile.TemporaryDirectory(prefix="tuopin-stream-", dir=temp_dir) as tmp:
            parts = Partitioner(schema, files, _fields(standard, trees), Path(tmp), k, chunk_rows, sink)
            parts.read(None if progress is None else lambda done, rows: progress("read", done, total, rows))
            evaluator = PartitionEvaluator(standard, day, kinds, parts, _unverified_rules(engine, day, kinds))
            for p in range(k):
                rows = evaluator.evaluate(p)
                if sink_out is not None:
                    sink_out.write(rows)
                if progress is not None:
                    progress("evaluate", p + 1, k, sum(parts.records.values()))
    except BaseException:
        if sink_out is not None:
            sink_out.abort()
        raise
    if sink_out is not None:
        sink_out.finish()
    return StreamResult(
        kinds,
        day,
        accounts=parts.accounts(),
        issues=sink.issues(),
        issue_count=sink.total,
        error_count=sink.errors,
        partitions=k,
        outcomes=evaluator.outcomes,
        rule_fails=evaluator.rule_counts("FAIL"),
        rule_unknown=evaluator.rule_counts("UNKNOWN"),
        unverified=evaluator.unverified,
        absent=evaluator.absent(),
        not_evaluated=[x for x in ruled if x not in allowed],
        scalar_rows=evaluator.scalar_rows,
    )
