"""The ``maintenance:`` settings (manifest, floe.yaml overrides) and the ``floe.commands`` group."""

from __future__ import annotations

import importlib.metadata
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from floe_core import cli
from floe_core._loader import ConfigFileError
from floe_core.maintenance import MaintenanceConfig, source_settings
from floe_core.manifest import PlatformManifest
from floe_core.project import FloeProject

PROJECT = """
ingestion:
  sources:
    - name: people
      type: sql_database
      destination: {table: bronze.people}
      maintenance: {small_file_threshold_bytes: 5000, orphan_window_days: "0"}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_are_the_documented_ones() -> None:
    settings = PlatformManifest.default().maintenance
    assert settings.target_file_size_bytes == 128 * 1024 * 1024
    assert settings.small_file_bytes == 32 * 1024 * 1024  # a quarter of the target
    assert (settings.snapshot_retention_days, settings.keep_last_snapshots) == (7.0, 5)
    assert settings.orphan_window_days == 3.0


def test_the_manifest_block_and_a_source_override_merge(tmp_path: Path) -> None:
    manifest = PlatformManifest.load(
        _write(tmp_path, "m.yaml", "maintenance: {target_file_size_bytes: 10000}\n")
    )
    project = FloeProject.load(_write(tmp_path, "floe.yaml", PROJECT))

    merged = source_settings(
        manifest.maintenance, project.sources[0].maintenance, file=project.file, index=0
    )

    assert merged.target_file_size_bytes == 10000  # from the manifest
    assert merged.small_file_bytes == 5000 and merged.orphan_window_days == 0  # overridden
    assert merged.snapshot_retention_days == 7.0  # the default
    assert merged.schedule is None  # no cron unless the manifest gives one


def test_the_manifest_schedule_is_a_checked_cron(tmp_path: Path) -> None:
    text = 'maintenance: {schedule: "30 2 * * sun"}\n'
    manifest = PlatformManifest.load(_write(tmp_path, "m.yaml", text))
    assert manifest.maintenance.schedule == "30 2 * * sun"
    with pytest.raises(ConfigFileError, match="has 4 field"):
        PlatformManifest.load(_write(tmp_path, "bad.yaml", 'maintenance: {schedule: "0 3 * *"}\n'))


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("{keep_last_snapshots: 0}", "maintenance.keep_last_snapshots"),
        ("{orphan_window_days: -1}", "maintenance.orphan_window_days"),
        ("{target_file_size_bytes: true}", "maintenance.target_file_size_bytes"),
        ("{retention: 3}", "maintenance.retention"),
        ('{schedule: "0 3 * *"}', "maintenance.schedule"),
        (
            "{target_file_size_bytes: 100, small_file_threshold_bytes: 200}",
            "maintenance.small_file_threshold_bytes",
        ),
    ],
)
def test_bad_manifest_settings_name_the_field(tmp_path: Path, block: str, field: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        PlatformManifest.load(_write(tmp_path, "m.yaml", f"maintenance: {block}\n"))
    assert caught.value.field == field


def test_an_override_inconsistent_with_the_manifest_names_the_source(tmp_path: Path) -> None:
    project = FloeProject.load(_write(tmp_path, "floe.yaml", PROJECT))
    platform = MaintenanceConfig(target_file_size_bytes=1000)

    with pytest.raises(ConfigFileError) as caught:
        source_settings(platform, project.sources[0].maintenance, file=project.file, index=0)

    assert caught.value.field == "ingestion.sources[0].maintenance"
    assert "must not exceed target_file_size_bytes" in caught.value.message


def test_floe_validate_rejects_the_inconsistent_override(tmp_path: Path) -> None:
    floe_yaml = _write(tmp_path, "floe.yaml", PROJECT)
    manifest = _write(tmp_path, "m.yaml", "maintenance: {target_file_size_bytes: 1000}\n")

    result = CliRunner().invoke(cli.main, ["validate", str(floe_yaml), "--manifest", str(manifest)])

    assert result.exit_code == cli.EXIT_CONFIG
    assert "ingestion.sources[0].maintenance" in result.output


@click.command("hello")
def hello() -> None:
    """Say hello (a command another package contributes)."""
    click.echo("hello from a package")


def _entry_points(monkeypatch: pytest.MonkeyPatch, *points: EntryPoint) -> None:
    def fake(*, group: str) -> list[EntryPoint]:
        assert group == cli.COMMANDS_GROUP
        return list(points)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)


def test_an_installed_command_joins_floe(monkeypatch: pytest.MonkeyPatch) -> None:
    here = f"{__name__}:hello"
    _entry_points(
        monkeypatch,
        EntryPoint("hello", here, cli.COMMANDS_GROUP),
        EntryPoint("ingest", here, cli.COMMANDS_GROUP),  # floe's own name is never replaced
    )

    listed = CliRunner().invoke(cli.main, ["--help"])
    ran = CliRunner().invoke(cli.main, ["hello"])
    ingest = CliRunner().invoke(cli.main, ["ingest", "--help"])

    assert "hello" in listed.output and ran.exit_code == 0
    assert ran.output == "hello from a package\n"
    assert "Load the sources of FLOE_YAML" in ingest.output


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("floe_core_tests.no_such_module:cmd", "PLUGIN_LOAD_FAILED"),
        (f"{__name__}:PROJECT", "PLUGIN_INCOMPATIBLE"),
    ],
)
def test_a_broken_installed_command_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str, code: str
) -> None:
    _entry_points(monkeypatch, EntryPoint("broken", value, cli.COMMANDS_GROUP))

    result = CliRunner().invoke(cli.main, ["broken"])

    assert result.exit_code == cli.EXIT_CONFIG
    assert code in result.output and "'broken'" in result.output
