"""Wait for an Airbyte job to end: one request per poll, a monotonic deadline, injectable sleep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from floe_core.errors import ErrorCode, IngestionError
from floe_core.log import get_logger
from floe_core.telemetry import span
from floe_ingestion_airbyte._client import AirbyteClient
from floe_ingestion_airbyte._retrying import backoff_delay
from floe_ingestion_airbyte.model import JobResponse, JobStatus

__all__ = ["PollOutcome", "wait_for_job"]

log = get_logger(__name__)

_RETRYABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.SOURCE_UNAVAILABLE})


@dataclass(frozen=True)
class PollOutcome:
    """How waiting ended: the last job seen and whether the deadline passed first."""

    job: JobResponse
    timed_out: bool
    polls: int
    statuses: tuple[str, ...]


def wait_for_job(
    client: AirbyteClient,
    job: JobResponse,
    *,
    interval: float,
    deadline: float,
    max_failures: int,
    max_backoff: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> PollOutcome:
    """Poll ``GET /jobs/{jobId}`` until the job is terminal or ``deadline`` passes.

    Unknown statuses keep the loop going. A failed poll that may succeed later (429, 5xx,
    timeouts) waits ``max(interval, Retry-After or backoff)`` and tries again, at most
    ``max_failures`` times in a row. No sleep goes past the deadline.

    Args:
        client: The Airbyte client.
        job: The job as last seen (from starting or attaching to it).
        interval: Seconds between polls.
        deadline: ``clock()`` value after which waiting stops.
        max_failures: Consecutive retryable poll failures tolerated.
        max_backoff: Longest backoff after a failure without Retry-After.
        sleep: Waits; tests pass a fake.
        clock: Monotonic clock.

    Returns:
        The terminal job, or the last one seen with ``timed_out=True``.

    Raises:
        IngestionError: A poll failed in a way waiting does not fix, or too often in a row.
    """
    polls = 0
    failures = 0
    wait = interval
    statuses = [job.status]
    with span("poll", **{"airbyte.job_id": job.job_id}) as current:
        while not job.is_terminal:
            remaining = deadline - clock()
            if remaining <= 0:
                current.set_attribute("airbyte.timed_out", True)
                return PollOutcome(job, timed_out=True, polls=polls, statuses=tuple(statuses))
            sleep(min(wait, remaining))
            polls += 1
            try:
                fresh = client.get_job(job.job_id, retry=False)
            except IngestionError as exc:
                if exc.code not in _RETRYABLE or failures >= max_failures:
                    exc.details.setdefault("job_id", job.job_id)
                    raise
                failures += 1
                announced = exc.retry_after_seconds
                wait = max(
                    interval,
                    announced if announced is not None else backoff_delay(failures, max_backoff),
                )
                log.warning(
                    "airbyte_poll_failed",
                    job_id=job.job_id,
                    code=str(exc.code),
                    status_code=exc.details.get("status_code"),
                    failures=failures,
                    next_wait_seconds=wait,
                )
                continue
            failures = 0
            wait = interval
            if fresh.status != job.status:
                statuses.append(fresh.status)
                if fresh.known_status is JobStatus.UNKNOWN:
                    log.warning(
                        "airbyte_job_status_unknown", job_id=job.job_id, status=fresh.status
                    )
                else:
                    log.info("airbyte_job_status", job_id=job.job_id, status=fresh.status)
            job = fresh
        current.set_attribute("airbyte.polls", polls)
        current.set_attribute("airbyte.status", job.status)
        return PollOutcome(job, timed_out=False, polls=polls, statuses=tuple(statuses))
