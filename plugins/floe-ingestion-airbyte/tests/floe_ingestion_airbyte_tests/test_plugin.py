"""The plugin outside run(): create_pipeline, health_check, destination config, no leaks."""

from __future__ import annotations

import json
import logging
import threading
import time

import httpx
import pytest
from pydantic import SecretStr

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    HealthState,
    IngestionConfig,
    IngestionError,
    PipelineConfigurationError,
)
from floe_ingestion_airbyte import AirbyteIngestionPlugin, AirbytePipeline
from floe_ingestion_airbyte.testing import FakeAirbyte, problem

from ._helpers import CONNECTION, source


def test_metadata() -> None:
    plugin = AirbyteIngestionPlugin()
    assert (plugin.name, plugin.is_external) == ("airbyte", True)
    assert plugin.list_available_sources() == ["airbyte_connection"]
    assert plugin.description


def test_create_pipeline_checks_the_connection(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, name="Postgres To Snowflake")
    with fake.plugin() as plugin:
        pipeline = plugin.create_pipeline(source())
    assert isinstance(pipeline, AirbytePipeline)
    assert (pipeline.connection_id, pipeline.connection_name) == (
        CONNECTION,
        "Postgres To Snowflake",
    )
    assert fake.calls("POST", "/jobs") == []  # nothing started yet


def test_unknown_connection_is_configuration_source_not_found(fake: FakeAirbyte) -> None:
    with fake.plugin() as plugin, pytest.raises(PipelineConfigurationError) as caught:
        plugin.create_pipeline(source())
    assert caught.value.code is ErrorCode.SOURCE_NOT_FOUND
    assert "source_config.connection_id" in caught.value.message
    assert caught.value.source == "orders"


@pytest.mark.parametrize(
    "not_found",
    [
        problem("resource-not-found", "The requested resource could not be found."),
        httpx.Response(404),
        httpx.Response(404, json={"message": "Not Found"}),
    ],
    ids=["problem", "empty", "json"],
)
def test_a_404_from_the_token_endpoint_blames_the_base_url_not_the_connection(
    fake: FakeAirbyte, not_found: httpx.Response
) -> None:
    # a wrong base_url (e.g. a path prefix missing): /applications/token is not there
    fake.add_connection(CONNECTION)
    fake.inject("POST", "/applications/token", not_found)
    with fake.plugin() as plugin, pytest.raises(PipelineConfigurationError) as caught:
        plugin.create_pipeline(source())
    error = caught.value
    assert error.category is ErrorCategory.CONFIGURATION
    assert "no connection" not in error.message
    assert "connection_id" not in error.message
    assert "base_url" in error.message
    assert error.details["path"].endswith("/applications/token")
    assert error.details["status_code"] == 404
    assert fake.calls("GET", "/connections") == []


@pytest.mark.parametrize("status", ["inactive", "deprecated", "locked"])
def test_a_connection_that_is_not_active_is_rejected(fake: FakeAirbyte, status: str) -> None:
    fake.add_connection(CONNECTION, status=status, status_reason="disabled after 3 failures")
    with fake.plugin() as plugin, pytest.raises(PipelineConfigurationError) as caught:
        plugin.create_pipeline(source())
    assert f"is {status}" in caught.value.message
    assert "disabled after 3 failures" in caught.value.message


@pytest.mark.parametrize(
    ("source_config", "expected"),
    [
        ({}, "connection_id is missing"),
        ({"connection_id": "orders-sync"}, "is not a UUID"),
        ({"connection_id": CONNECTION, "stream": "x"}, "unknown key(s) stream"),
    ],
)
def test_bad_source_config_is_rejected_before_any_request(
    fake: FakeAirbyte, source_config: dict[str, str], expected: str
) -> None:
    config = IngestionConfig(
        name="orders",
        source_type="airbyte_connection",
        source_config=source_config,
        destination_table="bronze.orders",
    )
    with fake.plugin() as plugin, pytest.raises(PipelineConfigurationError) as caught:
        plugin.create_pipeline(config)
    assert expected in caught.value.message
    assert fake.requests == []


def test_wrong_source_type_is_rejected(fake: FakeAirbyte) -> None:
    config = source().model_copy(update={"source_type": "sql_database"})
    with fake.plugin() as plugin, pytest.raises(PipelineConfigurationError) as caught:
        plugin.create_pipeline(config)
    assert "airbyte_connection" in caught.value.message


