"""The public namespace is curated and pinned; everything else is private."""

from __future__ import annotations

import re
from pathlib import Path

import tuopin_rules
from tuopin_rules.errors import DATA_ISSUE_CODES, DIAGNOSTIC_CODES

ROOT = Path(__file__).resolve().parent.parent


def test_public_namespace_is_pinned() -> None:
    assert tuopin_rules.__all__ == [
        "DataFileError",
        "DataIssue",
        "Diagnostic",
        "Engine",
        "EvaluationError",
        "Outcome",
        "RuleResult",
        "Standard",
        "StandardError",
        "StandardNotFoundError",
        "TuopinError",
        "Verdict",
        "__version__",
        "installed_standards",
        "load_standard",
    ]
    assert tuopin_rules.__all__ == sorted(tuopin_rules.__all__)
    for name in tuopin_rules.__all__:
        assert hasattr(tuopin_rules, name), name


def test_every_error_is_a_tuopin_error() -> None:
    for name in ("DataFileError", "EvaluationError", "StandardError", "StandardNotFoundError"):
        assert issubclass(getattr(tuopin_rules, name), tuopin_rules.TuopinError)


def test_every_code_is_documented() -> None:
    text = (ROOT / "docs" / "error-codes.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `?([a-z-]+)`?\s*$", text, flags=re.MULTILINE))
    missing = (set(DIAGNOSTIC_CODES) | set(DATA_ISSUE_CODES)) - documented
    assert not missing, f"undocumented codes: {sorted(missing)}"


def test_version_matches_pyproject() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{tuopin_rules.__version__}"' in pyproject


def test_every_subpackage_ships_in_the_wheel() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for init in (ROOT / "tuopin_rules").rglob("__init__.py"):
        package = ".".join(init.parent.relative_to(ROOT).parts)
        assert f'"{package}"' in pyproject, f"{package} is not in [tool.setuptools] packages"
