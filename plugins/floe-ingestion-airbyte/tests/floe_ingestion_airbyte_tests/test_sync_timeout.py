"""``sync_timeout_seconds`` bounds the whole source, the runner's retries included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from floe_core import CatalogConfig, ErrorCategory, ErrorCode, PlatformManifest, Runner
from floe_core.project import FloeProject
from floe_core.registry import PluginRegistry
from floe_ingestion_airbyte import AirbyteIngestionPlugin
from floe_ingestion_airbyte.testing import FakeAirbyte, problem

from ._helpers import CONNECTION


def _runner(fake: FakeAirbyte, **config: Any) -> Runner:
    """The real runner, default retry policy (3 attempts), the airbyte plugin on the fake."""

    class Wired(AirbyteIngestionPlugin):
        def __init__(
            self,
            config: Mapping[str, Any] | BaseModel | None = None,
            *,
            catalog: CatalogConfig | None = None,
        ) -> None:
            super().__init__(
                config,
                catalog=catalog,
                transport=fake.transport,
                sleep=fake.clock.sleep,
                clock=fake.clock,
            )

    registry = PluginRegistry(entry_points=[])
    registry.register("airbyte", Wired)
    manifest = PlatformManifest.model_validate(
        {"plugins": {"ingestion": {"type": "airbyte", "config": fake.config(**config)}}}
    )
    return Runner(manifest, registry, sleep=fake.clock.sleep)


def _project() -> FloeProject:
    return FloeProject.model_validate(
        {
            "ingestion": {
                "sources": [
                    {
                        "name": "orders",
                        "type": "airbyte_connection",
                        "config": {"connection_id": CONNECTION},
                        "destination": {"table": "bronze.orders"},
                    }
                ]
            }
        }
    )


def test_a_timed_out_sync_is_cancelled_once_and_not_started_again(fake: FakeAirbyte) -> None:
    """Was: three syncs started and cancelled, 39 s for a 12 s timeout (12 + 1 + 12 + 2 + 12)."""
    fake.add_connection(CONNECTION, script=["running"])
    started = fake.clock()

    [result] = _runner(fake, sync_timeout_seconds=12.0, poll_interval_seconds=5.0).run_sources(
        _project()
    )

    [error] = result.errors
    assert (error.category, error.code) == (ErrorCategory.TRANSIENT, ErrorCode.SYNC_TIMEOUT)
    assert error.retryable is False
    assert result.attempts == 1
    assert len(fake.calls("POST", "/jobs")) == 1
    assert len(fake.calls("DELETE")) == 1
    assert fake.clock() - started == pytest.approx(12.0)  # the fake clock: polls, no retry wait


def test_a_retry_after_a_transient_failure_gets_only_the_time_left(fake: FakeAirbyte) -> None:
    """First attempt: Airbyte keeps failing to start the sync; the retry inherits the deadline."""
    fake.add_connection(CONNECTION, script=["running"])
    down = problem("unexpected-problem", "An unexpected problem has occurred.")
    fake.inject("POST", "/jobs", down)  # a POST is not retried by the client: attempt 1 fails
    started = fake.clock()

    [result] = _runner(fake, sync_timeout_seconds=30.0, poll_interval_seconds=5.0).run_sources(
        _project()
    )

    assert result.attempts == 2, result.errors
    assert result.errors[0].code is ErrorCode.SYNC_TIMEOUT
    assert len(fake.calls("POST", "/jobs")) == 2 and len(fake.calls("DELETE")) == 1
    # the whole source, both attempts and the 1 s wait between them: 30 s, not 1 + 30
    assert fake.clock() - started == pytest.approx(30.0)


def test_run_without_time_left_starts_no_sync(fake: FakeAirbyte) -> None:
    fake.add_connection(CONNECTION, script=["running"])
    with fake.plugin(sync_timeout_seconds=10.0) as plugin:
        pipeline = plugin.create_pipeline(_project().sources[0].to_ingestion_config())
        first = plugin.run(pipeline)
        again = plugin.run(pipeline)
    assert first.errors[0].code is ErrorCode.SYNC_TIMEOUT
    [error] = again.errors
    assert error.code is ErrorCode.SYNC_TIMEOUT and error.retryable is False
    assert "ran out in an earlier attempt; no new sync started" in error.message
    assert len(fake.calls("POST", "/jobs")) == 1
