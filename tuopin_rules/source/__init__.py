"""Stage 1 — YAML text to plain data plus a source map.

A standard is read with PyYAML's composer (so every node keeps its line and column) and turned into
plain Python data by our own constructor, which closes the YAML traps of rule files:

* only ``true``/``false`` are booleans (``yes``/``no``/``on``/``off``/``y``/``n`` stay text);
* numbers are decimal literals only: ``0012`` stays the text ``"0012"``, ``0x1F``/``1_000`` stay
  text, floats become :class:`decimal.Decimal` (never binary floats);
* dates stay text here and become dates only where the format expects a date (stage ``spec``);
* a key repeated in one mapping is an error naming both lines;
* alias expansion is bounded (a "billion laughs" file is an error, not a hang);
* explicit tags (``!!python/object`` and friends) are rejected;
* merge keys (``<<: *anchor``) work, explicit keys winning, within the same alias bound.

The result is a :class:`SourceDoc`: the data, and the position of every key and value, addressed by
its path (a tuple of keys and list indexes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tuopin_rules.errors import Diagnostic, Position

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "SourceDoc", "load_yaml", "load_yaml_file"]

#: the most nodes that alias expansion may add to a document
MAX_ALIAS_NODES = 10_000
#: the deepest nesting of mappings and lists a standard may have
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(0|[1-9][0-9]*)\.[0-9]+([eE][-+]?[0-9]+)?$|^[-+]?(0|[1-9][0-9]*)[eE][-+]?[0-9]+$")
_PLAIN_TAG = "tag:yaml.org,2002:str"
_ALLOWED_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


_PLAIN = "tag:tuopin,2026:plain"


class _Resolver(yaml.resolver.BaseResolver):
    """Marks untagged plain scalars so that :func:`_scalar` alone decides their type.

    An explicit ``!!str`` keeps the default str tag, so ``!!str 12`` stays the text ``"12"``.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _Resolver):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


@dataclass
class SourceDoc:
    """A YAML document as plain data with the position of every key and value.

    Attributes:
        file: the path as given (used in diagnostics).
        text: the full text (for caret snippets).
        data: dicts (insertion-ordered), lists, ``str``, ``int``, ``Decimal``, ``bool``, ``None``.
        value_positions: path -> position of the value at that path.
        key_positions: path -> position of the mapping key that ends the path.
    """

    file: str
    text: str
    data: Any
    value_positions: dict[PathKey, Position] = field(default_factory=dict)
    key_positions: dict[PathKey, Position] = field(default_factory=dict)
    _lines: list[str] | None = field(default=None, repr=False)

    def line(self, number: int) -> str:
        """The text of 1-based line ``number`` ('' past the end)."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""

    def position(self, path: PathKey, *, key: bool = False) -> Position | None:
        """The position at ``path``, or of its nearest ancestor that has one.

        Args:
            path: keys and indexes from the document root.
            key: prefer the position of the mapping key rather than of the value.
        """
        probe = tuple(path)
        while True:
            table = self.key_positions if key else self.value_positions
            if probe in table:
                return table[probe]
            other = self.value_positions if key else self.key_positions
            if probe in other:
                return other[probe]
            if not probe:
                return None
            probe = probe[:-1]

    def diagnostic(
        self,
        code: str,
        message: str,
        path: PathKey = (),
        *,
        key: bool = False,
        hint: str | None = None,
        severity: str = "error",
        position: Position | None = None,
    ) -> Diagnostic:
        """Build a :class:`Diagnostic` located at ``path`` (or at an explicit ``position``)."""
        pos = position or self.position(path, key=key)
        return Diagnostic(
            code=code,
            message=message,
            file=self.file,
            position=pos,
            source_line=self.line(pos.line) if pos else None,
            hint=hint,
            severity="warning" if severity == "warning" else "error",
        )


def load_yaml_file(path: str | Path) -> tuple[SourceDoc | None, list[Diagnostic]]:
    """Read and load a YAML file; see :func:`load_yaml`.

    A missing or unreadable file is a ``file-not-found`` diagnostic, not an exception.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return None, [Diagnostic("file-not-found", f"cannot read {path}: {exc.strerror or exc}", file=str(path))]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return None, [
            Diagnostic(
                "file-not-found",
                f"cannot read {path}: line {line} is not UTF-8 text (save the file as UTF-8)",
                file=str(path),
                position=Position(line, 1),
            )
        ]
    return load_yaml(text, str(path))


def load_yaml(text: str, file: str = "<string>") -> tuple[SourceDoc | None, list[Diagnostic]]:
    """Load one YAML document into a :class:`SourceDoc`, collecting every problem.

    Args:
        text: the YAML text.
        file: the name used in diagnostics.

    Returns:
        ``(doc, diagnostics)``; ``doc`` is ``None`` only when the text is not YAML at all.

    >>> doc, problems = load_yaml("code: 0012\\nflag: yes\\nn: 12\\nx: 2.50\\n")
    >>> doc.data, problems
    ({'code': '0012', 'flag': 'yes', 'n': 12, 'x': Decimal('2.50')}, [])
    """
    doc = SourceDoc(file=file, text=text, data=None)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(mark.line + 1, mark.column + 1) if mark else None
        message = str(exc.problem or exc.context or "invalid YAML")
        return None, [doc.diagnostic("yaml-syntax", message, position=pos)]
    except yaml.YAMLError as exc:
        return None, [Diagnostic("yaml-syntax", str(exc), file=file)]
    except RecursionError:
        return None, [
            Diagnostic("yaml-syntax", f"the document is nested too deeply (over {MAX_DEPTH} levels)", file=file)
        ]
    if node is None:
        doc.data = {}
        return doc, []
    builder = _Builder(doc)
    doc.data = builder.build(node, ())
    return doc, builder.diagnostics