def test_connection_id_from_a_secret_ref(
    fake: FakeAirbyte, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_connection(CONNECTION)
    monkeypatch.setenv("FLOE_TEST_AIRBYTE_CONNECTION", CONNECTION)
    config = IngestionConfig(
        name="orders",
        source_type="airbyte_connection",
        destination_table="bronze.orders",
        secret_refs={"connection_id": "env:FLOE_TEST_AIRBYTE_CONNECTION"},
    )
    with fake.plugin() as plugin:
        result = plugin.ingest(config)
    assert result.success, result.errors
    assert CONNECTION not in result.model_dump_json()
    assert "env:FLOE_TEST_AIRBYTE_CONNECTION" in result.details["connection_id"]


def test_a_secret_connection_id_never_appears_in_errors_or_logs(
    fake: FakeAirbyte, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_connection(CONNECTION)
    fake.inject(
        "POST",
        "/jobs",
        problem("try-again-later", f"A sync is already running for: {CONNECTION}"),
    )
    with fake.plugin(on_running_sync="fail") as plugin:
        result = plugin.ingest(source(secret=True))
        with pytest.raises(PipelineConfigurationError) as caught:
            plugin.create_pipeline(source("00000000-0000-4000-8000-000000000000", secret=True))
    assert result.errors[0].code is ErrorCode.SYNC_ALREADY_RUNNING
    assert CONNECTION not in result.model_dump_json()
    assert "00000000-0000-4000-8000-000000000000" not in f"{caught.value} {caught.value.details}"
    assert CONNECTION not in caplog.text + capsys.readouterr().out
    assert "httpx" in caplog.text  # httpx did log the requests, masked


def test_the_token_and_client_secret_never_reach_logs_or_results(
    fake: FakeAirbyte, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_connection(CONNECTION, script=["running", "failed"])
    with fake.plugin() as plugin:
        result = plugin.ingest(source())
        health = plugin.health_check()
    text = result.model_dump_json() + repr(health) + caplog.text + capsys.readouterr().out
    assert "fake-access-token" not in text
    assert fake.client_secret not in text


def test_run_never_raises_even_on_a_bug(fake: FakeAirbyte, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.add_connection(CONNECTION)
    with fake.plugin() as plugin:
        pipeline = plugin.create_pipeline(source())

        def boom(*args: object, **kwargs: object) -> object:
            raise ZeroDivisionError("a bug")

        monkeypatch.setattr(plugin.client, "start_sync", boom)
        result = plugin.run(pipeline)
    [error] = result.errors
    assert (error.code, error.category) == (ErrorCode.INTERNAL_ERROR, ErrorCategory.PERMANENT)
    assert "ZeroDivisionError" in error.message


def test_health_check_healthy(fake: FakeAirbyte) -> None:
    with fake.plugin() as plugin:
        status = plugin.health_check(timeout=2.0)
    assert status.state is HealthState.HEALTHY
    assert fake.calls("GET", "/connections")[0].extensions["timeout"]["read"] == 2.0


def test_health_check_bad_credentials_is_unhealthy(fake: FakeAirbyte) -> None:
    with fake.plugin(client_secret="not-the-secret") as plugin:
        status = plugin.health_check()
    assert status.state is HealthState.UNHEALTHY
    assert status.details["code"] == "AUTH_FAILED"


def test_health_check_forbidden_is_degraded(fake: FakeAirbyte) -> None:
    fake.inject("GET", "/connections", problem("forbidden", "The request is forbidden."))
    with fake.plugin() as plugin:
        assert plugin.health_check().state is HealthState.DEGRADED


def test_health_check_unreachable_is_unhealthy_without_retrying(fake: FakeAirbyte) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    plugin = AirbyteIngestionPlugin(
        fake.config(), transport=httpx.MockTransport(refused), sleep=fake.clock.sleep
    )
    status = plugin.health_check(timeout=0.5)
    assert status.state is HealthState.UNHEALTHY
    assert "cannot connect" in status.message
    assert fake.clock.sleeps == []


def test_health_check_with_an_unresolvable_secret_is_unhealthy() -> None:
    plugin = AirbyteIngestionPlugin(
        {"client_id": "id", "secret_refs": {"client_secret": "env:FLOE_TEST_NOT_SET_Y"}}
    )
    status = plugin.health_check()
    assert status.state is HealthState.UNHEALTHY
    assert "FLOE_TEST_NOT_SET_Y" in status.message


def test_destination_config_for_a_rest_catalog() -> None:
    catalog = CatalogConfig(
        type="rest",
        uri="http://127.0.0.1:8181/catalog",
        warehouse="s3://lake/bronze",
        token=SecretStr("catalog-token-canary"),
        properties={"s3.endpoint": "http://127.0.0.1:9000", "s3.region": "eu-west-1"},
    )
    value = AirbyteIngestionPlugin().get_destination_config(catalog)
    assert value["supported"] is True
    assert value["connector"] == "airbyte/destination-s3-data-lake"
    settings = value["configuration"]
    assert settings["catalog_type"] == {
        "catalog_type": "REST",
        "server_uri": "http://127.0.0.1:8181/catalog",
        "namespace": settings["catalog_type"]["namespace"],
    }
    assert (settings["warehouse_location"], settings["s3_bucket_name"]) == (
        "s3://lake/bronze",
        "lake",
    )
    assert (settings["s3_endpoint"], settings["s3_bucket_region"]) == (
        "http://127.0.0.1:9000",
        "eu-west-1",
    )
    assert "catalog-token-canary" not in json.dumps(value)


def test_destination_config_for_the_embedded_catalog_says_airbyte_cannot_use_it() -> None:
    value = AirbyteIngestionPlugin().get_destination_config(CatalogConfig.embedded("wh"))
    assert value["supported"] is False
    assert value["configuration"] is None
    assert any("REST" in note for note in value["notes"])
    json.dumps(value)


def test_ingest_reports_a_bad_config_as_a_result(fake: FakeAirbyte) -> None:
    with fake.plugin() as plugin:
        result = plugin.ingest(source())
    assert not result.success
    assert result.errors[0].category is ErrorCategory.CONFIGURATION


def test_5xx_during_create_pipeline_is_transient_not_configuration(fake: FakeAirbyte) -> None:
    broken = problem("unexpected-problem", "An unexpected problem has occurred.")
    fake.inject("GET", f"/connections/{CONNECTION}", *[broken] * 5)
    with fake.plugin(max_retries=1) as plugin, pytest.raises(IngestionError) as caught:
        plugin.create_pipeline(source())
    assert caught.value.category is ErrorCategory.TRANSIENT


def test_health_check_keeps_its_deadline_when_token_and_check_both_hang(
    fake: FakeAirbyte,
) -> None:
    # Each request alone stays inside the timeout and succeeds; token + check together do not.
    release = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        release.wait(0.45)
        if request.url.path.endswith("/applications/token"):
            token = {"access_token": "t", "token_type": "Bearer", "expires_in": 180}
            return httpx.Response(200, json=token, request=request)
        return httpx.Response(200, json={"data": [], "next": None}, request=request)

    plugin = AirbyteIngestionPlugin(
        fake.config(), transport=httpx.MockTransport(slow), sleep=fake.clock.sleep
    )
    started = time.monotonic()
    status = plugin.health_check(timeout=0.5)
    elapsed = time.monotonic() - started
    release.set()
    assert status.state is HealthState.UNHEALTHY
    assert elapsed < 0.5 + 0.25, f"health_check took {elapsed:.2f} s for a 0.5 s timeout"


def test_health_check_with_a_token_that_may_not_list_connections(fake: FakeAirbyte) -> None:
    """A workspace-scoped token: 403 on GET /connections, yet the API and the token work."""
    fake.inject("GET", "/connections", problem("forbidden", "The request is forbidden."))
    with fake.plugin() as plugin:
        status = plugin.health_check()
    assert status.state is HealthState.DEGRADED
    assert "answers and accepts the credentials, but they may not list connections" in (
        status.message
    )
    assert status.details == {
        "code": "PERMISSION_DENIED",
        "status_code": 403,
        "api_reachable": True,
        "credentials_accepted": True,
        "can_list_connections": False,
    }
    [listing] = fake.calls("GET", "/connections")
    assert listing.url.params["limit"] == "1"
    assert len(fake.calls("POST", "/applications/token")) == 1


def test_healthy_reports_what_was_checked(fake: FakeAirbyte) -> None:
    with fake.plugin() as plugin:
        status = plugin.health_check()
    assert status.details["can_list_connections"] is True
    assert status.details["credentials_accepted"] is True
