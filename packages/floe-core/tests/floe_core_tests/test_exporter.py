"""``observability.metrics`` / ``.traces``: what a receiver on 127.0.0.1 decodes from a run."""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from floe_core.cli import main
from floe_core.registry import PluginRegistry
from floe_core_tests._fakes import FakePlugin

PROJECT = """
ingestion:
  sources:
    - name: orders
      type: memory
      config: {rows: 5}
      destination: {table: bronze.orders}
    - name: flaky
      type: memory
      config: {rows: 2, fail: [AUTH_FAILED]}
      destination: {table: bronze.flaky}
"""

SECRET = "s3cr3t-otlp-key"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.append((self.command, self.path, headers, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self, path: str) -> list[bytes]:
        return [body for _, p, _, body in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def run(folder: Path, observability: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(folder)
    monkeypatch.setenv("OTLP_KEY", SECRET)
    manifest = "plugins: {ingestion: {type: fake, retry: {max_attempts: 1}}}\n"
    (folder / "platform-manifest.yaml").write_text(manifest + textwrap.dedent(observability))
    (folder / "floe.yaml").write_text(textwrap.dedent(PROJECT))
    registry = PluginRegistry(entry_points=[])
    registry.register("fake", FakePlugin)
    return CliRunner().invoke(main, ["ingest", "floe.yaml"], obj={"registry": registry})


def _otlp_points(bodies: list[bytes]) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for body in bodies:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        attributes = {a.key: a.value.string_value for a in point.attributes}
                        value = point.count if kind == "histogram" else point.as_int
                        out.setdefault(metric.name, []).append((attributes, float(value)))
    return out


def test_otlp_metrics_and_traces_reach_the_receiver(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(
        tmp_path,
        f"""
        observability:
          metrics:
            otlp: {{endpoint: "{receiver.url}", headers: {{x-api-key: "${{OTLP_KEY}}"}}}}
          traces:
            otlp: {{endpoint: "{receiver.url}/", headers: {{x-api-key: "${{OTLP_KEY}}"}}}}
        """,
        monkeypatch,
    )
    assert result.exit_code == 1, result.output  # flaky fails with AUTH_FAILED
    points = _otlp_points(receiver.bodies("/v1/metrics"))
    assert sorted(points["floe_ingestion_runs_total"], key=str) == [
        ({"source": "flaky", "source_type": "memory", "status": "failure"}, 1.0),
        ({"source": "orders", "source_type": "memory", "status": "success"}, 1.0),
    ]
    assert points["floe_ingestion_rows_loaded_total"] == [
        ({"source": "orders", "table": "bronze.orders"}, 5.0)
    ]
    assert points["floe_ingestion_errors_total"] == [
        ({"source": "flaky", "category": "PERMANENT", "code": "AUTH_FAILED"}, 1.0)
    ]
    assert [count for _, count in points["floe_ingestion_duration_seconds"]] == [1.0, 1.0]

    spans = []
    for body in receiver.bodies("/v1/traces"):
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            assert service["service.name"] == "floe-ingestion"
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: a.value for a in span.attributes}
                    spans.append((span.name, attributes["ingestion.pipeline_name"].string_value))
    assert sorted(spans) == [("floe.ingestion.run", "flaky"), ("floe.ingestion.run", "orders")]

    keys = {headers.get("x-api-key") for _, _, headers, _ in receiver.requests}
    assert keys == {SECRET}
    assert SECRET not in result.output


def test_pushgateway_receives_the_final_counters(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(
        tmp_path,
        f"""
        observability:
          metrics:
            pushgateway:
              url: "{receiver.url}"
              job: nightly
              headers: {{x-api-key: "${{OTLP_KEY}}"}}
        """,
        monkeypatch,
    )
    assert result.exit_code == 1, result.output
    [(method, path, headers, body)] = receiver.requests
    assert (method, path) == ("PUT", "/metrics/job/nightly")
    assert headers["x-api-key"] == SECRET
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert (
        samples[
            (
                "floe_ingestion_runs_total",
                (("source", "orders"), ("source_type", "memory"), ("status", "success")),
            )
        ]
        == 1.0
    )
    assert (
        samples[
            ("floe_ingestion_rows_loaded_total", (("source", "orders"), ("table", "bronze.orders")))
        ]
        == 5.0
    )
    assert (
        samples[
            (
                "floe_ingestion_duration_seconds_count",
                (("source", "flaky"), ("source_type", "memory"), ("status", "failure")),
            )
        ]
        == 1.0
    )
    assert SECRET not in result.output


def test_a_pushgateway_that_is_down_does_not_change_the_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(
        tmp_path,
        f"""
        observability:
          logs: {{format: json}}
          metrics: {{pushgateway: {{url: "http://127.0.0.1:{port}", timeout_seconds: 1}}}}
        """,
        monkeypatch,
    )
    assert result.exit_code == 1
    assert '"event": "metrics_push_failed"' in result.stderr


def test_headers_are_secret_in_the_manifest(tmp_path: Path) -> None:
    from floe_core.manifest import PlatformManifest

    path = tmp_path / "m.yaml"
    path.write_text(
        "observability: {metrics: {otlp: {endpoint: 'http://127.0.0.1:4318', "
        "headers: {authorization: {secret_ref: 'env:TOKEN'}}}}}\n"
    )
    manifest = PlatformManifest.load(path, environ={"TOKEN": "Bearer xyz"})
    otlp = manifest.observability.metrics.otlp
    assert otlp is not None
    assert otlp.headers["authorization"].get_secret_value() == "Bearer xyz"
    assert "xyz" not in repr(manifest) and "xyz" not in manifest.model_dump_json()
