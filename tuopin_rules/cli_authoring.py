"""``tuopin`` commands for the people who write standards: ``lint``, ``test``, ``schema``,
``standards`` and ``show`` (registered on the ``tuopin`` group by :mod:`tuopin_rules.cli`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tuopin_rules.analysis import analyse
from tuopin_rules.cli_common import (
    EXIT_ERROR,
    EXIT_FAILURES,
    EXIT_OK,
    _fail,
    _load,
    format_option,
    lang_option,
)
from tuopin_rules.compile import load_standard_file
from tuopin_rules.errors import StandardError, TuopinError
from tuopin_rules.expr.parser import to_text
from tuopin_rules.lint import check_variant
from tuopin_rules.registry import installed, installed_standards


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="PATH...")
@format_option
def lint(paths: tuple[str, ...], fmt: str) -> None:
    """Check standards (YAML files or folders) and report every problem as file:line:col."""
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists() and p in installed_standards():
            path = installed_standards()[p]
        if path.is_dir():
            files.extend(sorted(f for f in path.glob("*.yaml") if not f.name.endswith(".cases.yaml")))
        else:
            files.append(path)
    if not files:
        _fail("no standard files found in " + ", ".join(paths))
    errors = 0
    report: list[dict[str, Any]] = []
    for f in files:
        try:
            standard = load_standard_file(str(f))
            diags = [*standard.warnings, *check_variant(standard), *analyse(standard)]
            warned = sum(1 for d in diags if d.severity == "warning")
            summary = f"{f}: ok ({len(standard.rules)} rules" + (f", {warned} warning(s))" if warned else ")")
        except StandardError as exc:
            diags = exc.diagnostics
            summary = f"{f}: {sum(1 for d in diags if d.severity == 'error')} error(s)"
        errors += sum(1 for d in diags if d.severity == "error")
        if fmt == "json":
            report.extend(d.to_dict() for d in diags)
        else:
            for d in diags:
                click.echo(d.render() + "\n")
            click.echo(summary)
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    sys.exit(EXIT_ERROR if errors else EXIT_OK)


@click.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATH...]")
@click.option("--verbose", "-v", is_flag=True, help="List every case, not only the failing ones.")
@format_option
def test_cases(paths: tuple[str, ...], verbose: bool, fmt: str) -> None:
    """Run the *.cases.yaml test cases of standards (default: the bundled ones) and check rule coverage.

    Every rule needs at least one case expecting PASS and one expecting FAIL. Exits 1 when a case
    fails or coverage is incomplete, 2 when a file cannot be loaded.
    """
    from tuopin_rules.cases import find_case_files, run_case_file
    from tuopin_rules.registry import bundled_dir

    files = find_case_files(paths or [bundled_dir()])
    if not files:
        _fail("no *.cases.yaml files found in " + (", ".join(paths) or str(bundled_dir())))
    results = [run_case_file(f) for f in files]
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "file": r.file,
                        "standard": r.standard.id if r.standard else None,
                        "problems": [d.to_dict() for d in r.problems],
                        "cases": [
                            {"name": c.name, "line": c.line, "passed": c.passed, "failures": c.failures}
                            for c in r.cases
                        ],
                        "uncovered": r.uncovered,
                        "passed": r.passed,
                    }
                    for r in results
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for r in results:
            head = f"{r.file}" + (f" ({r.standard.id} {r.standard.version})" if r.standard else "")
            if r.problems:
                click.echo(f"{head}: cannot load")
                for d in r.problems:
                    click.echo(d.render())
                continue
            passed = sum(c.passed for c in r.cases)
            rules = len(r.standard.rules) if r.standard else 0
            covered = rules - len(r.uncovered)
            click.echo(f"{head}: {passed}/{len(r.cases)} cases passed; coverage {covered}/{rules} rules")
            for c in r.cases:
                if not c.passed or verbose:
                    click.echo(f"  {'✓' if c.passed else '✗'} {c.name}  (line {c.line})")
                    for f in c.failures:
                        click.echo(f"      {f}")
            for gap in r.uncovered:
                click.echo(f"  coverage: {gap}")
        total = sum(len(r.cases) for r in results)
        failed = sum(1 for r in results for c in r.cases if not c.passed)
        gaps = sum(len(r.uncovered) for r in results)
        if gaps:
            click.echo(f"coverage incomplete: {gaps} rule(s) lack a PASS or a FAIL case")
        click.echo(f"{total - failed} passed, {failed} failed")
    if any(r.problems for r in results):
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK if all(r.passed for r in results) else EXIT_FAILURES)


@click.command()
def schema() -> None:
    """Print the JSON Schema of the ruleset format (for editor completion and validation)."""
    from tuopin_rules.spec import StandardSpec

    click.echo(json.dumps(StandardSpec.model_json_schema(by_alias=True), ensure_ascii=False, indent=2))


@click.command()
@lang_option
@format_option
def standards(lang: str, fmt: str) -> None:
    """List the installed standards: id, version, what it extends, effective range, origin."""
    rows = []
    for item in installed():
        row: dict[str, Any] = {"id": item.id, "file": str(item.file), "origin": item.origin}
        try:
            s = load_standard_file(item.file)
        except TuopinError as exc:
            row |= {"version": None, "extends": None, "effective": None, "rules": 0, "title": f"(broken: {exc})"}
        else:
            start = s.effective_from.isoformat() if s.effective_from else "…"
            end = s.effective_until.isoformat() if s.effective_until else "…"
            row |= {
                "version": s.version,
                "extends": s.extends,
                "effective": f"{start} – {end}",
                "rules": len(s.rules),
                "title": s.title.get(lang),
            }
        rows.append(row)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        extends = f"extends {r['extends']}" if r["extends"] else ""
        click.echo(
            f"{r['id']:<22} {r['version'] or '-':<9} {extends:<22} {r['effective'] or '':<25} "
            f"{r['rules']:>3} rules  {r['origin']:<8} {r['title']}"
        )


@click.command()
@click.argument("standard_name", metavar="STANDARD")
@click.option("--diff", is_flag=True, help="Only what the standard changes against the one it extends, in words.")
@lang_option
@format_option
def show(standard_name: str, diff: bool, lang: str, fmt: str) -> None:
    """Print a standard as merged (its extends chain applied), or --diff against its base."""
    from tuopin_rules.render.standard import change_lines, describe_standard

    standard = _load(standard_name)
    if diff and not standard.extends:
        _fail(f"{standard.id} extends no other standard, so it has no diff")
    if fmt == "json":
        payload: dict[str, Any] = {
            "id": standard.id,
            "version": standard.version,
            "extends": standard.extends,
            "files": standard.files,
            "content_hash": standard.content_hash,
        }
        if diff:
            payload["changes"] = change_lines(standard, lang)
        else:
            payload["rules"] = [
                {
                    "id": r.id,
                    "entity": r.entity,
                    "severity": r.severity,
                    "require": to_text(r.require),
                    "applies_when": to_text(r.applies_when) if r.applies_when else None,
                    "source": r.source_id,
                    "origin": r.origin,
                }
                for r in standard.rules
            ]
            payload["disabled"] = {k: v.get(lang) for k, v in standard.disabled.items()}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if diff:
        click.echo(("相对 " if lang == "zh" else "changes against ") + f"{standard.extends}:")
        for line in change_lines(standard, lang):
            click.echo("  " + line)
    else:
        click.echo(describe_standard(standard, lang))


AUTHORING = [lint, test_cases, schema, standards, show]
