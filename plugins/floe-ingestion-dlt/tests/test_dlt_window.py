"""Load windows: each source type loads exactly [start, end) and replaces only that slice."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from dlt_test_helpers import Api, rest_config, sql_engine

from floe_core import CatalogConfig, IngestionConfig, LoadWindow
from floe_iceberg import load_catalog, read_table_state
from floe_ingestion_dlt import DltIngestionPlugin

UTC = dt.UTC


def _at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=UTC)


def _day(day: int, column: str = "updated_at") -> LoadWindow:
    return LoadWindow(column=column, start=_at(day), end=_at(day + 1))


def _run(config: IngestionConfig, catalog: CatalogConfig) -> Any:
    plugin = DltIngestionPlugin(catalog=catalog)
    result = plugin.run(plugin.create_pipeline(config))
    assert result.success, result.errors
    return result


def _ids(catalog: CatalogConfig, table: str) -> list[int]:
    data = load_catalog(catalog).load_table(table).scan().to_arrow()
    return sorted(data.column("id").to_pylist())


# --- sql_database ---------------------------------------------------------------------------


def _sqlite_events(path: Path, rows: list[tuple[int, dt.datetime]]) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, updated_at TIMESTAMP)"
        )
        conn.executemany(
            "INSERT OR REPLACE INTO events VALUES (?, ?)",
            [(i, ts.replace(tzinfo=None).isoformat(sep=" ")) for i, ts in rows],
        )
    return f"sqlite:///{path}"


def _sql(url: str, window: LoadWindow | None, table: str = "events") -> IngestionConfig:
    return IngestionConfig(
        name="events",
        source_type="sql_database",
        source_config={"connection_string": url, "tables": [table]},
        destination_table=f"bronze.{table}",
        incremental={"cursor_field": "updated_at"},
        window=window,
    )


_EVENTS = [(1, _at(1, 3)), (2, _at(2, 0)), (3, _at(2, 23)), (4, _at(3, 0)), (5, _at(3, 9))]


def test_sqlite_window_loads_and_replaces_only_its_day(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    url = _sqlite_events(tmp_path / "src.db", _EVENTS)
    result = _run(_sql(url, _day(2)), embedded_catalog)
    assert result.rows_loaded == 2
    assert _ids(embedded_catalog, "bronze.events") == [2, 3]
    for day in (1, 3):
        _run(_sql(url, _day(day)), embedded_catalog)
    assert _ids(embedded_catalog, "bronze.events") == [1, 2, 3, 4, 5]

    # the source changes within day 2: re-running day 2 replaces exactly that day
    with sqlite3.connect(tmp_path / "src.db") as conn:
        conn.execute("DELETE FROM events WHERE id = 3")
        conn.execute("INSERT INTO events VALUES (6, '2026-03-02 12:00:00')")
    _run(_sql(url, _day(2)), embedded_catalog)
    _run(_sql(url, _day(2)), embedded_catalog)
    assert _ids(embedded_catalog, "bronze.events") == [1, 2, 4, 5, 6]
    # windows neither read nor advance the incremental cursor
    state = read_table_state(load_catalog(embedded_catalog), "bronze.events", "floe.dlt.events")
    assert state.state is None
    # an unpartitioned incremental run afterwards starts from scratch, as before windows
    plain = _run(_sql(url, None), embedded_catalog)
    assert plain.rows_loaded == 5


def test_postgres_window_is_a_where_on_the_column(
    postgres_dsn: str, embedded_catalog: CatalogConfig
) -> None:
    import sqlalchemy as sa

    table = f"win_{uuid.uuid4().hex[:8]}"
    engine = sql_engine(postgres_dsn)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, updated_at timestamptz)")
            )
            for i, ts in _EVENTS:
                conn.execute(sa.text(f"INSERT INTO {table} VALUES (:i, :ts)"), {"i": i, "ts": ts})
        for day in (3, 2):
            _run(_sql(postgres_dsn, _day(day), table), embedded_catalog)
        assert _ids(embedded_catalog, f"bronze.{table}") == [2, 3, 4, 5]
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE {table} SET updated_at = :ts WHERE id = 5"), {"ts": _at(1)}
            )
        _run(_sql(postgres_dsn, _day(3), table), embedded_catalog)
        assert _ids(embedded_catalog, f"bronze.{table}") == [2, 3, 4]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


# --- rest_api -------------------------------------------------------------------------------


def test_rest_window_sends_its_bounds_and_keeps_only_its_rows(
    api: Api, embedded_catalog: CatalogConfig
) -> None:
    api.items = [{"id": i, "updated_at": ts.strftime("%Y-%m-%dT%H:%M:%SZ")} for i, ts in _EVENTS]
    params = {"window_params": {"start": "since", "end": "until"}}
    _run(rest_config(api.base_url, endpoint=params, window=_day(2)), embedded_catalog)
    assert _ids(embedded_catalog, "bronze.items") == [2, 3]
    assert "since=2026-03-02T00%3A00%3A00Z" in api.requests[0]
    assert "until=2026-03-03T00%3A00%3A00Z" in api.requests[0]

    # without window_params the API is read whole and dlt keeps only the window's rows
    api.requests.clear()
    _run(rest_config(api.base_url, window=_day(3)), embedded_catalog)
    assert _ids(embedded_catalog, "bronze.items") == [2, 3, 4, 5]
    assert "since" not in api.requests[0]
    _run(rest_config(api.base_url, window=_day(3)), embedded_catalog)
    assert _ids(embedded_catalog, "bronze.items") == [2, 3, 4, 5]


def test_rest_window_params_without_a_window_are_dropped(
    api: Api, embedded_catalog: CatalogConfig
) -> None:
    api.items = [{"id": 1, "updated_at": "2026-03-01T00:00:00Z"}]
    params = {"window_params": {"start": "since"}}
    _run(rest_config(api.base_url, endpoint=params), embedded_catalog)
    assert _ids(embedded_catalog, "bronze.items") == [1]


# --- filesystem -----------------------------------------------------------------------------


def test_filesystem_window_loads_the_files_modified_in_it(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for day in (1, 2, 3):
        path = folder / f"day{day}.csv"
        path.write_text(f"id\n{day}0\n{day}1\n")
        stamp = _at(day, 6).timestamp()
        os.utime(path, (stamp, stamp))
    config = IngestionConfig(
        name="files",
        source_type="filesystem",
        source_config={"bucket_url": str(folder), "file_glob": "*.csv"},
        destination_table="bronze.files",
        window=_day(2, "modification_date"),
    )
    _run(config, embedded_catalog)
    _run(config.model_copy(update={"window": _day(3, "modification_date")}), embedded_catalog)
    assert _ids(embedded_catalog, "bronze.files") == [20, 21, 30, 31]
    data = load_catalog(embedded_catalog).load_table("bronze.files").scan().to_arrow()
    assert set(data.column("modification_date").to_pylist()) == {_at(2, 6), _at(3, 6)}

    (folder / "day2.csv").write_text("id\n22\n")
    os.utime(folder / "day2.csv", (_at(2, 7).timestamp(),) * 2)
    _run(config, embedded_catalog)
    assert _ids(embedded_catalog, "bronze.files") == [22, 30, 31]


def test_every_source_type_supports_windows() -> None:
    plugin = DltIngestionPlugin()
    assert [plugin.supports_window(t) for t in plugin.list_available_sources()] == [True] * 3
    assert plugin.supports_window("nope") is False
