"""OpenLineage events of the compaction job (``maintenance.compact.<table>``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from floe_core.lineage import LineageEmitter

__all__ = ["compaction_lineage"]

log = structlog.get_logger(__name__)


def compaction_lineage(
    emitter: LineageEmitter | None,
    state: str,
    table: str,
    run_id: str | None,
    *,
    error: BaseException | None = None,
) -> str | None:
    """Emit one OpenLineage event of the compaction job; never fails the compaction."""
    if emitter is None:
        return None
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import error_message_run, job_type_job
    from openlineage.client.uuid import generate_new_uuid

    from floe_core.lineage import PRODUCER, dataset_namespace

    run_id = run_id or str(generate_new_uuid())
    facets: dict[str, Any] = {}
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=str(error)[:500], programmingLanguage="python", producer=PRODUCER
        )
    namespace = dataset_namespace(emitter.catalog)
    job_type = job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration="FLOE", jobType="MAINTENANCE", producer=PRODUCER
    )
    event = RunEvent(
        eventType=RunState[state],
        eventTime=dt.datetime.now(dt.UTC).isoformat(),
        run=Run(runId=run_id, facets=facets),
        job=Job(
            namespace=emitter.namespace,
            name=f"maintenance.compact.{table}",
            facets={"jobType": job_type},
        ),
        inputs=[InputDataset(namespace=namespace, name=table)],
        outputs=[OutputDataset(namespace=namespace, name=table)],
        producer=PRODUCER,
    )
    try:
        emitter.client.emit(event)
    except Exception as exc:
        log.warning("lineage_emit_failed", table=table, error=f"{type(exc).__name__}: {exc}")
    return run_id
