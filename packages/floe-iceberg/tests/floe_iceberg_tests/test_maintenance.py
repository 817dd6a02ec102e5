"""Compaction, snapshot expiry and orphan removal, read back from every catalog."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from floe_core import CatalogConfig, DestinationWriteError, ErrorCode, WriteMode
from floe_core.maintenance import MaintenanceConfig
from floe_iceberg import (
    TableWrite,
    _compact,
    commit_load,
    maintain_table,
    plan_load,
    read_state,
    write_files,
    write_table,
)
from floe_iceberg._abandoned import RECORD_PREFIX, RECORD_SUFFIX, PartRecord
from floe_iceberg._listing import list_files, location_key

from ._maintenance_helpers import (
    checksum,
    data_files,
    incremental_load,
    live_keys,
    source_rows,
    stored_keys,
)


def _later() -> dt.datetime:
    """A "now" just after the test's commits: retention 0 then expires everything expirable."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


NO_COMPACTION = {"small_file_threshold_bytes": 1}


def _settings(**values: object) -> MaintenanceConfig:
    return MaintenanceConfig.model_validate(values)


def test_fifty_incremental_loads_compact_into_target_size_files(
    catalog: Catalog, catalog_config: CatalogConfig, table_name: str
) -> None:
    loads = 50 if catalog_config.type == "sql" else 20  # S3 round trips: keep the suite short
    for load in range(1, loads + 1):
        assert incremental_load(catalog, table_name, load * 1000) == 1000
    before = checksum(catalog, table_name)
    files = data_files(catalog, table_name)
    total = sum(f.file_size_in_bytes for f in files)
    snapshots = len(catalog.load_table(table_name).snapshots())
    assert len(files) == loads and before[0] == loads * 1000
    target = total // 3  # three files' worth; every 1,000-row file is far below a quarter

    result = maintain_table(catalog, table_name, _settings(target_file_size_bytes=target))

    after = data_files(catalog, table_name)
    assert result.files_before == loads and result.files_compacted == loads
    assert result.files_after == len(after) == result.files_written
    assert 2 <= len(after) <= 5
    sizes = sorted(f.file_size_in_bytes for f in after)
    assert all(target / 2 <= s <= target * 2 for s in sizes[1:]), (target, sizes)
    assert checksum(catalog, table_name) == before  # the same rows, count and content
    loaded = catalog.load_table(table_name)
    assert len(loaded.snapshots()) == snapshots + 1  # one new snapshot, nothing expired yet
    summary = loaded.current_snapshot().summary  # type: ignore[union-attr]
    assert summary is not None and summary.operation.value == "replace"
    assert result.orphan_files == 0  # the replaced files are still referenced by snapshots
    assert read_state(catalog, table_name, "k") == {"last_id": loads * 1000 - 1}
    assert incremental_load(catalog, table_name, loads * 1000) == 0  # the cursor survived


def test_dry_run_changes_nothing(sql_catalog: Catalog, table_name: str) -> None:
    for load in range(1, 6):
        incremental_load(sql_catalog, table_name, load * 100)
    before = stored_keys(sql_catalog, table_name)
    settings = _settings(snapshot_retention_days=0, keep_last_snapshots=1, orphan_window_days=0)

    result = maintain_table(sql_catalog, table_name, settings, dry_run=True, now=_later())

    assert result.dry_run and result.files_compacted == 5 and result.files_written == 1
    assert result.snapshots_expired == 4 and result.compaction_snapshot_id is None
    assert stored_keys(sql_catalog, table_name) == before
    assert len(sql_catalog.load_table(table_name).snapshots()) == 5


