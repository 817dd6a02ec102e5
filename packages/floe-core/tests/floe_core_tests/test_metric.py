from __future__ import annotations

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from floe_core import ErrorCategory, ErrorCode, ErrorDetail, IngestionResult, TableResult
from floe_core.metric import IngestionMetrics
from floe_core_tests.conftest import metric_points


def test_success_records_rows_bytes_and_duration(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    metrics = IngestionMetrics(meter_provider)
    result = IngestionResult(
        source="orders",
        success=True,
        rows_loaded=15,
        bytes_written=2048,
        duration_seconds=1.5,
        tables=[
            TableResult(table="bronze.a", rows_loaded=10, bytes_written=1024),
            TableResult(table="bronze.b", rows_loaded=5, bytes_written=1024),
        ],
    )
    metrics.record_retry("orders")
    metrics.record_result(result, source_type="sql_database", duration_seconds=4.0)
    points = metric_points(metric_reader)
    assert points["floe_ingestion_rows_loaded_total"] == [
        ({"source": "orders", "table": "bronze.a"}, 10),
        ({"source": "orders", "table": "bronze.b"}, 5),
    ]
    assert points["floe_ingestion_bytes_written_total"] == [({"source": "orders"}, 2048)]
    assert points["floe_ingestion_retry_total"] == [({"source": "orders"}, 1)]
    status = {"source": "orders", "source_type": "sql_database", "status": "success"}
    assert points["floe_ingestion_runs_total"] == [(status, 1)]
    assert points["floe_ingestion_duration_seconds"] == [(status, ("count", 1, "sum", 4.0))]
    assert "floe_ingestion_errors_total" not in points
    assert "floe_ingestion_rows_failed_total" not in points


def test_failure_records_errors_and_failed_rows(
    meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    metrics = IngestionMetrics(meter_provider)
    errors = [
        ErrorDetail(
            code=ErrorCode.PARTIAL_LOAD,
            category=ErrorCategory.PARTIAL,
            message="x",
            retryable=False,
            failed_records=7,
        ),
        ErrorDetail(
            code=ErrorCode.PARTIAL_LOAD,
            category=ErrorCategory.PARTIAL,
            message="y",
            retryable=False,
            failed_records=3,
        ),
    ]
    result = IngestionResult(source="s", success=False, rows_loaded=4, errors=errors)
    metrics.record_result(result, source_type="rest_api")
    points = metric_points(metric_reader)
    assert points["floe_ingestion_errors_total"] == [
        ({"source": "s", "category": "PARTIAL", "code": "PARTIAL_LOAD"}, 2)
    ]
    assert points["floe_ingestion_rows_failed_total"] == [({"source": "s"}, 10)]
    assert points["floe_ingestion_rows_loaded_total"] == [
        ({"source": "s", "table": "(unknown)"}, 4)
    ]
    assert points["floe_ingestion_runs_total"][0][0]["status"] == "failure"


def test_without_a_provider_the_global_one_is_used(
    monkeypatch: pytest.MonkeyPatch,
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
) -> None:
    monkeypatch.setattr(metrics, "get_meter", lambda name, *a, **k: meter_provider.get_meter(name))
    IngestionMetrics().record_result(
        IngestionResult(source="s", success=True), source_type="memory"
    )
    status = {"source": "s", "source_type": "memory", "status": "success"}
    assert metric_points(metric_reader)["floe_ingestion_runs_total"] == [(status, 1)]
