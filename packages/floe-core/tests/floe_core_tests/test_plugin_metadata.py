"""Plugin metadata are class attributes; older property-style plugins keep working."""

from __future__ import annotations

import importlib.metadata
from importlib.metadata import EntryPoint
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from floe_core import ErrorCode, PipelineConfigurationError, PluginError
from floe_core.cli import main
from floe_core.plugin import NoConfig
from floe_core.registry import PluginRegistry
from floe_core_tests._fakes import LegacyPropertyPlugin, MinimalPlugin

FAKES = "floe_core_tests._fakes"


def ep(name: str, target: str, dist: str = "floe-fake", version: str = "9.9.9") -> EntryPoint:
    point = EntryPoint(name, f"{FAKES}:{target}", "floe.ingestion")
    point._for(SimpleNamespace(name=dist, version=version))  # type: ignore[arg-type]
    return point


def test_metadata_is_readable_on_the_class_in_both_styles() -> None:
    assert (MinimalPlugin.name, MinimalPlugin.floe_api_version) == ("minimal", "1.0")
    assert MinimalPlugin.is_external is False  # the default
    assert (LegacyPropertyPlugin.name, LegacyPropertyPlugin.version) == ("legacy", "3.2.1")
    assert LegacyPropertyPlugin.floe_api_version == "1.0"
    assert LegacyPropertyPlugin.is_external is True
    # and on instances, as before
    legacy = LegacyPropertyPlugin()
    assert (legacy.name, legacy.version, legacy.is_external) == ("legacy", "3.2.1", True)


def test_version_defaults_to_the_distribution_version() -> None:
    # floe_core_tests ships in no distribution of its own: nothing to find
    assert MinimalPlugin.version == "unknown"
    from floe_ingestion_airbyte.plugin import AirbyteIngestionPlugin

    installed = importlib.metadata.version("floe-ingestion-airbyte")
    assert AirbyteIngestionPlugin.version == installed
    assert AirbyteIngestionPlugin.is_external is True and AirbyteIngestionPlugin.name == "airbyte"


def test_the_registry_reads_both_styles_and_the_entry_points_version() -> None:
    registry = PluginRegistry(
        entry_points=[ep("minimal", "MinimalPlugin"), ep("legacy", "LegacyPropertyPlugin")]
    )
    minimal, legacy = registry.describe("minimal"), registry.describe("legacy")
    assert (minimal.version, minimal.floe_api_version, minimal.is_external) == (
        "9.9.9",
        "1.0",
        False,
    )
    assert (legacy.version, legacy.floe_api_version, legacy.is_external) == ("3.2.1", "1.0", True)
    assert registry.get("legacy") is LegacyPropertyPlugin


def test_floe_plugins_lists_both_styles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    registry = PluginRegistry(
        entry_points=[ep("minimal", "MinimalPlugin"), ep("legacy", "LegacyPropertyPlugin")]
    )
    result = CliRunner().invoke(main, ["plugins"], obj={"registry": registry})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "9.9.9" in rows["minimal"] and "embedded" in rows["minimal"]
    assert "3.2.1" in rows["legacy"] and "external" in rows["legacy"]


def test_a_plugin_without_a_name_is_incompatible() -> None:
    registry = PluginRegistry(entry_points=[ep("nameless", "NamelessPlugin")])
    with pytest.raises(PluginError) as info:
        registry.get("nameless")
    assert info.value.code is ErrorCode.PLUGIN_INCOMPATIBLE
    assert "NamelessPlugin declares no name; add name = 'nameless'" in info.value.message


def test_a_plugin_without_settings_takes_an_empty_config_only() -> None:
    assert MinimalPlugin().get_config_schema() is NoConfig
    with pytest.raises(PipelineConfigurationError, match="unknown key 'greeting'"):
        MinimalPlugin({"greeting": "hi"})