def test_a_compaction_that_lost_its_files_to_a_merge_fails_cleanly_and_a_rerun_succeeds(
    catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",))
    for start in (0, 10, 20):
        write_table(catalog, spec, [source_rows(start, start + 10)])
    table = catalog.load_table(table_name)
    plan = _compact.plan_compaction(table, table_name, small_file_bytes=1 << 30)
    writer, written = _compact.write_compacted(table, plan, target_file_bytes=1 << 30)
    new_files = {location_key(w.data_file.file_path) for w in written}
    # a merge rewrites the files holding ids 5 and 15 while the compaction is in flight
    write_table(catalog, spec, [pa.table({"id": [5, 15], "name": ["five", "fifteen"]})])
    merged = checksum(catalog, table_name)
    snapshots = len(catalog.load_table(table_name).snapshots())

    with pytest.raises(DestinationWriteError) as caught:
        _compact.commit_compaction(
            table, table_name, plan, written, writer, reload=lambda: catalog.load_table(table_name)
        )

    assert caught.value.code is ErrorCode.COMMIT_CONFLICT
    assert checksum(catalog, table_name) == merged  # the merged rows, not the old ones back
    assert len(catalog.load_table(table_name).snapshots()) == snapshots
    assert not new_files & stored_keys(catalog, table_name)  # its own files were deleted
    rerun = maintain_table(catalog, table_name, _settings(target_file_size_bytes=1 << 30))
    assert rerun.files_compacted >= 2 and rerun.compaction_snapshot_id is not None
    assert checksum(catalog, table_name) == merged
    names = dict(
        zip(*catalog.load_table(table_name).scan().to_arrow().to_pydict().values(), strict=True)
    )
    assert names[5] == "five" and names[15] == "fifteen" and len(names) == 30


def test_an_append_landing_during_compaction_is_kept_with_its_state(
    sql_catalog: Catalog, table_name: str
) -> None:
    for load in range(1, 5):
        incremental_load(sql_catalog, table_name, load * 100)
    table = sql_catalog.load_table(table_name)
    plan = _compact.plan_compaction(table, table_name, small_file_bytes=1 << 30)
    writer, written = _compact.write_compacted(table, plan, target_file_bytes=1 << 30)
    assert incremental_load(sql_catalog, table_name, 500) == 100  # lands first

    _compact.commit_compaction(
        table, table_name, plan, written, writer, reload=lambda: sql_catalog.load_table(table_name)
    )

    assert checksum(sql_catalog, table_name) == checksum_of(500)
    assert len(data_files(sql_catalog, table_name)) == 2  # the compacted file + the new one
    assert read_state(sql_catalog, table_name, "k") == {"last_id": 499}  # the newer cursor
    assert incremental_load(sql_catalog, table_name, 500) == 0


def checksum_of(rows: int) -> tuple[int, int, int]:
    data = source_rows(0, rows)
    pairs = sorted(zip(data["id"].to_pylist(), data["name"].to_pylist(), strict=True))
    return rows, sum(p[0] for p in pairs), hash(tuple(pairs))


def test_expiry_keeps_every_state_the_next_runs_need(catalog: Catalog, table_name: str) -> None:
    for load in range(1, 5):
        incremental_load(catalog, table_name, load * 100, key="a")
    for load in range(1, 4):  # a second key's loads come after: key a's newest carrier is older
        incremental_load(catalog, table_name, 10_000 + load * 10, key="b")
    everything = {"snapshot_retention_days": 0, "keep_last_snapshots": 1, "orphan_window_days": 0}

    kept = maintain_table(
        catalog, table_name, _settings(**everything, **NO_COMPACTION), now=_later()
    )

    assert kept.snapshots_expired == 3  # the snapshots older than key a's last load
    assert kept.snapshots_kept_for_state == 3
    assert read_state(catalog, table_name, "a") == {"last_id": 399}
    assert incremental_load(catalog, table_name, 450, key="a") == 50  # resumes exactly

    # with compaction every state moves into its snapshot: everything else can go
    done = maintain_table(catalog, table_name, _settings(**everything), now=_later())
    loaded = catalog.load_table(table_name)
    assert done.compaction_snapshot_id is not None
    assert [s.snapshot_id for s in loaded.snapshots()] == [done.compaction_snapshot_id]
    assert read_state(catalog, table_name, "a") == {"last_id": 449}
    assert read_state(catalog, table_name, "b") == {"last_id": 10_029}
    assert incremental_load(catalog, table_name, 500, key="a") == 50
    assert incremental_load(catalog, table_name, 10_040, key="b") == 10
    assert done.orphan_files > 0 and live_keys(catalog, table_name) <= stored_keys(
        catalog, table_name
    )


def test_a_large_state_file_survives_expiry_and_orphan_removal(
    sql_catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="big")
    big = {"hashes": [uuid.uuid4().hex for _ in range(400)]}  # > 8 KiB: a state file
    write_table(sql_catalog, spec, [source_rows(0, 10)], state=lambda: big)
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [source_rows(10, 20)])
    settings = _settings(snapshot_retention_days=0, keep_last_snapshots=1, orphan_window_days=0)

    maintain_table(sql_catalog, table_name, settings, now=_later())
    maintain_table(sql_catalog, table_name, settings, now=_later())

    assert read_state(sql_catalog, table_name, "big") == big
    assert checksum(sql_catalog, table_name) == checksum_of(20)


def test_abandoned_load_records_are_honoured_after_the_window(
    sql_catalog: Catalog, table_name: str, tmp_path: Path
) -> None:
    incremental_load(sql_catalog, table_name, 100)
    table = sql_catalog.load_table(table_name)
    staging = tmp_path / "staging"  # a distributed load's files may live outside the table
    staging.mkdir()
    old_files = [staging / "w1-0.parquet", staging / "w1-1.parquet"]
    young_files = [staging / "w2-0.parquet"]
    for path in old_files + young_files:
        path.write_bytes(b"PAR1 not really")
    metadata_dir = Path(table.location().removeprefix("file://")) / "metadata"
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    records = {
        "floe-abandoned-old.metadata.json": (old, old_files),
        "floe-abandoned-young.metadata.json": (dt.datetime.now(dt.UTC), young_files),
    }
    for name, (created, paths) in records.items():
        body = {"version": 1, "created_at": created.isoformat(), "load_id": name,
                "files": [f"file://{p}" for p in paths]}  # fmt: skip
        (metadata_dir / name).write_text(json.dumps(body))
    (metadata_dir / "floe-abandoned-garbage.metadata.json").write_text("{not json")
    before = checksum(sql_catalog, table_name)

    result = maintain_table(sql_catalog, table_name, _settings(orphan_window_days=1))

    assert result.abandoned_records == 1 and result.orphan_files == 2
    assert not any(p.exists() for p in old_files)
    assert all(p.exists() for p in young_files)
    assert not (metadata_dir / "floe-abandoned-old.metadata.json").exists()
    assert (metadata_dir / "floe-abandoned-young.metadata.json").exists()
    assert (metadata_dir / "floe-abandoned-garbage.metadata.json").exists()  # not understood
    assert checksum(sql_catalog, table_name) == before


