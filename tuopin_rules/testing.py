"""A pytest plugin that collects ``*.cases.yaml`` files: one test item per case, plus one for the file's
rule coverage. Enable it with ``-p tuopin_rules.testing`` or ``pytest_plugins`` in a root conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuopin_rules.cases import FileResult, run_case_file

__all__ = ["pytest_collect_file"]


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """Collect ``*.cases.yaml`` files."""
    if file_path.name.endswith(".cases.yaml"):
        return CaseFileItem.from_parent(parent, path=file_path)
    return None


class CaseFileItem(pytest.File):
    """A case file: runs once, yields one item per case and one for coverage."""

    def collect(self) -> Iterator[pytest.Item]:
        result = run_case_file(self.path)
        if result.problems:
            yield CaseItem.from_parent(self, name="load", failures=[d.render() for d in result.problems])
            return
        for case in result.cases:
            yield CaseItem.from_parent(self, name=f"{case.name} (line {case.line})", failures=case.failures)
        yield CoverageItem.from_parent(self, name="rule coverage", result=result)


class CaseItem(pytest.Item):
    """One case of a case file."""

    def __init__(self, *, failures: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures

    def runtest(self) -> None:
        if self.failures:
            raise CaseFailed(self.failures)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return "\n".join(excinfo.value.failures)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class CoverageItem(CaseItem):
    """Every rule of the standard has a PASS and a FAIL case."""

    def __init__(self, *, result: FileResult, **kwargs: Any) -> None:
        super().__init__(failures=result.uncovered, **kwargs)


class CaseFailed(Exception):
    """Expectations of a case that did not hold."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("\n".join(failures))
        self.failures = failures
