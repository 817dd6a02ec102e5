"""Merge needs a key: one core check before create_pipeline, the plugin says what supplies one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from floe_core_tests._fakes import FakePlugin, KeyedFakePlugin, run_project

PROJECT = """
ingestion:
  sources:
    - name: keyed
      type: memory
      destination: {table: bronze.keyed, write_disposition: merge, primary_key: [id]}
    - name: from_db
      type: sql_database
      destination: {table: bronze.from_db, write_disposition: merge}
"""


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugin: type, *args: str) -> Result:
    return run_project(tmp_path, monkeypatch, PROJECT, *args, plugin=plugin)


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_merge_without_key_is_a_configuration_error_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    result = run(tmp_path, monkeypatch, FakePlugin, command)
    assert result.exit_code == 2, result.output
    shown = result.stderr if command == "validate" else result.stdout  # validate: errors on stderr
    assert (
        "floe.yaml: ingestion.sources[1].destination.primary_key: write_disposition 'merge' "
        "needs primary_key"
    ) in shown
    assert "create:from_db" not in FakePlugin.calls  # checked before create_pipeline
    assert "create:keyed" in FakePlugin.calls


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_a_plugin_whose_source_supplies_the_key_may_merge_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    result = run(tmp_path, monkeypatch, KeyedFakePlugin, command)
    assert result.exit_code == 0, result.output
    assert "create:from_db" in FakePlugin.calls


def test_the_default_is_that_no_source_supplies_a_key() -> None:
    plugin = FakePlugin()
    assert plugin.source_supplies_primary_key("sql_database") is False
