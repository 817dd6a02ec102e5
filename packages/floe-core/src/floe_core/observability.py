"""``observability`` in the platform manifest: logs, lineage, metrics and traces.

::

    observability:
      logs: {format: json, level: INFO}
      lineage:
        enabled: true
        transport: {type: http, url: "http://marquez:5000"}
        timeout_seconds: 1        # per request; a lineage server that is down costs ~1 s
        retries: 0
      metrics:
        otlp: {endpoint: "http://otel-collector:4318", headers: {x-api-key: "${OTLP_KEY}"}}
        pushgateway: {url: "http://pushgateway:9091", job: floe_ingestion}
      traces:
        otlp: {endpoint: "http://otel-collector:4318"}

Without ``metrics`` / ``traces`` floe records into the global OpenTelemetry providers (what
``opentelemetry-instrument`` or an embedding application sets up). With them, ``floe ingest``
exports by itself (:mod:`floe_core._exporter`): OTLP over HTTP (protobuf) to
``<endpoint>/v1/metrics`` and ``<endpoint>/v1/traces``, and, for batch jobs that Prometheus
cannot scrape, one push of the final counters to a Pushgateway when the run ends. Header values
are secrets (a string, usually ``${VAR}``, or ``{secret_ref: ...}``): never logged or shown.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from floe_core._scalar import YamlBool, YamlFloat, YamlInt
from floe_core._secret_field import RequiredSecret

__all__ = [
    "LineageConfig",
    "LogsConfig",
    "MetricsConfig",
    "ObservabilityConfig",
    "OtlpConfig",
    "PushgatewayConfig",
    "TracesConfig",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class LogsConfig(BaseModel):
    """``observability.logs``."""

    model_config = _STRICT

    format: Literal["json", "console"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class LineageConfig(BaseModel):
    """``observability.lineage``: OpenLineage run events, off by default.

    ``transport`` is an openlineage-python transport config (``{type: http, url: ...}``,
    ``{type: file, log_file_path: ...}``, ``{type: console}``); when enabled without one, the
    client's own configuration (``OPENLINEAGE_URL``, ``openlineage.yml``) is used.
    ``timeout_seconds`` and ``retries`` bound every HTTP request of the client (unless the
    transport sets its own ``timeout`` / ``retry``): emitting never costs a load more than
    about ``(retries + 1) * timeout_seconds`` per event.
    """

    model_config = _STRICT

    enabled: YamlBool = False
    namespace: str = Field(default="floe", min_length=1)
    transport: dict[str, Any] | None = None
    timeout_seconds: YamlFloat = Field(
        default=1.0, gt=0, le=60, description="Per HTTP request (connect and read)."
    )
    retries: YamlInt = Field(
        default=0, ge=0, le=10, description="HTTP retries per event after the first try."
    )


class OtlpConfig(BaseModel):
    """An OTLP/HTTP (protobuf) receiver, e.g. an OpenTelemetry Collector."""

    model_config = _STRICT

    endpoint: str = Field(
        description="Base URL, e.g. http://collector:4318 (/v1/metrics, /v1/traces appended)."
    )
    headers: dict[str, RequiredSecret] = Field(
        default_factory=dict, description="Sent with every export (e.g. an API key); secret."
    )
    timeout_seconds: YamlFloat = Field(default=5.0, gt=0, le=60)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_http(cls, value: str) -> str:
        return _http_url(value)


class PushgatewayConfig(BaseModel):
    """A Prometheus Pushgateway the final counters of a run are pushed to."""

    model_config = _STRICT

    url: str = Field(description="e.g. http://pushgateway:9091")
    job: str = Field(default="floe_ingestion", min_length=1, description="The job label.")
    headers: dict[str, RequiredSecret] = Field(default_factory=dict)
    timeout_seconds: YamlFloat = Field(default=5.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return _http_url(value)


class MetricsConfig(BaseModel):
    """``observability.metrics``: where the ``floe_ingestion_*`` metrics go."""

    model_config = _STRICT

    otlp: OtlpConfig | None = None
    pushgateway: PushgatewayConfig | None = None


class TracesConfig(BaseModel):
    """``observability.traces``: where the ``floe.ingestion.*`` spans go."""

    model_config = _STRICT

    otlp: OtlpConfig | None = None


class ObservabilityConfig(BaseModel):
    """``observability``."""

    model_config = _STRICT

    logs: LogsConfig = Field(default_factory=LogsConfig)
    lineage: LineageConfig = Field(default_factory=LineageConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    traces: TracesConfig = Field(default_factory=TracesConfig)