def _pos(node: Node) -> Position:
    start, end = node.start_mark, node.end_mark
    end_col = end.column + 1 if end.line == start.line else None
    if end_col is None:  # a multi-line node: the span runs to the end of its first line
        line_end = start.buffer.find("\n", start.pointer) if start.buffer else -1
        line_len = (line_end if line_end >= 0 else len(start.buffer or "")) - (start.pointer - start.column)
        end_col = line_len + 1
    return Position(start.line + 1, start.column + 1, max(end_col, start.column + 2))


def _scalar(node: ScalarNode) -> Any:
    value: str = node.value
    if node.tag != _PLAIN or node.style is not None:  # quoted, block or !!str: always text
        return value
    if value in ("", "~", "null", "Null", "NULL"):
        return None
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return Decimal(value)
    return value


class _Builder:
    """Turns composed nodes into plain data, recording positions and problems."""

    def __init__(self, doc: SourceDoc) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []
        self.seen: set[int] = set()
        self.alias_nodes = 0
        self.alias_reported = False
        self.counts: dict[int, int] = {}
        self.alias_depth = 0
        self.depth_reported = False

    def build(self, node: Node, path: PathKey) -> Any:
        self.doc.value_positions[path] = _pos(node)
        if len(path) > MAX_DEPTH:
            if not self.depth_reported:
                self.depth_reported = True
                self.diagnostics.append(
                    self.doc.diagnostic(
                        "yaml-syntax", f"the document is nested more than {MAX_DEPTH} levels deep", path
                    )
                )
            return None
        if id(node) in self.seen and self.alias_depth == 0:  # an alias: the same node object met again
            self.alias_nodes += _count(node, self.counts)  # its whole expansion, nested aliases included
            if self.alias_nodes > MAX_ALIAS_NODES:
                if not self.alias_reported:
                    self.alias_reported = True
                    self.diagnostics.append(
                        self.doc.diagnostic(
                            "alias-limit",
                            f"YAML aliases expand to more than {MAX_ALIAS_NODES} nodes",
                            path,
                            hint="write the repeated part out instead of aliasing it",
                        )
                    )
                return None
        if isinstance(node, (MappingNode, SequenceNode)):
            if id(node) in self.seen:
                self.alias_depth += 1
                try:
                    return self._build(node, path)
                finally:
                    self.alias_depth -= 1
            self.seen.add(id(node))
        return self._build(node, path)

    def _build(self, node: Node, path: PathKey) -> Any:
        if node.tag not in _ALLOWED_TAGS and node.tag != _PLAIN:
            self.diagnostics.append(self.doc.diagnostic("yaml-tag", f"explicit tag {node.tag!r} is not allowed", path))
            return None
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        merges: list[tuple[Node, PathKey]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.diagnostics.append(
                    self.doc.diagnostic("invalid-value", "a mapping key must be a plain value", path)
                )
                continue
            key = key_node.value
            if key == "<<" and key_node.tag == _PLAIN:  # a merge key: applied after the explicit keys
                merges.append((value_node, (*path, "<<")))
                continue
            key_path = (*path, key)
            key_pos = _pos(key_node)
            if key in out or key in first_line:
                self.diagnostics.append(
                    self.doc.diagnostic(
                        "duplicate-key",
                        f"duplicate key {key!r}: first defined on line {first_line[key]}, again on line {key_pos.line}",
                        position=key_pos,
                        hint="keep one of the two; YAML would silently use the last",
                    )
                )
                continue
            first_line[key] = key_pos.line
            self.doc.key_positions[key_path] = key_pos
            out[key] = self.build(value_node, key_path)
        for value_node, merge_path in merges:
            self.merge_into(out, value_node, merge_path)
        return out

    def merge_into(self, out: dict[Any, Any], value_node: Node, path: PathKey) -> None:
        """Apply a YAML merge key (``<<: *anchor`` or ``<<: [*a, *b]``): keys not written explicitly."""
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.diagnostics.append(self.doc.diagnostic("invalid-value", "'<<' merges only mappings", path))
                continue
            merged = self.build(source, path)
            if isinstance(merged, dict):
                for k, v in merged.items():
                    if k not in out:
                        out[k] = v
                        parent = path[:-1]
                        if (*path, k) in self.doc.value_positions:
                            self.doc.value_positions.setdefault((*parent, k), self.doc.value_positions[(*path, k)])
                        if (*path, k) in self.doc.key_positions:
                            self.doc.key_positions.setdefault((*parent, k), self.doc.key_positions[(*path, k)])


def _count(node: Node, memo: dict[int, int] | None = None) -> int:
    """Nodes under ``node`` as expanded (memoised, so nested aliases cost linear time)."""
    memo = {} if memo is None else memo
    if id(node) in memo:
        return memo[id(node)]
    total = 1
    if isinstance(node, SequenceNode):
        total += sum(_count(n, memo) for n in node.value)
    elif isinstance(node, MappingNode):
        total += sum(_count(k, memo) + _count(v, memo) for k, v in node.value)
    memo[id(node)] = total
    return total
