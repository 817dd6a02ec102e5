"""The one retry policy the runner applies to every load (ADR-0023).

A failed :class:`~floe_core.ingestion.IngestionResult` is retried when **every** error is
retryable under this rule: its category is listed in ``retryable_categories``, and, for a
TRANSIENT error, it is marked ``retryable`` (a plugin's veto: "transient, but retrying will not
help"). The configured categories decide for PERMANENT and PARTIAL, whose errors are
``retryable=False`` by default; CONFIGURATION is never retried, whatever the config says.
The wait before attempt *n + 1* is ``initial_delay_seconds * backoff_multiplier ** (n - 1)``,
capped at ``max_delay_seconds``, and never shorter than the largest ``retry_after_seconds`` the
errors carry (a server's ``Retry-After`` wins over the cap). Built on tenacity; ``sleep`` is
injectable so tests never wait.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential

from floe_core.errors import ErrorCategory
from floe_core.ingestion import IngestionResult
from floe_core.manifest import RetryConfig

__all__ = ["RetryAttempt", "RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryAttempt:
    """A retry about to happen, as passed to ``on_retry``.

    Attributes:
        attempt: The attempt that failed (1 for the first).
        delay_seconds: How long the policy waits before the next attempt.
        result: The failed result.
    """

    attempt: int
    delay_seconds: float
    result: IngestionResult


class _WaitBackoffOrRetryAfter(wait_base):
    """Exponential backoff, but at least the failed result's largest ``retry_after_seconds``."""

    def __init__(self, config: RetryConfig) -> None:
        self._backoff = wait_exponential(
            multiplier=config.initial_delay_seconds,
            exp_base=config.backoff_multiplier,
            min=0,
            max=config.max_delay_seconds,
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = float(self._backoff(retry_state))
        outcome = retry_state.outcome
        if outcome is not None and not outcome.failed:
            result = outcome.result()
            if isinstance(result, IngestionResult):
                hints = [e.retry_after_seconds for e in result.errors if e.retry_after_seconds]
                delay = max([delay, *[float(h) for h in hints if h is not None]])
        return delay


class RetryPolicy:
    """Retry failed loads according to a manifest's ``plugins.ingestion.retry`` section.

    Args:
        config: The retry settings; the defaults (3 attempts, TRANSIENT only) when None.
        sleep: Called with the seconds to wait; ``time.sleep`` by default.
        on_retry: Called before each wait with what failed and how long the wait is.
    """

    def __init__(
        self,
        config: RetryConfig | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[RetryAttempt], None] | None = None,
    ) -> None:
        self.config = config if config is not None else RetryConfig()
        self._sleep = sleep
        self._on_retry = on_retry
        self._wait = _WaitBackoffOrRetryAfter(self.config)

    def should_retry(self, result: IngestionResult) -> bool:
        """Return whether ``result`` is a failure this policy retries.

        Args:
            result: The outcome of one attempt.

        Returns:
            True when it failed and every error's category is in ``retryable_categories``
            (never CONFIGURATION), TRANSIENT ones only when also marked ``retryable``.
        """
        if result.success or not result.errors:
            return False
        allowed = set(self.config.retryable_categories) - {ErrorCategory.CONFIGURATION}
        return all(
            e.category in allowed and (e.category is not ErrorCategory.TRANSIENT or e.retryable)
            for e in result.errors
        )

    def delay_for(self, attempt: int, result: IngestionResult) -> float:
        """Return the wait after failed attempt ``attempt`` (1-based) with ``result``.

        Args:
            attempt: The attempt that failed.
            result: Its result.

        Returns:
            Seconds to wait before the next attempt.
        """
        state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        state.set_result(result)
        return self._wait(state)

    def call(self, attempt: Callable[[], IngestionResult]) -> IngestionResult:
        """Run ``attempt`` until it succeeds, fails for good, or attempts run out.

        Args:
            attempt: One load; must return a result, never raise.

        Returns:
            The last result, with ``attempts`` set to how many were made.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.config.max_attempts),
            wait=self._wait,
            retry=retry_if_result(self.should_retry),
            sleep=self._sleep,
            before_sleep=self._before_sleep if self._on_retry is not None else None,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            reraise=True,
        )
        counter = {"attempts": 0}

        def counted() -> IngestionResult:
            counter["attempts"] += 1
            return attempt()

        result: IngestionResult = retrying(counted)
        return result.model_copy(update={"attempts": counter["attempts"]})

    def _before_sleep(self, state: RetryCallState) -> None:
        assert self._on_retry is not None and state.outcome is not None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        self._on_retry(RetryAttempt(state.attempt_number, delay, state.outcome.result()))


def parse_retry_after(value: str | None) -> float | None:
    """Parse an HTTP ``Retry-After`` header into ``retry_after_seconds``.

    Args:
        value: The header value: delta-seconds or an HTTP date; None when absent.

    Returns:
        Seconds to wait (never negative), or None when absent or unparseable. A date without
        a zone (``-0000``) is read as UTC.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
