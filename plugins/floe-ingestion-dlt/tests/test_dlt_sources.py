"""Sources built from plain config, iterated into Arrow batches (no Iceberg involved).

The incremental tests commit nothing: they carry ``ResourceState.committed()`` from one run to
the next by hand, which is what the plugin does through the Iceberg snapshot.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt_test_helpers import Api, make_sqlite, rest_config

from floe_core import CatalogConfig, ErrorCategory, ErrorCode, IngestionConfig
from floe_ingestion_dlt import DltIngestionPlugin, DltPipeline
from floe_ingestion_dlt._arrow import to_batches
from floe_ingestion_dlt._source import Extract
from floe_ingestion_dlt._state import ResourceState


def _extracts(config: IngestionConfig) -> list[Extract]:
    plugin = DltIngestionPlugin({"batch_rows": 40})
    pipeline = plugin.create_pipeline(config)
    assert isinstance(pipeline, DltPipeline)
    extracts, _cleanup = plugin._extracts(pipeline)
    return extracts


def _drain(
    extract: Extract, saved: dict[str, Any] | None
) -> tuple[pa.Table, dict[str, Any] | None]:
    state = ResourceState(extract.resource, saved)
    batches = list(to_batches(state.iterate(), 40))
    table = pa.concat_tables(batches) if batches else pa.table({})
    return table, state.committed()


def _sql(db: Path, **kw: Any) -> IngestionConfig:
    return IngestionConfig(
        name="orders",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{db}", "tables": ["orders"], **kw},
        destination_table="bronze.orders",
        incremental={"cursor_field": "updated_at"},
    )


@pytest.mark.parametrize("backend", ["auto", "pyarrow", "connectorx"])
def test_sql_yields_arrow_chunks_with_exact_types_and_reflected_key(
    tmp_path: Path, backend: str
) -> None:
    db = make_sqlite(tmp_path / "shop.db", 100)
    (extract,) = _extracts(_sql(db, chunk_size=30, backend=backend))
    assert extract.table == "bronze.orders"
    assert extract.primary_key == ("id",)
    state = ResourceState(extract.resource, None)
    batches = list(to_batches(state.iterate(), 40))
    assert [b.num_rows for b in batches] == [30, 30, 30, 10]
    schema = batches[0].schema
    assert schema.field("amount").type == pa.decimal128(12, 2)
    assert schema.field("updated_at").type == pa.timestamp("us")
    assert schema.field("id").type == pa.int64()
    table = pa.concat_tables(batches)
    assert table.column("amount").to_pylist()[:2] == [Decimal("0.25"), Decimal("1.25")]
    assert table.column("updated_at")[61].as_py() == datetime(2024, 1, 1, 1, 1)


def test_sql_incremental_state_round_trip_loads_only_new_rows(tmp_path: Path) -> None:
    db = make_sqlite(tmp_path / "shop.db", 150)
    (extract,) = _extracts(_sql(db))
    first, saved = _drain(extract, None)
    assert first.num_rows == 150
    assert saved is not None and saved["cursors"] == {"updated_at": "2024-01-01 02:29:00"}
    json.dumps(saved)  # what is committed must be plain JSON

    (extract,) = _extracts(_sql(db))
    again, saved_again = _drain(extract, saved)
    assert again.num_rows == 0  # the rows equal to the cursor are deduplicated by their hash

    make_sqlite(db, 20, start=150)
    (extract,) = _extracts(_sql(db))
    third, _ = _drain(extract, saved_again or saved)
    assert sorted(third.column("id").to_pylist()) == list(range(150, 170))


def test_sql_all_tables_land_one_per_table(tmp_path: Path) -> None:
    db = make_sqlite(tmp_path / "shop.db", 5)
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute('CREATE TABLE "Order Items" (k INTEGER)')
    config = IngestionConfig(
        name="shop",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{db}"},
        destination_table="raw.*",
    )
    tables = sorted(e.table for e in _extracts(config))
    assert tables == ["raw.order_items", "raw.orders"]


def test_rest_api_paginates_and_increments(api: Api) -> None:
    api.items = [
        {"id": i, "updated_at": f"2024-01-0{1 + i // 3}", "meta": {"i": i}} for i in range(7)
    ]
    config = rest_config(api.base_url, incremental={"cursor_field": "updated_at"})
    (extract,) = _extracts(config)
    table, saved = _drain(extract, None)
    assert sorted(table.column("id").to_pylist()) == list(range(7))
    assert table.schema.field("meta").type == pa.string()
    assert len(api.requests) == 3  # 3 + 3 + 1 items

    api.items.append({"id": 7, "updated_at": "2024-01-09", "meta": None})
    (extract,) = _extracts(config)
    table, _ = _drain(extract, saved)
    assert table.column("id").to_pylist() == [7]


def _write_files(folder: Path) -> None:
    folder.mkdir()
    (folder / "a.csv").write_text("id,name,price\n1,ä,1.5\n2,b,\n")
    (folder / "a.jsonl").write_text('{"id": 1, "tags": ["x"]}\n\n{"id": 2, "tags": null}\n')
    pq.write_table(
        pa.table({"id": [1, 2, 3], "d": pa.array([1, 2, 3], pa.int16())}), folder / "a.parquet"
    )


def _files(folder: Path, glob: str, **kw: Any) -> IngestionConfig:
    return IngestionConfig(
        name="files",
        source_type="filesystem",
        source_config={"bucket_url": str(folder), "file_glob": glob},
        destination_table="bronze.files",
        **kw,
    )


def test_filesystem_reads_csv_jsonl_parquet(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _write_files(folder)
    (csv,) = _extracts(_files(folder, "*.csv"))
    table, _ = _drain(csv, None)
    assert table.to_pylist() == [
        {"id": 1, "name": "ä", "price": 1.5},
        {"id": 2, "name": "b", "price": None},
    ]
    (jsonl,) = _extracts(_files(folder, "*.jsonl"))
    table, _ = _drain(jsonl, None)
    assert table.to_pylist() == [{"id": 1, "tags": '["x"]'}, {"id": 2, "tags": None}]
    (parquet,) = _extracts(_files(folder, "*.parquet"))
    table, _ = _drain(parquet, None)
    assert table.schema.field("d").type == pa.int16()
    assert table.num_rows == 3


def test_filesystem_loads_each_file_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _write_files(folder)
    (extract,) = _extracts(_files(folder, "*.csv"))
    _, saved = _drain(extract, None)
    (extract,) = _extracts(_files(folder, "*.csv"))
    table, saved2 = _drain(extract, saved)
    assert table.num_rows == 0
    later = time.time() + 5
    (folder / "b.csv").write_text("id,name,price\n3,c,2.0\n")
    os.utime(folder / "b.csv", (later, later))
    (extract,) = _extracts(_files(folder, "*.csv"))
    table, _ = _drain(extract, saved2 or saved)
    assert table.column("id").to_pylist() == [3]


@pytest.mark.parametrize("backend", ["auto", "pyarrow", "connectorx"])
def test_sqlite_rows_at_the_cursor_boundary_load_exactly_once(tmp_path: Path, backend: str) -> None:
    import sqlite3

    from floe_core import CatalogConfig
    from floe_iceberg import load_catalog

    # SQLite keeps timestamps as text: '2024-01-01 00:00:08', the format the quickstart uses
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, ts TIMESTAMP NOT NULL)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?)",
            [(i, f"2024-01-01 00:00:0{min(i, 8)}") for i in range(10)],
        )
    catalog = CatalogConfig.embedded(tmp_path / "warehouse")
    config = IngestionConfig(
        name="orders",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{db}", "tables": ["orders"]},
        destination_table="bronze.orders",
        incremental={"cursor_field": "ts"},
    )

    def run() -> int:
        plugin = DltIngestionPlugin({"sql_backend": backend}, catalog=catalog)
        result = plugin.run(plugin.create_pipeline(config))
        assert result.success, result.errors
        return result.rows_loaded

    assert run() == 10
    assert run() == 0
    with sqlite3.connect(db) as conn:  # one row equal to the last cursor, one after it
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?)",
            [(10, "2024-01-01 00:00:08"), (11, "2024-01-01 00:00:09.5")],
        )
    assert run() == 2
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO orders VALUES (12, '2024-01-01 00:00:09.5')")
    assert run() == 1
    assert run() == 0
    ids = load_catalog(catalog).load_table("bronze.orders").scan().to_arrow().column("id")
    assert sorted(ids.to_pylist()) == list(range(13))


def _api_config(base_url: str, **source: Any) -> IngestionConfig:
    return rest_config(base_url, paginator=None, source=source)


def _run(config: IngestionConfig, catalog: Any) -> Any:
    plugin = DltIngestionPlugin(catalog=catalog)
    return plugin.run(plugin.create_pipeline(config))


def test_rest_makes_one_request_per_run_so_floe_owns_retries(
    api: Api, embedded_catalog: Any
) -> None:
    api.items = [{"id": 1}]
    api.statuses = [503]
    api.headers = {"Retry-After": "7"}
    failed = _run(_api_config(api.base_url), embedded_catalog)
    (error,) = failed.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE)
    assert error.retry_after_seconds == 7.0  # floe's runner honours it
    assert len(api.requests) == 1  # dlt's own client did not retry (it tried 5 times)
    api.requests.clear()
    ok = _run(_api_config(api.base_url), embedded_catalog)
    assert ok.success and ok.rows_loaded == 1
    assert len(api.requests) == 1


def test_rest_request_timeout_is_bounded_and_transient(
    hanging_url: str, embedded_catalog: Any
) -> None:
    started = time.monotonic()
    result = _run(_api_config(hanging_url, request_timeout_seconds=1), embedded_catalog)
    elapsed = time.monotonic() - started
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE)
    assert elapsed < 5, elapsed  # one attempt of 1 s (dlt's defaults: 5 x 60 s)


def test_rest_body_that_is_not_json_is_a_permanent_read_failure(
    api: Api, embedded_catalog: Any
) -> None:
    api.body = b"<html>maintenance</html>"
    result = _run(_api_config(api.base_url), embedded_catalog)
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SOURCE_READ_FAILED)
    assert "not JSON" in error.message
    assert len(api.requests) == 1


def test_rest_data_selector_at_a_scalar_names_data_selector(
    api: Api, embedded_catalog: Any
) -> None:
    api.body = b'{"items": 5}'
    result = _run(_api_config(api.base_url), embedded_catalog)
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.CONFIGURATION, ErrorCode.INVALID_CONFIG)
    assert "data_selector" in error.message
    assert error.details["field"] == "data_selector"


def test_filesystem_bad_csv_row_names_the_file(tmp_path: Path, embedded_catalog: Any) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.csv").write_text("id,name,price\n1,a,1.5\n3,c,2.0,extra\n")
    result = _run(_files(folder, "*.csv"), embedded_catalog)
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SOURCE_READ_FAILED)
    assert "'bad.csv'" in error.message and "Expected 3 columns, got 4" in error.message
    assert "StopIteration" not in error.message
    assert error.details["file"] == "bad.csv"


def test_filesystem_glob_matching_nothing_warns(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    folder = tmp_path / "in"
    _write_files(folder)
    with capture_logs() as logs:
        (extract,) = _extracts(_files(folder, "*.tsv.csv"))
        table, _ = _drain(extract, None)
    assert table.num_rows == 0
    assert extract.details == {"files_matched": 0}
    (warning,) = [e for e in logs if e["event"] == "no_files_matched"]
    assert warning["log_level"] == "warning"
    assert (warning["files_matched"], warning["file_glob"]) == (0, "*.tsv.csv")
    (found,) = _extracts(_files(folder, "*.csv"))
    assert found.details == {"files_matched": 1}


def test_filesystem_result_says_how_many_files_matched(
    tmp_path: Path, embedded_catalog: Any
) -> None:
    folder = tmp_path / "in"
    _write_files(folder)
    nothing = _run(_files(folder, "*.tsv.csv"), embedded_catalog)
    assert nothing.success and nothing.rows_loaded == 0
    (details,) = nothing.details["tables"].values()
    assert details["files_matched"] == 0
    found = _run(_files(folder, "*.csv"), embedded_catalog)
    assert found.details["tables"][found.tables[0].table]["files_matched"] == 1


def _bad_rows_config(folder: Path, glob: str, on_bad_rows: str) -> IngestionConfig:
    return IngestionConfig(
        name="files",
        source_type="filesystem",
        source_config={"bucket_url": str(folder), "file_glob": glob, "on_bad_rows": on_bad_rows},
        destination_table="bronze.files",
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.csv", "id,name\n1,a\n2,b,extra\n3,c\n4\n5,e\n"),
        ("bad.jsonl", '{"id": 1}\n{"id": 2\n{"id": 3}\nnot json\n{"id": 5}\n'),
    ],
)
def test_on_bad_rows_skip_loads_the_rest_and_reports_partial(
    tmp_path: Path, embedded_catalog: Any, name: str, content: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_text(content)
    glob = "*" + name.removeprefix("bad")

    failed = _run(_bad_rows_config(folder, glob, "fail"), embedded_catalog)
    assert failed.errors[0].category is ErrorCategory.PERMANENT and failed.rows_loaded == 0

    result = _run(_bad_rows_config(folder, glob, "skip"), embedded_catalog)
    (error,) = result.errors
    assert not result.success
    assert (error.category, error.code) == (ErrorCategory.PARTIAL, ErrorCode.PARTIAL_LOAD)
    assert error.failed_records == 2
    assert [(s["file"], s["line"]) for s in error.details["samples"]] == [
        (name, 3 if name.endswith("csv") else 2),
        (name, 5 if name.endswith("csv") else 4),
    ]
    assert result.rows_loaded == 3 and result.tables[0].snapshot_id is not None
    from floe_iceberg import load_catalog

    ids = load_catalog(embedded_catalog).load_table("bronze.files").scan().to_arrow()["id"]
    assert sorted(ids.to_pylist()) == [1, 3, 5]


def test_on_bad_rows_takes_fail_or_skip(tmp_path: Path) -> None:
    from floe_core import PipelineConfigurationError

    (tmp_path / "in").mkdir()
    plugin = DltIngestionPlugin(catalog=CatalogConfig.embedded(tmp_path / "wh"))
    with pytest.raises(PipelineConfigurationError, match="on_bad_rows"):
        plugin.create_pipeline(_bad_rows_config(tmp_path / "in", "*.csv", "ignore"))
