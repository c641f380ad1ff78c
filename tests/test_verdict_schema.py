"""The verdict JSON is a contract: its JSON Schema is pinned by a golden file, and one verdict too.

To accept an intended change of shape: bump verdicts.SCHEMA_VERSION, then run
``TUOPIN_UPDATE_GOLDEN=1 python -m pytest tests/test_verdict_schema.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tuopin_rules import Engine, Outcome, Verdict
from tuopin_rules.verdicts import SCHEMA_VERSION

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TUOPIN_UPDATE_GOLDEN") == "1"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{name} changed; see this module's docstring"


def test_verdict_json_schema_is_pinned() -> None:
    schema = Verdict.json_schema()
    _check("verdict.schema.json", json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def test_one_verdict_is_pinned(engine: Engine) -> None:
    verdict = engine.evaluate(
        "household",
        {
            "户编号": "0012",
            "脱贫状态": "已脱贫",
            "人均纯收入": "3650",
            "不愁吃": "是",
            "不愁穿": "是",
            "危房级别": "C级",
            "members": [{"人编号": "001", "证件号码": "11010519491231002X", "是否参加城乡居民基本医疗保险": "是"}],
        },
        as_of=2020,
    )
    assert verdict.schema_version == SCHEMA_VERSION
    text = verdict.to_json(indent=2) + "\n"
    _check("verdict-household-0012.json", text.replace(engine.standard.content_hash, "sha256:<content hash>"))


def test_json_layouts_agree_with_the_json_module(engine: Engine) -> None:
    """Compact lines have no spaces between tokens; ``indent=2`` is the json module's layout, byte for byte."""
    verdict = engine.evaluate(
        "household", {"户编号": "0012", "脱贫状态": "已脱贫", "人均纯收入": "5,230.5"}, as_of=2020
    )
    data = verdict.to_dict()
    assert verdict.to_json() == json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert verdict.to_json(indent=2) == json.dumps(data, ensure_ascii=False, indent=2)
    assert json.loads(verdict.to_json())["results"][0]["evidence"][1]["value"] == "5230.5"


def test_only_keeps_the_results_asked_for(engine: Engine) -> None:
    verdict = engine.evaluate("household", {"户编号": "0012", "脱贫状态": "已脱贫", "人均纯收入": "3650"}, as_of=2020)
    failed = verdict.only({Outcome.FAIL})
    assert [r.rule_id for r in failed.results] == ["household.income"]
    assert failed.outcome is verdict.outcome and len(verdict.results) > 1
