"""Finding standards: bundled ones by id, or a YAML file by path.

Bundled standards live in the top-level ``rulesets/`` folder of the source tree, which the wheel
installs as ``tuopin_rules/rulesets``, so ``--standard cn-national`` works from any folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuopin_rules.errors import StandardNotFoundError, did_you_mean

__all__ = ["bundled_dir", "find_standard", "installed_standards"]


def bundled_dir() -> Path:
    """The folder of the bundled standards (installed copy first, then the source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rulesets", here.parent / "rulesets"):
        if candidate.is_dir():
            return candidate
    raise StandardNotFoundError("the bundled rulesets folder is missing from this installation")


def installed_standards() -> dict[str, Path]:
    """Standard id -> file, for every bundled standard (``*.yaml`` other than ``*.cases.yaml``)."""
    out: dict[str, Path] = {}
    for path in sorted(bundled_dir().glob("*.yaml")):
        if not path.name.endswith(".cases.yaml"):
            out[path.stem] = path
    return out


def find_standard(name_or_path: str | os.PathLike[str]) -> Path:
    """Resolve ``--standard``: an existing file path, else a bundled standard id.

    Raises:
        StandardNotFoundError: naming the installed ids and the nearest one.
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_file():
        return path
    known = installed_standards()
    if text in known:
        return known[text]
    hint = did_you_mean(text, known)
    looks_like_path = any(sep in text for sep in ("/", "\\")) or text.endswith((".yaml", ".yml"))
    what = f"no file {text!r}" if looks_like_path else f"no installed standard {text!r}"
    raise StandardNotFoundError(f"{what}; installed: {', '.join(known) or 'none'}" + (f" ({hint})" if hint else ""))
