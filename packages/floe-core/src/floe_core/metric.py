"""OpenTelemetry metrics for floe ingestion, recorded by the runner for every source.

============================================  =========  =============================
Instrument                                    Kind       Attributes
============================================  =========  =============================
``floe_ingestion_runs_total``                 counter    source, source_type, status
``floe_ingestion_errors_total``               counter    source, category, code
``floe_ingestion_retry_total``                counter    source
``floe_ingestion_rows_loaded_total``          counter    source, table
``floe_ingestion_rows_failed_total``          counter    source
``floe_ingestion_bytes_written_total``        counter    source
``floe_ingestion_duration_seconds``           histogram  source, source_type, status
============================================  =========  =============================

``status`` is ``success`` or ``failure``. Instruments come from the global meter provider
unless one is given, so an application (or a test with an ``InMemoryMetricReader``) decides
where they go; with no SDK configured they are no-ops.
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import MeterProvider

from floe_core.ingestion import IngestionResult

__all__ = ["METER_NAME", "IngestionMetrics"]

METER_NAME = "floe.ingestion"


class IngestionMetrics:
    """The ingestion instruments.

    Args:
        meter_provider: Where to create them; the global provider when None.
    """

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        meter = (
            meter_provider.get_meter(METER_NAME)
            if meter_provider is not None
            else metrics.get_meter(METER_NAME)
        )
        self.runs = meter.create_counter(
            "floe_ingestion_runs_total", unit="{run}", description="Loads finished, by status."
        )
        self.errors = meter.create_counter(
            "floe_ingestion_errors_total",
            unit="{error}",
            description="Errors in final load results, by category and code.",
        )
        self.retries = meter.create_counter(
            "floe_ingestion_retry_total", unit="{retry}", description="Load attempts retried."
        )
        self.rows_loaded = meter.create_counter(
            "floe_ingestion_rows_loaded_total", unit="{row}", description="Rows committed."
        )
        self.rows_failed = meter.create_counter(
            "floe_ingestion_rows_failed_total",
            unit="{row}",
            description="Rows that did not land (failed_records of errors), when known.",
        )
        self.bytes_written = meter.create_counter(
            "floe_ingestion_bytes_written_total", unit="By", description="Bytes of data files."
        )
        self.duration = meter.create_histogram(
            "floe_ingestion_duration_seconds",
            unit="s",
            description="Wall time of a load, retries and waits included.",
        )

    def record_retry(self, source: str) -> None:
        """Count one retry of ``source``.

        Args:
            source: The source name.
        """
        self.retries.add(1, {"source": source})

    def record_result(
        self, result: IngestionResult, *, source_type: str, duration_seconds: float | None = None
    ) -> None:
        """Record a load's final result.

        Args:
            result: The final result (after retries).
            source_type: The source's type, e.g. ``sql_database``.
            duration_seconds: Wall time including retries; ``result.duration_seconds`` when None.
        """
        source = result.source
        status = "success" if result.success else "failure"
        self.runs.add(1, {"source": source, "source_type": source_type, "status": status})
        duration = result.duration_seconds if duration_seconds is None else duration_seconds
        self.duration.record(
            duration, {"source": source, "source_type": source_type, "status": status}
        )
        for table in result.tables:
            self.rows_loaded.add(table.rows_loaded, {"source": source, "table": table.table})
        untabled = result.rows_loaded - sum(t.rows_loaded for t in result.tables)
        if untabled > 0:
            self.rows_loaded.add(untabled, {"source": source, "table": "(unknown)"})
        if result.bytes_written:
            self.bytes_written.add(result.bytes_written, {"source": source})
        failed = 0
        for error in result.errors:
            attributes = {"source": source, "category": error.category.value, "code": error.code}
            self.errors.add(1, {k: str(v) for k, v in attributes.items()})
            failed += error.failed_records or 0
        if failed:
            self.rows_failed.add(failed, {"source": source})
