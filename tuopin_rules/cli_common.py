"""What the ``tuopin`` commands share: exit codes, options, and loading a standard, data or a date
with a clear error (exit code 2) instead of a traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from tuopin_rules import load_standard
from tuopin_rules.compile import Standard
from tuopin_rules.errors import DataFileError, EvaluationError, StandardError, StandardNotFoundError
from tuopin_rules.evaluate.engine import coerce_as_of
from tuopin_rules.intake.tables import Dataset, read_dataset

EXIT_OK, EXIT_FAILURES, EXIT_ERROR = 0, 1, 2
PROGRESS_MIN = 2_000  # records: below this a run is too quick for a progress bar

lang_option = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help="Language of reasons and messages."
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
standard_option = click.option(
    "--standard",
    "-s",
    "standard_name",
    required=True,
    metavar="NAME|PATH",
    help="A bundled standard id (see `tuopin standards`) or a YAML file.",
)
header_row_option = click.option(
    "--header-row",
    type=click.IntRange(min=1),
    default=None,
    help="Row (1-based; CSV: line) of the header in every data file, instead of searching for it below title rows.",
)
sheet_option = click.option(
    "--sheet", default=None, help="Read only this sheet of each workbook (name or 1-based position)."
)
as_of_option = click.option(
    "--as-of",
    "as_of",
    required=True,
    metavar="YEAR|DATE",
    help="Evaluation date: a year (2020 = 2020-12-31), month or date. Rules never read the clock.",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _load(name: str) -> Standard:
    try:
        standard = load_standard(name)
        from tuopin_rules.render.text import ENTITY_LABELS

        ENTITY_LABELS.update({k: (e.label.zh, e.label.get("en")) for k, e in standard.schema.entities.items()})
        return standard
    except StandardError as exc:
        click.echo(exc.render(), err=True)
        n = sum(1 for d in exc.diagnostics if d.severity == "error")
        click.echo(f"error: the standard has {n} problem(s); nothing was evaluated", err=True)
        sys.exit(EXIT_ERROR)
    except StandardNotFoundError as exc:
        _fail(str(exc))


def _dataset(
    standard: Standard, data: tuple[str, ...], header_row: int | None = None, sheet: str | None = None
) -> Dataset:
    try:
        return read_dataset(standard.schema, data, header_row=header_row, sheet=sheet)
    except DataFileError as exc:
        _fail(str(exc))


def _as_of(value: str) -> str:
    try:
        return coerce_as_of(value).isoformat()
    except EvaluationError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None
