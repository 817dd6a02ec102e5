"""Parallel runs on one catalog, through execute_job and the multiprocess executor.

Two runs start at once on one catalog: run A materializes both shop sources (two steps, two
processes, in parallel), run B materializes ``orders`` again. Every table lands; ``orders`` is
written by two processes at the same time and ends with each row exactly once: one commit
lands, the other meets the catalog's commit check (or the committed cursor) and is retried or
fails cleanly, never duplicating rows. On the embedded SQLite catalog and on SeaweedFS's REST
catalog.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster_test_helpers import catalog_section, make_project, shop_sources

from floe_core import CatalogConfig
from floe_dagster import RUN_ID_PROPERTY


def _run(defs_file: Path, job: str, home: Path, out: dict[str, Any]) -> None:
    home.mkdir(parents=True)
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        result = dg.execute_job(ReconstructableJob.for_file(str(defs_file), job), instance=instance)
        failures = [e.step_failure_data.user_failure_data for e in result.get_step_failure_events()]
        starts = {
            e.step_key: e.pid for e in result.all_events if e.event_type_value == "STEP_START"
        }
        out[job] = (result.success, result.run_id, failures, starts)


def _check_parallel_runs(tmp_path: Path, manifest: dict[str, Any], namespace: str) -> None:
    project = make_project(tmp_path / "p", shop_sources(namespace), manifest=manifest)
    outcome: dict[str, Any] = {}
    threads = []
    for job in ("ingestion_job", "orders_job"):
        defs_file = project.folder / f"defs_{job}.py"  # one module per thread: no import race
        defs_file.write_text((project.folder / "defs.py").read_text())
        threads.append(
            threading.Thread(target=_run, args=(defs_file, job, tmp_path / job, outcome))
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    assert set(outcome) == {"ingestion_job", "orders_job"}, outcome

    all_ok, all_run, _, starts = outcome["ingestion_job"]
    # the two sources ran as two steps in two processes
    assert set(starts) == {"ingestion__orders", "ingestion__customers"}
    assert len(set(starts.values())) == 2
    for success, _, failures, _ in outcome.values():
        # a run that lost the race fails cleanly: a floe Failure with its category and code
        assert success or all(f is not None and "floe/code" in f.metadata for f in failures)
    assert all_ok or outcome["orders_job"][0]

    catalog = project.catalog()
    orders = catalog.load_table(f"{namespace}.orders").scan().to_arrow()
    assert orders.num_rows == 2000
    assert len(set(orders.column("id").to_pylist())) == 2000
    customers = catalog.load_table(f"{namespace}.customers")
    assert customers.scan().to_arrow().num_rows == 200
    summary = customers.current_snapshot().summary.additional_properties
    assert summary[RUN_ID_PROPERTY] == all_run


def test_parallel_runs_on_the_embedded_sqlite_catalog(tmp_path: Path) -> None:
    manifest = {"storage": {"type": "local", "path": str(tmp_path / "warehouse")}}
    _check_parallel_runs(tmp_path, manifest, "bronze")


@pytest.mark.seaweedfs
def test_parallel_runs_on_the_seaweedfs_rest_catalog(
    tmp_path: Path, seaweedfs_catalog_config: CatalogConfig
) -> None:
    manifest = {"catalog": catalog_section(seaweedfs_catalog_config)}
    _check_parallel_runs(tmp_path, manifest, f"dg_{uuid.uuid4().hex[:8]}")
