"""``tuopin check --stream``: stream mode behind ``check``'s options and summary.

The summary has ``check``'s shape (outcomes per kind, most-failed rules, data issues, accounting
per file), from :func:`~tuopin_rules.evaluate.stream.evaluate_stream`; a progress bar on stderr
when it is a terminal (bytes read with the rows so far, then partitions evaluated).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from tuopin_rules.compile import Standard
from tuopin_rules.evaluate.stream import StreamResult, evaluate_stream
from tuopin_rules.render.text import render_summary, summary_payload

__all__ = ["check_stream"]

_ZH = {"village": "村", "county": "县", "sample": "抽样人口"}
_LABELS = {"read": ("读取", "reading"), "evaluate": ("评估分区", "evaluating partitions")}


class _Bars:
    """One click progress bar per stage, on stderr."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.bars: dict[str, Any] = {}
        self.rows = 0

    def __call__(self, stage: str, done: int, total: int, rows: int) -> None:
        self.rows = rows
        if stage not in self.bars:
            self.close()
            self.bars[stage] = click.progressbar(
                length=total,
                label=_LABELS[stage][self.lang == "en"],
                file=sys.stderr,
                item_show_func=lambda _: f"{self.rows:,}",
            )
        bar = self.bars[stage]
        bar.update(done - bar.pos, rows)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.render_finish()
        self.bars = {}


def check_stream(
    standard: Standard,
    day: str,
    data: tuple[str, ...],
    out: str | None,
    entities: tuple[str, ...],
    header_row: int | None,
    budget_mb: int,
    lang: str,
    fmt: str,
) -> StreamResult:
    """Run stream mode and print ``check``'s summary (to stderr when ``out`` is ``-``).

    Raises:
        DataFileError, EvaluationError: as :func:`~tuopin_rules.evaluate.stream.evaluate_stream`.
    """
    bars = _Bars(lang)
    try:
        result = evaluate_stream(
            standard,
            data,
            day,
            out,
            entities=entities or None,
            header_row=header_row,
            memory_budget=budget_mb << 20,
            progress=bars if sys.stderr.isatty() else None,
        )
    finally:
        bars.close()
    to_stdout = out == "-"
    summary = result.summary(standard, lang)
    if fmt == "json":
        payload = summary_payload(standard, day, summary, result.issues, result.accounts)
        payload["data_issue_count"] = result.issue_count
        payload["stream"] = {"partitions": result.partitions, "not_evaluated": result.not_evaluated}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2), err=to_stdout)
        return result
    text = render_summary(
        summary,
        result.accounts,
        result.issues,
        lang,
        standard=f"{standard.id} {standard.version}",
        as_of=day,
        absent=result.absent,
        issue_count=result.issue_count,
    )
    if result.not_evaluated:
        if lang == "en":
            kinds = ", ".join(result.not_evaluated)
            text += (
                f"\nstream mode: {kinds} rules not evaluated (they aggregate over all households: run without --stream)"
            )
        else:
            kinds = "、".join(_ZH.get(k, k) for k in result.not_evaluated)
            text += f"\n流式评估：未评估{kinds}规则（须汇总全部农户：不用 --stream 运行）"
    click.echo(text, err=to_stdout)
    return result
