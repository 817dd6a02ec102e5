"""The Airbyte plugin's sources become assets the same way: kind airbyte, sync facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from dagster_test_helpers import events, make_project, materialized

from floe_core import CatalogConfig, PlatformManifest, PluginRegistry, Runner
from floe_dagster import build_definitions
from floe_ingestion_airbyte import AirbyteIngestionPlugin
from floe_ingestion_airbyte.testing import FakeAirbyte

FAKE = FakeAirbyte()


class FakeWiredAirbyte(AirbyteIngestionPlugin):
    """The real plugin, its HTTP served by the in-memory fake (no socket, no waiting)."""

    def __init__(self, config: Any = None, *, catalog: CatalogConfig | None = None) -> None:
        super().__init__(
            config,
            catalog=catalog,
            transport=FAKE.transport,
            sleep=FAKE.clock.sleep,
            clock=FAKE.clock,
        )


def test_airbyte_connections_are_assets_with_the_sync_facts(tmp_path: Path) -> None:
    ok = FAKE.add_connection(script=["pending", "running", "succeeded"], rows=1500)
    broken = FAKE.add_connection(script=["running", "failed"])
    sources = [
        {
            "name": name,
            "type": "airbyte_connection",
            "config": {"connection_id": connection},
            "destination": {"table": f"bronze.{name}"},
        }
        for name, connection in (("crm", ok), ("erp", broken))
    ]
    manifest = {
        "plugins": {"ingestion": {"type": "airbyte", "config": FAKE.config()}},
        "storage": {"type": "local", "path": str(tmp_path / "warehouse")},
    }
    project = make_project(tmp_path / "p", sources, manifest=manifest)

    def runner() -> Runner:
        registry = PluginRegistry(entry_points=[])
        registry.register("airbyte", FakeWiredAirbyte)
        return Runner(PlatformManifest.load(project.manifest), registry)

    defs = build_definitions(project.floe_yaml, project.manifest, runner_factory=runner)
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("ingestion__crm__crm"))
    assert node.kinds == {"airbyte", "iceberg"}
    assert node.assets_def.op.pool == "floe_airbyte"

    result = dg.materialize(list(defs.assets or []), raise_on_error=False)
    meta = materialized(result)["ingestion__crm__crm"]
    job_ids = [j.job_id for j in FAKE.jobs.values() if j.connection_id == ok]
    assert meta["dagster/row_count"] == 1500
    assert meta["floe/bytes_written"] == 20480
    assert meta["floe/job_id"] == str(job_ids[0])
    assert meta["floe/attempts"] == 1
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "ingestion__erp"
    data = failure.step_failure_data.user_failure_data
    assert data is not None
    assert data.metadata["floe/code"].value == "SYNC_FAILED"
    # SYNC_FAILED is TRANSIENT: Dagster retried it up to max_attempts (3) in total
    erp_jobs = [j for j in FAKE.jobs.values() if j.connection_id == broken]
    assert len(erp_jobs) == 3
    assert (
        len([e for e in events(result, "STEP_UP_FOR_RETRY") if e.step_key == failure.step_key]) == 2
    )
