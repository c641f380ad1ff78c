"""Stage 2 — validate plain YAML data against the pydantic models of the format.

Validation errors are mapped back to YAML positions through the :class:`SourceDoc` source map:
an unknown key points at the key and suggests the nearest allowed one; a missing key points at the
mapping that lacks it; a bad value points at the value.
"""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tuopin_rules.errors import Diagnostic, did_you_mean
from tuopin_rules.source import SourceDoc
from tuopin_rules.spec.models import (
    CodeSpec,
    EntitySpec,
    Explain,
    FieldSpec,
    OverrideSpec,
    ParameterOverride,
    ParameterSpec,
    RuleOverride,
    RuleSpec,
    SchemaSpec,
    SourceSpec,
    StandardSpec,
    Text,
    parse_date_like,
)

__all__ = [
    "CodeSpec",
    "EntitySpec",
    "Explain",
    "FieldSpec",
    "OverrideSpec",
    "ParameterOverride",
    "ParameterSpec",
    "RuleOverride",
    "RuleSpec",
    "SchemaSpec",
    "SourceSpec",
    "StandardSpec",
    "Text",
    "parse_date_like",
    "validate",
]

M = TypeVar("M", bound=BaseModel)


def validate(
    doc: SourceDoc, model: type[M], data: Any = None, prefix: tuple[Any, ...] = ()
) -> tuple[M | None, list[Diagnostic]]:
    """Validate ``doc.data`` (or a part of it) as ``model``, returning every problem located in the file.

    Args:
        doc: the loaded YAML with its source map.
        model: a pydantic model class (``StandardSpec``, ``RuleSpec``, ``SchemaSpec``).
        data: the part of the document to validate (default: all of it).
        prefix: the path of ``data`` in the document (for positions).

    Returns:
        ``(instance, [])`` when valid, else ``(None, diagnostics)``.
    """
    data = doc.data if data is None and not prefix else data
    if not isinstance(data, dict):
        what = "a standard" if not prefix else ".".join(map(str, prefix))
        return None, [doc.diagnostic("invalid-value", f"{what} must be a YAML mapping (key: value)", prefix)]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        diagnostics = [_diagnostic(doc, model, err, prefix) for err in exc.errors()]
        # one problem per place is enough (a union reports every branch)
        unique: dict[tuple[Any, ...], Diagnostic] = {}
        for d in diagnostics:
            key = (d.position, d.code, d.message)
            unique.setdefault(key, d)
        return None, sorted(unique.values(), key=lambda d: (d.position.line, d.position.col) if d.position else (0, 0))


def _diagnostic(doc: SourceDoc, model: type[BaseModel], err: Any, prefix: tuple[Any, ...] = ()) -> Diagnostic:
    inner = tuple(err["loc"])
    loc = (*prefix, *inner)
    kind = err["type"]
    where = ".".join(str(p) for p in loc) or "the top level"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, inner[:-1])
        return doc.diagnostic(
            "unknown-key",
            f"unknown key {loc[-1]!r} in {'.'.join(str(p) for p in loc[:-1]) or 'the standard'}",
            loc,
            key=True,
            hint=did_you_mean(str(loc[-1]), allowed)
            or (f"allowed keys: {', '.join(sorted(allowed))}" if allowed else None),
        )
    if kind == "missing":
        parent = ".".join(str(p) for p in loc[:-1]) or "the standard"
        return doc.diagnostic("missing-key", f"{parent} needs the key {loc[-1]!r}", loc[:-1], key=True)
    message = err["msg"]
    value = err.get("input")
    shown = f" (got {value!r})" if isinstance(value, (str, int, float, bool)) or value is None else ""
    return doc.diagnostic("invalid-value", f"{where}: {message}{shown}", loc)


def _allowed_keys(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """The keys a mapping at ``path`` of ``model`` may hold (aliases where set)."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            target = None
            for name, info in current.model_fields.items():
                if part in (name, info.alias):
                    target = info.annotation
            current = target
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin in (list, tuple) and args:
                current = args[0]
            elif origin is dict and len(args) == 2:
                current = args[1]
            else:
                return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional wrappers."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp
