"""How an Airbyte job that ended (or did not end in time) becomes an ``IngestionResult``.

A succeeded job is a success with Airbyte's counts; a cancelled one is ``SYNC_CANCELLED``; a
failed one that synced anything is a ``PartialLoadError``; a failed one that synced nothing is
``SYNC_FAILED``, PERMANENT when Airbyte has since disabled the connection. A job still running at
the deadline is ``SYNC_TIMEOUT``, after a best-effort cancel of a sync floe started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from floe_core.errors import (
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PartialLoadError,
    SyncError,
)
from floe_core.ingestion import IngestionConfig, IngestionResult, TableResult
from floe_core.log import get_logger
from floe_ingestion_airbyte._client import AirbyteClient
from floe_ingestion_airbyte.model import ConnectionStatus, JobResponse, JobStatus

if TYPE_CHECKING:
    from floe_ingestion_airbyte.plugin import AirbytePipeline

__all__ = ["failed_result", "finished_result", "timed_out_result"]

# These events were logged from plugin.py before this module was split out; they keep its
# logger name so filters and dashboards keyed on it still match.
log = get_logger("floe_ingestion_airbyte.plugin")


def timed_out_result(
    client: AirbyteClient,
    pipeline: AirbytePipeline,
    job: JobResponse,
    *,
    attached: bool,
    cancel_on_timeout: bool,
    started: float,
    timeout: float,
    facts: dict[str, Any],
    clock: Callable[[], float],
) -> IngestionResult:
    """Report a job still unfinished at the deadline, cancelling it first when floe started it.

    Args:
        client: The plugin's HTTP client.
        pipeline: The pipeline that ran.
        job: The last state of the job seen while polling.
        attached: True when floe attached to a sync it did not start (never cancelled).
        cancel_on_timeout: The ``cancel_on_timeout`` setting.
        started: ``clock()`` when the run started.
        timeout: The sync timeout in seconds.
        facts: Details gathered so far; updated in place and reported.
        clock: The plugin's monotonic clock.

    Returns:
        A failed result with a ``SYNC_TIMEOUT`` error, or the job's own result when it ended
        while the cancel was being refused.
    """
    action = "left running (attached to a sync floe did not start)"
    if cancel_on_timeout and not attached:
        action = "cancel requested"
        try:
            client.cancel_job(job.job_id)
        except IngestionError as exc:
            if exc.details.get("problem") == "state-conflict":
                ended = _look_again(client, job.job_id)
                if ended is not None:
                    facts["ended_while_cancelling"] = True
                    return finished_result(
                        client,
                        pipeline,
                        ended,
                        started=started,
                        facts=facts,
                        deadline=pipeline.deadline or started + timeout,
                        clock=clock,
                    )
                action = "cancel refused (409 state-conflict)"
            else:
                action = f"cancel failed ({exc.code})"
            log.warning(
                "airbyte_cancel_failed",
                job_id=job.job_id,
                code=str(exc.code),
                status_code=exc.details.get("status_code"),
            )
    elif not cancel_on_timeout:
        action = "left running (cancel_on_timeout: false)"
    facts.update(last_status=job.status, timeout_seconds=timeout, on_timeout=action)
    # The timeout bounds the whole source: another attempt would find no time left, so the
    # runner is told not to retry (and not to wait before not retrying).
    error = SyncError(
        f"Airbyte sync job {job.job_id} did not finish within {timeout:g}s "
        f"(last status {job.status!r}); {action}",
        code=ErrorCode.SYNC_TIMEOUT,
        source=pipeline.config.name,
        retryable=False,
        details=facts,
    )
    return failed_result(pipeline.config, error, started=started, clock=clock, facts=facts)


def _look_again(client: AirbyteClient, job_id: int) -> JobResponse | None:
    """Fetch the job once more (no retries); return it only if it has ended."""
    try:
        job = client.get_job(job_id, retry=False)
    except IngestionError:
        return None
    return job if job.is_terminal else None


def finished_result(
    client: AirbyteClient,
    pipeline: AirbytePipeline,
    job: JobResponse,
    *,
    started: float,
    facts: dict[str, Any],
    deadline: float,
    clock: Callable[[], float],
) -> IngestionResult:
    """Report a job that ended: succeeded, cancelled outside floe, or failed.

    Args:
        client: The plugin's HTTP client (to re-check the connection after a failure).
        pipeline: The pipeline that ran.
        job: The job in its terminal state.
        started: ``clock()`` when the run started.
        facts: Details gathered so far; updated in place and reported.
        deadline: The sync deadline, which bounds the connection re-check.
        clock: The plugin's monotonic clock.

    Returns:
        The run's result, with Airbyte's row and byte counts.
    """
    config = pipeline.config
    # rowsSynced and bytesSynced are optional: None means "not reported", not zero.
    rows = job.rows_synced or 0
    written = job.bytes_synced or 0
    landed = rows > 0 or written > 0
    facts.update(
        status=job.status,
        rows_synced=job.rows_synced,
        bytes_synced=job.bytes_synced,
        airbyte_duration=job.duration,
        airbyte_duration_seconds=job.duration_seconds,
        token_refreshes=client.token_refreshes,
    )
    tables = (
        [TableResult(table=config.destination_table, rows_loaded=rows, bytes_written=written)]
        if config.table is not None
        else []
    )
    status = job.known_status
    log.info(
        "airbyte_sync_ended",
        pipeline=config.name,
        job_id=job.job_id,
        status=job.status,
        rows=rows,
        bytes=written,
    )
    if status is JobStatus.SUCCEEDED:
        return IngestionResult(
            source=config.name,
            success=True,
            rows_loaded=rows,
            bytes_written=written,
            tables=tables,
            duration_seconds=_elapsed(clock, started),
            details=facts,
        )
    error: IngestionError
    if status is JobStatus.CANCELLED:
        error = SyncError(
            f"Airbyte sync job {job.job_id} was cancelled outside floe "
            f"(after {_synced(job)}); start it again deliberately",
            code=ErrorCode.SYNC_CANCELLED,
            details=facts,
        )
    elif landed:
        error = PartialLoadError(
            f"Airbyte sync job {job.job_id} failed after syncing {_synced(job)}; what did "
            "not land is unknown (see the job's logs in Airbyte)",
            code=ErrorCode.PARTIAL_SYNC,
            failed_records=None,
            details=facts,
        )
    else:
        error = _failed_without_rows(client, pipeline, job, facts, deadline)
    error.source = config.name
    result = failed_result(config, error, started=started, clock=clock, facts=facts)
    result.rows_loaded = rows
    result.bytes_written = written
    result.tables = tables if landed else []
    return result


def _failed_without_rows(
    client: AirbyteClient,
    pipeline: AirbytePipeline,
    job: JobResponse,
    facts: dict[str, Any],
    deadline: float,
) -> SyncError:
    """Classify a failed job that synced nothing by whether Airbyte then disabled the connection."""
    # The public API gives no failure reason; the evidence is whether Airbyte disabled the
    # connection afterwards (it does after repeated failures, or for a breaking schema
    # change). A disabled connection fails the same way until someone acts: PERMANENT.
    # Without rowsSynced and bytesSynced nothing is known about what landed: say so.
    if job.rows_synced is None and job.bytes_synced is None:
        facts["counts_unknown"] = True
        what = "without reporting rowsSynced or bytesSynced (what landed is unknown)"
    else:
        what = "with nothing synced"
    try:
        connection = client.get_connection(pipeline.connection_id, deadline=deadline)
    except IngestionError as exc:
        facts["connection_check"] = f"failed: {exc.code}"
        connection = None
    if connection is not None and connection.known_status is not ConnectionStatus.ACTIVE:
        facts.update(
            connection_status=connection.status, connection_reason=connection.status_reason
        )
        return SyncError(
            f"Airbyte sync job {job.job_id} failed {what} and Airbyte now marks "
            f"connection {pipeline.label} {connection.status!r}"
            + (f" ({connection.status_reason})" if connection.status_reason else "")
            + "; fix it in Airbyte before retrying",
            code=ErrorCode.SYNC_FAILED,
            category=ErrorCategory.PERMANENT,
            details=facts,
        )
    return SyncError(
        f"Airbyte sync job {job.job_id} failed {what}; the connection is still active, so "
        "a retry may succeed (see the job's logs in Airbyte)",
        code=ErrorCode.SYNC_FAILED,
        details=facts,
    )


def failed_result(
    config: IngestionConfig,
    error: IngestionError,
    *,
    started: float,
    clock: Callable[[], float],
    facts: dict[str, Any] | None = None,
) -> IngestionResult:
    """Log ``error`` and wrap it in a failed result.

    Args:
        config: The pipeline's ingestion config; names the source.
        error: What went wrong; its ``source`` is set to the pipeline's name if unset.
        started: ``clock()`` when the run started.
        clock: The plugin's monotonic clock.
        facts: The details to report; by default, the public subset of ``error.details``.

    Returns:
        A result with ``success=False`` and ``error`` as its only error.
    """
    if error.source is None:
        error.source = config.name
    log.warning(
        "airbyte_sync_failed",
        pipeline=config.name,
        code=str(error.code),
        category=str(error.category),
        job_id=error.details.get("job_id"),
        status_code=error.details.get("status_code"),
    )
    return IngestionResult(
        source=config.name,
        success=False,
        duration_seconds=_elapsed(clock, started),
        errors=[error.to_detail()],
        details=dict(facts if facts is not None else _public_facts(error.details)),
    )


def _elapsed(clock: Callable[[], float], started: float) -> float:
    return max(0.0, clock() - started)


def _synced(job: JobResponse) -> str:
    """Say what a job reported syncing, e.g. ``10 rows and 100 bytes``; None is 'unreported'."""
    rows = f"{job.rows_synced} rows" if job.rows_synced is not None else "an unreported row count"
    return f"{rows} and {job.bytes_synced} bytes" if job.bytes_synced is not None else rows


def _public_facts(details: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("connection_id", "job_id", "attached", "polls", "statuses", "status_code")
    return {k: details[k] for k in keys if k in details}
