"""The compiled standard: rules with bound expressions, parameters, schema, provenance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import Diagnostic, did_you_mean
from tuopin_rules.expr import ast
from tuopin_rules.resolve.compose import Change
from tuopin_rules.resolve.params import ParamDef
from tuopin_rules.spec import Explain, SourceSpec, Text

__all__ = ["Rule", "Standard"]


@dataclass(frozen=True)
class Rule:
    """A compiled rule.

    Attributes:
        id: unique within the standard, e.g. ``household.income``.
        entity: the entity kind it judges.
        require: the bound condition that must hold.
        applies_when: the bound condition that selects records (``None``: every record).
        source_id / source: the cited document.
        file / line: where the rule was written (a base's file for an inherited rule).
        origin: the id of the standard that wrote it.
    """

    id: str
    entity: str
    title: Text
    severity: str
    working_group: str | None
    require: ast.Expr
    applies_when: ast.Expr | None
    source_id: str
    source: SourceSpec | None
    explain: Explain | None
    remedy: Text | None
    notes: Text | None
    effective_from: dt.date | None
    effective_until: dt.date | None
    file: str
    line: int
    origin: str = ""

    def in_force(self, as_of: dt.date) -> bool:
        """True if the rule is in force on ``as_of``."""
        if self.effective_from and as_of < self.effective_from:
            return False
        return not (self.effective_until and as_of >= self.effective_until)


@dataclass
class Standard:
    """A loaded, compiled standard, ready to evaluate.

    Attributes:
        id / version / title: from the file.
        content_hash: ``sha256:`` over the text of every file of the ``extends`` chain, pinned in verdicts.
        schema: the entity schema with the standard's field additions.
        params: compiled parameters by name.
        derived: ``(entity, field)`` -> bound ``derive`` expression.
        rules: compiled rules in file order.
        warnings: non-fatal diagnostics found while loading.
        extends: the id of the base standard, or ``None``.
        files: the files of the chain, base first.
        disabled: rules of the base this standard disables, with the reason.
        changes: what this standard changes against its base (for ``tuopin show --diff``).
    """

    id: str
    version: str
    title: Text
    content_hash: str
    file: str
    effective_from: dt.date | None
    sources: dict[str, SourceSpec]
    schema: Schema
    params: dict[str, ParamDef]
    derived: dict[tuple[str, str], ast.Expr]
    rules: list[Rule]
    warnings: list[Diagnostic] = field(default_factory=list)
    extends: str | None = None
    files: list[str] = field(default_factory=list)
    disabled: dict[str, Text] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    effective_until: dt.date | None = None

    def rules_for(self, entity: str, as_of: dt.date) -> list[Rule]:
        """The rules judging ``entity`` that are in force on ``as_of``, in file order."""
        return [r for r in self.rules if r.entity == entity and r.in_force(as_of)]

    def fields_read(self, trees: list[ast.Expr], *, same_record: bool = False) -> list[ast.FieldRef]:
        """The fields ``trees`` read, directly or through the ``derive`` of fields they read.

        Args:
            trees: bound expressions of this standard.
            same_record: only fields of the record in scope (not inside aggregates or related records).
        """
        walk = ast.top_level if same_record else ast.walk
        todo, seen, out = list(trees), set(), []
        while todo:
            tree = todo.pop()
            if id(tree) in seen:
                continue
            seen.add(id(tree))
            for node in walk(tree):
                if isinstance(node, ast.FieldRef):
                    out.append(node)
                    derive = self.derived.get((node.entity, node.name))
                    if derive is not None:
                        todo.append(derive)
        return out

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id.

        Raises:
            KeyError: with a did-you-mean in the message.
        """
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"no rule {rule_id!r}; {did_you_mean(rule_id, [r.id for r in self.rules]) or ''}".strip())
