from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    ErrorDetail,
    IngestionConfig,
    IngestionResult,
    PipelineConfigurationError,
    TableResult,
)
from floe_core.lineage import LineageEmitter, dataset_namespace
from floe_core.manifest import LineageConfig


class ListTransport(Transport):
    kind = "memory"

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: Any) -> None:
        self.events.append(json.loads(Serde.to_json(event)))


class BrokenTransport(Transport):
    kind = "broken"

    def emit(self, event: Any) -> None:
        raise ConnectionError("lineage backend down")


CONFIG = IngestionConfig(name="orders", source_type="memory", destination_table="bronze.orders")
CATALOG = CatalogConfig(type="rest", uri="http://user:pw@127.0.0.1:8181/catalog", name="lake")


def emitter(transport: Transport) -> LineageEmitter:
    client = OpenLineageClient(transport=transport)
    return LineageEmitter(namespace="prod", catalog=CATALOG, client=client)


def test_start_and_complete_with_outputs_and_statistics() -> None:
    transport = ListTransport()
    lineage = emitter(transport)
    run_id = lineage.start(CONFIG)
    result = IngestionResult(
        source="orders",
        success=True,
        rows_loaded=12,
        bytes_written=4096,
        tables=[TableResult(table="bronze.orders", rows_loaded=12, bytes_written=4096)],
    )
    lineage.finish(run_id, CONFIG, result)
    start, complete = transport.events
    assert [start["eventType"], complete["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == complete["run"]["runId"] == run_id
    assert start["job"]["namespace"] == "prod" and start["job"]["name"] == "ingestion.orders"
    assert start["job"]["facets"]["jobType"]["jobType"] == "INGESTION"
    [planned] = start["outputs"]
    assert (planned["namespace"], planned["name"]) == (
        "http://127.0.0.1:8181/catalog",
        "bronze.orders",
    )
    [output] = complete["outputs"]
    assert output["namespace"] == "http://127.0.0.1:8181/catalog"  # no user:password
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 12
    assert output["outputFacets"]["outputStatistics"]["size"] == 4096
    assert "ingestionError" not in complete["run"]["facets"]


def test_fail_carries_ingestion_error_facet() -> None:
    transport = ListTransport()
    lineage = emitter(transport)
    run_id = lineage.start(CONFIG)
    error = ErrorDetail(
        code=ErrorCode.AUTH_FAILED,
        category=ErrorCategory.PERMANENT,
        message="password authentication failed for user app",
        retryable=False,
    )
    lineage.finish(run_id, CONFIG, IngestionResult(source="orders", success=False, errors=[error]))
    fail = transport.events[-1]
    assert fail["eventType"] == "FAIL"
    facet = fail["run"]["facets"]["ingestionError"]
    assert {k: facet[k] for k in ("code", "category", "message", "retryable")} == {
        "code": "AUTH_FAILED",
        "category": "PERMANENT",
        "message": "password authentication failed for user app",
        "retryable": False,
    }
    assert facet["_schemaURL"].endswith("IngestionErrorRunFacet.json")
    assert "AUTH_FAILED" in fail["run"]["facets"]["errorMessage"]["message"]
    assert [o["name"] for o in fail["outputs"]] == ["bronze.orders"]


def test_wildcard_destination_has_no_output_until_tables_are_known() -> None:
    transport = ListTransport()
    config = CONFIG.model_copy(update={"destination_table": "bronze.*"})
    emitter(transport).start(config)
    assert transport.events[0]["outputs"] == []


def test_file_transport_from_config(tmp_path: Path) -> None:
    target = tmp_path / "lineage.jsonl"
    config = LineageConfig(
        enabled=True,
        namespace="floe",
        transport={"type": "file", "log_file_path": str(target), "append": True},
    )
    lineage = LineageEmitter.from_config(config, CatalogConfig.embedded(tmp_path / "wh"))
    run_id = lineage.start(CONFIG)
    lineage.finish(run_id, CONFIG, IngestionResult(source="orders", success=True))
    lineage.close()
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[0]["outputs"][0]["namespace"] == f"file://{(tmp_path / 'wh').absolute()}"


def test_emit_failure_never_raises() -> None:
    lineage = emitter(BrokenTransport())
    run_id = lineage.start(CONFIG)
    lineage.finish(run_id, CONFIG, IngestionResult(source="orders", success=True))


def test_dataset_namespace_rules() -> None:
    assert dataset_namespace(CatalogConfig(warehouse="s3://bucket/wh")) == "s3://bucket/wh"
    assert dataset_namespace(CatalogConfig()) == "iceberg://floe"
    assert dataset_namespace(CatalogConfig(warehouse="/srv/wh")) == "file:///srv/wh"


@pytest.mark.parametrize(
    ("transport", "cause"),
    [
        ({"type": "bogus"}, "ImportError: Failed to import bogus"),
        ({"type": "http"}, "`url` key not passed"),
        ({"type": "file"}, "`log_file_path` key not passed"),
        ({"type": "http", "url": "http://u:pw-canary@bad host"}, "ValueError"),
    ],
)
def test_unbuildable_transport_is_a_configuration_error(
    transport: dict[str, Any], cause: str
) -> None:
    config = LineageConfig(enabled=True, transport=transport)
    with pytest.raises(PipelineConfigurationError) as info:
        LineageEmitter.from_config(config, CatalogConfig.embedded())
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert info.value.details == {"field": "observability.lineage.transport"}
    assert info.value.message.startswith("the OpenLineage transport cannot be built (")
    assert cause in info.value.message
    assert "{type: http, url: ...}, {type: file, log_file_path: ...}" in info.value.message
    assert "pw-canary" not in info.value.message


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: connecting is refused


class _SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def _load_with_lineage(config: LineageConfig) -> float:
    lineage = LineageEmitter.from_config(config, CATALOG)
    started = time.monotonic()
    run_id = lineage.start(CONFIG)
    lineage.finish(run_id, CONFIG, IngestionResult(source="orders", success=True))
    lineage.close()
    return time.monotonic() - started


def test_lineage_server_that_is_down_costs_no_retries() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    config = LineageConfig(enabled=True, transport={"type": "http", "url": url})
    # openlineage-python's defaults (5 retries, backoff 0.3 s) take ~20 s for these two events
    assert _load_with_lineage(config) < 4.0  # generous for a busy machine; refused is instant
    transport = LineageEmitter.from_config(config, CATALOG).client.transport
    assert transport.timeout == 1.0  # type: ignore[attr-defined]
    assert transport.config.retry["total"] == 0  # type: ignore[attr-defined]


def test_lineage_server_that_never_answers_is_bounded_by_the_timeout() -> None:
    server = _SilentServer()
    try:
        url = f"http://127.0.0.1:{server.port}"
        config = LineageConfig(
            enabled=True,
            transport={"type": "http", "url": url},
            timeout_seconds=0.5,
            retries=1,
        )
        elapsed = _load_with_lineage(config)
        # two events, each at most (1 + 1 retry) x 0.5 s plus a short backoff: ~2.2 s
        assert elapsed < 6.0
        assert len(server.accepted) == 4  # each event: the first try and one retry
    finally:
        server.close()


def test_a_transport_timeout_of_its_own_wins() -> None:
    transport = {"type": "http", "url": "http://127.0.0.1:1", "timeout": 3, "retry": {"total": 2}}
    config = LineageConfig(enabled=True, transport=transport)
    client = LineageEmitter.from_config(config, CATALOG).client.transport
    assert client.timeout == 3  # type: ignore[attr-defined]
    assert client.config.retry["total"] == 2  # type: ignore[attr-defined]


def test_openlineage_url_from_the_environment_is_bounded_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{_closed_port()}")
    config = LineageConfig(enabled=True, timeout_seconds=0.7)
    transport = LineageEmitter.from_config(config, CATALOG).client.transport
    assert transport.timeout == 0.7  # type: ignore[attr-defined]
    assert transport.config.retry["total"] == 0  # type: ignore[attr-defined]
    assert _load_with_lineage(config) < 4.0
