"""What ``floe ingest`` would reject as configuration, ``floe validate`` reports first."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from floe_core.cli import main
from floe_core_tests._fakes import FakePlugin, fake_registry

SOURCES = """
ingestion:
  sources:
    - name: orders
      type: memory
      config: {rows: 3}
      destination: {table: bronze.orders}
    - name: deep
      type: memory
      config: {rows: 2}
      destination: {table: bronze.sales.deep}
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), obj={"registry": fake_registry()})


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    floe_yaml(tmp_path)
    return tmp_path


def manifest(folder: Path, extra: str = "") -> Path:
    path = folder / "platform-manifest.yaml"
    text = "plugins: {ingestion: {type: fake, retry: {max_attempts: 1}}}\n"
    path.write_text(text + textwrap.dedent(extra))
    return path


def floe_yaml(folder: Path, text: str = SOURCES) -> Path:
    path = folder / "floe.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_nested_namespace_on_the_sql_catalog_is_configuration(workdir: Path, command: str) -> None:
    manifest(workdir)
    result = invoke(command, "floe.yaml")
    assert result.exit_code == 2, result.output
    expected = (
        "floe.yaml: ingestion.sources[1].destination.table: 'bronze.sales.deep' has the nested "
        "namespace 'bronze.sales', but the sql catalog (catalog.type) supports one-level "
        "namespaces only: write 'namespace.table'"
    )
    assert expected in result.stderr
    assert "INTERNAL_ERROR" not in result.output
    if command == "ingest":  # the other source still loads; the deep one never reaches the plugin
        assert FakePlugin.attempts == {"orders": 1}
        assert "create:deep" not in FakePlugin.calls


def test_nested_namespace_is_left_to_a_rest_catalog(workdir: Path) -> None:
    manifest(workdir, "catalog: {type: rest, uri: 'http://127.0.0.1:1'}\n")
    result = invoke("validate", "floe.yaml")
    assert result.exit_code == 0, result.output
    assert "✓ deep: memory → bronze.sales.deep" in result.stdout


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_s3_storage_without_path_is_configuration(workdir: Path, command: str) -> None:
    manifest(workdir, "storage: {type: s3, endpoint: 'http://127.0.0.1:9000'}\n")
    result = invoke(command, "floe.yaml")
    assert result.exit_code == 2, result.output
    assert (
        "platform-manifest.yaml: storage.path: storage type 's3' needs path, the data location "
        "as an s3:// URL (s3://bucket/prefix)" in result.stderr
    )
    assert FakePlugin.calls == []
    assert not (workdir / "warehouse").exists()


def test_s3_storage_with_an_s3_warehouse_needs_no_path(workdir: Path) -> None:
    manifest(
        workdir,
        "catalog: {type: sql, uri: 'sqlite:///cat.db', warehouse: 's3://lake/b'}\n"
        "storage: {type: s3, endpoint: 'http://127.0.0.1:9000'}\n",
    )
    floe_yaml(workdir, SOURCES.split("    - name: deep")[0])
    assert invoke("validate", "floe.yaml").exit_code == 0


@pytest.mark.parametrize("command", ["validate", "ingest"])
def test_missing_sql_driver_names_the_field_and_the_install(workdir: Path, command: str) -> None:
    """pg8000 is not installed here; postgresql+pg8000:// would fail at the first load."""
    manifest(workdir, "catalog: {type: sql, uri: 'postgresql+pg8000://u@127.0.0.1:5432/test'}\n")
    floe_yaml(workdir, SOURCES.split("    - name: deep")[0])
    result = invoke(command, "floe.yaml", "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["category"] == "CONFIGURATION"
    assert error["details"]["problems"] == [
        {
            "field": "catalog.uri",
            "message": "the SQLAlchemy driver 'pg8000' for 'postgresql' URLs is not installed "
            "(module 'pg8000'): pip install 'pg8000', or name an installed driver in the URL "
            "(postgresql+<driver>://...)",
        }
    ]
    assert FakePlugin.attempts == {}


def test_plain_postgresql_url_needs_psycopg(workdir: Path) -> None:
    manifest(workdir, "catalog: {type: sql, uri: 'postgresql://u@127.0.0.1:5432/test'}\n")
    floe_yaml(workdir, SOURCES.split("    - name: deep")[0])
    result = invoke("validate", "floe.yaml")
    assert result.exit_code == 2
    assert "catalog.uri: the SQLAlchemy driver 'psycopg'" in result.stderr
    assert "pip install 'psycopg[binary]'" in result.stderr


def test_installed_driver_passes(workdir: Path) -> None:
    manifest(workdir, "catalog: {type: sql, uri: 'postgresql+psycopg2://u@127.0.0.1/test'}\n")
    floe_yaml(workdir, SOURCES.split("    - name: deep")[0])
    assert invoke("validate", "floe.yaml").exit_code == 0


def test_unknown_dialect_is_configuration(workdir: Path) -> None:
    manifest(workdir, "catalog: {type: sql, uri: 'nosuchdb://h/x'}\n")
    floe_yaml(workdir, SOURCES.split("    - name: deep")[0])
    result = invoke("validate", "floe.yaml")
    assert result.exit_code == 2
    assert "catalog.uri: not a SQLAlchemy URL SQLAlchemy can use (NoSuchModuleError)" in (
        result.stderr
    )


def test_unencoded_at_in_userinfo_is_a_warning_naming_the_field(workdir: Path) -> None:
    manifest(workdir, "catalog: {type: rest, uri: 'http://svc:p@ss@127.0.0.1:1'}\n")
    floe_yaml(
        workdir,
        """
        ingestion:
          sources:
            - name: orders
              type: memory
              config: {rows: 3, dsn: "postgresql://app:s3cr@t!@127.0.0.1/db", ok: "a@b.c"}
              destination: {table: bronze.orders}
        """,
    )
    result = invoke("validate", "floe.yaml")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert [line.split(":")[1].strip() for line in lines] == [
        "ingestion.sources[0].config.dsn",
        "catalog.uri",
    ]
    assert "percent-encoded as %40" in lines[0]
    assert "s3cr" not in result.output and "p@ss" not in result.output
    as_json = json.loads(invoke("validate", "floe.yaml", "--json").stdout)
    assert [w["field"] for w in as_json["warnings"]] == [
        "ingestion.sources[0].config.dsn",
        "catalog.uri",
    ]


def test_overlong_names_are_refused_and_not_printed_whole(workdir: Path) -> None:
    manifest(workdir)
    one = SOURCES.split("    - name: deep")[0]
    long = "t" * 300
    floe_yaml(workdir, one.replace("bronze.orders", f"b.{long}"))
    result = invoke("validate", "floe.yaml")
    assert result.exit_code == 2
    shown = "b." + "t" * 38
    assert (
        f"ingestion.sources[0].destination.table: table name '{shown}...' is 300 "
        "bytes long; each name is at most 255 bytes (UTF-8), the catalog's limit"
    ) in result.stderr
    assert long not in result.output
    floe_yaml(workdir, one.replace("name: orders", f"name: {'s' * 256}"))
    result = invoke("validate", "floe.yaml")
    assert result.exit_code == 2
    assert "ingestion.sources[0].name: source name 'sss" in result.stderr
    assert "is 256 bytes long" in result.stderr
    fits = "t" * 255  # at the limit: accepted
    floe_yaml(workdir, one.replace("bronze.orders", f"bronze.{fits}"))
    assert invoke("validate", "floe.yaml").exit_code == 0
