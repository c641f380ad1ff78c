"""Shared fixtures: the bundled standard, an engine, and small inline standards."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tuopin_rules import Engine, Standard, load_standard
from tuopin_rules.compile import load_standard_text

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo-county"
ANNOUNCEMENTS = ROOT / "examples" / "county-announcements" / "county_exit_announcements.csv"

HEADER = """\
standard: t
title: {zh: 测试, en: test}
version: "1"
sources:
  doc: {title: 测试文件, issuer: 测试, date: "2020"}
"""


def inline_standard(body: str) -> Standard:
    """A standard from a YAML body appended to a minimal header (sources: doc)."""
    return load_standard_text(HEADER + textwrap.dedent(body), "inline.yaml")


@pytest.fixture(scope="session")
def national() -> Standard:
    return load_standard("cn-national")


@pytest.fixture(scope="session")
def engine(national: Standard) -> Engine:
    return Engine(national)
