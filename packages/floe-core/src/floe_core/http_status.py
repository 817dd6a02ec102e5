"""HTTP status codes in the taxonomy: the one table every HTTP-speaking plugin maps through.

::

    status                  category       code                class
    3xx (not followed)      CONFIGURATION  INVALID_CONFIG      PipelineConfigurationError
    401                     PERMANENT      AUTH_FAILED         SourceConnectionError
    403                     PERMANENT      PERMISSION_DENIED   SourceConnectionError
    404                     CONFIGURATION  SOURCE_NOT_FOUND    PipelineConfigurationError
    408                     TRANSIENT      SOURCE_UNAVAILABLE  SourceConnectionError
    429                     TRANSIENT      RATE_LIMITED        SourceConnectionError
    5xx                     TRANSIENT      SOURCE_UNAVAILABLE  SourceConnectionError
    other 4xx (400, 422...) PERMANENT      SOURCE_READ_FAILED  SourceConnectionError
    anything else (a 2xx     PERMANENT      SOURCE_READ_FAILED  SourceConnectionError
      the plugin cannot use)

The class follows from the code (:func:`floe_core.errors.error_class`). A ``Retry-After``
header (seconds or an HTTP date) becomes ``retry_after_seconds`` on 429, 503 and other
retryable answers. Plugins keep their own wording, and may read a status more precisely first
when the API says more (Airbyte's 409 problem kinds): the table is the default, not a cage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from floe_core.errors import (
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    error_class,
)
from floe_core.retry import parse_retry_after

__all__ = ["StatusOutcome", "error_for_status", "retry_after", "status_outcome"]


@dataclass(frozen=True)
class StatusOutcome:
    """Where an HTTP status lands in the taxonomy.

    Attributes:
        category: What the caller should do.
        code: The error code (which decides the exception class).
    """

    category: ErrorCategory
    code: ErrorCode

    @property
    def error_class(self) -> type[IngestionError]:
        """The exception class of :attr:`code`."""
        return error_class(self.code)


_EXACT: dict[int, StatusOutcome] = {
    401: StatusOutcome(ErrorCategory.PERMANENT, ErrorCode.AUTH_FAILED),
    403: StatusOutcome(ErrorCategory.PERMANENT, ErrorCode.PERMISSION_DENIED),
    404: StatusOutcome(ErrorCategory.CONFIGURATION, ErrorCode.SOURCE_NOT_FOUND),
    408: StatusOutcome(ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE),
    429: StatusOutcome(ErrorCategory.TRANSIENT, ErrorCode.RATE_LIMITED),
}
_REDIRECT = StatusOutcome(ErrorCategory.CONFIGURATION, ErrorCode.INVALID_CONFIG)
_SERVER = StatusOutcome(ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE)
_CLIENT = StatusOutcome(ErrorCategory.PERMANENT, ErrorCode.SOURCE_READ_FAILED)


def status_outcome(status: int) -> StatusOutcome:
    """Return the category and code of an HTTP status a request failed with.

    Args:
        status: The response's status code.

    Returns:
        Its place in the taxonomy (the module docstring's table).
    """
    if not 300 <= status <= 599:
        return _CLIENT
    if status in _EXACT:
        return _EXACT[status]
    if status < 400:
        return _REDIRECT
    return _SERVER if status >= 500 else _CLIENT


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for, or None.

    Args:
        headers: Response headers; looked up as ``Retry-After`` and ``retry-after`` (httpx and
            requests headers are case-insensitive already).

    Returns:
        Seconds (0 or more), or None when absent or unparsable.
    """
    if headers is None:
        return None
    value = headers.get("Retry-After")
    if value is None:
        value = headers.get("retry-after")
    return parse_retry_after(value)


def error_for_status(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    source: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> IngestionError:
    """Build the error for an HTTP answer, its class, code and category from the table.

    Args:
        status: The response's status code.
        message: The plugin's own wording (say which request, never a secret).
        headers: Response headers, for ``Retry-After`` on retryable statuses.
        source: The pipeline name, when known.
        details: Context: status code, path, a redacted body excerpt.

    Returns:
        The error, to raise (or return) at the plugin's translation boundary.
    """
    outcome = status_outcome(status)
    cls = outcome.error_class
    if issubclass(cls, PipelineConfigurationError):
        return cls(message, code=outcome.code, source=source, details=details)
    wait = retry_after(headers) if outcome.category is ErrorCategory.TRANSIENT else None
    return cls(
        message,
        code=outcome.code,
        category=outcome.category,
        source=source,
        retry_after_seconds=wait,
        details=details,
    )
