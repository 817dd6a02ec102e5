"""A failed load as a Dagster failure, and Dagster's retries built from the manifest's ``retry``.

Dagster owns the retries (the runner is asked for exactly one attempt: no retry loop inside
the retry loop). After a failed attempt :func:`raise_for` decides with floe's own
:class:`~floe_core.RetryPolicy`, so the rule is the one ``floe ingest`` applies:

- CONFIGURATION and non-retryable errors: :class:`dagster.Failure` with ``allow_retries=False``
  (no op-level retry policy can retry it either);
- a retryable failure before ``max_attempts``: :class:`dagster.RetryRequested` with
  ``max_retries = max_attempts - 1`` and the policy's wait (backoff, never shorter than the
  error's ``retry_after_seconds``), chained to the Failure so its metadata shows on the step;
- the last attempt: the Failure.

The Failure's metadata carries ``category``, ``code``, ``retryable``, ``retry_after_seconds``,
``failed_records`` and the message with URL passwords masked.
"""

from __future__ import annotations

from typing import NoReturn

import dagster as dg

from floe_core import ErrorDetail, IngestionResult, RetryPolicy
from floe_core.log import redact_text

__all__ = ["failure_for", "raise_for"]


def _detail(result: IngestionResult) -> ErrorDetail:
    if result.errors:
        return result.errors[0]
    from floe_core import IngestionError

    return IngestionError("the load failed without reporting an error").to_detail()


def failure_for(result: IngestionResult, *, attempt: int, allow_retries: bool) -> dg.Failure:
    """Build the :class:`dagster.Failure` of a failed load.

    Args:
        result: The failed result.
        attempt: The attempt it was (1-based).
        allow_retries: Whether a Dagster retry policy may retry it.

    Returns:
        The failure, its description the first error's masked message.
    """
    first = _detail(result)
    message = redact_text(first.message)
    return dg.Failure(
        description=f"[{first.code}] {message}",
        metadata={
            "floe/source": result.source,
            "floe/category": str(first.category),
            "floe/code": str(first.code),
            "floe/retryable": first.retryable,
            "floe/retry_after_seconds": dg.MetadataValue.float(first.retry_after_seconds)
            if first.retry_after_seconds is not None
            else dg.MetadataValue.null(),
            "floe/failed_records": dg.MetadataValue.int(first.failed_records)
            if first.failed_records is not None
            else dg.MetadataValue.null(),
            "floe/message": message,
            "floe/errors": len(result.errors),
            "floe/attempt": attempt,
        },
        allow_retries=allow_retries,
    )


def raise_for(result: IngestionResult, policy: RetryPolicy, *, attempt: int) -> NoReturn:
    """Raise what Dagster should do after a failed attempt.

    Args:
        result: The failed result of attempt ``attempt``.
        policy: The manifest's retry policy.
        attempt: The attempt that failed (1-based: Dagster's ``retry_number + 1``).

    Raises:
        dagster.RetryRequested: The failure is retryable and attempts remain.
        dagster.Failure: Otherwise.
    """
    retryable = policy.should_retry(result)
    if retryable and attempt < policy.config.max_attempts:
        failure = failure_for(result, attempt=attempt, allow_retries=True)
        raise dg.RetryRequested(
            max_retries=policy.config.max_attempts - 1,
            seconds_to_wait=policy.delay_for(attempt, result),
        ) from failure
    raise failure_for(result, attempt=attempt, allow_retries=False)
