from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from floe_core_tests._fakes import FakePlugin

_EXPORTER = InMemorySpanExporter()


def _install_exporter() -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "another test set a non-SDK tracer provider"
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))


_install_exporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test (the global SDK provider exports here)."""
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


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
