"""Explained verdicts of many records, on several processes (``tuopin check --out FILE --jobs N``).

Explaining a verdict is pure Python (about 3,000 households a second on one core), so a county is
explained in seconds but a province takes long on one core. :func:`explained_chunks` splits the
records into chunks, evaluates them on ``jobs`` forked worker processes — each inherits the loaded
standard and the linked records, nothing is pickled on the way in — and yields each chunk's JSON
lines and counts **in input order**, so the output file is the same whatever ``jobs`` is.

Forking needs the ``fork`` start method (Linux and other POSIX systems); where it is missing, or with
``jobs=1``, the chunks are evaluated in this process, one after another.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuopin_rules.entities.records import Record
from tuopin_rules.render.text import Summary

if TYPE_CHECKING:
    from tuopin_rules.evaluate.engine import Engine

__all__ = ["CHUNK", "Chunk", "default_jobs", "explained_chunks"]

CHUNK = 256  # records per task: large enough to amortise the hand-over, small enough to stream


@dataclass
class Chunk:
    """One chunk's output: a JSON line per verdict, in input order, and their counts."""

    lines: list[str]
    summary: Summary


@dataclass
class _Work:
    engine: Engine
    records: Sequence[Record]
    as_of: dt.date
    issues: Mapping[tuple[str | None, str | None], list[Any]]
    lang: str


_WORK: _Work | None = None  # set in the parent just before forking; the children inherit it


def _chunk(work: _Work, start: int, end: int) -> Chunk:
    summary = Summary()
    lines = []
    for record in work.records[start:end]:
        verdict = work.engine.evaluate_record(record, work.as_of, work.issues.get((record.entity, record.id)))
        summary.add(verdict, work.lang)
        lines.append(verdict.to_json())
    return Chunk(lines, summary)


def _task(span: tuple[int, int]) -> Chunk:
    assert _WORK is not None, "worker started without its work"
    return _chunk(_WORK, *span)


def default_jobs() -> int:
    """The number of CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def explained_chunks(
    engine: Engine,
    records: Sequence[Record],
    as_of: dt.date,
    *,
    issues: Mapping[tuple[str | None, str | None], list[Any]] | None = None,
    lang: str = "zh",
    jobs: int = 1,
    chunk: int = CHUNK,
) -> Iterator[Chunk]:
    """Evaluate and explain ``records`` (linked) on ``jobs`` processes; yield chunks in input order.

    Args:
        engine: the engine of the standard.
        records: the records to evaluate, of any kinds, in output order.
        as_of: the evaluation date (already checked to be in force).
        issues: data issues per ``(entity, id)``, carried in each verdict.
        lang: the language of rule titles in the counts.
        jobs: worker processes (1: in this process).
        chunk: records per task.

    Raises:
        EvaluationError: from the engine (a parameter with no value in force), in any process.
    """
    global _WORK
    work = _Work(engine, records, as_of, issues or {}, lang)
    spans = [(i, min(i + chunk, len(records))) for i in range(0, len(records), chunk)]
    if jobs <= 1 or len(spans) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for span in spans:
            yield _chunk(work, *span)
        return
    _WORK = work
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(spans))) as pool:
            yield from pool.imap(_task, spans)
    finally:
        _WORK = None
