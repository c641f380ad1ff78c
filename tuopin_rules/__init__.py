"""tuopin_rules — verify poverty exits (脱贫退出) against declarative standards, explain every verdict.

The public API::

    from tuopin_rules import load_standard, Engine

    standard = load_standard("cn-national")          # a bundled id, or a path to a YAML file
    engine = Engine(standard)
    verdict = engine.evaluate("household", {"户编号": "0012", "脱贫状态": "已脱贫",
                                            "人均纯收入": "3650"}, as_of=2020)
    verdict.outcome            # Outcome.FAIL
    verdict.results[0].reason.zh

Everything not listed in ``__all__`` is private and may change.
"""

from __future__ import annotations

import os

from tuopin_rules.compile import Standard, load_standard_file
from tuopin_rules.errors import (
    DataFileError,
    DataIssue,
    Diagnostic,
    EvaluationError,
    StandardError,
    StandardNotFoundError,
    TuopinError,
)
from tuopin_rules.evaluate.engine import Engine
from tuopin_rules.registry import find_standard, installed_standards
from tuopin_rules.verdicts import Outcome, RuleResult, Verdict

__all__ = [
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

__version__ = "0.1.0"


def load_standard(name_or_path: str | os.PathLike[str]) -> Standard:
    """Load a standard by bundled id (``"cn-national"``) or by path to a YAML file.

    Raises:
        StandardNotFoundError: no such installed standard or file.
        StandardError: the file has problems; ``.diagnostics`` lists every one with file:line:col.
    """
    return load_standard_file(str(find_standard(name_or_path)))
