"""``floe validate`` rejects, without loading, the sql_database configs ``floe ingest`` rejects."""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from click.testing import CliRunner, Result
from dlt_test_helpers import closed_port, sql_engine

from floe_core import ErrorCategory, ErrorCode, IngestionConfig, PipelineConfigurationError
from floe_core.cli import main
from floe_ingestion_dlt import DltIngestionPlugin


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect(tmp_path / "shop.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at TEXT, note TEXT)")
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")  # no primary key
    return tmp_path


def _validate(folder: Path, source: str, *args: str) -> tuple[Result, Path]:
    path = folder / "floe.yaml"
    path.write_text("ingestion:\n  sources:\n" + source)
    return CliRunner().invoke(main, ["validate", str(path), *args]), path


def _source(config: str, rest: str, name: str = "shop") -> str:
    """One source; ``rest`` holds its other top-level keys, one per line (``\\n``-separated)."""
    lines = [f"- name: {name}", "  type: sql_database", f"  config: {config}"]
    lines += [f"  {line.strip()}" for line in rest.splitlines()]
    return textwrap.indent("\n".join(lines) + "\n", "    ")


SHOP = '{connection_string: "sqlite:///shop.db", tables: [orders]}'


def test_a_valid_source_passes(workdir: Path) -> None:
    rest = "destination: {table: bronze.orders}\n  incremental: {cursor_field: updated_at}"
    result, _ = _validate(workdir, _source(SHOP, rest))
    assert result.exit_code == 0, result.output
    assert "✓ shop: sql_database → bronze.orders" in result.stdout
    assert not (workdir / "warehouse").exists() or not any((workdir / "warehouse").iterdir())


@pytest.mark.parametrize(
    ("rest", "field", "message"),
    [
        (
            "destination: {table: bronze.orders}\n  incremental: {cursor_field: changed_at}",
            "ingestion.sources[0].incremental.cursor_field",
            "incremental.cursor_field 'changed_at' is not a column of table 'orders'; columns "
            "are id, updated_at, note",
        ),
        (
            "destination: {table: bronze.orders, write_disposition: merge, primary_key: [oid]}",
            "ingestion.sources[0].destination.primary_key",
            "primary_key column 'oid' is not a column of table 'orders'",
        ),
    ],
    ids=["cursor", "primary_key"],
)
def test_a_column_the_table_lacks_is_a_config_error_naming_the_field(
    workdir: Path, rest: str, field: str, message: str
) -> None:
    result, path = _validate(workdir, _source(SHOP, rest))
    assert result.exit_code == 2, result.output
    assert f"✗ shop: [INVALID_CONFIG] {path}: {field}: source 'shop': {message}" in result.stderr

    offline, _ = _validate(workdir, _source(SHOP, rest), "--offline")
    assert offline.exit_code == 0, offline.output  # only the live check finds it


def test_merge_on_a_table_without_primary_key(workdir: Path) -> None:
    config = '{connection_string: "sqlite:///shop.db", tables: [customers]}'
    rest = "destination: {table: bronze.customers, write_disposition: merge}"
    result, path = _validate(workdir, _source(config, rest))
    assert result.exit_code == 2, result.output
    assert (
        f"{path}: ingestion.sources[0].destination.primary_key: source 'shop': write_mode "
        "'merge' needs a primary key, and table 'customers' has none in the source"
    ) in result.stderr


def test_a_missing_table_is_source_not_found(workdir: Path) -> None:
    config = '{connection_string: "sqlite:///shop.db", tables: [order]}'
    result, path = _validate(workdir, _source(config, "destination: {table: bronze.o}"))
    assert result.exit_code == 2, result.output
    assert (
        f"✗ shop: [SOURCE_NOT_FOUND] {path}: ingestion.sources[0].config.tables: source 'shop' "
        "(sql_database): table 'order' not found in the database; tables are customers, orders"
    ) in result.stderr


def test_all_tables_into_one_destination_table(workdir: Path) -> None:
    config = '{connection_string: "sqlite:///shop.db"}'
    result, path = _validate(workdir, _source(config, "destination: {table: bronze.all}"))
    assert result.exit_code == 2, result.output
    assert f"{path}: ingestion.sources[0].destination.table: " in result.stderr
    assert "'tables' selects all tables" in result.stderr


def test_a_mistyped_sqlite_path_is_file_not_found_and_creates_nothing(workdir: Path) -> None:
    config = '{connection_string: "sqlite:///shpo.db", tables: [orders]}'
    result, path = _validate(
        workdir, _source(config, "destination: {table: bronze.o}"), "--offline"
    )
    assert result.exit_code == 2, result.output
    assert (
        f"✗ shop: [SOURCE_NOT_FOUND] {path}: ingestion.sources[0].config.connection_string: "
        "source 'shop' (sql_database): SQLite database file not found: 'shpo.db'"
    ) in result.stderr
    assert "'tables'" not in result.stderr
    assert not (workdir / "shpo.db").exists()


def test_sqlite_sources_are_opened_read_only(workdir: Path) -> None:
    from floe_ingestion_dlt.sources._sql_connect import engine_for

    engine = engine_for(sa.engine.make_url("sqlite:///shop.db"))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar() == 0
            with pytest.raises(sa.exc.OperationalError, match="readonly"):
                conn.exec_driver_sql("INSERT INTO orders (id) VALUES (1)")
    finally:
        engine.dispose()


def test_create_pipeline_reports_the_missing_file_as_configuration(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "shop.db"
    config = IngestionConfig(
        name="shop",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{missing}", "tables": ["orders"]},
        destination_table="bronze.orders",
    )
    with pytest.raises(PipelineConfigurationError) as info:
        DltIngestionPlugin().create_pipeline(config)
    assert (info.value.category, info.value.code) == (
        ErrorCategory.CONFIGURATION,
        ErrorCode.SOURCE_NOT_FOUND,
    )
    assert str(missing) in info.value.message
    assert not missing.parent.exists()


def test_an_unreachable_database_is_transient_not_a_config_error(workdir: Path) -> None:
    config = f'{{connection_string: "postgresql://u@127.0.0.1:{closed_port()}/db", tables: [t]}}'
    result, _ = _validate(workdir, _source(config, "destination: {table: bronze.t}"))
    assert result.exit_code == 1, result.output
    assert "✗ shop: [SOURCE_UNAVAILABLE]" in result.stderr

    offline, _ = _validate(workdir, _source(config, "destination: {table: bronze.t}"), "--offline")
    assert offline.exit_code == 0, offline.output


@pytest.mark.postgres
def test_postgres_columns_are_reflected_in_the_schema(
    workdir: Path, postgres_dsn: str, pg_schema: str
) -> None:
    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {pg_schema}.ev (id int PRIMARY KEY, at timestamptz)")
    engine.dispose()
    config = f'{{connection_string: "{postgres_dsn}", schema: {pg_schema}, tables: [ev]}}'
    good = "destination: {table: bronze.ev}\n  incremental: {cursor_field: at}"
    result, _ = _validate(workdir, _source(config, good))
    assert result.exit_code == 0, result.output
    bad = "destination: {table: bronze.ev}\n  incremental: {cursor_field: ts}"
    result, path = _validate(workdir, _source(config, bad))
    assert result.exit_code == 2, result.output
    assert f"{path}: ingestion.sources[0].incremental.cursor_field: " in result.stderr
    assert "'ts' is not a column of table 'ev'; columns are id, at" in result.stderr
