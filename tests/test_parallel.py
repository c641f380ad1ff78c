"""Explained verdicts on several processes: the same lines in the same order, the same counts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.conftest import DEMO
from tuopin_rules import Engine, Standard
from tuopin_rules.cli import main
from tuopin_rules.evaluate.engine import coerce_as_of
from tuopin_rules.evaluate.parallel import default_jobs, explained_chunks
from tuopin_rules.intake.tables import read_dataset
from tuopin_rules.render.text import Summary


def _run(national: Standard, jobs: int, chunk: int) -> tuple[list[str], Summary]:
    dataset = read_dataset(national.schema, [str(DEMO)])
    records = [*dataset.tables["household"], *dataset.tables["village"]]
    lines: list[str] = []
    summary = Summary()
    for part in explained_chunks(Engine(national), records, coerce_as_of(2020), jobs=jobs, chunk=chunk):
        lines += part.lines
        summary.merge(part.summary)
    return lines, summary


def test_workers_give_the_lines_of_one_process_in_order(national: Standard) -> None:
    one, one_summary = _run(national, jobs=1, chunk=1000)
    two, two_summary = _run(national, jobs=2, chunk=40)
    assert len(one) == 307 and one == two
    assert one_summary == two_summary
    assert sum(one_summary.outcomes.values()) == 307 and one_summary.rule_fails["household.income"] == 4
    assert default_jobs() >= 1


def test_check_out_with_jobs_writes_the_same_file(tmp_path: Path) -> None:
    outs = []
    for jobs in ("1", "2", "0"):
        out = tmp_path / f"v{jobs}.jsonl"
        args = ["check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--out", str(out), "--jobs", jobs]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "户 301: 通过 243, 不通过 8, 无法判断 3, 不适用 47" in result.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2] and outs[0].count(b"\n") == 307
    bad = CliRunner().invoke(main, ["check", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--jobs", "-1"])
    assert bad.exit_code == 2
