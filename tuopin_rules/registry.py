"""Finding standards and plug-in functions.

Standards come from, in order of precedence (an id found earlier wins):

1. folders given with ``--standards-path`` (or :func:`add_standards_path`);
2. folders in the environment variable ``TUOPIN_STANDARDS_PATH`` (separated by ``os.pathsep``);
3. installed plug-in packages, through the entry point group ``tuopin_rules.standards``: each entry
   point loads a folder or file path, a list of them, or a callable returning them;
4. the bundled standards (the top-level ``rulesets/`` folder, installed as ``tuopin_rules/rulesets``).

A standard's id is its file name without ``.yaml`` (``*.cases.yaml`` files are test cases, not
standards). Plug-in functions come from the entry point group ``tuopin_rules.functions``: each loads a
:class:`~tuopin_rules.expr.functions.Function` or a list of them (see :func:`load_plugin_functions`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tuopin_rules.errors import StandardNotFoundError, did_you_mean

__all__ = [
    "ENV_VAR",
    "Installed",
    "add_standards_path",
    "bundled_dir",
    "find_standard",
    "installed",
    "installed_standards",
    "load_plugin_functions",
]

ENV_VAR = "TUOPIN_STANDARDS_PATH"
STANDARDS_GROUP = "tuopin_rules.standards"
FUNCTIONS_GROUP = "tuopin_rules.functions"

_extra_paths: list[Path] = []


@dataclass(frozen=True)
class Installed:
    """An installed standard: its id, file, and where it came from (``path``, ``env``, a plug-in's
    distribution name, or ``bundled``)."""

    id: str
    file: Path
    origin: str


def bundled_dir() -> Path:
    """The folder of the bundled standards (installed copy first, then the source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rulesets", here.parent / "rulesets"):
        if candidate.is_dir():
            return candidate
    raise StandardNotFoundError("the bundled rulesets folder is missing from this installation")


def add_standards_path(path: str | os.PathLike[str]) -> None:
    """Add a folder (or file) of standards, searched before every other source."""
    _extra_paths.append(Path(path))


def _standard_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix in (".yaml", ".yml") and not path.name.endswith(".cases.yaml") else []
    if path.is_dir():
        return sorted(p for p in path.glob("*.y*ml") if not p.name.endswith(".cases.yaml"))
    return []


def _as_paths(value: Any) -> list[Path]:
    if callable(value):
        value = value()
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    if isinstance(value, dict):
        return [Path(v) for v in value.values()]
    if isinstance(value, Iterable):
        return [Path(v) for v in value]
    return []


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)


def installed(*, all_sources: bool = False) -> list[Installed]:
    """Every standard that ``--standard ID`` can name, in precedence order.

    Args:
        all_sources: keep every file of an id (shadowed ones after the one that wins), not only the first.
    """
    found: dict[tuple[str, Path], Installed] = {}
    seen_ids: set[str] = set()

    def add(paths: Iterable[Path], origin: str) -> None:
        for folder in paths:
            for f in _standard_files(folder):
                if f.stem in seen_ids and not all_sources:
                    continue
                seen_ids.add(f.stem)
                found.setdefault((f.stem, f.resolve()), Installed(f.stem, f, origin))

    add(_extra_paths, "path")
    env = os.environ.get(ENV_VAR, "")
    add((Path(p) for p in env.split(os.pathsep) if p), "env")
    for ep in _entry_points(STANDARDS_GROUP):
        try:
            add(_as_paths(ep.load()), ep.dist.name if ep.dist else ep.name)
        except Exception:
            continue
    add([bundled_dir()], "bundled")
    return list(found.values())


def installed_standards() -> dict[str, Path]:
    """Standard id -> file, for every installed standard (see :func:`installed`)."""
    return {s.id: s.file for s in installed()}


def find_standard(name_or_path: str | os.PathLike[str]) -> Path:
    """Resolve ``--standard``: an existing file path, else an installed standard id (its file name
    without ``.yaml``; failing that, the id a file declares under ``standard:``).

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
    declared = _by_declared_id(text)
    if declared is not None:
        return declared
    hint = did_you_mean(text, known)
    looks_like_path = any(sep in text for sep in ("/", "\\")) or text.endswith((".yaml", ".yml"))
    what = f"no file {text!r}" if looks_like_path else f"no installed standard {text!r}"
    raise StandardNotFoundError(f"{what}; installed: {', '.join(known) or 'none'}" + (f" ({hint})" if hint else ""))


def _by_declared_id(name: str) -> Path | None:
    """The installed file whose ``standard:`` says ``name`` although its file name does not
    (``prov-a.yaml`` declaring ``standard: myprov``), or ``None``; the first in precedence order."""
    from tuopin_rules.source import load_yaml_file

    for item in installed():
        doc, _ = load_yaml_file(item.file)
        data = doc.data if doc is not None else None
        if isinstance(data, dict) and data.get("standard") == name:
            return item.file
    return None


@functools.cache
def load_plugin_functions() -> tuple[str, ...]:
    """Register the functions of installed plug-ins into the function table, once.

    Returns the names added. A plug-in function may not replace a built-in one; such an entry, or
    one that fails to load, is skipped (and named in the returned problems of
    :func:`plugin_function_problems`).
    """
    from tuopin_rules.expr.functions import FUNCTIONS, Function

    added: list[str] = []
    for ep in _entry_points(FUNCTIONS_GROUP):
        try:
            value = ep.load()
        except Exception as exc:
            _problems.append(f"plug-in function {ep.name!r} cannot be loaded: {exc}")
            continue
        items = value() if callable(value) and not isinstance(value, Function) else value
        for fn in items if isinstance(items, (list, tuple)) else [items]:
            if not isinstance(fn, Function):
                _problems.append(f"plug-in entry {ep.name!r} is not a tuopin_rules Function")
            elif fn.name in FUNCTIONS:
                _problems.append(f"plug-in function {fn.name!r} would replace an existing function; skipped")
            else:
                FUNCTIONS[fn.name] = fn
                added.append(fn.name)
    return tuple(added)


_problems: list[str] = []


def plugin_function_problems() -> list[str]:
    """Why plug-in functions were skipped (after :func:`load_plugin_functions`)."""
    load_plugin_functions()
    return list(_problems)


def _reset_for_tests(clear: Callable[[], None] | None = None) -> None:
    """Forget added paths and loaded plug-in functions (tests only)."""
    _extra_paths.clear()
    _problems.clear()
    load_plugin_functions.cache_clear()
    if clear is not None:
        clear()
