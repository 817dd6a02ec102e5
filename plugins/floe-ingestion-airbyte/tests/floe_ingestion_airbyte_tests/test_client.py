"""The HTTP client: auth flows, the error translation boundary, retries, redaction."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from floe_core import (
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SourceConnectionError,
    SyncError,
)
from floe_ingestion_airbyte._client import AirbyteClient, backoff_delay
from floe_ingestion_airbyte.config import AirbyteConfig
from floe_ingestion_airbyte.testing import FAKE_BASE_URL, FakeAirbyte, FakeClock, problem

from ._helpers import CONNECTION, body


def client(fake: FakeAirbyte, **overrides: Any) -> AirbyteClient:
    return AirbyteClient(
        AirbyteConfig.model_validate(fake.config(**overrides)),
        transport=fake.transport,
        sleep=fake.clock.sleep,
        clock=fake.clock,
    )


def test_token_request_is_json_with_client_credentials(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    api = client(fake)

    connection = api.get_connection(CONNECTION)

    assert connection.connection_id == CONNECTION
    token_request = fake.requests[0]
    assert token_request.url.path.endswith("/applications/token")
    assert body(token_request) == {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "grant-type": "client_credentials",
    }
    assert "authorization" not in token_request.headers
    assert fake.requests[1].headers["authorization"] == "Bearer fake-access-token-1"


def test_token_is_cached_between_requests(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    api = client(fake)
    for _ in range(3):
        api.get_connection(CONNECTION)
    assert api.token_refreshes == 1


def test_a_token_shorter_lived_than_the_margin_is_still_reused(fake: FakeAirbyte) -> None:
    fake.token_lifetime = 20.0  # shorter than the 30 s refresh margin
    fake.add_connection(CONNECTION)
    api = client(fake)
    api.get_connection(CONNECTION)
    fake.clock.advance(5.0)
    api.get_connection(CONNECTION)
    assert api.token_refreshes == 1
    fake.clock.advance(6.0)  # past half its life: refreshed before the next request
    api.get_connection(CONNECTION)
    assert api.token_refreshes == 2
    assert 401 not in [r.status_code for r in fake.responses]


@pytest.mark.parametrize("expires_in", [0, -5])
def test_a_token_without_lifetime_left_is_not_cached_forever(expires_in: int) -> None:
    issued: list[str] = []

    def airbyte(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/applications/token"):
            issued.append(f"token-{len(issued) + 1}")
            # PublicAccessTokenResponse, with a lifetime already used up
            return httpx.Response(
                200,
                json={"access_token": issued[-1], "token_type": "Bearer", "expires_in": expires_in},
            )
        assert request.headers["authorization"] == f"Bearer {issued[-1]}"
        return httpx.Response(200, json={"connectionId": CONNECTION, "status": "active"})

    clock = FakeClock()
    api = AirbyteClient(
        AirbyteConfig(base_url=FAKE_BASE_URL, client_id="id", client_secret="secret-value"),
        transport=httpx.MockTransport(airbyte),
        sleep=clock.sleep,
        clock=clock,
    )
    api.get_connection(CONNECTION)
    api.get_connection(CONNECTION)

    assert api.token_refreshes == 2  # treated as expired: refreshed before the next request
    assert clock.sleeps == []


def test_wrong_client_secret_is_permanent_auth_failed_without_the_secret(
    fake: FakeAirbyte,
) -> None:
    api = client(fake, client_secret="wrong-secret-value-123")
    with pytest.raises(SourceConnectionError) as caught:
        api.get_connection(CONNECTION)
    error = caught.value
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.AUTH_FAILED)
    assert "client_id/client_secret" in error.message
    assert error.details["status_code"] == 401
    assert "wrong-secret-value-123" not in f"{error} {error.details}"
    assert len(fake.requests) == 1  # a 401 is never retried


def test_static_bearer_token(fake: FakeAirbyte) -> None:
    fake.static_token = "static-token-abc"
    fake.add_connection(CONNECTION)
    api = client(fake, client_id=None, client_secret=None, token="static-token-abc")

    api.get_connection(CONNECTION)

    assert fake.requests[0].headers["authorization"] == "Bearer static-token-abc"
    assert fake.calls("POST", "/applications/token") == []


def test_static_bearer_token_rejected_is_auth_failed(fake: FakeAirbyte) -> None:
    api = client(fake, client_id=None, client_secret=None, token="expired-token-xyz")
    with pytest.raises(IngestionError) as caught:
        api.get_connection(CONNECTION)
    assert caught.value.code is ErrorCode.AUTH_FAILED
    assert len(fake.requests) == 1


def test_basic_auth_for_old_self_managed_installs(fake: FakeAirbyte) -> None:
    fake.basic = ("airbyte", "password")
    fake.add_connection(CONNECTION)
    api = client(fake, client_id=None, client_secret=None, username="airbyte", password="password")

    assert api.get_connection(CONNECTION).name == "Postgres To Iceberg"
    assert fake.requests[0].headers["authorization"].startswith("Basic ")


def test_credentials_from_secret_refs(fake: FakeAirbyte, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOE_TEST_AIRBYTE_SECRET", fake.client_secret)
    fake.add_connection(CONNECTION)
    api = client(
        fake,
        client_secret=None,
        secret_refs={"client_secret": "env:FLOE_TEST_AIRBYTE_SECRET"},
    )
    assert api.get_connection(CONNECTION).connection_id == CONNECTION


def test_missing_secret_ref_is_configuration(fake: FakeAirbyte) -> None:
    with pytest.raises(PipelineConfigurationError) as caught:
        client(fake, client_secret=None, secret_refs={"client_secret": "env:FLOE_TEST_NOT_SET_X"})
    assert caught.value.code is ErrorCode.SECRET_NOT_FOUND


@pytest.mark.parametrize(
    ("response", "error_type", "category", "code"),
    [
        (
            problem("forbidden", "The request is forbidden."),
            SourceConnectionError,
            ErrorCategory.PERMANENT,
            ErrorCode.PERMISSION_DENIED,
        ),
        (
            problem("resource-not-found", "The requested resource could not be found."),
            PipelineConfigurationError,
            ErrorCategory.CONFIGURATION,
            ErrorCode.SOURCE_NOT_FOUND,
        ),
        (
            problem("unprocessable-entity", "The body of the request was not understood"),
            SourceConnectionError,  # floe-core's HTTP table: other 4xx
            ErrorCategory.PERMANENT,
            ErrorCode.SOURCE_READ_FAILED,
        ),
        (
            problem("try-again-later", f"A sync is already running for: {CONNECTION}"),
            SyncError,
            ErrorCategory.TRANSIENT,
            ErrorCode.SYNC_ALREADY_RUNNING,
        ),
        (
            problem("state-conflict", "State conflict"),
            SyncError,
            ErrorCategory.PERMANENT,
            ErrorCode.SYNC_FAILED,
        ),
        (
            problem("locked", "The connection is locked and cannot be modified."),
            SyncError,
            ErrorCategory.PERMANENT,
            ErrorCode.SYNC_FAILED,
        ),
        (
            httpx.Response(301, headers={"location": "https://api.airbyte.com/v1/jobs"}),
            PipelineConfigurationError,
            ErrorCategory.CONFIGURATION,
            ErrorCode.INVALID_CONFIG,
        ),
    ],
)
def test_status_mapping(
    fake: FakeAirbyte,
    response: httpx.Response,
    error_type: type[IngestionError],
    category: ErrorCategory,
    code: ErrorCode,
) -> None:
    fake.add_connection(CONNECTION)
    fake.inject("POST", "/jobs", response)
    with pytest.raises(error_type) as caught:
        client(fake).start_sync(CONNECTION)
    assert (caught.value.category, caught.value.code) == (category, code)
    assert caught.value.details["status_code"] == response.status_code
    assert caught.value.details["path"].endswith("/jobs")
    assert fake.clock.sleeps == []


def test_post_jobs_is_not_retried_after_a_5xx(fake: FakeAirbyte) -> None:
    # the job may have been created; a blind retry could start a second sync
    fake.add_connection(CONNECTION)
    fake.inject("POST", "/jobs", problem("unexpected-problem", "An unexpected problem."))
    with pytest.raises(SourceConnectionError) as caught:
        client(fake).start_sync(CONNECTION)
    assert caught.value.category is ErrorCategory.TRANSIENT
    assert len(fake.calls("POST", "/jobs")) == 1


def test_post_jobs_is_retried_when_the_connection_was_refused(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running"])

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fake.inject("POST", "/jobs", refused)
    assert client(fake).start_sync(CONNECTION).status == "running"
    assert fake.clock.sleeps == [1.0]


def test_gets_are_retried_with_exponential_backoff(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    broken = problem("unexpected-problem", "An unexpected problem has occurred.")
    fake.inject("GET", f"/connections/{CONNECTION}", broken, broken, broken)
    client(fake).get_connection(CONNECTION)
    assert fake.clock.sleeps == [1.0, 2.0, 4.0]


def test_a_retry_after_longer_than_max_backoff_goes_back_to_the_caller(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    fake.inject(
        "GET",
        f"/connections/{CONNECTION}",
        httpx.Response(429, json={"message": "slow down"}, headers={"Retry-After": "3600"}),
    )
    with pytest.raises(SourceConnectionError) as caught:
        client(fake).get_connection(CONNECTION)
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.retry_after_seconds == 3600.0
    assert fake.clock.sleeps == []


def test_timeouts_are_transient(fake: FakeAirbyte) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    fake.inject("GET", r"/jobs/\d+", *[slow] * 5)
    with pytest.raises(SourceConnectionError) as caught:
        client(fake, max_retries=1).get_job(1234)
    assert caught.value.category is ErrorCategory.TRANSIENT
    assert "within the timeout" in caught.value.message


def test_error_details_never_carry_the_token_or_secret(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)

    def echo(request: httpx.Request) -> httpx.Response:
        # a misbehaving proxy echoing the request headers into its error page
        return httpx.Response(
            502, text=f"bad gateway; got {request.headers['authorization']} {fake.client_secret}"
        )

    fake.inject("GET", f"/connections/{CONNECTION}", echo)
    with pytest.raises(SourceConnectionError) as caught:
        client(fake, max_retries=0).get_connection(CONNECTION)
    text = f"{caught.value} {caught.value.details}"
    assert "fake-access-token" not in text
    assert fake.client_secret not in text
    assert "***" in caught.value.details["body_excerpt"]


def test_a_short_secret_is_still_redacted(fake: FakeAirbyte) -> None:
    fake.basic = ("airbyte", "pw1")
    fake.add_connection(CONNECTION)
    fake.inject(
        "GET",
        f"/connections/{CONNECTION}",
        httpx.Response(502, text="bad gateway; upstream said password=pw1"),
    )
    api = client(
        fake, client_id=None, client_secret=None, username="airbyte", password="pw1", max_retries=0
    )
    with pytest.raises(SourceConnectionError) as caught:
        api.get_connection(CONNECTION)
    assert "pw1" not in f"{caught.value} {caught.value.details}"
    assert caught.value.details["body_excerpt"] == "bad gateway; upstream said password=**********"


@pytest.mark.parametrize("status", [401, 403, 404, 409, 422, 429, 500])
def test_an_empty_error_body_leaves_no_dangling_colon(fake: FakeAirbyte, status: int) -> None:
    # twice: a 401 is answered again after the token refresh
    fake.inject("GET", r"/jobs/\d+", *[lambda request: httpx.Response(status)] * 2)
    with pytest.raises(IngestionError) as caught:
        client(fake, max_retries=0).get_job(1234)
    message = caught.value.message
    assert not message.rstrip().endswith(":"), message
    assert f"({status}): " not in message
    assert message.endswith("with an empty body"), message
    assert caught.value.details["body_excerpt"] == ""


def test_body_excerpt_is_short(fake: FakeAirbyte) -> None:
    fake.inject("GET", r"/jobs/\d+", httpx.Response(500, text="x" * 10_000))
    with pytest.raises(SourceConnectionError) as caught:
        client(fake, max_retries=0).get_job(1)
    assert len(caught.value.details["body_excerpt"]) <= 300


def test_non_json_success_is_a_base_url_configuration_error(fake: FakeAirbyte) -> None:
    fake.inject("GET", r"/jobs/\d+", httpx.Response(200, text="OK"))
    with pytest.raises(PipelineConfigurationError) as caught:
        client(fake).get_job(1)
    assert "not Airbyte's JSON API" in caught.value.message


def test_unexpected_json_shape_is_reported_not_crashed(fake: FakeAirbyte) -> None:
    fake.inject("GET", r"/jobs/\d+", httpx.Response(200, json={"status": "running"}))
    with pytest.raises(SourceConnectionError) as caught:
        client(fake).get_job(1)
    assert caught.value.code is ErrorCode.SOURCE_READ_FAILED
    # worded by floe-core's one formatter (floe_core.config_errors), as config errors are
    assert caught.value.message.endswith("(JobResponse): jobId: required field is missing")


def test_list_jobs_asks_for_running_syncs_of_the_connection(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION)
    job = fake.add_job(CONNECTION, ["running"])
    fake.add_job(CONNECTION, ["succeeded"])

    jobs = client(fake).list_jobs(CONNECTION, status="running")

    assert [j.job_id for j in jobs] == [job.job_id]
    params = fake.calls("GET", "/jobs")[0].url.params
    assert (params["connectionId"], params["status"], params["jobType"]) == (
        CONNECTION,
        "running",
        "sync",
    )


def test_backoff_delay() -> None:
    assert [backoff_delay(n, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
