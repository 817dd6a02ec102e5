"""Export metrics and traces where ``observability.metrics`` / ``.traces`` say.

The settings are described in :mod:`floe_core.observability`.

:meth:`Exporters.from_config` builds a private meter provider (OTLP/HTTP reader and/or an
in-memory reader for the Pushgateway) and a private tracer provider (OTLP/HTTP, batched);
:meth:`Exporters.shutdown` flushes both and pushes the final counters to the Pushgateway. The
global OpenTelemetry providers are left alone, so ``opentelemetry-instrument`` still works for
what it instruments. Exporting never fails a run: a receiver that is down is logged (without
headers, which may hold secrets) and the run's exit code is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricReader,
    NumberDataPoint,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic import SecretStr

from floe_core import telemetry
from floe_core.log import get_logger
from floe_core.metric import IngestionMetrics
from floe_core.observability import ObservabilityConfig, PushgatewayConfig

__all__ = ["SERVICE_NAME", "Exporters"]

SERVICE_NAME = "floe-ingestion"
"""The ``service.name`` resource attribute of exported metrics and spans."""

_EXPORT_INTERVAL_MS = 60_000
"""OTLP metrics go out every minute and once more at shutdown (a batch run ends sooner)."""

_log = get_logger("floe_core.exporter")


def _plain(headers: Mapping[str, SecretStr]) -> dict[str, str]:
    return {name: value.get_secret_value() for name, value in headers.items()}


class Exporters:
    """The metric and trace pipelines of one ``floe ingest``.

    Args:
        meter_provider: Provider of the ingestion metrics; None when no metrics export.
        tracer_provider: Provider of the spans; None when no traces export.
        push: Where to push the final counters, with the reader that collects them.
    """

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None,
        tracer_provider: TracerProvider | None,
        push: tuple[PushgatewayConfig, InMemoryMetricReader] | None,
    ) -> None:
        self.meter_provider = meter_provider
        self.tracer_provider = tracer_provider
        self._push = push
        self._previous_tracer = telemetry.use_tracer_provider(tracer_provider)

    @classmethod
    def from_config(cls, config: ObservabilityConfig) -> Exporters | None:
        """Build the exporters the manifest asks for.

        Args:
            config: ``observability``.

        Returns:
            The exporters (traces already routed to them), or None when neither ``metrics``
            nor ``traces`` is configured.
        """
        metrics, traces = config.metrics, config.traces
        if metrics.otlp is None and metrics.pushgateway is None and traces.otlp is None:
            return None
        resource = Resource.create({"service.name": SERVICE_NAME})
        readers: list[MetricReader] = []
        push: tuple[PushgatewayConfig, InMemoryMetricReader] | None = None
        if metrics.otlp is not None:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )

            exporter = OTLPMetricExporter(
                endpoint=f"{metrics.otlp.endpoint}/v1/metrics",
                headers=_plain(metrics.otlp.headers),
                timeout=metrics.otlp.timeout_seconds,
            )
            readers.append(
                PeriodicExportingMetricReader(exporter, export_interval_millis=_EXPORT_INTERVAL_MS)
            )
        if metrics.pushgateway is not None:
            reader = InMemoryMetricReader()
            readers.append(reader)
            push = (metrics.pushgateway, reader)
        meter_provider = (
            MeterProvider(metric_readers=readers, resource=resource) if readers else None
        )
        tracer_provider = None
        if traces.otlp is not None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            tracer_provider = TracerProvider(resource=resource)
            tracer_provider.add_span_processor(
                BatchSpanProcessor(
                    OTLPSpanExporter(
                        endpoint=f"{traces.otlp.endpoint}/v1/traces",
                        headers=_plain(traces.otlp.headers),
                        timeout=traces.otlp.timeout_seconds,
                    )
                )
            )
        return cls(meter_provider=meter_provider, tracer_provider=tracer_provider, push=push)

    def metrics(self) -> IngestionMetrics | None:
        """Return the ingestion instruments on the exported provider (None: the global one)."""
        return IngestionMetrics(self.meter_provider) if self.meter_provider is not None else None

    def shutdown(self) -> None:
        """Push to the Pushgateway, flush and stop the providers; never raises."""
        telemetry.use_tracer_provider(self._previous_tracer)
        if self._push is not None:
            self._push_to_gateway(*self._push)
        for provider in (self.meter_provider, self.tracer_provider):
            if provider is None:
                continue
            try:
                provider.shutdown()
            except Exception as exc:  # an exporter bug must not change the run's outcome
                _log.warning("telemetry_shutdown_failed", error=f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _push_to_gateway(config: PushgatewayConfig, reader: InMemoryMetricReader) -> None:
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import default_handler, push_to_gateway

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(reader))
        extra = list(_plain(config.headers).items())

        def handler(
            url: str, method: str, timeout: float | None, headers: list[Any], data: bytes
        ) -> Callable[[], None]:
            return default_handler(url, method, timeout, [*headers, *extra], data)

        try:
            push_to_gateway(
                config.url,
                job=config.job,
                registry=registry,
                timeout=config.timeout_seconds,
                handler=handler,
            )
        except Exception as exc:
            _log.warning(
                "metrics_push_failed",
                url=config.url,
                job=config.job,
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            _log.info("metrics_pushed", url=config.url, job=config.job)


class _Collector:
    """Presents the OpenTelemetry metrics an in-memory reader holds as Prometheus families.

    Counters keep their names (``floe_ingestion_runs_total``), histograms become
    ``_bucket``/``_sum``/``_count`` series; attributes become labels.
    """

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self._reader = reader

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        data = self._reader.get_metrics_data()
        if data is None:
            return
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points: list[Any] = list(metric.data.data_points)
                    labels = sorted({k for p in points for k in (p.attributes or {})})
                    family: Any
                    if points and isinstance(points[0], HistogramDataPoint):
                        family = HistogramMetricFamily(
                            metric.name, metric.description or metric.name, labels=labels
                        )
                    elif getattr(metric.data, "is_monotonic", False):
                        family = CounterMetricFamily(
                            metric.name, metric.description or metric.name, labels=labels
                        )
                    else:
                        family = GaugeMetricFamily(
                            metric.name, metric.description or metric.name, labels=labels
                        )
                    for point in points:
                        values = [str((point.attributes or {}).get(k, "")) for k in labels]
                        if isinstance(point, HistogramDataPoint):
                            family.add_metric(values, _buckets(point), point.sum)
                        elif isinstance(point, NumberDataPoint):
                            family.add_metric(values, point.value)
                    yield family


def _buckets(point: HistogramDataPoint) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs, ending with ``+Inf``."""
    out: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip(point.explicit_bounds, point.bucket_counts, strict=False):
        total += count
        out.append((repr(float(bound)), float(total)))
    out.append(("+Inf", float(point.count)))
    return out
