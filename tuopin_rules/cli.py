"""The ``tuopin`` command.

Exit codes (DESIGN §6): 0 ok; 1 verdicts contain failures and ``--fail-on-fail`` was given;
2 usage, standard or data errors (``--strict`` makes data issues count).
"""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
import threading
import unicodedata
from pathlib import Path
from typing import Any, NoReturn

import click

from tuopin_rules import __version__
from tuopin_rules.analysis import absent_fields
from tuopin_rules.cli_common import (  # noqa: F401 - re-exported for the other cli modules
    EXIT_ERROR,
    EXIT_FAILURES,
    EXIT_OK,
    PROGRESS_MIN,
    _as_of,
    _dataset,
    _fail,
    _load,
    as_of_option,
    format_option,
    header_row_option,
    lang_option,
    sheet_option,
    standard_option,
)
from tuopin_rules.compile import Standard
from tuopin_rules.errors import DataFileError, EvaluationError
from tuopin_rules.evaluate.engine import Engine, coerce_as_of
from tuopin_rules.evaluate.parallel import default_jobs, explained_chunks
from tuopin_rules.evaluate.vector import fill_summary, have_polars, preferred_backend
from tuopin_rules.intake.tables import Dataset
from tuopin_rules.registry import ENV_VAR, add_standards_path
from tuopin_rules.render.text import Summary, render_diff, render_summary, render_verdict, summary_payload
from tuopin_rules.verdicts import Outcome


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tuopin")
@click.option(
    "--standards-path",
    multiple=True,
    type=click.Path(exists=True),
    metavar="DIR",
    help=f"A folder of standards to search first (repeatable; also ${ENV_VAR}).",
)
def main(standards_path: tuple[str, ...]) -> None:
    """tuopin — verify poverty exits (脱贫退出) against standards and explain every verdict."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    for path in standards_path:
        add_standards_path(path)


def _need_stream_libraries() -> None:
    """``--stream`` reads with pyarrow and evaluates with polars (the ``batch`` extra)."""
    if not (have_polars() and importlib.util.find_spec("pyarrow") is not None):
        _fail('--stream needs polars and pyarrow: pip install "tuopin-rules[batch]" (or pip install ".[batch]")')


def _exit_on_sigterm(signum: int, frame: Any) -> NoReturn:
    """SIGTERM (a scheduler, ``timeout``) exits like Ctrl-C does: cleanup runs, so no ``.partial``
    output or stream-mode partition folder is left behind."""
    raise SystemExit(128 + signum)


@main.command()
@standard_option
@as_of_option
@click.argument("data", nargs=-1, required=True, metavar="DATA...")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write every verdict as JSON Lines here ('-' = stdout).",
)
@click.option(
    "--entity",
    "entities",
    multiple=True,
    metavar="KIND",
    help="Evaluate only these entity kinds (default: every kind the standard has rules for).",
)
@click.option("--fail-on-fail", is_flag=True, help="Exit 1 when any entity verdict is FAIL (for CI gates).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Processes that explain the verdicts written by --out (0: one per CPU); the output is the same.",
)
@header_row_option
@sheet_option
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 2 when the data have any data issue (notices — skipped sheets or files, unknown columns — aside).",
)
@click.option(
    "--stream",
    is_flag=True,
    help="Data larger than memory: households (and member rules) in bounded memory, in chunks and hash"
    " partitions; --out writes .parquet or .jsonl rows as they are produced (docs/batch.md).",
)
@click.option(
    "--memory-budget",
    type=click.IntRange(min=64),
    default=768,
    show_default=True,
    metavar="MB",
    help="With --stream: memory for evaluating one partition (sets the number of partitions).",
)
@lang_option
@format_option
def check(
    standard_name: str,
    as_of: str,
    data: tuple[str, ...],
    out: str | None,
    entities: tuple[str, ...],
    fail_on_fail: bool,
    jobs: int,
    header_row: int | None,
    sheet: str | None,
    strict: bool,
    stream: bool,
    memory_budget: int,
    lang: str,
    fmt: str,
) -> None:
    """Evaluate DATA files (CSV, XLSX/XLS, JSON, JSON Lines, Parquet; KIND=PATH or folders) against a standard.

    Prints a summary (outcomes per entity, most-failed rules, data issues, and an accounting line
    per file: rows read = records evaluated + rows rejected).
    """
    source = click.get_current_context().get_parameter_source
    if not stream and source("memory_budget") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--memory-budget applies to --stream only")
    if stream and jobs != 1:
        raise click.UsageError("--jobs applies to explaining verdicts for --out; --stream does not explain them")
    day = _as_of(as_of)
    standard = _load(standard_name)
    if stream:
        _need_stream_libraries()
        from tuopin_rules.cli_stream import check_stream

        if sheet is not None:
            _fail("--sheet: workbooks are not read with --stream (save the sheet as CSV)")
        try:
            result = check_stream(standard, day, data, out, entities, header_row, memory_budget, lang, fmt)
        except (DataFileError, EvaluationError) as exc:
            _fail(str(exc))
        if strict and result.error_count:
            sys.exit(EXIT_ERROR)
        if fail_on_fail and result.any_fail:
            sys.exit(EXIT_FAILURES)
        return
    dataset = _dataset(standard, data, header_row, sheet)
    engine = Engine(standard)
    try:
        engine.check_in_force(coerce_as_of(day))  # refused the same way whichever records the data hold
    except EvaluationError as exc:
        _fail(str(exc))
    kinds = entities or tuple(
        k
        for k in [
            "household",
            "village",
            "county",
            *(k for k in standard.schema.kinds() if k not in ("household", "village", "county")),
        ]
        if any(r.entity == k for r in standard.rules)
    )
    summary = Summary()
    to_stdout = out == "-"
    target = None if out in (None, "-") else Path(out)
    partial = target.with_name(target.name + ".partial") if target is not None else None
    try:
        sink = sys.stdout if to_stdout else (open(partial, "w", encoding="utf-8") if partial else None)  # noqa: SIM115
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or exc}")
    finished = False
    try:
        total = sum(len(dataset.tables.get(k, [])) for k in kinds)
        show = sys.stderr.isatty() and total >= PROGRESS_MIN
        if sink is None and preferred_backend() == "vector":
            # counts only: the vector engine gives the same summary, faster
            fill_summary(summary, engine.evaluate_batch(dataset, day, entities=kinds), lang)
            show = False
        records = [] if summary.outcomes else [r for k in kinds for r in dataset.tables.get(k, [])]
        issues_by_record: dict[tuple[str | None, str | None], list[Any]] = {}
        for issue in dataset.issues:
            issues_by_record.setdefault((issue.entity, issue.entity_id), []).append(issue)
        with click.progressbar(length=total, label="evaluating", file=sys.stderr, hidden=not show) as bar:
            for part in explained_chunks(
                engine,
                records,
                coerce_as_of(day),
                issues=issues_by_record,
                lang=lang,
                jobs=default_jobs() if jobs == 0 else jobs,
            ):
                summary.merge(part.summary)
                bar.update(len(part.lines))
                if sink is not None:
                    sink.write("".join(line + "\n" for line in part.lines))
        finished = True
    except EvaluationError as exc:
        _fail(str(exc))
    finally:
        if partial is not None and sink is not None:
            sink.close()
            if finished and target is not None:
                partial.replace(target)
            else:
                partial.unlink(missing_ok=True)  # never leave a half-written verdict file behind
    if fmt == "json":
        payload = summary_payload(standard, day, summary, dataset.issues, dataset.accounts)
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2), err=to_stdout)
    else:
        # with --out - the verdicts own stdout, so the summary goes to stderr
        text = render_summary(
            summary,
            dataset.accounts,
            dataset.issues,
            lang,
            standard=f"{standard.id} {standard.version}",
            as_of=day,
            absent=absent_fields(standard, dataset.tables, list(kinds)),
        )
        click.echo(text, err=to_stdout)
    if strict and any(not i.is_notice for i in dataset.issues):
        sys.exit(EXIT_ERROR)
    if fail_on_fail and summary.any_fail:
        sys.exit(EXIT_FAILURES)


@main.command()
@standard_option
@as_of_option
@click.argument("data", nargs=-1, required=True, metavar="DATA...")
@click.option("--id", "ident", required=True, help="The household code, village code or county name to explain.")
@click.option(
    "--entity",
    metavar="KIND",
    default=None,
    help="The entity kind of --id (default: the first kind that has it).",
)
@click.option("--failed-only", is_flag=True, help="Show only the rules that failed or are unknown.")
@click.option(
    "--stream",
    is_flag=True,
    help="Data too large to read whole: scan the files for the household or village and what it needs.",
)
@header_row_option
@sheet_option
@lang_option
@format_option
def explain(
    standard_name: str,
    as_of: str,
    data: tuple[str, ...],
    ident: str,
    entity: str | None,
    failed_only: bool,
    stream: bool,
    header_row: int | None,
    sheet: str | None,
    lang: str,
    fmt: str,
) -> None:
    """Print one entity's verdict in full: each rule's reason, evidence, gap, remedy and source."""
    day = _as_of(as_of)
    standard = _load(standard_name)
    if stream:
        dataset = _picked(standard, data, entity, ident, header_row, sheet)
    else:
        dataset = _dataset(standard, data, header_row, sheet)
    kinds = (
        [entity]
        if entity
        else [k for k in ("household", "village", "county") if k in standard.schema.entities]
        + [k for k in standard.schema.kinds() if k not in ("household", "village", "county")]
    )
    ident = unicodedata.normalize("NFKC", ident).strip()  # ids in the data are read the same way
    record = next((r for k in kinds if (r := dataset.find(k, ident)) is not None), None)
    if record is None:
        known = [r.id for k in kinds for r in dataset.tables.get(k, []) if r.id]
        from tuopin_rules.errors import did_you_mean

        hint = did_you_mean(ident, known)
        _fail(f"no {entity or 'record'} with id {ident!r} in the data" + (f" ({hint})" if hint else ""))
    issues = [i for i in dataset.issues if i.entity == record.entity and i.entity_id == record.id]
    try:
        verdict = Engine(standard).evaluate_record(record, day, issues)
    except EvaluationError as exc:
        _fail(str(exc))
    only = (Outcome.FAIL, Outcome.UNKNOWN) if failed_only else None
    if fmt == "json":
        if only is not None:
            verdict = verdict.only(only)
        click.echo(verdict.to_json(indent=2))
        return
    click.echo(render_verdict(verdict, lang, only=only))
    for issue in issues:
        click.echo("  " + issue.render())


def _picked(
    standard: Standard, data: tuple[str, ...], entity: str | None, ident: str, header_row: int | None, sheet: str | None
) -> Dataset:
    """``explain --stream``: the household (else the village) ``ident`` and what it needs, scanned for."""
    _need_stream_libraries()
    if sheet is not None:
        _fail("--sheet: workbooks are not read with --stream (save the sheet as CSV)")
    from tuopin_rules.expr import ast
    from tuopin_rules.intake.pick import pick_dataset

    trees = [t for r in standard.rules for t in (r.applies_when, r.require) if t is not None]
    if any(
        isinstance(n, ast.FuncCall) and n.name == "unique"
        for t in [*trees, *standard.derived.values()]
        for n in ast.walk(t)
    ):
        _fail("--stream: this standard's unique() compares each record with all others; run explain without --stream")
    key = unicodedata.normalize("NFKC", ident).strip()
    kinds = [entity] if entity else ["household", "village"]
    try:
        for kind in kinds:
            dataset = pick_dataset(standard.schema, data, kind, key, header_row=header_row)
            if dataset.find(kind, key) is not None:
                return dataset
    except DataFileError as exc:
        _fail(str(exc))
    _fail(
        f"no {' or '.join(kinds)} with id {key!r} in the data (explain --stream explains households and"
        " villages; for another kind run without --stream)"
    )


@main.command(name="diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.argument("data", nargs=-1, required=True, metavar="DATA...")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YEAR|DATE",
    help="Evaluation date of a side written without @DATE (e.g. cn-national@2019).",
)
@click.option(
    "--entity",
    "entities",
    multiple=True,
    type=click.Choice(["household", "village", "county"]),
    help="Compare only these entity kinds (default: households, villages, counties).",
)
@click.option("--limit", default=50, show_default=True, help="How many flipped records to list in text output.")
@header_row_option
@sheet_option
@lang_option
@format_option
def diff_cmd(
    old: str,
    new: str,
    data: tuple[str, ...],
    as_of: str | None,
    entities: tuple[str, ...],
    limit: int,
    header_row: int | None,
    sheet: str | None,
    lang: str,
    fmt: str,
) -> None:
    """Evaluate DATA under OLD and NEW and list the records whose verdict flips, by rule and by village.

    OLD and NEW are standards (ids or files), each optionally with @DATE: `tuopin diff cn-national@2019
    cn-national@2020 DATA` shows what the 2020 poverty line changes; `tuopin diff cn-national henan
    --as-of 2020 DATA` what the provincial standard changes.
    """
    from tuopin_rules.compare import Side, compare, parse_side

    if as_of is not None and all("@" in text for text in (old, new)):
        raise click.UsageError(
            f"--as-of {as_of} would be ignored: both {old} and {new} carry their own @DATE; drop one or the other"
        )
    sides = []
    for text in (old, new):
        try:
            name, day = parse_side(text, as_of)
        except EvaluationError as exc:
            raise click.BadParameter(str(exc), param_hint=text) from None
        if day is None:
            raise click.UsageError(f"{text}: give a date as {text}@YEAR or with --as-of")
        standard = _load(name)
        sides.append(Side(standard, _dataset(standard, data, header_row, sheet), day))
    try:
        result = compare(sides[0], sides[1], entities or ("household", "village", "county"))
    except EvaluationError as exc:
        _fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(render_diff(result, lang, limit=limit))


from tuopin_rules.cli_authoring import AUTHORING  # noqa: E402 - the commands register on the group above

for _command in AUTHORING:
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
