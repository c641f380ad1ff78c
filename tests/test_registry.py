"""Finding standards: bundled, folders (option and environment), and plug-ins through entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tuopin_rules import Engine, Outcome, StandardError, StandardNotFoundError, load_standard, registry
from tuopin_rules.cli import main
from tuopin_rules.expr.functions import FUNCTIONS

PLUGIN = Path(__file__).parent / "fixtures" / "plugin"


@pytest.fixture
def plugin_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fixture package as pip would leave it: the package and its .dist-info on sys.path."""
    monkeypatch.syspath_prepend(str(PLUGIN))
    registry._reset_for_tests()
    yield
    FUNCTIONS.pop("double", None)
    registry._reset_for_tests()
    sys.modules.pop("tuopin_plugin_demo", None)


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    registry._reset_for_tests()
    yield
    registry._reset_for_tests()


def test_plugin_standard_and_function_through_entry_points(plugin_installed: None) -> None:
    found = {s.id: s for s in registry.installed()}
    assert found["demo-plugin"].origin == "tuopin-plugin-demo"
    assert found["cn-national"].origin == "bundled"
    standard = load_standard("demo-plugin")
    v = Engine(standard).evaluate("household", {"户编号": "1", "人均纯收入": "4000.5"}, 2020)
    assert v.results[0].outcome is Outcome.PASS  # double(4000.5) = 8001 > 8000
    assert "double" in registry.load_plugin_functions()


def test_without_the_plugin_its_function_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text((PLUGIN / "tuopin_plugin_demo" / "standards" / "demo-plugin.yaml").read_text(encoding="utf-8"))
    with pytest.raises(StandardError) as info:
        load_standard(path)
    assert info.value.diagnostics[0].code == "unknown-function"
    with pytest.raises(StandardNotFoundError):
        load_standard("demo-plugin")


def test_folder_from_environment_and_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    text = (Path(__file__).parent.parent / "rulesets" / "cn-national.yaml").read_text(encoding="utf-8")
    (folder / "my-standard.yaml").write_text(text.replace("standard: cn-national", "standard: my-standard"))
    (folder / "my-standard.cases.yaml").write_text("cases: []\n")
    monkeypatch.setenv(registry.ENV_VAR, str(folder))
    found = {s.id: s.origin for s in registry.installed()}
    assert found["my-standard"] == "env" and "my-standard.cases" not in found
    monkeypatch.delenv(registry.ENV_VAR)
    result = CliRunner().invoke(main, ["--standards-path", str(folder), "standards"])
    assert result.exit_code == 0
    assert "my-standard" in result.stdout and " path " in result.stdout


def test_an_id_in_a_path_folder_shadows_the_bundled_one(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "rulesets" / "cn-national.yaml").read_text(encoding="utf-8")
    (tmp_path / "cn-national.yaml").write_text(text.replace('version: "2016.1"', 'version: "local"'))
    registry.add_standards_path(tmp_path)
    assert load_standard("cn-national").version == "local"


def test_a_local_standard_may_extend_the_bundled_one_of_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "cn-national.yaml").write_text(
        "standard: cn-national\ntitle: {zh: 本地}\nversion: local\nextends: cn-national\n"
        "override:\n  parameters:\n    poverty_line: {values: {2020: 4100}}\n",
        encoding="utf-8",
    )
    registry.add_standards_path(tmp_path)
    standard = load_standard("cn-national")
    assert standard.version == "local" and len(standard.files) == 2
    assert standard.files[0].endswith("rulesets/cn-national.yaml")


def test_a_standard_is_found_by_the_id_it_declares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """prov-a.yaml saying standard: myprov was listed as prov-a and -s myprov failed."""
    (tmp_path / "prov-a.yaml").write_text(
        "standard: myprov\ntitle: {zh: 某省}\nversion: '1'\nextends: cn-national\n", encoding="utf-8"
    )
    monkeypatch.setenv(registry.ENV_VAR, str(tmp_path))
    assert registry.find_standard("prov-a") == tmp_path / "prov-a.yaml"
    assert registry.find_standard("myprov") == tmp_path / "prov-a.yaml"
    assert load_standard("myprov").id == "myprov"
    with pytest.raises(registry.StandardNotFoundError):
        registry.find_standard("otherprov")
