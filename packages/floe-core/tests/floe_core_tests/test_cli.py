from __future__ import annotations

import json
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from floe_core.cli import main
from floe_core.registry import PluginRegistry
from floe_core_tests._fakes import FakePlugin, fake_registry

MANIFEST = """
plugins:
  ingestion:
    type: fake
    retry: {max_attempts: 2, initial_delay_seconds: 0, max_delay_seconds: 0}
observability:
  logs: {format: json, level: WARNING}
"""

GOOD = """
ingestion:
  sources:
    - name: orders
      type: memory
      config: {rows: 1234}
      destination: {table: bronze.orders}
    - name: flaky
      type: memory
      config: {rows: 2, fail: [SOURCE_UNAVAILABLE]}
      destination: {table: bronze.flaky}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "platform-manifest.yaml").write_text(textwrap.dedent(MANIFEST))
    return tmp_path


def write(folder: Path, text: str, name: str = "floe.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def invoke(*args: str, registry: PluginRegistry | None = None) -> Result:
    if registry is None:
        registry = fake_registry()
    return CliRunner().invoke(main, list(args), obj={"registry": registry})


def test_ingest_success_prints_summary_and_exits_0(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("floe_core.cli._terminal", lambda: True)  # progress is for people
    manifest = workdir / "platform-manifest.yaml"  # ...reading text logs, not JSON
    manifest.write_text(manifest.read_text().replace("format: json, ", ""))
    result = invoke("ingest", str(write(workdir, GOOD)))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "orders" in out and "bronze.orders" in out and "1,234" in out
    assert "flaky" in out and "ok" in out
    assert "→ orders: loading" in result.stderr
    assert "↻ flaky: attempt 1 failed (SOURCE_UNAVAILABLE)" in result.stderr
    assert "✓ orders: 1,234 rows" in result.stderr


def test_ingest_json_output(workdir: Path) -> None:
    result = invoke("ingest", str(write(workdir, GOOD)), "--json", "--source", "flaky")
    assert result.exit_code == 0
    [flaky] = json.loads(result.stdout)
    assert flaky["source"] == "flaky" and flaky["attempts"] == 2 and flaky["success"] is True


def test_ingest_runtime_failure_exits_1(workdir: Path) -> None:
    text = GOOD.replace("fail: [SOURCE_UNAVAILABLE]", "fail: [AUTH_FAILED]")
    result = invoke("ingest", str(write(workdir, text)))
    assert result.exit_code == 1
    assert "AUTH_FAILED" in result.stdout and "failed" in result.stdout
    assert "flaky: [PERMANENT/AUTH_FAILED] scripted failure" in result.stdout


def test_ingest_source_configuration_failure_exits_2(workdir: Path) -> None:
    text = GOOD.replace("fail: [SOURCE_UNAVAILABLE]", "invalid: true")
    result = invoke("ingest", str(write(workdir, text)), "--json")
    assert result.exit_code == 2
    orders, flaky = json.loads(result.stdout)
    assert orders["success"] and flaky["errors"][0]["code"] == "INVALID_CONFIG"


def test_ingest_unknown_plugin_exits_2(workdir: Path) -> None:
    manifest = write(workdir, MANIFEST.replace("type: fake", "type: fkae"), "m.yaml")
    result = invoke("ingest", str(write(workdir, GOOD)), "--manifest", str(manifest), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "PLUGIN_NOT_FOUND"
    assert "plugins.ingestion.type" in result.stderr and "did you mean 'fake'" in result.stderr


def test_ingest_unknown_source_exits_2(workdir: Path) -> None:
    result = invoke("ingest", str(write(workdir, GOOD)), "--source", "ordrs")
    assert result.exit_code == 2 and "did you mean 'orders'" in result.stderr


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            GOOD.replace("table: bronze.flaky", "table: flaky"),
            "ingestion.sources[1].destination.table",
        ),
        (
            GOOD.replace("type: memory\n      config: {rows: 1234}", "typ: memory"),
            "ingestion.sources[0].typ",
        ),
        ("ingestion:\n  sources: {}\n", "ingestion.sources"),
        (
            GOOD.replace("rows: 1234", "rows: '${NOT_SET_FOR_FLOE_TESTS}'"),
            "ingestion.sources[0].config.rows",
        ),
    ],
)
def test_malformed_floe_yaml_exits_2_naming_the_field(workdir: Path, text: str, field: str) -> None:
    path = write(workdir, text)
    result = invoke("ingest", str(path))
    assert result.exit_code == 2, result.output
    assert field in result.stderr and str(path) in result.stderr
    assert result.stdout == ""


def test_malformed_manifest_exits_2_naming_the_field(workdir: Path) -> None:
    manifest = write(workdir, MANIFEST.replace("max_attempts: 2", "max_attempts: many"), "m.yaml")
    result = invoke("validate", str(write(workdir, GOOD)), "--manifest", str(manifest))
    assert result.exit_code == 2
    assert "plugins.ingestion.retry.max_attempts" in result.stderr


def test_missing_floe_yaml_exits_2(workdir: Path) -> None:
    result = invoke("ingest", "nope.yaml")
    assert result.exit_code == 2 and "not found" in result.stderr


def test_without_manifest_file_uses_default_dlt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", str(write(tmp_path, GOOD)))
    assert result.exit_code == 2
    assert "no ingestion plugin named 'dlt'" in result.stderr


def test_validate_ok_and_bad(workdir: Path) -> None:
    result = invoke("validate", str(write(workdir, GOOD)))
    assert result.exit_code == 0, result.output
    assert "✓ orders: memory → bronze.orders" in result.stdout
    assert FakePlugin.attempts == {}
    bad = GOOD.replace(
        "type: memory\n      config: {rows: 2", "type: nosuch\n      config: {rows: 2"
    )
    path = write(workdir, bad)
    FakePlugin.reset()
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert (
        f"✗ flaky: [INVALID_CONFIG] {path}: ingestion.sources[1].type: source type 'nosuch' is "
        "not implemented by plugin 'fake' (its source types: memory, sql_database; "
        "`floe sources` lists every plugin's)\n"
    ) in result.stderr  # errors on stderr, results on stdout
    assert FakePlugin.calls.count("create:flaky") == 0  # rejected before the plugin is asked


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_plugin_config_error_names_file_and_field(workdir: Path, command: str) -> None:
    """The fake names no field: the message points at the source."""
    path = write(workdir, GOOD.replace("fail: [SOURCE_UNAVAILABLE]", "invalid: true"))
    result = invoke(command, str(path))
    assert result.exit_code == 2, result.output
    line = (
        f"[INVALID_CONFIG] {path}: ingestion.sources[1]: source config field 'invalid' must "
        "not be true"
    )
    # validate reports errors on stderr; ingest's summary (its result) is on stdout
    shown = result.stderr if command == "validate" else result.stdout
    assert line in shown.replace("[CONFIGURATION/INVALID_CONFIG]", "[INVALID_CONFIG]")


def test_real_dlt_config_typo_names_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    project = write(
        tmp_path,
        """
        ingestion:
          sources:
            - name: orders
              type: sql_database
              config: {connection_string: "sqlite:///${FLOE_PROJECT_DIR}/x.db", tabels: [a]}
              destination: {table: bronze.orders}
            - name: typo
              type: sql_databse
              config: {connection_string: "sqlite:///${FLOE_PROJECT_DIR}/x.db"}
              destination: {table: bronze.typo}
        """,
    )
    for command in ("validate", "ingest"):
        result = CliRunner().invoke(main, [command, str(project)])
        assert result.exit_code == 2, result.output
        shown = result.stderr if command == "validate" else result.stdout
        assert (
            f"{project}: ingestion.sources[0].config.tabels: source 'orders' (sql_database): "
            "tabels: unknown key 'tabels'; did you mean 'tables'?"
        ) in shown
        assert (
            f"{project}: ingestion.sources[1].type: source type 'sql_databse' is not "
            "implemented by plugin 'dlt'; did you mean 'sql_database'?"
        ) in shown


def test_plugins_lists_kind_and_broken_ones(workdir: Path) -> None:
    broken = EntryPoint("broken", "floe_core_tests._broken_import:Plugin", "floe.ingestion")
    registry = PluginRegistry(entry_points=[broken])
    registry.register("fake", FakePlugin, distribution="floe-fake")
    result = invoke("plugins", registry=registry)
    assert result.exit_code == 1
    assert "error [PLUGIN_LOAD_FAILED] " in result.stderr
    assert "floe_core_tests._broken_import:Plugin" in result.stderr
    fake_row = next(line for line in result.stdout.splitlines() if " fake " in line)
    assert "0.0.1" in fake_row and "floe-fake" in fake_row and "embedded" in fake_row
    broken_row = next(line for line in result.stdout.splitlines() if " broken " in line)
    assert "PLUGIN_LOAD_FAILED" in broken_row


def test_plugins_with_real_installed_entry_points() -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "floe-ingestion-dlt" in result.stdout and "floe-ingestion-airbyte" in result.stdout


def test_sources_lists_types(workdir: Path) -> None:
    result = invoke("sources")
    assert result.exit_code == 0
    assert "memory, sql_database" in result.stdout


def test_health(workdir: Path) -> None:
    result = invoke("health", "--timeout", "3")
    assert result.exit_code == 0
    assert "fake: healthy ok within 3.0" in result.stdout
    assert FakePlugin.calls == ["startup", "shutdown"]


def test_health_startup_failure_exits_1(workdir: Path) -> None:
    write(
        workdir,
        MANIFEST.replace("type: fake", "type: fake\n    config: {fail_startup: true}"),
        "platform-manifest.yaml",
    )
    result = invoke("health")
    assert result.exit_code == 1 and "SOURCE_UNAVAILABLE" in result.stderr


def test_validate_checks_the_live_source_unless_offline(workdir: Path) -> None:
    path = write(workdir, GOOD.replace("config: {rows: 1234}", "config: {no_column: ts}"))
    result = invoke("validate", str(path))
    assert result.exit_code == 2, result.output
    assert (
        f"✗ orders: [INVALID_CONFIG] {path}: ingestion.sources[0].incremental.cursor_field: "
        "cursor column 'ts' is not in the source"
    ) in result.stderr
    assert "check:orders:10.0" in FakePlugin.calls and "check:flaky:10.0" in FakePlugin.calls

    FakePlugin.reset()
    result = invoke("validate", str(path), "--offline")
    assert result.exit_code == 0, result.output
    assert not [c for c in FakePlugin.calls if c.startswith("check:")]
    assert "create:orders" in FakePlugin.calls


def test_validate_plugin_bug_exits_1(workdir: Path) -> None:
    text = GOOD.replace("config: {rows: 1234}", "config: {explode_create: true}")
    result = invoke("validate", str(write(workdir, text)))
    assert result.exit_code == 1
    assert "✗ orders: [INTERNAL_ERROR]" in result.stderr and "create_pipeline bug" in result.stderr


@pytest.mark.parametrize("command", ["validate", "ingest"])
@pytest.mark.parametrize("value", ["5", "[a, b]"])
def test_secrets_dir_not_a_path_exits_2(workdir: Path, command: str, value: str) -> None:
    manifest = write(workdir, MANIFEST + f"secrets_dir: {value}\n", "m.yaml")
    result = invoke(command, str(write(workdir, GOOD)), "--manifest", str(manifest))
    assert result.exit_code == 2, result.output
    assert f"{manifest}: secrets_dir: must be a folder path (a string), not a " in result.stderr
    assert "INTERNAL_ERROR" not in result.output


@pytest.mark.parametrize("command", ["validate", "ingest"])
@pytest.mark.parametrize(
    ("transport", "cause"),
    [("{type: bogus}", "Failed to import bogus"), ("{type: http}", "`url` key not passed")],
)
def test_bad_lineage_transport_exits_2_in_validate_and_ingest(
    workdir: Path, command: str, transport: str, cause: str
) -> None:
    text = MANIFEST + f"  lineage: {{enabled: true, transport: {transport}}}\n"
    manifest = write(workdir, text, "m.yaml")
    result = invoke(command, str(write(workdir, GOOD)), "--manifest", str(manifest))
    assert result.exit_code == 2, result.output
    assert f"{manifest}: observability.lineage.transport: the OpenLineage transport" in (
        result.stderr
    )
    assert cause in result.stderr and "INTERNAL_ERROR" not in result.output
    assert len(result.stderr.splitlines()) == 1  # one clear error, no openlineage noise
    assert FakePlugin.attempts == {} and "startup" not in FakePlugin.calls


def test_validate_reports_a_catalog_the_real_dlt_plugin_cannot_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = write(tmp_path, "catalog: {type: sql, uri: not-a-url}\n", "m.yaml")
    project = write(
        tmp_path,
        """
        ingestion:
          sources:
            - name: people
              type: sql_database
              config: {connection_string: "sqlite:///${FLOE_PROJECT_DIR}/src.db", tables: [people]}
              destination: {table: bronze.people}
        """,
    )
    for command in ("validate", "ingest"):
        result = CliRunner().invoke(main, [command, str(project), "--manifest", str(manifest)])
        assert result.exit_code == 2, result.output
        assert f"[DESTINATION_CONFIG_ERROR] {manifest}: catalog.uri for type 'sql' must be a" in (
            result.stderr
        )


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        (
            "max_attempts: 2",
            "max_attempts: true",
            "plugins.ingestion.retry.max_attempts: must be a whole number (got boolean)",
        ),
        (
            "logs: {format: json, level: WARNING}",
            'logs: {format: json, level: WARNING}\n  lineage: {enabled: "off"}',
            "observability.lineage.enabled: must be true or false (got a string other than "
            "true/false)",
        ),
    ],
)
def test_loose_bools_and_numbers_exit_2(workdir: Path, old: str, new: str, line: str) -> None:
    manifest = write(workdir, MANIFEST.replace(old, new), "m.yaml")
    result = invoke("validate", str(write(workdir, GOOD)), "--manifest", str(manifest))
    assert result.exit_code == 2, result.output
    assert f"error [INVALID_CONFIG] {manifest}: {line}\n" == result.stderr
