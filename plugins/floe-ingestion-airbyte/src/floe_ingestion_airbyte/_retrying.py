"""How long the client waits between attempts, and until when it may keep trying."""

from __future__ import annotations

import math
from collections.abc import Callable

from tenacity import RetryCallState

from floe_core.errors import IngestionError
from floe_core.log import get_logger

__all__ = ["Budget", "backoff_delay", "log_retry"]

log = get_logger(__name__)


class Budget:
    """The time one request's retries may take: until ``deadline`` on ``clock`` (None: no end)."""

    def __init__(self, deadline: float | None, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock
        self.reached = False
        """True once retrying stopped because of the deadline."""

    def remaining(self) -> float:
        """Seconds left before the deadline (infinite without one)."""
        return math.inf if self._deadline is None else self._deadline - self._clock()

    def spent(self) -> bool:
        """True when no time remains for another attempt (and remember why retrying stopped)."""
        if self.remaining() > 0:
            return False
        self.reached = True
        return True


def backoff_delay(attempt: int, cap: float) -> float:
    """Exponential backoff: 1, 2, 4, ... seconds after failed attempt 1, 2, 3, ..., capped.

    Args:
        attempt: The number of the attempt that failed (1-based).
        cap: The longest delay.

    Returns:
        Seconds to wait.
    """
    return float(min(cap, 2 ** max(0, attempt - 1)))


def log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning(
        "airbyte_request_retry",
        attempt=state.attempt_number,
        wait_seconds=state.upcoming_sleep,
        code=str(exc.code) if isinstance(exc, IngestionError) else None,
        status_code=exc.details.get("status_code") if isinstance(exc, IngestionError) else None,
    )
