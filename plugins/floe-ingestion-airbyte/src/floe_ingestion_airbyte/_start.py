"""Starting a sync: start one, or attach to the sync already running (``on_running_sync``)."""

from __future__ import annotations

from floe_core.errors import ErrorCode, SyncError
from floe_core.log import get_logger
from floe_ingestion_airbyte._client import AirbyteClient
from floe_ingestion_airbyte.config import RunningSyncPolicy
from floe_ingestion_airbyte.model import JobResponse, JobStatus

__all__ = ["start_or_attach"]

log = get_logger(__name__)

_CONNECTION_STATE_PROBLEMS = frozenset({"state-conflict", "locked"})


def start_or_attach(
    client: AirbyteClient,
    connection_id: str,
    label: str,
    *,
    policy: RunningSyncPolicy,
    deadline: float,
) -> tuple[JobResponse, bool]:
    """Start a sync of the connection, or attach to the one already running.

    Args:
        client: The API client.
        connection_id: The connection.
        label: How messages name it (its id, or where the secret lives).
        policy: What to do when a sync is already running.
        deadline: When retries must stop.

    Returns:
        The job and whether it was attached to (True) or started (False).

    Raises:
        SyncError: The sync could not start (or, ``policy`` fail, one is running).
    """
    try:
        return client.start_sync(connection_id, deadline=deadline), False
    except SyncError as exc:
        if exc.code is not ErrorCode.SYNC_ALREADY_RUNNING:
            if exc.details.get("problem") in _CONNECTION_STATE_PROBLEMS:
                exc.message = (
                    f"Airbyte refused to start a sync of connection {label}: "
                    f"{exc.message} (is the connection still active?)"
                )
            raise
        if policy is RunningSyncPolicy.FAIL:
            exc.message = (
                f"a sync of connection {label} is already running "
                "(on_running_sync: fail); try again when it ends"
            )
            raise
        running = _running_job(client, connection_id, deadline)
        if running is None:
            exc.message = (
                f"Airbyte says a sync of connection {label} is already "
                "running, but lists no unfinished job to attach to; try again later"
            )
            raise
        log.info(
            "airbyte_sync_attached",
            connection_id=label,
            job_id=running.job_id,
            status=running.status,
        )
        return running, True


def _running_job(client: AirbyteClient, connection_id: str, deadline: float) -> JobResponse | None:
    for status in (JobStatus.RUNNING.value, None):
        jobs = client.list_jobs(connection_id, status=status, deadline=deadline)
        for job in jobs:
            if not job.is_terminal and (job.job_type in (None, "sync")):
                return job
    return None
