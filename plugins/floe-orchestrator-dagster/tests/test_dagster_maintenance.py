"""The ``ingestion_maintenance`` job: compacts what the assets loaded, observes it, schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_test_helpers import events, make_project

from floe_core import PipelineConfigurationError
from floe_dagster import MAINTENANCE_JOB, build_definitions

SHOP = "sqlite:///${FLOE_PROJECT_DIR}/shop.db"

EVENTS: dict[str, Any] = {  # a full reload appended each run: one more small file per run
    "name": "events",
    "type": "sql_database",
    "config": {"connection_string": SHOP, "tables": ["customers"]},
    "destination": {"table": "bronze.events", "write_disposition": "append"},
}
ORDERS: dict[str, Any] = {  # a namespace destination: its listed tables are its assets
    "name": "orders",
    "type": "sql_database",
    "config": {"connection_string": SHOP, "tables": ["orders"]},
    "destination": {"table": "bronze.*", "write_disposition": "append"},
    "incremental": {"cursor_field": "updated_at"},
}


def _manifest(folder: Path, **maintenance: Any) -> dict[str, Any]:
    return {
        "storage": {"type": "local", "path": str(folder / "warehouse")},
        "maintenance": maintenance,
    }


def _observations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for event in events(result, "ASSET_OBSERVATION"):
        observation = event.event_specific_data.asset_observation
        metadata = {k: v.value for k, v in observation.metadata.items()}
        out[observation.asset_key.to_user_string()] = metadata
    return out


def _instance(tmp_path: Path) -> Any:
    (tmp_path / "dagster").mkdir()
    return dg.instance_for_test(temp_dir=str(tmp_path / "dagster"))


def _data_files(table: Any) -> tuple[int, int]:
    files = table.inspect.files()
    return files.num_rows, sum(files.column("file_size_in_bytes").to_pylist())


def test_the_job_compacts_the_loaded_files_and_observes_the_report(tmp_path: Path) -> None:
    import pyarrow as pa

    folder = tmp_path / "shop"
    manifest = _manifest(
        folder, snapshot_retention_days=0, keep_last_snapshots=2, orphan_window_days=0
    )
    project = make_project(folder, [EVENTS, ORDERS], manifest=manifest)
    defs = build_definitions(project.floe_yaml, project.manifest)
    dg.Definitions.validate_loadable(defs)
    assets = list(defs.assets or [])
    with _instance(tmp_path) as instance:
        assert dg.materialize(assets, instance=instance).success
        for _ in range(2):  # only the append source: the incremental one would load nothing
            events_only = ["ingestion__events__events"]
            assert dg.materialize(assets, instance=instance, selection=events_only).success
        catalog = project.catalog()
        table = catalog.load_table("bronze.events")
        before = table.scan().to_arrow().sort_by("id")
        files_before, bytes_before = _data_files(table)
        snapshots_before = len(table.metadata.snapshots)
        assert before.num_rows == 3 * 200 and files_before == 3
        stray = Path(table.location().removeprefix("file://")) / "data" / "stray.parquet"
        stray.write_bytes(b"left by a killed writer")
        other = catalog.create_table("bronze.other", pa.schema([("n", pa.int64())]))
        for n in range(2):  # two small files in the namespace that no asset loaded
            other.append(pa.table({"n": [n]}))

        job = defs.resolve_job_def(MAINTENANCE_JOB)
        assert sorted(n.name for n in job.nodes) == [
            "maintain__ingestion__events",
            "maintain__ingestion__orders",
        ]
        result = job.execute_in_process(instance=instance)
        assert result.success

        table = catalog.load_table("bronze.events")
        after = table.scan().to_arrow().sort_by("id")
        assert after.equals(before)  # the same rows, rewritten
        files_after, bytes_after = _data_files(table)
        assert files_after == 1
        assert not stray.exists()
        observed = _observations(result)
        assert sorted(observed) == ["ingestion__events__events", "ingestion__orders__orders"]
        m = observed["ingestion__events__events"]
        assert m["dagster/table_name"] == "bronze.events"
        assert (m["floe/files_before"], m["floe/bytes_before"]) == (files_before, bytes_before)
        assert (m["floe/files_after"], m["floe/bytes_after"]) == (files_after, bytes_after)
        assert m["floe/files_compacted"] == 3 and m["floe/files_written"] == 1
        assert m["floe/compaction_snapshot_id"] == table.current_snapshot().snapshot_id
        assert m["floe/compaction_skipped"] is None
        assert m["floe/snapshots_before"] == snapshots_before + 1  # with the compaction's
        assert m["floe/snapshots_expired"] == m["floe/snapshots_before"] - len(
            table.metadata.snapshots
        )
        assert m["floe/snapshots_expired"] >= 1
        assert m["floe/orphan_files"] >= 1  # the stray file, and files expiry released
        assert m["floe/duration_seconds"] > 0
        assert m["floe/dry_run"] is False
        # the incremental source loaded once: one file, nothing to compact
        o = observed["ingestion__orders__orders"]
        assert o["floe/files_before"] == o["floe/files_after"] == 1
        assert o["floe/compaction_skipped"] is not None
        assert project.rows("bronze.orders").num_rows == 2000
        # Dagster keeps the observation on the asset
        stored = instance.fetch_observations(dg.AssetKey("ingestion__events__events"), limit=1)
        record = stored.records[0].asset_observation
        assert record is not None and record.metadata["floe/files_after"].value == 1
        assert _data_files(catalog.load_table("bronze.other"))[0] == 2  # not an asset: untouched

        # a data file lost from storage: the op fails DESTINATION_UNAVAILABLE (TRANSIENT)
        events_only = ["ingestion__events__events"]
        assert dg.materialize(assets, instance=instance, selection=events_only).success
        lost = catalog.load_table("bronze.events").inspect.files().column("file_path")[0]
        Path(lost.as_py().removeprefix("file://")).unlink()
        failed = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not failed.success
    (failure,) = events(failed, "STEP_FAILURE")
    assert failure.step_key == "maintain__ingestion__events"
    metadata = failure.event_specific_data.user_failure_data.metadata
    assert (metadata["floe/category"].value, metadata["floe/code"].value) == (
        "TRANSIENT",
        "DESTINATION_UNAVAILABLE",
    )


def test_a_failing_table_fails_its_op_with_category_and_code(tmp_path: Path) -> None:
    bad = {**EVENTS, "maintenance": {"small_file_threshold_bytes": 5000}}
    folder = tmp_path / "shop"
    project = make_project(
        folder, [bad, ORDERS], manifest=_manifest(folder, target_file_size_bytes=1000)
    )
    defs = build_definitions(project.floe_yaml, project.manifest)
    with _instance(tmp_path) as instance:
        result = defs.resolve_job_def(MAINTENANCE_JOB).execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    failures = [e for e in events(result, "STEP_FAILURE")]
    assert [e.step_key for e in failures] == ["maintain__ingestion__events"]
    data = failures[0].event_specific_data
    metadata = {k: v.value for k, v in data.user_failure_data.metadata.items()}
    assert metadata["floe/category"] == "CONFIGURATION"
    assert metadata["floe/code"] == "INVALID_CONFIG"
    assert metadata["floe/retryable"] is False
    assert "ingestion.sources[0].maintenance" in metadata["floe/message"]
    # the other source's op ran (its table does not exist yet: nothing observed)
    assert result.output_for_node("maintain__ingestion__orders") is None
    assert events(result, "ASSET_OBSERVATION") == []


def test_the_schedule_comes_from_the_manifest_or_the_argument(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    project = make_project(folder, [EVENTS], manifest=_manifest(folder, schedule="0 3 * * *"))
    defs = build_definitions(project.floe_yaml, project.manifest)
    schedule = defs.resolve_schedule_def(f"{MAINTENANCE_JOB}_schedule")
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.job_name == MAINTENANCE_JOB

    given = build_definitions(project.floe_yaml, project.manifest, maintenance_schedule="@weekly")
    assert given.resolve_schedule_def(f"{MAINTENANCE_JOB}_schedule").cron_schedule == "@weekly"

    plain = make_project(tmp_path / "plain", [EVENTS])
    unscheduled = build_definitions(plain.floe_yaml, plain.manifest)
    assert unscheduled.resolve_job_def(MAINTENANCE_JOB)
    assert not unscheduled.schedules

    off = build_definitions(project.floe_yaml, project.manifest, maintenance=False)
    assert MAINTENANCE_JOB not in {j.name for j in off.jobs or []}
    assert not off.schedules

    with pytest.raises(PipelineConfigurationError, match="has 4 field") as caught:
        build_definitions(project.floe_yaml, project.manifest, maintenance_schedule="0 3 * *")
    assert caught.value.code == "INVALID_CONFIG"
