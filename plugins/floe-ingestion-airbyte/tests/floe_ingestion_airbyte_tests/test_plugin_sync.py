"""run(): the sync scenarios, against the fake Airbyte (payload shapes from the public API spec)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from floe_core import ErrorCategory, ErrorCode, IngestionResult
from floe_ingestion_airbyte import AirbyteIngestionPlugin
from floe_ingestion_airbyte.testing import FakeAirbyte, problem

from ._helpers import CONNECTION, body, paths, source


def ingest(fake: FakeAirbyte, **config: object) -> IngestionResult:
    with fake.plugin(**config) as plugin:
        return plugin.ingest(source())


def test_happy_path_pending_running_succeeded(
    fake: FakeAirbyte, finished_spans: InMemorySpanExporter
) -> None:
    # from Airbyte public API spec, JobResponse "succeeded" example: 1000 rows, 20480 bytes
    fake.add_connection(CONNECTION, script=["pending", "running", "succeeded"])

    result = ingest(fake)

    assert result.success, result.errors
    assert (result.rows_loaded, result.bytes_written) == (1000, 20480)
    assert result.tables[0].table == "bronze.orders"
    assert result.tables[0].rows_loaded == 1000
    assert result.details["job_id"] == 1234
    assert result.details["status"] == "succeeded"
    assert result.details["statuses"] == ["pending", "running", "succeeded"]
    assert result.details["airbyte_duration_seconds"] == 600.0
    assert result.duration_seconds == 10.0  # two polls, 5 s apart, on the fake clock
    assert paths(fake.requests) == [
        "POST /applications/token",
        f"GET /connections/{CONNECTION}",
        "POST /jobs",
        "GET /jobs/1234",
        "GET /jobs/1234",
    ]
    token_request = fake.calls("POST", "/applications/token")[0]
    assert token_request.headers["content-type"] == "application/json"
    assert body(token_request)["client_id"] == fake.client_id
    assert body(fake.calls("POST", "/jobs")[0]) == {"connectionId": CONNECTION, "jobType": "sync"}
    assert fake.clock.sleeps == [5.0, 5.0]
    names = {s.name: s for s in finished_spans.get_finished_spans()}
    assert {"floe.ingestion.validate", "floe.ingestion.sync", "floe.ingestion.poll"} <= set(names)
    sync = names["floe.ingestion.sync"].attributes or {}
    assert sync["ingestion.rows_loaded"] == 1000
    assert sync["airbyte.job_id"] == 1234
    assert (names["floe.ingestion.poll"].attributes or {})["airbyte.polls"] == 2


def test_queued_for_hours_is_waited_for(fake: FakeAirbyte) -> None:
    # a job may sit queued for hours (status added in 2026); queued is not terminal
    fake.add_connection(CONNECTION, script=["queued"] * 400 + ["running", "succeeded"])

    result = ingest(fake, poll_interval_seconds=30.0, sync_timeout_seconds=6 * 3600.0)

    assert result.success, result.errors
    assert result.details["polls"] == 401
    assert result.duration_seconds == pytest.approx(401 * 30.0)


def test_incomplete_then_succeeded(fake: FakeAirbyte) -> None:
    # incomplete: an attempt failed and Airbyte retries; not terminal
    fake.add_connection(
        CONNECTION, script=["running", {"status": "incomplete", "duration": "PT2M"}, "succeeded"]
    )

    result = ingest(fake)

    assert result.success, result.errors
    assert result.details["statuses"] == ["running", "incomplete", "succeeded"]


def test_unknown_status_keeps_polling(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["pending", "rebalancing", "running", "succeeded"])

    result = ingest(fake)

    assert result.success, result.errors
    assert "rebalancing" in result.details["statuses"]


def test_failed_with_rows_is_partial(fake: FakeAirbyte) -> None:
    # from Airbyte public API spec, JobResponse "failed" example: rowsSynced 10, bytesSynced 100
    failed = {"status": "failed", "duration": "PT10M", "rowsSynced": 10, "bytesSynced": 100}
    fake.add_connection(CONNECTION, script=["running", failed])

    result = ingest(fake)

    assert not result.success
    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.PARTIAL, ErrorCode.PARTIAL_SYNC)
    assert error.failed_records is None
    assert (result.rows_loaded, result.bytes_written) == (10, 100)
    assert error.details["job_id"] == 1234


@pytest.mark.parametrize(
    ("counts", "rows", "written"),
    [
        ({"bytesSynced": 100}, 0, 100),  # rowsSynced is optional in JobResponse
        ({"rowsSynced": 0, "bytesSynced": 100}, 0, 100),  # bytes landed
        ({"rowsSynced": 10}, 10, 0),
    ],
    ids=["bytes-without-rows", "zero-rows-some-bytes", "rows-without-bytes"],
)
def test_failed_after_anything_landed_is_partial(
    fake: FakeAirbyte, counts: dict[str, int], rows: int, written: int
) -> None:
    fake.add_connection(CONNECTION, script=["running", {"status": "failed", **counts}])

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.PARTIAL, ErrorCode.PARTIAL_SYNC)
    assert error.failed_records is None
    assert (result.rows_loaded, result.bytes_written) == (rows, written)
    assert "nothing synced" not in error.message
    assert result.tables[0].bytes_written == written


def test_failed_with_zero_counts_is_nothing_synced(fake: FakeAirbyte) -> None:
    failed = {"status": "failed", "rowsSynced": 0, "bytesSynced": 0}
    fake.add_connection(CONNECTION, script=["running", failed])

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SYNC_FAILED)
    assert "nothing synced" in error.message
    assert result.tables == []


@pytest.mark.parametrize(
    ("status_after_failure", "category"),
    [(None, ErrorCategory.TRANSIENT), ("inactive", ErrorCategory.PERMANENT)],
)
def test_failed_without_any_counts_says_they_are_unknown(
    fake: FakeAirbyte, status_after_failure: str | None, category: ErrorCategory
) -> None:
    fake.add_connection(
        CONNECTION,
        script=["running", {"status": "failed", "duration": "PT10M"}],
        status_after_failure=status_after_failure,
    )

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (category, ErrorCode.SYNC_FAILED)
    assert "nothing synced" not in error.message
    assert "unknown" in error.message
    assert error.details["counts_unknown"] is True
    assert error.details["rows_synced"] is None


def test_failed_without_rows_on_an_active_connection_is_transient(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "failed"])

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SYNC_FAILED)
    assert error.retryable
    assert result.rows_loaded == 0


def test_failed_and_connection_disabled_is_permanent(fake: FakeAirbyte) -> None:
    fake.add_connection(
        CONNECTION,
        script=["running", "failed"],
        status_after_failure="inactive",
    )

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SYNC_FAILED)
    assert not error.retryable
    assert error.details["connection_status"] == "inactive"


def test_cancelled_elsewhere_is_permanent_and_not_cancelled_again(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "cancelled"])

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SYNC_CANCELLED)
    assert fake.calls("DELETE") == []


def test_409_on_start_attaches_to_the_running_job(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    other = fake.add_job(CONNECTION, ["running", "running", "succeeded"])

    result = ingest(fake)

    assert result.success, result.errors
    assert result.details["attached"] is True
    assert result.details["job_id"] == other.job_id
    [listing] = fake.calls("GET", "/jobs")[:1]
    assert listing.url.params["connectionId"] == CONNECTION
    assert listing.url.params["status"] == "running"
    assert len(fake.calls("POST", "/jobs")) == 1


def test_409_on_start_with_policy_fail_is_transient(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    fake.add_job(CONNECTION, ["running"])

    result = ingest(fake, on_running_sync="fail")

    [error] = result.errors
    assert (error.category, error.code) == (
        ErrorCategory.TRANSIENT,
        ErrorCode.SYNC_ALREADY_RUNNING,
    )
    assert error.details["status_code"] == 409
    assert "A sync is already running" in error.details["body_excerpt"]
    assert fake.calls("GET", "/jobs") == []


def test_409_on_start_with_nothing_to_attach_to_is_transient(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    fake.inject(
        "POST",
        "/jobs",
        problem("try-again-later", f"A sync is already running for: {CONNECTION}"),
    )

    result = ingest(fake)

    [error] = result.errors
    assert error.code is ErrorCode.SYNC_ALREADY_RUNNING
    assert "no unfinished job" in error.message


def test_token_expiry_mid_poll_refreshes_before_it_expires(fake: FakeAirbyte) -> None:
    # Cloud tokens live 3 minutes; a 20-minute sync needs several
    fake.add_connection(CONNECTION, script=["running"] * 20 + ["succeeded"])

    with fake.plugin(poll_interval_seconds=60.0, sync_timeout_seconds=3600.0) as plugin:
        result = plugin.ingest(source())

    assert result.success, result.errors
    assert len(fake.calls("POST", "/applications/token")) == result.details["token_refreshes"]
    assert result.details["token_refreshes"] >= 7
    assert 401 not in [r.status_code for r in fake.responses]  # refreshed before expiry
    assert not any(
        r.method == "GET" and not r.headers.get("authorization") for r in fake.calls("GET")
    )


def test_token_revoked_mid_poll_refreshes_once_and_retries(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "running", "succeeded"])

    def revoke(request: httpx.Request) -> httpx.Response:
        fake.expire_tokens()
        return problem("invalid-api-key", "The API key in the Authorization header is invalid.")

    fake.inject("GET", r"/jobs/\d+", revoke)

    result = ingest(fake)

    assert result.success, result.errors
    assert len(fake.calls("POST", "/applications/token")) == 2
    assert result.details["polls"] == 2  # the 401 and its resend count as one poll


def test_401_after_refresh_is_permanent_auth_failed(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "succeeded"])
    denied = problem("invalid-api-key", "The API key in the Authorization header is invalid.")
    fake.inject("GET", r"/jobs/\d+", denied, denied)

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.AUTH_FAILED)
    assert error.details["status_code"] == 401
    assert error.details["job_id"] == 1234
    assert len(fake.calls("GET", "/jobs/1234")) == 2  # original + one resend, no more


def test_429_with_retry_after_is_honoured(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "running", "succeeded"])
    # from Airbyte public API spec: 429 "load shed" body {message}
    limited = httpx.Response(
        429, json={"message": "You are being rate limited."}, headers={"Retry-After": "17"}
    )
    fake.inject("GET", r"/jobs/\d+", limited)

    result = ingest(fake)

    assert result.success, result.errors
    assert fake.clock.sleeps == [5.0, 17.0, 5.0]


def test_429_without_retry_after_backs_off(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "succeeded"])
    limited = httpx.Response(429, json={"message": "You are being rate limited."})
    fake.inject("GET", r"/jobs/\d+", limited, limited, limited)

    result = ingest(fake, poll_interval_seconds=0.5)

    assert result.success, result.errors
    assert fake.clock.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_429_on_start_is_retried_after_retry_after(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["succeeded"])
    limited = httpx.Response(
        429, json={"message": "You are being rate limited."}, headers={"Retry-After": "3"}
    )
    fake.inject("POST", "/jobs", limited)

    result = ingest(fake)

    assert result.success, result.errors
    assert fake.clock.sleeps == [3.0]
    assert len(fake.calls("POST", "/jobs")) == 2


def test_start_retries_after_retry_after_stop_at_the_sync_deadline(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["succeeded"])
    limited = httpx.Response(
        429, json={"message": "You are being rate limited."}, headers={"Retry-After": "3"}
    )
    fake.inject("POST", "/jobs", *[limited] * 10)

    result = ingest(fake, sync_timeout_seconds=5.0)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.RATE_LIMITED)
    # waited 3 s once; the next 3 s would end past the 5 s deadline, so it gave up
    assert fake.clock.sleeps == [3.0]
    assert len(fake.calls("POST", "/jobs")) == 2
    assert error.details["deadline_reached"] is True
    assert "sync deadline (5s)" in error.message


def test_start_backoff_is_capped_by_the_time_left(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["succeeded"])
    fake.inject("POST", "/jobs", *[_refused] * 10)

    result = ingest(fake, sync_timeout_seconds=5.0)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE)
    assert fake.clock.sleeps == [1.0, 2.0, 2.0]  # the 4 s backoff cut to the 2 s left
    assert sum(fake.clock.sleeps) == pytest.approx(5.0)
    assert len(fake.calls("POST", "/jobs")) == 4  # the last one at the deadline, then stop
    assert error.details["deadline_reached"] is True


def test_attach_lookup_retries_stop_at_the_sync_deadline(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    fake.add_job(CONNECTION, ["running", "succeeded"])
    broken = problem("unexpected-problem", "An unexpected problem has occurred.")
    fake.inject("GET", "/jobs", *[broken] * 10)

    result = ingest(fake, sync_timeout_seconds=3.0)

    [error] = result.errors
    assert error.category is ErrorCategory.TRANSIENT
    assert fake.clock.sleeps == [1.0, 2.0]
    assert len(fake.calls("GET", "/jobs")) == 3
    assert error.details["deadline_reached"] is True


def test_a_start_that_recovers_before_the_deadline_still_syncs(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "succeeded"])
    fake.inject("POST", "/jobs", _refused, _refused)

    result = ingest(fake, sync_timeout_seconds=10.0)

    assert result.success, result.errors
    assert fake.clock.sleeps == [1.0, 2.0, 5.0]
    assert "deadline_reached" not in result.details


def test_429_until_retries_run_out_is_transient_rate_limited(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "succeeded"])
    limited = httpx.Response(
        429, json={"message": "You are being rate limited."}, headers={"Retry-After": "2"}
    )
    fake.inject("GET", r"/jobs/\d+", *[limited] * 10)

    result = ingest(fake, max_retries=2)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.RATE_LIMITED)
    assert error.retry_after_seconds == 2.0
    assert error.retryable
    assert len(fake.calls("GET", "/jobs/1234")) == 3


def test_500_then_recovery(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "running", "succeeded"])
    broken = problem("unexpected-problem", "An unexpected problem has occurred.")
    fake.inject("GET", r"/jobs/\d+", broken)
    fake.inject("GET", f"/connections/{CONNECTION}", broken)

    result = ingest(fake)

    assert result.success, result.errors
    assert len(fake.calls("GET", "/connections")) == 2  # create_pipeline retried once


def test_500_until_retries_run_out_is_transient_with_status_and_body(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "succeeded"])
    broken = problem("unexpected-problem", "An unexpected problem has occurred.")
    fake.inject("GET", r"/jobs/\d+", *[broken] * 10)

    result = ingest(fake, max_retries=3)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SOURCE_UNAVAILABLE)
    assert error.details["status_code"] == 500
    assert error.details["problem"] == "unexpected-problem"
    assert "unexpected problem" in error.details["body_excerpt"]
    assert len(fake.calls("GET", "/jobs/1234")) == 4


def test_connection_error_mid_poll_recovers(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running", "running", "succeeded"])

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake.inject("GET", r"/jobs/\d+", refused, slow)

    result = ingest(fake)

    assert result.success, result.errors


def test_timeout_cancels_exactly_once(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running"])

    result = ingest(fake, sync_timeout_seconds=60.0, poll_interval_seconds=7.0)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SYNC_TIMEOUT)
    assert [r.url.path.rsplit("/", 1)[-1] for r in fake.calls("DELETE")] == ["1234"]
    assert fake.jobs[1234].status == "cancelled"
    assert sum(fake.clock.sleeps) == pytest.approx(60.0)  # never sleeps past the deadline
    assert error.details["last_status"] == "running"


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    "reply",
    [
        problem("unexpected-problem", "An unexpected problem has occurred."),
        httpx.Response(
            429, json={"message": "You are being rate limited."}, headers={"Retry-After": "30"}
        ),
        _refused,
    ],
    ids=["500", "429-retry-after-30", "connection-refused"],
)
def test_a_failed_cancel_is_sent_once_and_never_sleeps_past_the_deadline(
    fake: FakeAirbyte, reply: httpx.Response | Callable[[httpx.Request], httpx.Response]
) -> None:
    fake.add_connection(CONNECTION, script=["running"])
    fake.inject("DELETE", r"/jobs/\d+", *[reply] * 10)

    result = ingest(fake, sync_timeout_seconds=60.0, poll_interval_seconds=7.0)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SYNC_TIMEOUT)
    assert len(fake.calls("DELETE")) == 1
    assert fake.clock.sleeps == [7.0] * 8 + [4.0]  # the polls up to the deadline, nothing more
    assert "cancel failed" in error.details["on_timeout"]


def test_timeout_ignores_a_409_on_cancel(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running"])
    fake.inject("DELETE", r"/jobs/\d+", problem("state-conflict", "State conflict"))

    result = ingest(fake, sync_timeout_seconds=20.0)

    [error] = result.errors
    assert error.code is ErrorCode.SYNC_TIMEOUT
    assert len(fake.calls("DELETE")) == 1
    assert "409" in error.details["on_timeout"]


def test_timeout_when_the_job_ends_while_cancelling_reports_the_outcome(
    fake: FakeAirbyte,
) -> None:
    # deadline 20 s, polls at 5/10/15/20 s see "running"; the cancel races the job's end
    fake.add_connection(CONNECTION, script=["running"] * 5 + ["succeeded"])
    fake.inject("DELETE", r"/jobs/\d+", problem("state-conflict", "Job has already ended."))

    result = ingest(fake, sync_timeout_seconds=20.0)

    assert result.success, result.errors
    assert result.details["ended_while_cancelling"] is True
    assert result.rows_loaded == 1000


def test_timeout_without_cancel_on_timeout_leaves_the_job(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running"])

    result = ingest(fake, sync_timeout_seconds=20.0, cancel_on_timeout=False)

    assert result.errors[0].code is ErrorCode.SYNC_TIMEOUT
    assert fake.calls("DELETE") == []


def test_timeout_of_an_attached_job_does_not_cancel_it(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    fake.add_job(CONNECTION, ["running"])

    result = ingest(fake, sync_timeout_seconds=20.0)

    assert result.errors[0].code is ErrorCode.SYNC_TIMEOUT
    assert fake.calls("DELETE") == []


def test_html_page_from_a_wrong_base_url_is_a_configuration_error(fake: FakeAirbyte) -> None:
    # base_url without /api/public/v1: the Airbyte web app answers every path with its page
    def webapp(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            text="<!doctype html><html><title>Airbyte</title></html>",
            headers={"content-type": "text/html"},
        )

    plugin = AirbyteIngestionPlugin(
        fake.config(base_url="http://127.0.0.1:8000"),
        transport=httpx.MockTransport(webapp),
        sleep=fake.clock.sleep,
        clock=fake.clock,
    )
    with plugin:
        result = plugin.ingest(source())

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.CONFIGURATION, ErrorCode.INVALID_CONFIG)
    assert "HTML" in error.message
    assert "/api/public/v1" in error.message
    assert fake.clock.sleeps == []  # a configuration error is not retried


def test_html_404_from_a_wrong_base_url_is_a_configuration_error(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    page = httpx.Response(404, text="<html><body>404 Not Found</body></html>")
    fake.inject("GET", f"/connections/{CONNECTION}", page)

    result = ingest(fake)

    [error] = result.errors
    assert error.category is ErrorCategory.CONFIGURATION
    assert "HTML" in error.message
    assert error.details["status_code"] == 404


def test_run_options_override_the_config(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running"])

    with fake.plugin() as plugin:
        pipeline = plugin.create_pipeline(source())
        result = plugin.run(pipeline, sync_timeout_seconds=3.0, poll_interval_seconds=1.0)
        unknown = plugin.run(pipeline, poll_every=3)

    assert result.errors[0].code is ErrorCode.SYNC_TIMEOUT
    assert unknown.errors[0].category is ErrorCategory.CONFIGURATION
    assert "poll_every" in unknown.errors[0].message


def test_connection_locked_between_check_and_start_gets_the_state_hint(fake: FakeAirbyte) -> None:
    # ConnectionLockedProblemResponse from Airbyte's problems.yaml
    fake.add_connection(CONNECTION)
    fake.inject(
        "POST", "/jobs", problem("locked", "The connection is locked and cannot be modified.")
    )

    result = ingest(fake)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SYNC_FAILED)
    assert f"refused to start a sync of connection {CONNECTION}" in error.message
    assert "still active" in error.message
    assert error.details["problem"] == "locked"
    assert error.details["status_code"] == 409


def test_connection_disabled_between_check_and_start_is_permanent(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    with fake.plugin() as plugin:
        pipeline = plugin.create_pipeline(source())
        fake.connections[CONNECTION].status = "inactive"  # Airbyte answers 409 state-conflict
        result = plugin.run(pipeline)

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SYNC_FAILED)
    assert "still active" in error.message
    assert error.details["problem"] == "state-conflict"
