from __future__ import annotations

import pytest

from floe_core import ErrorCategory, ErrorCode, ErrorDetail, IngestionResult, RetryConfig
from floe_core.retry import RetryAttempt, RetryPolicy


def failed(
    code: ErrorCode = ErrorCode.SOURCE_UNAVAILABLE,
    category: ErrorCategory = ErrorCategory.TRANSIENT,
    *,
    retryable: bool = True,
    retry_after: float | None = None,
) -> IngestionResult:
    error = ErrorDetail(
        code=code,
        category=category,
        message="x",
        retryable=retryable,
        retry_after_seconds=retry_after,
    )
    return IngestionResult(source="s", success=False, errors=[error])


OK = IngestionResult(source="s", success=True, rows_loaded=7)


class Script:
    def __init__(self, *results: IngestionResult) -> None:
        self.results = list(results)
        self.calls = 0

    def __call__(self) -> IngestionResult:
        self.calls += 1
        return self.results.pop(0)


def policy(**kwargs: object) -> tuple[RetryPolicy, list[float], list[RetryAttempt]]:
    sleeps: list[float] = []
    retries: list[RetryAttempt] = []
    config = RetryConfig.model_validate(kwargs)
    return RetryPolicy(config, sleep=sleeps.append, on_retry=retries.append), sleeps, retries


def test_transient_failures_are_retried_with_capped_exponential_backoff() -> None:
    retry, sleeps, retries = policy(
        max_attempts=5, initial_delay_seconds=1, backoff_multiplier=3, max_delay_seconds=5
    )
    script = Script(failed(), failed(), failed(), OK)
    result = retry.call(script)
    assert result.success and result.rows_loaded == 7
    assert result.attempts == 4 and script.calls == 4
    assert sleeps == [1.0, 3.0, 5.0]
    assert [r.attempt for r in retries] == [1, 2, 3]
    assert [r.delay_seconds for r in retries] == sleeps
    assert retries[0].result.errors[0].code is ErrorCode.SOURCE_UNAVAILABLE


def test_gives_up_after_max_attempts_returning_last_failure() -> None:
    retry, sleeps, _ = policy(max_attempts=3, initial_delay_seconds=0.5)
    script = Script(failed(), failed(), failed(ErrorCode.SOURCE_READ_FAILED), OK)
    result = retry.call(script)
    assert not result.success and result.attempts == 3 and script.calls == 3
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    "result",
    [
        failed(ErrorCode.AUTH_FAILED, ErrorCategory.PERMANENT, retryable=False),
        failed(ErrorCode.INVALID_CONFIG, ErrorCategory.CONFIGURATION, retryable=False),
        failed(ErrorCode.SOURCE_UNAVAILABLE, ErrorCategory.TRANSIENT, retryable=False),
        failed(ErrorCode.PARTIAL_LOAD, ErrorCategory.PARTIAL, retryable=True),
        IngestionResult(source="s", success=False),
    ],
)
def test_not_retried(result: IngestionResult) -> None:
    retry, sleeps, _ = policy()
    script = Script(result, OK)
    assert retry.call(script) == result.model_copy(update={"attempts": 1})
    assert script.calls == 1 and sleeps == []


def test_configuration_is_never_retried_even_if_marked_retryable() -> None:
    retry, _, _ = policy()
    retry.config = retry.config.model_copy(
        update={"retryable_categories": (ErrorCategory.TRANSIENT, ErrorCategory.CONFIGURATION)}
    )
    assert not retry.should_retry(
        failed(ErrorCode.INVALID_CONFIG, ErrorCategory.CONFIGURATION, retryable=True)
    )


def test_partial_retried_when_listed_whatever_its_retryable_flag() -> None:
    retry, _, _ = policy(retryable_categories=["TRANSIENT", "PARTIAL"])
    partial = failed(ErrorCode.PARTIAL_LOAD, ErrorCategory.PARTIAL, retryable=True)
    assert retry.call(Script(partial, OK)).attempts == 2
    assert retry.should_retry(
        failed(ErrorCode.PARTIAL_LOAD, ErrorCategory.PARTIAL, retryable=False)
    )


