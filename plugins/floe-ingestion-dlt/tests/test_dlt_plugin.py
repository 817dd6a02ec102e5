"""The plugin end to end: real sources → real embedded Iceberg catalog → rows read back."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt_test_helpers import Api, closed_port, make_sqlite, rest_config

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    HealthState,
    IngestionConfig,
    IngestionResult,
)
from floe_ingestion_dlt import DltIngestionPlugin
from floe_testing.readback import current_snapshot_id as _snapshot
from floe_testing.readback import read_table as _read


def _plugin(catalog: CatalogConfig) -> DltIngestionPlugin:
    return DltIngestionPlugin({"batch_rows": 500}, catalog=catalog)


def _run(catalog: CatalogConfig, config: IngestionConfig) -> IngestionResult:
    # a fresh plugin per run: nothing survives in memory between loads
    plugin = _plugin(catalog)
    return plugin.run(plugin.create_pipeline(config))


def _ok(result: IngestionResult) -> IngestionResult:
    assert result.success, result.errors
    return result


def _failed(result: IngestionResult, category: ErrorCategory, code: ErrorCode) -> str:
    assert not result.success
    (error,) = result.errors
    assert (error.category, error.code) == (category, code), error
    assert error.source == result.source
    return error.message


def _orders(db: Path, **kw: Any) -> IngestionConfig:
    source = {"connection_string": f"sqlite:///{db}", "tables": ["orders"]}
    source.update(kw.pop("source", {}))
    return IngestionConfig(
        name="orders",
        source_type="sql_database",
        source_config=source,
        destination_table="bronze.orders",
        **kw,
    )


# --- incremental, restart, crash ----------------------------------------------------------


def test_incremental_twice_then_new_rows_only(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 1200)
    config = _orders(db, incremental={"cursor_field": "updated_at"})
    first = _ok(_run(embedded_catalog, config))
    assert first.rows_loaded == 1200
    (table,) = first.tables
    assert table.table == "bronze.orders" and table.snapshot_id is not None
    assert first.bytes_written > 0 and first.duration_seconds > 0
    assert first.details["tables"]["bronze.orders"]["cursors"] == {
        "updated_at": "2024-01-01 19:59:00"
    }

    second = _ok(_run(embedded_catalog, config))
    assert second.rows_loaded == 0
    make_sqlite(db, 30, start=1200)
    third = _ok(_run(embedded_catalog, config))
    assert third.rows_loaded == 30
    ids = _read(embedded_catalog, "bronze.orders").column("id").to_pylist()
    assert sorted(ids) == list(range(1230))


def test_state_lives_with_the_table_not_on_the_machine(
    tmp_path: Path, embedded_catalog: CatalogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 50)
    config = _orders(db, incremental={"cursor_field": "updated_at"})
    _ok(_run(embedded_catalog, config))
    # a "fresh machine": another HOME and working directory, no ~/.dlt anywhere
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setenv("HOME", str(fresh))
    monkeypatch.chdir(fresh)
    make_sqlite(db, 5, start=50)
    assert _ok(_run(embedded_catalog, config)).rows_loaded == 5
    assert not (fresh / ".dlt").exists()


def test_crash_in_extract_then_clean_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, embedded_catalog: CatalogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import floe_ingestion_dlt._sides as plugin_module  # the one-stream load iterates here

    db = make_sqlite(tmp_path / "shop.db", 100)
    config = _orders(db, incremental={"cursor_field": "updated_at"}, source={"chunk_size": 40})
    _ok(_run(embedded_catalog, config))
    before = _snapshot(embedded_catalog, "bronze.orders")
    make_sqlite(db, 100, start=100)

    real = plugin_module.to_batches

    def crash_after_first(items: Any, batch_rows: int) -> Iterator[pa.Table]:
        for number, batch in enumerate(real(items, batch_rows)):
            if number == 1:
                raise ConnectionResetError("connection reset by peer")
            yield batch

    monkeypatch.setattr(plugin_module, "to_batches", crash_after_first)
    crashed = _run(embedded_catalog, config)
    _failed(crashed, ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE)
    assert crashed.retryable
    assert _snapshot(embedded_catalog, "bronze.orders") == before
    monkeypatch.setattr(plugin_module, "to_batches", real)

    assert _ok(_run(embedded_catalog, config)).rows_loaded == 100
    ids = _read(embedded_catalog, "bronze.orders").column("id").to_pylist()
    assert sorted(ids) == list(range(200))


def test_crash_at_commit_then_clean_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, embedded_catalog: CatalogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyiceberg.exceptions import CommitFailedException

    from floe_iceberg import _settle

    db = make_sqlite(tmp_path / "shop.db", 60)
    config = _orders(db, incremental={"cursor_field": "updated_at"})
    _ok(_run(embedded_catalog, config))
    before = _snapshot(embedded_catalog, "bronze.orders")
    make_sqlite(db, 40, start=60)

    def conflict(*args: Any, **kwargs: Any) -> Any:
        raise CommitFailedException("Requirement failed: branch main has changed")

    with monkeypatch.context() as patch:
        patch.setattr(_settle._Settle, "commit", conflict)  # the load's one commit step
        failed = _run(embedded_catalog, config)
    _failed(failed, ErrorCategory.TRANSIENT, ErrorCode.COMMIT_CONFLICT)
    assert _snapshot(embedded_catalog, "bronze.orders") == before

    assert _ok(_run(embedded_catalog, config)).rows_loaded == 40
    ids = _read(embedded_catalog, "bronze.orders").column("id").to_pylist()
    assert sorted(ids) == list(range(100))


# --- write modes ------------------------------------------------------------------------------


def test_replace_overwrites_atomically(tmp_path: Path, embedded_catalog: CatalogConfig) -> None:
    db = make_sqlite(tmp_path / "shop.db", 20)
    config = _orders(db, write_mode="replace")
    _ok(_run(embedded_catalog, config))
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM orders WHERE id >= 5")
    result = _ok(_run(embedded_catalog, config))
    assert result.tables[0].write_mode == "replace"
    assert sorted(_read(embedded_catalog, "bronze.orders").column("id").to_pylist()) == list(
        range(5)
    )


def test_partition_by_lands_a_partitioned_table(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    from pyiceberg.expressions import GreaterThanOrEqual

    from floe_iceberg import load_catalog

    db = make_sqlite(tmp_path / "shop.db", 150)  # +1 minute per id: hours 0, 1 and 2
    _ok(_run(embedded_catalog, _orders(db, partition_by=["hour(updated_at)"])))
    table = load_catalog(embedded_catalog).load_table("bronze.orders")
    assert [str(f.transform) for f in table.spec().fields] == ["hour"]
    assert sorted(_read(embedded_catalog, "bronze.orders").column("id").to_pylist()) == list(
        range(150)
    )
    last_hour = table.scan(row_filter=GreaterThanOrEqual("updated_at", "2024-01-01T02:00:00"))
    assert [t.file.record_count for t in last_hour.plan_files()] == [30]


def test_partition_by_a_column_of_the_wrong_type_is_configuration(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 5)
    result = _run(embedded_catalog, _orders(db, partition_by=["day(note)"]))
    message = _failed(result, ErrorCategory.CONFIGURATION, ErrorCode.INVALID_CONFIG)
    assert "partition_by" in message and "day(note)" in message


def test_merge_upserts_on_the_reflected_key_and_takes_a_new_column(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 10)
    config = _orders(db, write_mode="merge")
    _ok(_run(embedded_catalog, config))
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE orders ADD COLUMN status TEXT")
        conn.execute("UPDATE orders SET note = 'changed', status = 'paid' WHERE id IN (1, 2)")
    make_sqlite(db, 2, start=10)
    result = _ok(_run(embedded_catalog, config))
    assert result.details["tables"]["bronze.orders"]["primary_key"] == ["id"]
    rows = {r["id"]: r for r in _read(embedded_catalog, "bronze.orders").to_pylist()}
    assert sorted(rows) == list(range(12))
    assert rows[1]["note"] == "changed" and rows[1]["status"] == "paid"
    assert rows[3]["note"] == "n3" and rows[3]["status"] is None
    assert rows[4]["amount"] == Decimal("4.25")


# --- schema contracts (jsonl files, one new file per run) ------------------------------------


def _jsonl(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stamp = time.time() + len(list(folder.iterdir())) * 10  # strictly newer than earlier files
    os.utime(path, (stamp, stamp))


def _events(folder: Path, contract: str) -> IngestionConfig:
    return IngestionConfig(
        name="events",
        source_type="filesystem",
        source_config={"bucket_url": str(folder), "file_glob": "*.jsonl"},
        destination_table="bronze.events",
        schema_contract=contract,
    )


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        ("evolve", [{"id": 1, "x": None}, {"id": 2, "x": None}, {"id": 3, "x": "new"}]),
        ("discard_value", [{"id": 1}, {"id": 2}, {"id": 3}]),
        ("discard_row", [{"id": 1}, {"id": 2}]),
    ],
)
def test_schema_contracts(
    tmp_path: Path, embedded_catalog: CatalogConfig, contract: str, expected: list[dict[str, Any]]
) -> None:
    folder = tmp_path / "in"
    _jsonl(folder, "1.jsonl", [{"id": 1}])
    _ok(_run(embedded_catalog, _events(folder, contract)))
    _jsonl(folder, "2.jsonl", [{"id": 2}, {"id": 3, "x": "new"}])
    result = _ok(_run(embedded_catalog, _events(folder, contract)))
    rows = sorted(_read(embedded_catalog, "bronze.events").to_pylist(), key=lambda r: r["id"])
    assert rows == expected
    if contract == "discard_row":
        assert result.details["tables"]["bronze.events"]["rows_discarded"] == 1


def test_freeze_violation_is_permanent_and_leaves_the_table(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    folder = tmp_path / "in"
    _jsonl(folder, "1.jsonl", [{"id": 1}])
    _ok(_run(embedded_catalog, _events(folder, "freeze")))
    before = _snapshot(embedded_catalog, "bronze.events")
    _jsonl(folder, "2.jsonl", [{"id": 2, "x": "new"}])
    result = _run(embedded_catalog, _events(folder, "freeze"))
    message = _failed(result, ErrorCategory.PERMANENT, ErrorCode.SCHEMA_CONTRACT_VIOLATION)
    assert "x" in message
    assert _snapshot(embedded_catalog, "bronze.events") == before
    assert _read(embedded_catalog, "bronze.events").to_pylist() == [{"id": 1}]


# --- files and REST ----------------------------------------------------------------------------


def test_files_csv_jsonl_parquet_land_with_their_types(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "p.csv").write_text("id,price,day\n1,1.5,2024-02-29\n2,,2024-03-01\n")
    (folder / "p.jsonl").write_text('{"id": 1, "obj": {"a": [1, 2]}}\n')
    pq.write_table(
        pa.table({"id": [1], "amount": pa.array([Decimal("1.10")], pa.decimal128(10, 2))}),
        folder / "p.parquet",
    )
    for fmt in ("csv", "jsonl", "parquet"):
        config = IngestionConfig(
            name=f"f_{fmt}",
            source_type="filesystem",
            source_config={"bucket_url": f"file://{folder}", "file_glob": f"*.{fmt}"},
            destination_table=f"files.{fmt}",
        )
        _ok(_run(embedded_catalog, config))
    assert _read(embedded_catalog, "files.csv").to_pylist() == [
        {"id": 1, "price": 1.5, "day": __import__("datetime").date(2024, 2, 29)},
        {"id": 2, "price": None, "day": __import__("datetime").date(2024, 3, 1)},
    ]
    assert _read(embedded_catalog, "files.jsonl").to_pylist() == [{"id": 1, "obj": '{"a":[1,2]}'}]
    parquet = _read(embedded_catalog, "files.parquet")
    assert parquet.schema.field("amount").type == pa.decimal128(10, 2)
    assert parquet.column("amount").to_pylist() == [Decimal("1.10")]


def _items(api: Api, **kw: Any) -> IngestionConfig:
    return rest_config(
        api.base_url,
        auth={"type": "bearer"},
        incremental={"cursor_field": "updated_at"},
        secret_refs={"client.auth.token": "env:API_TOKEN"},
        secrets={"client.auth.token": kw.pop("token", "t0ken-value")},
        **kw,
    )


def test_rest_api_two_runs_second_loads_only_new_rows(
    api: Api, embedded_catalog: CatalogConfig
) -> None:
    api.token = "t0ken-value"
    api.items = [{"id": i, "updated_at": f"2024-01-{1 + i:02d}", "tags": [i]} for i in range(8)]
    first = _ok(_run(embedded_catalog, _items(api)))
    assert first.rows_loaded == 8
    api.items += [{"id": 8, "updated_at": "2024-02-01", "tags": []}]
    second = _ok(_run(embedded_catalog, _items(api)))
    assert second.rows_loaded == 1
    rows = sorted(_read(embedded_catalog, "bronze.items").to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == list(range(9))
    assert rows[2]["tags"] == "[2]"


def test_rest_api_rejected_token_is_auth_failed_and_not_echoed(
    api: Api, embedded_catalog: CatalogConfig
) -> None:
    api.token = "the-right-one"
    result = _run(embedded_catalog, _items(api, token="wr0ng-t0ken"))
    message = _failed(result, ErrorCategory.PERMANENT, ErrorCode.AUTH_FAILED)
    assert "401" in message
    assert "wr0ng-t0ken" not in result.model_dump_json()


def test_rest_api_missing_endpoint_is_source_not_found(
    api: Api, embedded_catalog: CatalogConfig
) -> None:
    config = IngestionConfig(
        name="api",
        source_type="rest_api",
        source_config={"client": {"base_url": api.base_url}, "resources": ["nothing_here"]},
        destination_table="bronze.nothing",
    )
    _failed(_run(embedded_catalog, config), ErrorCategory.CONFIGURATION, ErrorCode.SOURCE_NOT_FOUND)


# --- failures with their exact category --------------------------------------------------------


def test_missing_table_is_configuration_source_not_found(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 1)
    config = _orders(db, source={"tables": ["no_such_table"]})
    message = _failed(
        _run(embedded_catalog, config), ErrorCategory.CONFIGURATION, ErrorCode.SOURCE_NOT_FOUND
    )
    assert "no_such_table" in message


def test_unreachable_database_is_transient_and_hides_the_password(
    embedded_catalog: CatalogConfig,
) -> None:
    config = IngestionConfig(
        name="pg",
        source_type="sql_database",
        source_config={
            "connection_string": f"postgresql://u:hunter2@127.0.0.1:{closed_port()}/db",
            "tables": ["t"],
        },
        destination_table="bronze.t",
    )
    result = _run(embedded_catalog, config)
    _failed(result, ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE)
    assert result.retryable
    assert "hunter2" not in result.model_dump_json()


def test_missing_folder_is_source_not_found(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    config = IngestionConfig(
        name="files",
        source_type="filesystem",
        source_config={"bucket_url": str(tmp_path / "nope"), "format": "csv"},
        destination_table="bronze.files",
    )
    _failed(_run(embedded_catalog, config), ErrorCategory.CONFIGURATION, ErrorCode.SOURCE_NOT_FOUND)


def test_bad_field_through_ingest_is_configuration(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    config = _orders(tmp_path / "x.db", source={"chunksize": 10})
    result = _plugin(embedded_catalog).ingest(config)
    message = _failed(result, ErrorCategory.CONFIGURATION, ErrorCode.INVALID_CONFIG)
    assert "'chunksize'" in message and "chunk_size" in message


def test_health_and_destination_config(embedded_catalog: CatalogConfig, tmp_path: Path) -> None:
    plugin = _plugin(embedded_catalog)
    health = plugin.health_check(timeout=10)
    assert health.state is HealthState.HEALTHY, health.message
    assert health.details["dlt_version"]
    settings = plugin.get_destination_config(embedded_catalog)
    assert json.dumps(settings)
    # a REST catalog on a closed port: unhealthy, never raises
    dead = CatalogConfig(type="rest", uri=f"http://127.0.0.1:{closed_port()}")
    status = DltIngestionPlugin(catalog=dead).health_check(timeout=5)
    assert status.state is HealthState.UNHEALTHY


def test_initial_value_text_is_coerced_to_the_cursor_type(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 100)
    config = _orders(
        db, incremental={"cursor_field": "updated_at", "initial_value": "2024-01-01T00:50:30"}
    )
    result = _ok(_run(embedded_catalog, config))
    assert result.rows_loaded == 49  # ids 51..99
    assert min(_read(embedded_catalog, "bronze.orders").column("id").to_pylist()) == 51


def test_unknown_cursor_column_is_configuration(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 3)
    result = _run(embedded_catalog, _orders(db, incremental={"cursor_field": "modified"}))
    message = _failed(result, ErrorCategory.CONFIGURATION, ErrorCode.INVALID_CONFIG)
    assert "'modified'" in message and "updated_at" in message


def test_rest_api_endpoint_incremental_block_filters_on_the_server(
    api: Api, embedded_catalog: CatalogConfig
) -> None:
    api.items = [{"id": i, "updated_at": f"2024-01-{1 + i:02d}"} for i in range(5)]
    since = {"start_param": "since", "cursor_path": "updated_at", "initial_value": "2024-01-02"}
    config = rest_config(api.base_url, endpoint={"incremental": since})
    assert _ok(_run(embedded_catalog, config)).rows_loaded == 4
    assert "since=2024-01-02" in api.requests[0]
    api.items.append({"id": 5, "updated_at": "2024-01-09"})
    api.requests.clear()
    assert _ok(_run(embedded_catalog, config)).rows_loaded == 1
    assert "since=2024-01-05" in api.requests[0]  # the committed cursor, sent to the server
    ids = sorted(_read(embedded_catalog, "bronze.items").column("id").to_pylist())
    assert ids == [1, 2, 3, 4, 5]


def test_wildcard_destination_lands_one_table_per_sql_table(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 7)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'ada'), (2, 'grace')")
    config = IngestionConfig(
        name="shop",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{db}"},
        destination_table="raw.*",
        write_mode="merge",
    )
    result = _ok(_run(embedded_catalog, config))
    assert {t.table: t.rows_loaded for t in result.tables} == {"raw.customers": 2, "raw.orders": 7}
    assert all(t.snapshot_id for t in result.tables)
    assert _read(embedded_catalog, "raw.customers").num_rows == 2


def test_startup_pays_the_imports_so_health_times_only_the_catalog(tmp_path: Path) -> None:
    plugin = DltIngestionPlugin(catalog=CatalogConfig.embedded(tmp_path / "warehouse"))
    with plugin:
        status = plugin.health_check(timeout=1.0)
    assert status.state is HealthState.HEALTHY, status.message
    assert status.details["elapsed_seconds"] < 1.0


def test_spans_nest_under_one_pipeline_span_not_a_second_run_span(
    tmp_path: Path, embedded_catalog: CatalogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer", lambda name, *a, **k: provider.get_tracer(name))

    _ok(_run(embedded_catalog, _orders(make_sqlite(tmp_path / "shop.db", 5))))
    finished = {s.name: s for s in exporter.get_finished_spans()}
    # floe.ingestion.run belongs to the runner, which wraps plugin.run().
    assert "floe.ingestion.run" not in finished
    pipeline = finished["floe.ingestion.pipeline"]
    for child in ("floe.ingestion.extract", "floe.ingestion.load"):
        assert finished[child].parent is not None
        assert finished[child].parent.span_id == pipeline.context.span_id


# --- concurrent loads, retries, state size -------------------------------------------------


def _ids(catalog: CatalogConfig, table: str) -> list[int]:
    return sorted(_read(catalog, table).column("id").to_pylist())


def test_a_load_meeting_a_concurrent_commit_fails_and_its_retry_loads_each_row_once(
    tmp_path: Path, embedded_catalog: CatalogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load B commits while load A is about to: A must not be stacked on top of B."""
    from pyiceberg.table import Transaction

    from floe_core import RetryPolicy

    db = make_sqlite(tmp_path / "shop.db", 100)
    config = _orders(db, incremental={"cursor_field": "updated_at"})
    _ok(_run(embedded_catalog, config))
    make_sqlite(db, 10, start=100)
    real = Transaction.commit_transaction
    armed = [True]

    def b_commits_first(self: Transaction) -> Any:
        if armed[0]:
            armed[0] = False
            assert _ok(_run(embedded_catalog, config)).rows_loaded == 10  # load B
        return real(self)

    monkeypatch.setattr(Transaction, "commit_transaction", b_commits_first)
    plugin = _plugin(embedded_catalog)
    pipeline = plugin.create_pipeline(config)
    failed: list[IngestionResult] = []
    result = RetryPolicy(sleep=lambda s: None, on_retry=lambda a: failed.append(a.result)).call(
        lambda: plugin.run(pipeline)
    )

    (first,) = failed
    _failed(first, ErrorCategory.TRANSIENT, ErrorCode.COMMIT_CONFLICT)
    assert _ok(result).rows_loaded == 0  # the retry read B's cursor: nothing new
    assert _ids(embedded_catalog, "bronze.orders") == list(range(110))


