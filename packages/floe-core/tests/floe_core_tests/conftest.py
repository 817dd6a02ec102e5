from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from floe_core.log import release_stdlib
from floe_core_tests._fakes import FakePlugin


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Spans finished during the test, from a private tracer provider (the global one is left
    alone, so other packages' tests in the same session are unaffected)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer", lambda name, *a, **k: provider.get_tracer(name))
    return exporter


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    provider = MeterProvider(metric_readers=[metric_reader])
    yield provider
    provider.shutdown()


@pytest.fixture(autouse=True)
def _fresh_fake_plugin() -> None:
    FakePlugin.reset()


@pytest.fixture(autouse=True)
def _structlog_left_as_found() -> Iterator[None]:
    """Runner and CLI configure structlog process-wide; undo it for the next test."""
    yield
    structlog.reset_defaults()
    release_stdlib()


def metric_points(
    reader: InMemoryMetricReader,
) -> dict[str, list[tuple[dict[str, object], object]]]:
    """Return {metric name: [(attributes, value or histogram count)]}."""
    data = reader.get_metrics_data()
    out: dict[str, list[tuple[dict[str, object], object]]] = {}
    if data is None:
        return out
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is None:
                        value = ("count", point.count, "sum", point.sum)  # type: ignore[attr-defined]
                    out.setdefault(metric.name, []).append((dict(point.attributes or {}), value))
    return out