def test_mixed_errors_need_all_retryable() -> None:
    retry, _, _ = policy()
    auth = failed(ErrorCode.AUTH_FAILED, retryable=False)
    mixed = failed().model_copy(update={"errors": [*failed().errors, *auth.errors]})
    assert not retry.should_retry(mixed)


def test_retry_after_is_a_floor_above_the_cap() -> None:
    retry, sleeps, _ = policy(initial_delay_seconds=1, max_delay_seconds=2)
    rate_limited = failed(ErrorCode.RATE_LIMITED, retry_after=30)
    result = retry.call(Script(rate_limited, failed(retry_after=0.1), OK))
    assert result.success and sleeps == [30.0, 2.0]
    assert retry.delay_for(1, rate_limited) == 30.0
    assert retry.delay_for(9, failed()) == 2.0


def test_default_policy_and_no_callback() -> None:
    sleeps: list[float] = []
    retry = RetryPolicy(sleep=sleeps.append)
    assert retry.config.max_attempts == 3
    assert retry.call(Script(failed(), failed(), failed())).attempts == 3
    assert sleeps == [1.0, 2.0]


def test_retry_after_parsing() -> None:
    import email.utils
    import time

    from floe_core.retry import parse_retry_after

    assert parse_retry_after("17") == 17.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= (parse_retry_after(in_a_minute) or 0) <= 61
    assert parse_retry_after(email.utils.formatdate(0, usegmt=True)) == 0.0
    # A zone-less date ("-0000") is UTC, not a silently dropped wait.
    naive = email.utils.formatdate(time.time() + 60).rsplit(" ", 1)[0] + " -0000"
    assert 55 <= (parse_retry_after(naive) or 0) <= 61


@pytest.mark.parametrize(
    ("categories", "result", "retried"),
    [
        # The configured categories decide for PERMANENT and PARTIAL (retryable=False by default).
        (
            ["PERMANENT"],
            failed(ErrorCode.AUTH_FAILED, ErrorCategory.PERMANENT, retryable=False),
            True,
        ),
        (["PARTIAL"], failed(ErrorCode.PARTIAL_LOAD, ErrorCategory.PARTIAL, retryable=False), True),
        (
            ["TRANSIENT"],
            failed(ErrorCode.AUTH_FAILED, ErrorCategory.PERMANENT, retryable=True),
            False,
        ),
        # TRANSIENT honours a plugin's retryable=False as a veto.
        (["TRANSIENT", "PERMANENT"], failed(retryable=False), False),
        (["PERMANENT"], failed(), False),
        (["TRANSIENT"], failed(), True),
    ],
    ids=[
        "permanent-listed",
        "partial-listed",
        "permanent-not-listed",
        "transient-vetoed",
        "transient-not-listed",
        "transient-listed",
    ],
)
def test_configured_categories_decide(
    categories: list[str], result: IngestionResult, retried: bool
) -> None:
    retry, _, _ = policy(max_attempts=2, initial_delay_seconds=0, retryable_categories=categories)
    script = Script(result, OK)
    final = retry.call(script)
    assert retry.should_retry(result) is retried
    assert (final.success, final.attempts, script.calls) == (
        (True, 2, 2) if retried else (False, 1, 1)
    )


def test_every_error_must_be_retryable() -> None:
    retry, _, _ = policy(retryable_categories=["PERMANENT"])
    mixed = failed(ErrorCode.AUTH_FAILED, ErrorCategory.PERMANENT, retryable=False)
    other = failed(ErrorCode.PARTIAL_LOAD, ErrorCategory.PARTIAL).errors[0]
    mixed = mixed.model_copy(update={"errors": [*mixed.errors, other]})
    assert retry.should_retry(mixed) is False
