from __future__ import annotations

import pytest

from floe_core.errors import (
    ErrorCategory,
    ErrorCode,
    PipelineConfigurationError,
    SourceConnectionError,
)
from floe_core.http_status import error_for_status, retry_after, status_outcome

P, T, C = ErrorCategory.PERMANENT, ErrorCategory.TRANSIENT, ErrorCategory.CONFIGURATION


@pytest.mark.parametrize(
    ("status", "category", "code", "cls"),
    [
        (301, C, ErrorCode.INVALID_CONFIG, PipelineConfigurationError),
        (400, P, ErrorCode.SOURCE_READ_FAILED, SourceConnectionError),
        (401, P, ErrorCode.AUTH_FAILED, SourceConnectionError),
        (403, P, ErrorCode.PERMISSION_DENIED, SourceConnectionError),
        (404, C, ErrorCode.SOURCE_NOT_FOUND, PipelineConfigurationError),
        (408, T, ErrorCode.SOURCE_UNAVAILABLE, SourceConnectionError),
        (409, P, ErrorCode.SOURCE_READ_FAILED, SourceConnectionError),
        (422, P, ErrorCode.SOURCE_READ_FAILED, SourceConnectionError),
        (429, T, ErrorCode.RATE_LIMITED, SourceConnectionError),
        (500, T, ErrorCode.SOURCE_UNAVAILABLE, SourceConnectionError),
        (503, T, ErrorCode.SOURCE_UNAVAILABLE, SourceConnectionError),
        (200, P, ErrorCode.SOURCE_READ_FAILED, SourceConnectionError),
    ],
)
def test_status_table(status: int, category: ErrorCategory, code: ErrorCode, cls: type) -> None:
    outcome = status_outcome(status)
    assert (outcome.category, outcome.code, outcome.error_class) == (category, code, cls)
    error = error_for_status(status, "GET /x failed", headers={"Retry-After": "7"}, source="s")
    assert type(error) is cls
    assert (error.category, error.code, error.source) == (category, code, "s")
    assert error.retryable is (category is T)
    assert error.retry_after_seconds == (7.0 if category is T else None)


def test_retry_after_reads_seconds_dates_and_absence() -> None:
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None and retry_after(None) is None
