"""One format per stream: results on stdout, errors/logs/progress on stderr, --json everywhere."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from floe_core.cli import main
from floe_core.ingestion import IngestionResult
from floe_core.plugin import IngestionPipeline
from floe_core.registry import PluginRegistry
from floe_core_tests._fakes import FakePlugin

MANIFEST = """
plugins: {ingestion: {type: fake, retry: {max_attempts: 1}}}
observability: {logs: {format: json}}
"""

PROJECT = """
ingestion:
  sources:
    - name: orders
      type: memory
      config: {rows: 5}
      destination: {table: bronze.orders}
    - name: broken
      type: memory
      config: {invalid: true}
      destination: {table: bronze.broken}
"""


class WarningPlugin(FakePlugin):
    """Like the fake, but its run() calls warnings.warn, as dlt and pyarrow do."""

    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        warnings.warn("a library is unhappy", UserWarning, stacklevel=1)
        return super().run(pipeline, **kwargs)


def invoke(*args: str) -> Result:
    registry = PluginRegistry(entry_points=[])
    registry.register("fake", WarningPlugin)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite turns warnings into errors
        return CliRunner().invoke(main, list(args), obj={"registry": registry})


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "platform-manifest.yaml").write_text(textwrap.dedent(MANIFEST))
    (tmp_path / "floe.yaml").write_text(textwrap.dedent(PROJECT))
    return tmp_path


def test_ingest_off_a_terminal_writes_only_json_lines_to_stderr(workdir: Path) -> None:
    result = invoke("ingest", "floe.yaml")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    names = [e["event"] for e in events]
    assert "source_started" in names and "source_finished" in names
    warned = [e for e in events if e.get("logger") == "py.warnings"]
    assert len(warned) == 1 and "a library is unhappy" in warned[0]["event"]
    assert not any(line.startswith(("→", "✓", "✗")) for line in lines)


def test_ingest_at_a_terminal_shows_progress_and_no_info_logs(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("floe_core.cli._terminal", lambda: True)
    (workdir / "platform-manifest.yaml").write_text(
        "plugins: {ingestion: {type: fake, retry: {max_attempts: 1}}}\n"
    )
    result = invoke("ingest", "floe.yaml")
    assert result.exit_code == 2
    assert "→ orders: loading …" in result.stderr
    assert "✓ orders: 5 rows" in result.stderr
    assert "source_started" not in result.stderr and "source_finished" not in result.stderr
    assert "orders" in result.stdout and "bronze.orders" in result.stdout  # the summary
    verbose = invoke("ingest", "floe.yaml", "--log-level", "info")
    assert "source_started" in verbose.stderr and "→ orders: loading …" in verbose.stderr


def test_validate_puts_results_on_stdout_and_every_error_on_stderr(workdir: Path) -> None:
    result = invoke("validate", "floe.yaml")
    assert result.exit_code == 2
    assert result.stdout == "✓ orders: memory → bronze.orders\n"
    assert "✗ broken: [INVALID_CONFIG]" in result.stderr
    missing = invoke("validate", "nosuch.yaml")
    assert missing.exit_code == 2 and missing.stdout == ""
    assert "nosuch.yaml: floe.yaml not found" in missing.stderr


def test_validate_json(workdir: Path) -> None:
    result = invoke("validate", "floe.yaml", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["warnings"] == []
    orders, broken = report["sources"]
    assert orders == {
        "source": "orders",
        "source_type": "memory",
        "destination_table": "bronze.orders",
        "valid": True,
        "error": None,
    }
    assert broken["valid"] is False
    assert broken["error"]["code"] == "INVALID_CONFIG"
    assert broken["error"]["category"] == "CONFIGURATION"
    bad = invoke("validate", "nosuch.yaml", "--json")
    assert json.loads(bad.stdout)["error"]["code"] == "INVALID_CONFIG"


def test_plugins_sources_and_health_json(workdir: Path) -> None:
    plugins = invoke("plugins", "--json")
    assert plugins.exit_code == 0
    [row] = json.loads(plugins.stdout)
    assert row["name"] == "fake" and row["status"] == "ok" and row["kind"] == "embedded"
    sources = invoke("sources", "--json")
    assert json.loads(sources.stdout) == [
        {"plugin": "fake", "source_types": ["memory", "sql_database"]}
    ]
    health = invoke("health", "--json", "--timeout", "3")
    assert health.exit_code == 0
    report = json.loads(health.stdout)
    assert report["plugin"] == "fake" and report["state"] == "healthy"
    assert report["message"] == "ok within 3.0"
    assert "warehouse" in report["details"]["catalog_not_created"]


def test_health_and_validate_create_no_warehouse(workdir: Path) -> None:
    """The embedded catalog is created by the first load, not by a check."""
    assert invoke("health").exit_code == 0
    assert invoke("validate", "floe.yaml").exit_code == 2
    assert not (workdir / "warehouse").exists()
    # what health's and validate's plugins were given
    assert [c.uri for c in FakePlugin.seen_catalogs] == ["sqlite:///:memory:"] * 2
    FakePlugin.reset()
    invoke("ingest", "floe.yaml", "--source", "orders")
    [catalog] = FakePlugin.seen_catalogs
    assert catalog.uri == f"sqlite:///{workdir / 'warehouse' / 'catalog.db'}"


def test_json_logs_at_a_terminal_get_no_progress_lines(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest asks for JSON: even at a terminal, standard error stays JSON only."""
    monkeypatch.setattr("floe_core.cli._terminal", lambda: True)
    result = invoke("ingest", "floe.yaml", "--log-level", "info")
    assert result.exit_code == 2
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert "source_finished" in [e["event"] for e in events]


def test_real_dlt_health_and_validate_leave_an_empty_folder_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the installed dlt plugin and the embedded catalog: nothing appears on disk."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "floe.yaml").write_text(
        textwrap.dedent(
            """
            ingestion:
              sources:
                - name: orders
                  type: rest_api
                  config:
                    client: {base_url: "http://127.0.0.1:1"}
                    resources: [orders]
                  destination: {table: bronze.orders}
            """
        )
    )
    health = CliRunner().invoke(main, ["health", "--json"])
    assert health.exit_code == 0, health.output
    assert json.loads(health.stdout)["details"]["catalog_not_created"].startswith(
        str(tmp_path / "warehouse")
    )
    validate = CliRunner().invoke(main, ["validate", "floe.yaml"])
    assert validate.exit_code == 0, validate.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["floe.yaml"]


def test_real_dlt_ingest_failing_on_the_source_creates_no_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "floe.yaml").write_text(
        textwrap.dedent(
            f"""
            ingestion:
              sources:
                - name: orders
                  type: sql_database
                  config:
                    connection_string: "sqlite:///{tmp_path}/source.db"
                    tables: [nosuch]
                  destination: {{table: bronze.orders}}
            """
        )
    )
    import sqlite3

    sqlite3.connect(tmp_path / "source.db").close()
    result = CliRunner().invoke(main, ["ingest", "floe.yaml", "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)[0]["errors"][0]["category"] == "CONFIGURATION"
    assert not (tmp_path / "warehouse").exists()