def test_a_commit_between_reading_the_state_and_writing_fails_the_load(
    tmp_path: Path, embedded_catalog: CatalogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load A read its cursor, then B committed before A's writer loaded the table."""
    from pyiceberg.catalog.sql import SqlCatalog

    db = make_sqlite(tmp_path / "shop.db", 100)
    config = _orders(db, incremental={"cursor_field": "updated_at"})
    _ok(_run(embedded_catalog, config))
    before = _snapshot(embedded_catalog, "bronze.orders")
    make_sqlite(db, 10, start=100)
    real = SqlCatalog.load_table
    loads: list[object] = []

    def b_commits_before_the_second_load(self: SqlCatalog, identifier: Any) -> Any:
        loads.append(identifier)
        if len(loads) == 2:  # A: the state was read; now the writer loads the table
            assert _ok(_run(embedded_catalog, config)).rows_loaded == 10  # load B
        return real(self, identifier)

    monkeypatch.setattr(SqlCatalog, "load_table", b_commits_before_the_second_load)
    plugin = _plugin(embedded_catalog)
    result = plugin.run(plugin.create_pipeline(config))
    monkeypatch.undo()

    _failed(result, ErrorCategory.TRANSIENT, ErrorCode.COMMIT_CONFLICT)
    assert result.retryable and result.rows_loaded == 0
    assert _ids(embedded_catalog, "bronze.orders") == list(range(110))  # B's rows, once
    from floe_iceberg import load_catalog

    table = load_catalog(embedded_catalog).load_table("bronze.orders")
    assert [s.parent_snapshot_id for s in table.snapshots()] == [None, before]


@pytest.mark.parametrize("incremental", [False, True])
def test_retry_after_a_later_table_failed_skips_the_tables_already_committed(
    tmp_path: Path,
    embedded_catalog: CatalogConfig,
    monkeypatch: pytest.MonkeyPatch,
    incremental: bool,
) -> None:
    """Table a commits, table b's commit fails; the runner's retry must not load a again."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.exceptions import CommitFailedException

    from floe_core import RetryPolicy

    db = tmp_path / "two.db"
    with sqlite3.connect(db) as conn:
        for name in "ab":
            conn.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, v TEXT)")
            conn.executemany(f"INSERT INTO {name} VALUES (?, ?)", [(i, name) for i in range(5)])
    config = IngestionConfig(
        name="two",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{db}", "tables": ["a", "b"]},
        destination_table="bronze.*",
        **({"incremental": {"cursor_field": "id"}} if incremental else {}),
    )
    real = SqlCatalog.commit_table
    failing = [True]

    def b_conflicts(self: SqlCatalog, table: Any, *args: Any, **kwargs: Any) -> Any:
        if failing[0] and table.name()[-1] == "b":
            raise CommitFailedException("Requirement failed: branch main has changed")
        return real(self, table, *args, **kwargs)

    def stop_failing(attempt: Any) -> None:
        failing[0] = False
        failed.append(attempt.result)

    monkeypatch.setattr(SqlCatalog, "commit_table", b_conflicts)
    plugin = _plugin(embedded_catalog)
    pipeline = plugin.create_pipeline(config)
    failed: list[IngestionResult] = []
    result = _ok(
        RetryPolicy(sleep=lambda s: None, on_retry=stop_failing).call(lambda: plugin.run(pipeline))
    )

    (first,) = failed
    _failed(first, ErrorCategory.TRANSIENT, ErrorCode.COMMIT_CONFLICT)
    assert first.details["committed_before_failure"] == ["bronze.a"]
    for name in ("bronze.a", "bronze.b"):
        assert _ids(embedded_catalog, name) == list(range(5))
    assert plugin.create_pipeline(config).committed == {}  # a fresh pipeline starts clean
    assert result.rows_loaded == 10 and result.bytes_written > 0
    assert {t.table: (t.rows_loaded, t.snapshot_id) for t in result.tables} == {
        "bronze.a": (5, _snapshot(embedded_catalog, "bronze.a")),
        "bronze.b": (5, _snapshot(embedded_catalog, "bronze.b")),
    }
    assert result.details["committed_by_earlier_attempt"] == ["bronze.a"]
    assert set(result.details["tables"]) == {"bronze.a", "bronze.b"}
    # the completed load is forgotten: the next run of the same pipeline is a new load
    again = _ok(plugin.run(pipeline))
    assert "committed_by_earlier_attempt" not in again.details
    assert again.rows_loaded == (0 if incremental else 10)


def test_a_large_cursor_state_stays_out_of_the_table_metadata(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    """Many rows share the cursor value: dlt keeps one hash per row; metadata must stay small."""
    from floe_iceberg import load_catalog

    db = tmp_path / "ev.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, day DATE NOT NULL)")
        conn.executemany("INSERT INTO ev VALUES (?, '2024-01-02')", [(i,) for i in range(2000)])
    config = IngestionConfig(
        name="ev",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{db}", "tables": ["ev"]},
        destination_table="bronze.ev",
        incremental={"cursor_field": "day"},
    )
    loaded = [_ok(_run(embedded_catalog, config)).rows_loaded]
    for new_id in (5000, 5001):
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO ev VALUES (?, '2024-01-02')", (new_id,))
        loaded.append(_ok(_run(embedded_catalog, config)).rows_loaded)
    loaded.append(_ok(_run(embedded_catalog, config)).rows_loaded)

    assert loaded == [2000, 1, 1, 0]  # the boundary hashes, kept in a state file, dedupe
    assert _ids(embedded_catalog, "bronze.ev") == [*range(2000), 5000, 5001]
    table = load_catalog(embedded_catalog).load_table("bronze.ev")
    values = [
        v
        for s in table.snapshots()
        for k, v in s.summary.additional_properties.items()
        if k.startswith("floe.state.")
    ]
    assert values and all(len(v) < 500 for v in values)
    assert Path(table.metadata_location.removeprefix("file://")).stat().st_size < 20_000
