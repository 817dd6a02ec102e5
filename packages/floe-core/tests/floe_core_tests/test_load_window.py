"""Load windows: floe.yaml partitions, LoadWindow, and the core supports_window check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import Result
from pydantic import ValidationError

from floe_core import FloeProject, LoadWindow
from floe_core._loader import ConfigFileError
from floe_core_tests._fakes import FakePlugin, run_project

PROJECT = """
ingestion:
  sources:
    - name: plain
      type: memory
      destination: {table: bronze.plain}
    - name: daily
      type: memory
      destination: {table: bronze.daily}
      partitions: {schedule: daily, start: 2026-03-01, column: updated_at}
"""


class WindowedFakePlugin(FakePlugin):
    """A fake plugin that can load windows."""

    def supports_window(self, source_type: str) -> bool:
        return True


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugin: type, *args: str) -> Result:
    return run_project(tmp_path, monkeypatch, PROJECT, *args, plugin=plugin)


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_a_plugin_without_windows_rejects_a_partitioned_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    result = run(tmp_path, monkeypatch, FakePlugin, command)
    assert result.exit_code == 2, result.output
    shown = result.stderr if command == "validate" else result.stdout
    assert "floe.yaml: ingestion.sources[1].partitions: plugin 'fake' cannot load" in shown
    assert "create:daily" not in FakePlugin.calls  # checked before create_pipeline
    assert "create:plain" in FakePlugin.calls


def test_a_plugin_with_windows_accepts_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tmp_path, monkeypatch, WindowedFakePlugin, "validate")
    assert result.exit_code == 0, result.output
    assert "create:daily" in FakePlugin.calls


def test_the_default_is_no_windows() -> None:
    assert FakePlugin().supports_window("memory") is False


def _project(tmp_path: Path, partitions: str, disposition: str = "append") -> FloeProject:
    path = tmp_path / "floe.yaml"
    path.write_text(
        "ingestion:\n  sources:\n    - name: s\n      type: memory\n"
        f"      destination: {{table: bronze.s, write_disposition: {disposition}}}\n"
        f"      partitions: {partitions}\n"
    )
    return FloeProject.load(path)


def test_partitions_block_is_validated(tmp_path: Path) -> None:
    spec = _project(tmp_path, "{schedule: hourly, start: 2026-03-01, column: ts}").sources[0]
    assert spec.partitions is not None
    assert spec.partitions.start == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    with pytest.raises(ConfigFileError, match=r"ingestion\.sources\[0\]\.partitions\.schedule"):
        _project(tmp_path, "{schedule: weekly, start: 2026-03-01, column: ts}")
    with pytest.raises(ConfigFileError, match=r"ingestion\.sources\[0\]\.partitions\.column"):
        _project(tmp_path, "{schedule: daily, start: 2026-03-01}")
    with pytest.raises(ConfigFileError, match=r"sources\[0\]\.partitions: partitions replace"):
        _project(tmp_path, "{schedule: daily, start: 2026-03-01, column: ts}", "merge")


def test_load_window_is_utc_and_ordered() -> None:
    window = LoadWindow(column="ts", start=dt.datetime(2026, 3, 1), end=dt.datetime(2026, 3, 2))
    assert window.start.tzinfo is dt.UTC
    with pytest.raises(ValidationError, match="not after its start"):
        LoadWindow(column="ts", start=dt.datetime(2026, 3, 2), end=dt.datetime(2026, 3, 1))
