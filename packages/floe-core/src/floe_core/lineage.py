"""OpenLineage run events for every load: START, then COMPLETE or FAIL (ABORT if interrupted).

Job: ``ingestion.<source>`` in the configured namespace (``floe`` by default), with a
``jobType`` facet (``BATCH`` / ``FLOE`` / ``INGESTION``). Outputs: the destination tables as
datasets named ``namespace.table`` in the catalog's dataset namespace (:func:`dataset_namespace`),
with ``outputStatistics`` (rows, bytes) on COMPLETE. FAIL carries the standard ``errorMessage``
facet and a custom ``ingestionError`` run facet::

    {"code": "SOURCE_UNAVAILABLE", "category": "TRANSIENT", "message": "...", "retryable": true}

Lineage is off unless ``observability.lineage.enabled``; the transport is any openlineage-python
transport config (``http``, ``file``, ``console``, ``kafka``, ...). A transport config the client
cannot build is a configuration error (``floe validate`` builds it too). Emitting never breaks a
load: a transport failure is logged and dropped, and an HTTP transport's requests are bounded by
``timeout_seconds`` and ``retries`` (1 s, no retry by default; openlineage-python's own defaults
are 5 s and 5 retries with backoff, about 20 s per event against a server that is down).
This module imports openlineage-python, so the runner imports it only when lineage is enabled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    OutputDatasetFacet,
    RunFacet,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
)
from openlineage.client.uuid import generate_new_uuid

from floe_core.catalog import CatalogConfig
from floe_core.errors import ErrorCode, PipelineConfigurationError
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.log import get_logger, redact_text
from floe_core.observability import LineageConfig

__all__ = ["PRODUCER", "IngestionErrorRunFacet", "LineageEmitter", "dataset_namespace"]

PRODUCER = "https://github.com/floe-dev/floe-ingestion"
"""The ``producer`` URI of every event and facet floe emits."""

_log = get_logger("floe_core.lineage")


@attr.define
class IngestionErrorRunFacet(RunFacet):
    """Why a load failed, in floe's taxonomy (the first error of the result)."""

    code: str
    category: str
    message: str
    retryable: bool
    _additional_skip_redact: ClassVar[list[str]] = ["code", "category", "retryable"]

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCER}/blob/main/spec/IngestionErrorRunFacet.json"


def dataset_namespace(catalog: CatalogConfig) -> str:
    """Return the OpenLineage dataset namespace of a catalog's tables.

    A REST catalog is named by its URI; a SQL catalog by its warehouse location (``file://``
    for a local folder). Any user:password in a URL is dropped.

    Args:
        catalog: The catalog.

    Returns:
        e.g. ``http://127.0.0.1:8181/catalog`` or ``file:///srv/warehouse``.
    """
    location = catalog.uri if catalog.type == "rest" else catalog.warehouse
    if not location:
        return f"iceberg://{catalog.name}"
    if "://" not in location:
        return f"file://{location}"
    parts = urlsplit(location)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class LineageEmitter:
    """Emits a START and a COMPLETE/FAIL event per load.

    Args:
        namespace: The OpenLineage job namespace.
        catalog: The catalog the outputs live in (names the dataset namespace).
        client: An OpenLineage client; built from ``transport`` when None.
        transport: An openlineage-python transport config; the client's own configuration
            (``OPENLINEAGE_URL``, ``openlineage.yml``) when None.
        timeout_seconds: Per HTTP request, unless ``transport`` sets ``timeout``.
        retries: HTTP retries per event, unless ``transport`` sets ``retry``.
    """

    def __init__(
        self,
        *,
        namespace: str = "floe",
        catalog: CatalogConfig | None = None,
        client: OpenLineageClient | None = None,
        transport: Mapping[str, Any] | None = None,
        timeout_seconds: float = 1.0,
        retries: int = 0,
    ) -> None:
        self.namespace = namespace
        self.catalog = catalog if catalog is not None else CatalogConfig.embedded()
        self.timeout_seconds = timeout_seconds
        if client is None:
            client = _client(transport, timeout_seconds=timeout_seconds, retries=retries)
        self.client = client

    @classmethod
    def from_config(cls, config: LineageConfig, catalog: CatalogConfig) -> LineageEmitter:
        """Build an emitter from the manifest's ``observability.lineage``.

        Args:
            config: The lineage settings.
            catalog: The platform catalog.

        Returns:
            The emitter.

        Raises:
            PipelineConfigurationError: The transport config is unusable (unknown type, a
                missing ``url`` or ``log_file_path``, ...).
        """
        return cls(
            namespace=config.namespace,
            catalog=catalog,
            transport=config.transport,
            timeout_seconds=config.timeout_seconds,
            retries=config.retries,
        )

    def start(self, config: IngestionConfig) -> str:
        """Emit START for a load of ``config``.

        Args:
            config: The source about to load.

        Returns:
            The run id, for :meth:`finish`.
        """
        run_id = str(generate_new_uuid())
        self._emit(RunState.START, run_id, config, outputs=self._outputs(config, None))
        return run_id

    def finish(self, run_id: str, config: IngestionConfig, result: IngestionResult) -> None:
        """Emit COMPLETE (success) or FAIL (with the ``ingestionError`` facet).

        Args:
            run_id: What :meth:`start` returned.
            config: The source.
            result: The final result.
        """
        outputs = self._outputs(config, result)
        if result.success:
            self._emit(RunState.COMPLETE, run_id, config, outputs=outputs)
            return
        facets: dict[str, RunFacet] = {}
        if result.errors:
            first = result.errors[0]
            facets["ingestionError"] = IngestionErrorRunFacet(
                code=str(first.code),
                category=str(first.category),
                message=first.message,
                retryable=first.retryable,
                producer=PRODUCER,
            )
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=f"[{first.category}/{first.code}] {first.message}",
                programmingLanguage="python",
                producer=PRODUCER,
            )
        self._emit(RunState.FAIL, run_id, config, outputs=outputs, run_facets=facets)

    def abort(self, run_id: str, config: IngestionConfig) -> None:
        """Emit ABORT: the load was interrupted (Ctrl-C, shutdown) before it had a result.

        Args:
            run_id: What :meth:`start` returned.
            config: The source.
        """
        self._emit(RunState.ABORT, run_id, config, outputs=self._outputs(config, None))

    def close(self) -> None:
        """Flush and close the transport."""
        try:
            self.client.close(timeout=self.timeout_seconds)
        except Exception as exc:
            _log.warning("lineage_close_failed", error=f"{type(exc).__name__}: {exc}")

    def _outputs(
        self, config: IngestionConfig, result: IngestionResult | None
    ) -> list[OutputDataset]:
        namespace = dataset_namespace(self.catalog)
        if result is not None and result.tables:
            return [
                OutputDataset(
                    namespace=namespace,
                    name=table.table,
                    outputFacets=_statistics(table.rows_loaded, table.bytes_written),
                )
                for table in result.tables
            ]
        if config.table is None:
            return []  # 'namespace.*': the tables are known only from the result
        return [OutputDataset(namespace=namespace, name=config.destination_table)]

    def _emit(
        self,
        state: RunState,
        run_id: str,
        config: IngestionConfig,
        *,
        outputs: list[OutputDataset],
        run_facets: dict[str, RunFacet] | None = None,
    ) -> None:
        job_type = job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="FLOE", jobType="INGESTION", producer=PRODUCER
        )
        event = RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=run_id, facets=run_facets or {}),
            job=Job(
                namespace=self.namespace,
                name=f"ingestion.{config.name}",
                facets={"jobType": job_type},
            ),
            outputs=outputs,
            producer=PRODUCER,
        )
        try:
            self.client.emit(event)
        except Exception as exc:
            _log.warning(
                "lineage_emit_failed",
                source=config.name,
                event_type=str(state.value),
                error=f"{type(exc).__name__}: {exc}",
            )


