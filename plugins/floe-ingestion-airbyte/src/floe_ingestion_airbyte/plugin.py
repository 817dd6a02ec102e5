"""The ``airbyte`` ingestion plugin: trigger and poll syncs on an Airbyte a platform already runs.

It deploys nothing. ``create_pipeline`` checks that the connection exists and is active;
``run`` starts a sync (or attaches to the one already running), polls it to the end, and reports
rows and bytes as Airbyte counted them. Airbyte writes through its own destination connector, so
the Iceberg side is configured in Airbyte; :meth:`AirbyteIngestionPlugin.get_destination_config`
says what to set there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel
from typing_extensions import override

from floe_core.catalog import CatalogConfig
from floe_core.errors import (
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SyncError,
)
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.log import get_logger
from floe_core.plugin import (
    FLOE_API_VERSION,
    HealthState,
    HealthStatus,
    IngestionPipeline,
    IngestionPlugin,
)
from floe_core.redact import RedactingFilter
from floe_core.telemetry import record_error, span
from floe_ingestion_airbyte._client import AirbyteClient
from floe_ingestion_airbyte._connection import Scrubber, connection_id_of
from floe_ingestion_airbyte._destination import destination_config
from floe_ingestion_airbyte._outcome import failed_result, finished_result, timed_out_result
from floe_ingestion_airbyte._poll import wait_for_job
from floe_ingestion_airbyte._start import start_or_attach
from floe_ingestion_airbyte.config import AirbyteConfig
from floe_ingestion_airbyte.model import ConnectionStatus

__all__ = ["SOURCE_TYPE", "AirbyteIngestionPlugin", "AirbytePipeline"]

SOURCE_TYPE = "airbyte_connection"
"""The one source type: an existing Airbyte connection, named by ``connection_id``."""

_RUN_OPTIONS = frozenset({"sync_timeout_seconds", "poll_interval_seconds"})
"""409 problem kinds that mean the connection's state refuses a sync (problems.yaml)."""

log = get_logger(__name__)


@dataclass
class AirbytePipeline(IngestionPipeline):
    """A checked Airbyte connection, ready to sync."""

    connection_id: str = ""
    connection_name: str | None = None
    label: str = ""
    """How messages, logs and spans name the connection: its id, or where the secret lives."""
    secret: bool = False
    """True when the id came from a secret; it is then scrubbed from everything reported."""
    deadline: float | None = None
    """When the source's ``sync_timeout_seconds`` ends (set by the first run): the timeout
    bounds the whole source, so a retry by the runner gets only what is left of it."""


