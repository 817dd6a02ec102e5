"""Partitioned sources: a partition run (or a range backfill) replaces exactly its window."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_test_helpers import SHOP_SOURCES, make_project, materialized

from floe_dagster import build_definitions

UTC = dt.UTC
KEY = "ingestion__events__events"
_EVENTS = [
    (1, "2026-03-01 03:00:00"),
    (2, "2026-03-02 00:00:00"),
    (3, "2026-03-02 23:59:59"),
    (4, "2026-03-03 00:00:00"),
    (5, "2026-03-03 09:00:00"),
    (6, "2026-03-04 00:00:00"),  # after the backfilled days: never loaded
]


def _source(connection_string: str, table: str = "events") -> dict[str, Any]:
    return {
        "name": "events",
        "type": "sql_database",
        "config": {"connection_string": connection_string, "tables": [table]},
        "destination": {"table": "bronze.events", "write_disposition": "append"},
        "incremental": {"cursor_field": "updated_at"},
        "partitions": {"schedule": "daily", "start": "2026-03-01", "column": "updated_at"},
    }


def _ids(project: Any) -> list[int]:
    return sorted(project.rows("bronze.events").column("id").to_pylist())


def _range(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def _backfill_days_and_rerun_one(
    project: Any, change: Any, *, extra_rows: list[int] | None = None
) -> None:
    defs = build_definitions(project.floe_yaml, project.manifest)
    assets = list(defs.assets or [])
    with dg.instance_for_test() as instance:
        one = dg.materialize(assets, instance=instance, partition_key="2026-03-02")
        assert one.success
        assert _ids(project) == [2, 3]
        assert materialized(one)[KEY]["dagster/row_count"] == 2
        assert materialized(one)[KEY]["floe/window"] == (
            "updated_at in [2026-03-02T00:00:00+00:00, 2026-03-03T00:00:00+00:00)"
        )

        # a 3-day backfill as one run (single-run policy): day 2 again, each day exactly once
        backfill = dg.materialize(
            assets, instance=instance, tags=_range("2026-03-01", "2026-03-03")
        )
        assert backfill.success
        assert _ids(project) == [1, 2, 3, 4, 5]
        table = project.catalog().load_table("bronze.events")
        snapshots = len(table.snapshots())
        assert table.current_snapshot().summary["dagster.run-id"] == backfill.run_id

        change()  # the source changes within day 2 (id 3 leaves it, id 7 arrives)
        again = dg.materialize(assets, instance=instance, partition_key="2026-03-02")
        assert again.success
        assert _ids(project) == [1, 2, 4, 5, 7]
        assert len(project.catalog().load_table("bronze.events").snapshots()) == snapshots + 1


def _sqlite_events(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, updated_at TIMESTAMP)")
        conn.executemany("INSERT INTO events VALUES (?, ?)", _EVENTS)


def test_sqlite_partitions_backfill_and_rerun(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    _sqlite_events(folder / "events.db")
    project = make_project(folder, [_source("sqlite:///${FLOE_PROJECT_DIR}/events.db")])

    def change() -> None:
        with sqlite3.connect(folder / "events.db") as conn:
            conn.execute("UPDATE events SET updated_at = '2026-03-05 00:00:00' WHERE id = 3")
            conn.execute("INSERT INTO events VALUES (7, '2026-03-02 12:00:00')")

    _backfill_days_and_rerun_one(project, change)


def test_definitions_are_daily_partitioned_with_single_run_backfills(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    _sqlite_events(folder / "events.db")
    project = make_project(folder, [_source("sqlite:///${FLOE_PROJECT_DIR}/events.db")])
    defs = build_definitions(project.floe_yaml, project.manifest)
    (assets,) = list(defs.assets or [])
    assert isinstance(assets, dg.AssetsDefinition)
    partitions = assets.partitions_def
    assert isinstance(partitions, dg.DailyPartitionsDefinition)
    assert partitions.get_first_partition_key() == "2026-03-01"
    assert assets.backfill_policy == dg.BackfillPolicy.single_run()


def test_partitioned_sources_get_their_own_jobs_and_window_schedules(tmp_path: Path) -> None:
    daily = {**_source("sqlite:///${FLOE_PROJECT_DIR}/events.db"), "schedule": "0 1 * * *"}
    hourly = _source("sqlite:///${FLOE_PROJECT_DIR}/events.db")
    hourly["name"], hourly["destination"] = "ticks", {"table": "bronze.ticks"}
    hourly["partitions"] = {**hourly["partitions"], "schedule": "hourly"}
    project = make_project(tmp_path / "p", [*SHOP_SOURCES, daily, hourly])
    defs = build_definitions(project.floe_yaml, project.manifest)
    everything = defs.resolve_job_def("ingestion")
    assert everything.partitions_def is None  # two partitions definitions cannot share a job
    assert {k.to_user_string() for k in everything.asset_layer.executable_asset_keys} == {
        "ingestion__orders__orders",
        "ingestion__customers__customers",
    }
    events = defs.resolve_job_def("ingestion__events_job")
    assert isinstance(events.partitions_def, dg.DailyPartitionsDefinition)
    schedule = defs.resolve_schedule_def("ingestion__events_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    assert schedule.job_name == "ingestion__events_job"


@pytest.mark.parametrize(
    ("schedule", "kind", "first", "window"),
    [
        ("hourly", dg.HourlyPartitionsDefinition, "2026-03-01-00:00", dt.timedelta(hours=1)),
        ("monthly", dg.MonthlyPartitionsDefinition, "2026-03-01", dt.timedelta(days=31)),
    ],
)
def test_hourly_and_monthly_windows(
    tmp_path: Path, schedule: str, kind: type, first: str, window: dt.timedelta
) -> None:
    source = _source("sqlite:///${FLOE_PROJECT_DIR}/events.db")
    source["partitions"] = {**source["partitions"], "schedule": schedule}
    project = make_project(tmp_path / "p", [source])
    defs = build_definitions(project.floe_yaml, project.manifest)
    (assets,) = list(defs.assets or [])
    assert isinstance(assets, dg.AssetsDefinition)
    partitions = assets.partitions_def
    assert isinstance(partitions, kind)
    assert partitions.get_first_partition_key() == first
    span = partitions.time_window_for_partition_key(first)
    assert (span.start, span.end - span.start) == (dt.datetime(2026, 3, 1, tzinfo=UTC), window)


def test_postgres_partitions_backfill_and_rerun(tmp_path: Path, postgres_dsn: str) -> None:
    import sqlalchemy as sa

    table = f"events_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_dsn.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, updated_at timestamp)")
            )
            for i, ts in _EVENTS:
                conn.execute(sa.text(f"INSERT INTO {table} VALUES (:i, :ts)"), {"i": i, "ts": ts})
        source = _source(postgres_dsn, table)
        project = make_project(tmp_path / "p", [source])

        def change() -> None:
            with engine.begin() as conn:
                conn.execute(sa.text(f"UPDATE {table} SET updated_at = '2026-03-05' WHERE id = 3"))
                conn.execute(sa.text(f"INSERT INTO {table} VALUES (7, '2026-03-02 12:00')"))

        _backfill_days_and_rerun_one(project, change)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