_TRANSPORTS = (
    "{type: http, url: ...}, {type: file, log_file_path: ...}, {type: console} or another "
    "openlineage-python transport with its settings"
)


def _retry(retries: int) -> dict[str, Any]:
    """urllib3 ``Retry`` settings: ``retries`` of each kind, short backoff, POST included."""
    return {
        "total": retries,
        "connect": retries,
        "read": retries,
        "status": retries,
        "backoff_factor": 0.1,
        "status_forcelist": [500, 502, 503, 504],
        "allowed_methods": ["HEAD", "POST"],
    }


def _bounded(transport: Mapping[str, Any], timeout_seconds: float, retries: int) -> dict[str, Any]:
    """Give an http transport config (also inside a composite) our timeout and retries."""
    config = dict(transport)
    if config.get("type") == "http":
        config.setdefault("timeout", timeout_seconds)
        config.setdefault("retry", _retry(retries))
    elif config.get("type") == "composite" and isinstance(config.get("transports"), dict):
        config["transports"] = {
            name: _bounded(inner, timeout_seconds, retries) if isinstance(inner, Mapping) else inner
            for name, inner in config["transports"].items()
        }
    elif config.get("type") == "composite" and isinstance(config.get("transports"), list):
        config["transports"] = [
            _bounded(inner, timeout_seconds, retries) if isinstance(inner, Mapping) else inner
            for inner in config["transports"]
        ]
    return config


def _bound_environment_transport(
    client: OpenLineageClient, timeout_seconds: float, retries: int
) -> None:
    """Bound the http transport the client built from ``OPENLINEAGE_URL`` (5 s, 5 retries)."""
    from openlineage.client.transport.http import HttpTransport

    transport = getattr(client, "transport", None)
    if isinstance(transport, HttpTransport) and transport._session is None:
        transport.timeout = timeout_seconds
        transport.config.timeout = timeout_seconds
        transport.config.retry = _retry(retries)


def _client(
    transport: Mapping[str, Any] | None, *, timeout_seconds: float = 1.0, retries: int = 0
) -> OpenLineageClient:
    """Build the client; a transport it cannot build is a configuration error.

    Building connects to nothing and writes nothing, so ``floe validate`` can call it.
    """
    config = (
        {"transport": _bounded(transport, timeout_seconds, retries)}
        if transport is not None
        else None
    )
    # openlineage logs its failed import attempts ("not enough values to unpack ...") before
    # raising; hold those records and pass them on only when the client is built.
    utils = logging.getLogger("openlineage.client.utils")
    held = _Hold()
    utils.addHandler(held)
    propagate, utils.propagate = utils.propagate, False
    try:
        client = OpenLineageClient(config=config)
    except Exception as exc:
        where = "transport" if transport is not None else "OPENLINEAGE_URL / openlineage.yml"
        raise PipelineConfigurationError(
            f"the OpenLineage {where} cannot be built ({type(exc).__name__}: "
            f"{redact_text(str(exc))}); give {_TRANSPORTS}",
            code=ErrorCode.INVALID_CONFIG,
            details={"field": "observability.lineage.transport"},
        ) from None
    finally:
        utils.removeHandler(held)
        utils.propagate = propagate
    for record in held.records:
        utils.handle(record)
    if transport is None:
        _bound_environment_transport(client, timeout_seconds, retries)
    return client


class _Hold(logging.Handler):
    """Keeps log records instead of emitting them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _statistics(rows: int, size: int) -> dict[str, OutputDatasetFacet]:
    return {
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows, size=size, producer=PRODUCER
        )
    }
