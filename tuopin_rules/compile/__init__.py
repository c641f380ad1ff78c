"""Load a standard: read its YAML (and its ``extends`` chain), merge, compile, report every problem.

>>> from tuopin_rules.compile import load_standard_text
>>> s = load_standard_text('''
... standard: demo
... title: {zh: 示例}
... version: "1"
... sources: {doc: {title: 文件, issuer: 机关, date: "2020"}}
... rules:
...   - {id: r, entity: household, title: {zh: 收入}, source: doc, require: per_capita_net_income > 4000}
... ''')
>>> [r.id for r in s.rules]
['r']
"""

from __future__ import annotations

from pathlib import Path

from tuopin_rules.compile.compiler import compile_merged
from tuopin_rules.compile.model import Rule, Standard
from tuopin_rules.errors import Diagnostic, StandardError
from tuopin_rules.resolve.compose import load_chain, merge
from tuopin_rules.source import SourceDoc, load_yaml, load_yaml_file

__all__ = ["Rule", "Standard", "compile_standard", "load_standard_file", "load_standard_text"]


def _find(name: str, relative_to: Path | None, current: Path | None = None) -> Path:
    """Resolve an ``extends`` value: a file relative to the variant, else an installed standard id.

    A standard never extends itself: a local ``cn-national.yaml`` that ``extends: cn-national`` gets
    the next standard of that id (the bundled one), not its own file.
    """
    from tuopin_rules.errors import StandardNotFoundError
    from tuopin_rules.registry import find_standard, installed

    if relative_to is not None:
        candidate = relative_to / name
        if candidate.is_file():
            if current is not None and candidate.resolve() == current.resolve():
                raise StandardNotFoundError("a standard cannot extend itself (a cycle)")
            return candidate
    for item in installed(all_sources=True):
        if item.id == name and (current is None or item.file.resolve() != current.resolve()):
            return item.file
    return find_standard(name)


def compile_standard(doc: SourceDoc, prior: list[Diagnostic] | None = None) -> Standard:
    """Resolve the ``extends`` chain of a loaded document, merge and compile it.

    Args:
        doc: the loaded YAML of the standard.
        prior: problems already found while reading the YAML (reported together with the rest).

    Raises:
        StandardError: with every problem found in every file of the chain.
    """
    from tuopin_rules.registry import load_plugin_functions

    load_plugin_functions()  # plug-in functions are part of the language the standard is checked against
    problems = list(prior or [])
    chain = load_chain(doc, problems, _find)
    if not chain or chain[-1].doc is not doc:
        raise StandardError(_ordered(problems))
    standard, found = compile_merged(merge(chain))
    problems += [d for d in found if d not in problems]
    if any(d.severity == "error" for d in problems):
        raise StandardError(_ordered(problems))
    standard.warnings = [d for d in problems if d.severity == "warning"]
    return standard


def _ordered(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(
        diagnostics, key=lambda d: (d.file, d.position.line, d.position.col) if d.position else (d.file, 0, 0)
    )


def load_standard_text(text: str, file: str = "<string>") -> Standard:
    """Load a standard from YAML text (``extends`` resolves installed standard ids).

    Raises:
        StandardError: with every problem found.
    """
    doc, problems = load_yaml(text, file)
    if doc is None:
        raise StandardError(problems)
    return compile_standard(doc, problems)


def load_standard_file(path: str | Path) -> Standard:
    """Load a standard from a YAML file (``extends`` resolves paths relative to it, then installed ids).

    Raises:
        StandardError: with every problem found (a missing file is a ``file-not-found`` problem).
    """
    doc, problems = load_yaml_file(path)
    if doc is None:
        raise StandardError(problems)
    return compile_standard(doc, problems)