class AirbyteIngestionPlugin(IngestionPlugin):
    """Triggers and polls syncs of existing Airbyte connections through Airbyte's public API.

    Args:
        config: ``plugins.ingestion.config``, validated against :class:`AirbyteConfig`.
        catalog: The platform's Iceberg catalog (informational: Airbyte writes it).
        transport: httpx transport for every request; tests pass ``httpx.MockTransport``.
        sleep: How to wait between polls and retries; tests pass a fake that never waits.
        clock: Monotonic clock for deadlines and token expiry.

    Raises:
        PipelineConfigurationError: ``config`` is invalid.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | BaseModel | None = None,
        *,
        catalog: CatalogConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, catalog=catalog)
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._client: AirbyteClient | None = None
        self._log_filter = RedactingFilter()

    @property
    def settings(self) -> AirbyteConfig:
        """The validated plugin configuration."""
        assert isinstance(self.config, AirbyteConfig)
        return self.config

    name = "airbyte"
    floe_api_version = FLOE_API_VERSION
    is_external = True
    # version: the floe-ingestion-airbyte distribution's (floe_core's default)

    @override
    def get_config_schema(self) -> type[BaseModel]:
        return AirbyteConfig

    @override
    def list_available_sources(self) -> list[str]:
        return [SOURCE_TYPE]

    @override
    def startup(self) -> None:
        """Build the HTTP client (resolving credential secret references). Idempotent.

        Raises:
            PipelineConfigurationError: A credential's secret reference cannot be resolved.
        """
        if self._client is None:
            self._client = AirbyteClient(
                self.settings, transport=self._transport, sleep=self._sleep, clock=self._clock
            )
            # httpx logs every request URL; a connection id given as a secret is in the path.
            logging.getLogger("httpx").addFilter(self._log_filter)

    @override
    def shutdown(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
            logging.getLogger("httpx").removeFilter(self._log_filter)

    @property
    def client(self) -> AirbyteClient:
        """The HTTP client, built on first use."""
        self.startup()
        assert self._client is not None
        return self._client

    @override
    def health_check(self, timeout: float | None = None) -> HealthStatus:
        limit = timeout if timeout is not None else self.settings.request_timeout_seconds
        base = self.settings.base_url
        # httpx timeouts are per phase and the token request has its own, so one deadline
        # around the whole check is what keeps the promise to return within ``timeout``.
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="floe-airbyte-health")
        try:
            worker.submit(self.client.check, limit).result(timeout=limit)
        except FutureTimeoutError:
            return HealthStatus(
                HealthState.UNHEALTHY,
                f"Airbyte at {base} did not answer within {limit:g} s",
                {"code": str(ErrorCode.SOURCE_UNAVAILABLE)},
            )
        except IngestionError as exc:
            facts = {"code": str(exc.code), "status_code": exc.details.get("status_code")}
            if exc.code is ErrorCode.PERMISSION_DENIED and _from_listing(exc):
                # A workspace-scoped token may sync its connections without listing them.
                return HealthStatus(
                    HealthState.DEGRADED,
                    f"Airbyte at {base} answers and accepts the credentials, but they may not "
                    "list connections (403); syncs of the connections they own can still work "
                    "(floe validate checks each connection)",
                    {
                        **facts,
                        "api_reachable": True,
                        "credentials_accepted": True,
                        "can_list_connections": False,
                    },
                )
            state = (
                HealthState.DEGRADED
                if exc.code is ErrorCode.PERMISSION_DENIED
                else HealthState.UNHEALTHY
            )
            return HealthStatus(state, f"Airbyte at {base}: {exc.message}", facts)
        except Exception as exc:  # health_check never raises
            return HealthStatus(HealthState.UNHEALTHY, f"Airbyte at {base}: {exc!r}")
        finally:
            worker.shutdown(wait=False, cancel_futures=True)
        return HealthStatus(
            HealthState.HEALTHY,
            f"Airbyte at {base} answers and accepts the credentials",
            {
                "auth_mode": str(self.settings.auth_mode),
                "api_reachable": True,
                "credentials_accepted": True,
                "can_list_connections": True,
            },
        )

    @override
    def create_pipeline(self, config: IngestionConfig) -> AirbytePipeline:
        if config.source_type != SOURCE_TYPE:
            raise PipelineConfigurationError(
                f"source_type {config.source_type!r} is not supported by plugin 'airbyte'; "
                f"use {SOURCE_TYPE!r}",
                source=config.name,
            )
        connection_id, label, secret = connection_id_of(config)
        if secret:
            self._log_filter.values.add(connection_id)
        scrub = Scrubber([connection_id] if secret else [])
        with span(
            "validate",
            source_type=config.source_type,
            pipeline_name=config.name,
            **{"airbyte.connection_id": label},
        ):
            try:
                connection = self.client.get_connection(connection_id)
            except IngestionError as exc:
                exc.source = config.name
                if exc.code is ErrorCode.SOURCE_NOT_FOUND and _from_connection_lookup(
                    exc, connection_id
                ):
                    raise scrub.error(
                        PipelineConfigurationError(
                            f"Airbyte has no connection {label} (404): check "
                            "source_config.connection_id, and that the credentials' workspace "
                            "owns it",
                            code=ErrorCode.SOURCE_NOT_FOUND,
                            source=config.name,
                            details=exc.details,
                        )
                    ) from None
                raise scrub.error(exc)  # noqa: B904 - the same exception, scrubbed
        status = connection.known_status
        if status is not ConnectionStatus.ACTIVE:
            reason = f" ({connection.status_reason})" if connection.status_reason else ""
            raise PipelineConfigurationError(
                f"Airbyte connection {label} ({connection.name or 'unnamed'}) is "
                f"{connection.status or 'of unknown status'}{reason}, not active: enable it in "
                "Airbyte before syncing",
                code=ErrorCode.INVALID_CONFIG,
                source=config.name,
                details={"connection_id": label, "connection_status": connection.status},
            )
        log.info(
            "airbyte_connection_checked",
            pipeline=config.name,
            connection_id=label,
            connection_name=connection.name,
        )
        return AirbytePipeline(
            config=config,
            connection_id=connection_id,
            connection_name=connection.name,
            label=label,
            secret=secret,
        )

    @override
    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        started = self._clock()
        config = pipeline.config
        with span(
            "sync",
            source_type=config.source_type,
            pipeline_name=config.name,
            destination_table=config.destination_table,
            **{"airbyte.connection_id": getattr(pipeline, "label", None)},
        ) as current:
            try:
                result = self._sync(pipeline, started, kwargs)
            except IngestionError as exc:
                result = failed_result(config, exc, started=started, clock=self._clock)
            except Exception as exc:  # run() never raises: report, do not propagate
                log.exception("airbyte_run_crashed", pipeline=config.name)
                result = failed_result(
                    config,
                    IngestionError(f"unexpected failure in the airbyte plugin: {exc!r}"),
                    started=started,
                    clock=self._clock,
                )
            if isinstance(pipeline, AirbytePipeline) and pipeline.secret:
                result = Scrubber([pipeline.connection_id]).result(result)
            current.set_attribute("ingestion.rows_loaded", result.rows_loaded)
            current.set_attribute("ingestion.bytes_written", result.bytes_written)
            current.set_attribute("ingestion.duration_seconds", result.duration_seconds)
            if result.details.get("job_id") is not None:
                current.set_attribute("airbyte.job_id", result.details["job_id"])
            if result.errors:
                record_error(current, IngestionError.from_detail(result.errors[0]))
        return result

    @override
    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        return destination_config(catalog_config)

    # -- the sync -------------------------------------------------------------------------------

    def _sync(
        self, pipeline: IngestionPipeline, started: float, options: dict[str, Any]
    ) -> IngestionResult:
        if not isinstance(pipeline, AirbytePipeline):
            raise PipelineConfigurationError(
                "run() needs the pipeline create_pipeline() returned, "
                f"not {type(pipeline).__name__}"
            )
        unknown = sorted(set(options) - _RUN_OPTIONS)
        if unknown:
            raise PipelineConfigurationError(
                f"unknown run option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_RUN_OPTIONS))}"
            )
        settings = self.settings
        timeout = float(options.get("sync_timeout_seconds", settings.sync_timeout_seconds))
        interval = float(options.get("poll_interval_seconds", settings.poll_interval_seconds))
        if pipeline.deadline is None or "sync_timeout_seconds" in options:
            pipeline.deadline = started + timeout
        deadline = pipeline.deadline
        if deadline <= started:
            raise SyncError(
                f"the sync timeout of source {pipeline.config.name!r} ({timeout:g}s, for all "
                "attempts together) ran out in an earlier attempt; no new sync started",
                code=ErrorCode.SYNC_TIMEOUT,
                retryable=False,
                details={"connection_id": pipeline.label, "timeout_seconds": timeout},
            )
        try:
            job, attached = start_or_attach(
                self.client,
                pipeline.connection_id,
                pipeline.label,
                policy=self.settings.on_running_sync,
                deadline=deadline,
            )
        except IngestionError as exc:
            if exc.details.get("deadline_reached"):
                exc.message += (
                    f"; gave up retrying: the sync deadline ({timeout:g}s) came before the "
                    "sync started"
                )
            raise
        log.info(
            "airbyte_sync_started",
            pipeline=pipeline.config.name,
            connection_id=pipeline.label,
            job_id=job.job_id,
            status=job.status,
            attached=attached,
        )
        facts: dict[str, Any] = {
            "connection_id": pipeline.label,
            "job_id": job.job_id,
            "attached": attached,
        }
        try:
            outcome = wait_for_job(
                self.client,
                job,
                interval=interval,
                deadline=deadline,
                max_failures=settings.max_retries,
                max_backoff=settings.max_backoff_seconds,
                sleep=self._sleep,
                clock=self._clock,
            )
        except IngestionError as exc:
            exc.details.update(facts)
            raise
        facts.update(polls=outcome.polls, statuses=list(outcome.statuses))
        if outcome.timed_out:
            return timed_out_result(
                self.client,
                pipeline,
                outcome.job,
                attached=attached,
                cancel_on_timeout=settings.cancel_on_timeout,
                started=started,
                timeout=timeout,
                facts=facts,
                clock=self._clock,
            )
        return finished_result(
            self.client,
            pipeline,
            outcome.job,
            started=started,
            facts=facts,
            deadline=deadline,
            clock=self._clock,
        )


def _from_listing(exc: IngestionError) -> bool:
    """True when ``exc`` answered ``GET /connections`` (the health check), not the token."""
    path = str(exc.details.get("path", ""))
    return exc.details.get("method") == "GET" and path.rstrip("/").endswith("/connections")


def _from_connection_lookup(exc: IngestionError, connection_id: str) -> bool:
    """True when ``exc`` answered ``GET /connections/{connection_id}`` (not the token request)."""
    path = str(exc.details.get("path", ""))
    return exc.details.get("method") == "GET" and path.endswith(f"/connections/{connection_id}")