def test_listing_sees_what_the_writes_wrote(catalog: Catalog, table_name: str) -> None:
    incremental_load(catalog, table_name, 10)
    table = catalog.load_table(table_name)
    listed = list(list_files(table.io, table.location()))
    assert live_keys(catalog, table_name) <= {f.key for f in listed}
    assert all(f.size > 0 and f.modified is not None for f in listed)
    assert list(list_files(table.io, table.location() + "/no-such-folder")) == []


class _Client:
    """An OpenLineage client that keeps the events."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def emit(self, event: object) -> None:
        self.events.append(event)


def test_spans_metrics_and_lineage_of_a_run(
    sql_catalog: Catalog, table_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from floe_core.lineage import LineageEmitter

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    meters = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(trace, "get_tracer", lambda name, *a, **k: tracing.get_tracer(name))
    monkeypatch.setattr(metrics, "get_meter", lambda name, *a, **k: meters.get_meter(name))
    client = _Client()
    lineage = LineageEmitter(client=client)  # type: ignore[arg-type]
    for load in range(1, 4):
        incremental_load(sql_catalog, table_name, load * 10)
    settings = _settings(snapshot_retention_days=0, keep_last_snapshots=1, orphan_window_days=0)

    done = maintain_table(sql_catalog, table_name, settings, now=_later(), lineage=lineage)

    names = [s.name for s in exporter.get_finished_spans() if "maintenance" in s.name]
    assert names == [
        "floe.maintenance.compact",
        "floe.maintenance.expire",
        "floe.maintenance.remove_orphans",
    ]
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        m.name: sum(p.value for p in m.data.data_points)  # type: ignore[union-attr]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert points["floe_maintenance_files_rewritten_total"] == 3
    assert points["floe_maintenance_snapshots_expired_total"] == done.snapshots_expired == 3
    assert points["floe_maintenance_orphan_files_removed_total"] == done.orphan_files > 0
    assert points["floe_maintenance_bytes_reclaimed_total"] == done.orphan_bytes > 0
    states = [e.eventType.value for e in client.events]  # type: ignore[attr-defined]
    assert states == ["START", "COMPLETE"]
    job = client.events[0].job  # type: ignore[attr-defined]
    assert job.name == f"maintenance.compact.{table_name}"
    assert client.events[1].outputs[0].name == table_name  # type: ignore[attr-defined]


def test_a_record_of_a_committed_load_goes_and_its_files_stay(
    sql_catalog: Catalog, table_name: str
) -> None:
    incremental_load(sql_catalog, table_name, 100)
    spec = TableWrite(table_name, WriteMode.APPEND)
    plan = plan_load(sql_catalog, spec)
    sets = [
        write_files(sql_catalog, plan, [source_rows(100 + 10 * n, 110 + 10 * n)], part=n)
        for n in range(2)
    ]
    commit_load(sql_catalog, plan, sets)
    table = sql_catalog.load_table(table_name)
    assert table.current_snapshot().summary["floe.load-id"] == plan.load_id  # type: ignore[union-attr]
    # the committer died after the catalog took the commit, before deleting the records: the
    # workers' records (written by the writer's own record code) still list the live files
    paths = [p for s in sets for p in s.paths]
    for file_set in sets:
        record = PartRecord(plan.location, plan.load_id, file_set.part)
        record.attach(table.io)
        for path in file_set.paths:
            record.add(path)
    metadata_dir = Path(table.location().removeprefix("file://")) / "metadata"
    records = sorted(metadata_dir.glob(f"{RECORD_PREFIX}*{RECORD_SUFFIX}"))
    assert len(records) == 2
    assert set(json.loads(records[0].read_text())) == {"version", "created_at", "load_id", "files"}
    before = checksum(sql_catalog, table_name)

    result = maintain_table(
        sql_catalog, table_name, _settings(orphan_window_days=0, **NO_COMPACTION), now=_later()
    )

    assert result.abandoned_records == 2  # young, but committed: deleted at any age
    assert not any(p.exists() for p in records)
    assert paths and all(Path(p.removeprefix("file://")).exists() for p in paths)
    assert checksum(sql_catalog, table_name) == before == (120, sum(range(120)), before[2])
