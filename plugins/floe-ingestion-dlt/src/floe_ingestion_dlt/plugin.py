"""The ``dlt`` ingestion plugin: dlt extracts, floe writes.

dlt builds the sources (the source types of :data:`floe_ingestion_dlt.sources.REGISTRY`) from
plain YAML and keeps the incremental cursors; its resources are iterated directly into Arrow
batches, which :func:`floe_iceberg.write_table` streams into one atomic Iceberg commit per
table, together with the resource's incremental state. dlt's own normalize/load steps are not used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import structlog
from pydantic import BaseModel
from typing_extensions import override

from floe_core import (
    FLOE_API_VERSION,
    CatalogConfig,
    HealthStatus,
    IngestionConfig,
    IngestionError,
    IngestionPipeline,
    IngestionPlugin,
    IngestionResult,
    PartOutcome,
    PartSpec,
    PartsPlan,
    TableResult,
    WriteMode,
)
from floe_core.errors import ErrorCode, PipelineConfigurationError
from floe_core.telemetry import span
from floe_ingestion_dlt._config import DltPluginConfig
from floe_ingestion_dlt._errors import ErrorTable, translate
from floe_ingestion_dlt._health import check_health
from floe_ingestion_dlt._sides import PASS_THROUGH, load_step, on_side, source_batches
from floe_ingestion_dlt._source import Extract, raise_if_rows_rejected
from floe_ingestion_dlt._state import ResourceState
from floe_ingestion_dlt.sources import REGISTRY, SourceType, source_type_of

__all__ = ["DltIngestionPlugin", "DltPipeline"]

log = structlog.get_logger("floe_ingestion_dlt")


def _package_version() -> str:
    try:
        return version("floe-ingestion-dlt")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


@dataclass
class DltPipeline(IngestionPipeline):
    """A validated dlt source, ready for :meth:`DltIngestionPlugin.run`.

    Attributes:
        source: The per-source config model, secrets resolved (never log it).
        kind: Its source type (from :data:`~floe_ingestion_dlt.sources.REGISTRY`).
        committed: The tables runs of this pipeline committed since its last successful run,
            with their result and details: a run after a failed one (the runner's retry)
            skips and reports them. Cleared when a run succeeds.
    """

    source: BaseModel = field(repr=False, kw_only=True)
    kind: SourceType[Any] = field(repr=False, kw_only=True)
    committed: dict[str, tuple[TableResult, dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False
    )


def state_key(config: IngestionConfig) -> str:
    """Return the key under which a pipeline's incremental state is committed.

    Args:
        config: The source.

    Returns:
        ``floe.dlt.<pipeline name>``.
    """
    return f"floe.dlt.{config.name}"


class DltIngestionPlugin(IngestionPlugin):
    """Loads the registered dlt source types into Iceberg (``list_available_sources()``)."""

    _pool: Any = None
    """The worker processes of parallel loads (a ``WorkerPool``), once one ran."""

    name = "dlt"
    floe_api_version = FLOE_API_VERSION
    version = _package_version()
    is_external = False

    @property
    def settings(self) -> DltPluginConfig:
        """The plugin's validated configuration."""
        assert isinstance(self.config, DltPluginConfig)
        return self.config

    @override
    def get_config_schema(self) -> type[BaseModel]:
        return DltPluginConfig

    @override
    def list_available_sources(self) -> list[str]:
        return sorted(REGISTRY)

    @override
    def source_supplies_primary_key(self, source_type: str) -> bool:
        """Whether a source of this type can name its own primary key (a database reflects it).

        Args:
            source_type: A ``source_type`` value.

        Returns:
            True when ``write_mode: merge`` may omit ``primary_key`` for this type; False for
            an unknown type.
        """
        kind = REGISTRY.get(source_type)
        return kind is not None and kind.supplies_primary_key

    @override
    def supports_window(self, source_type: str) -> bool:
        """Whether a source of this type can be loaded by time window (``partitions``).

        Args:
            source_type: A ``source_type`` value.

        Returns:
            True for ``sql_database``, ``rest_api`` and ``filesystem``; False for an unknown
            type.
        """
        kind = REGISTRY.get(source_type)
        return kind is not None and kind.supports_window

    @override
    def supports_parts(self, config: IngestionConfig) -> bool:
        """Whether the source loads in parts: ``sql_database`` with ``parallel``, no window."""
        from floe_ingestion_dlt._parts import supports_parts

        return supports_parts(config)

    @override
    def plan_parts(
        self, pipeline: IngestionPipeline, *, workers: int | None = None
    ) -> PartsPlan | None:
        from floe_ingestion_dlt._parts import plan_parts

        return plan_parts(self, pipeline, workers)

    @override
    def run_part(self, pipeline: IngestionPipeline, plan: PartsPlan, part: PartSpec) -> PartOutcome:
        from floe_ingestion_dlt._parts import run_part

        return run_part(self, pipeline, plan, part)

    @override
    def commit_parts(
        self, pipeline: IngestionPipeline, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> IngestionResult:
        from floe_ingestion_dlt._parts import commit_parts

        return commit_parts(self, pipeline, plan, outcomes)

    @override
    def abandon_parts(
        self, pipeline: IngestionPipeline, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> list[str]:
        from floe_ingestion_dlt._parts import abandon_parts

        return abandon_parts(self, pipeline, plan, outcomes)

    @override
    def create_pipeline(self, config: IngestionConfig) -> DltPipeline:
        kind = source_type_of(config)
        source = kind.parse(config)
        kind.check(config, source)
        return DltPipeline(config=config, source=source, kind=kind)

    @override
    def check_source(self, pipeline: IngestionPipeline, timeout: float) -> None:
        """Reflect what the source type can check live (tables, columns), reading no data.

        Args:
            pipeline: From :meth:`create_pipeline`.
            timeout: Seconds to connect.

        Raises:
            PipelineConfigurationError: A table, cursor or key column the config names is not
                in the source.
            IngestionError: The source cannot be reached or refuses the credentials,
                categorised as a load would be.
        """
        if not isinstance(pipeline, DltPipeline):
            raise PipelineConfigurationError(
                "check_source() needs the pipeline returned by DltIngestionPlugin.create_pipeline",
                source=pipeline.config.name,
            )
        with on_side("source", pipeline.config.name, pipeline.kind.errors):
            pipeline.kind.probe(pipeline.config, pipeline.source, timeout)

    @override
    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        from floe_iceberg import destination_settings

        try:
            return dict(destination_settings(catalog_config))
        except IngestionError:
            raise
        except Exception as exc:
            raise PipelineConfigurationError(
                f"the dlt plugin cannot use this catalog: {type(exc).__name__}",
                code=ErrorCode.DESTINATION_CONFIG_ERROR,
            ) from exc

    @override
    def startup(self) -> None:
        """Import dlt, pyiceberg and the catalog client once (about 3 s on a cold process).

        Loads and health checks after startup then time only their own work. Connects to
        nothing: an unreachable catalog is reported by the load that needs it, categorised.
        """
        # dlt's first use also initialises its requests helper (requests, urllib3).
        import dlt.sources.helpers.requests  # noqa: F401

        import floe_iceberg  # noqa: F401

        if self.catalog.type == "sql":
            import pyiceberg.catalog.sql
        else:
            import pyiceberg.catalog.rest  # noqa: F401
        if self.settings.workers > 1:  # parallel sources: their worker processes, imports paid
            self._workers().warm(self.settings.workers)

    @override
    def shutdown(self) -> None:
        """Stop the worker processes of parallel loads, if any were started."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _workers(self) -> Any:
        from floe_ingestion_dlt.sources._sql_parallel import WorkerPool

        if self._pool is None:
            self._pool = WorkerPool()
        return self._pool

    @override
    def health_check(self, timeout: float | None = None) -> HealthStatus:
        return check_health(self.catalog, timeout)

    @override
    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        started = time.monotonic()
        config = pipeline.config
        tables: list[TableResult] = []
        details: dict[str, Any] = {"source_type": config.source_type, "tables": {}}
        # The runner's span is floe.ingestion.run; this one is the dlt pipeline inside it.
        with span(
            "pipeline",
            source_type=config.source_type,
            destination_table=config.destination_table,
            pipeline_name=config.name,
            write_mode=config.write_mode.value,
            schema_contract=config.schema_contract.value,
        ) as current:
            try:
                if not isinstance(pipeline, DltPipeline):
                    raise PipelineConfigurationError(
                        "run() needs the pipeline returned by DltIngestionPlugin.create_pipeline",
                        source=config.name,
                    )
                workers = int(kwargs.get("workers") or self.settings.workers)
                self._load(pipeline, tables, details, workers=workers)
                raise_if_rows_rejected(config, details)
            except PASS_THROUGH:
                raise
            except BaseException as exc:  # connectorx/pyo3 panics are BaseExceptions
                error = translate(exc, side="source", source_errors=_errors_of(pipeline))
                if error.source is None:
                    error.source = config.name
                log.warning(
                    "load_failed",
                    source=config.name,
                    code=str(error.code),
                    category=str(error.category),
                    error=error.message,
                )
                if tables:  # earlier tables of a multi-table source did commit
                    details["committed_before_failure"] = [t.table for t in tables]
                current.set_attribute("error.type", type(error).__name__)
                current.set_attribute("error.category", error.category.value)
                current.set_attribute("error.message", error.message[:500])
                result = self._result(config, started, tables, details, errors=[error])
                return result
            pipeline.committed.clear()  # the load is complete: the next run is a new one
            result = self._result(config, started, tables, details, errors=[])
            current.set_attribute("ingestion.rows_loaded", result.rows_loaded)
            current.set_attribute("ingestion.bytes_written", result.bytes_written)
            current.set_attribute("ingestion.duration_seconds", result.duration_seconds)
            log.info(
                "run_finished",
                source=config.name,
                rows=result.rows_loaded,
                bytes=result.bytes_written,
                tables=[t.table for t in tables],
                seconds=round(result.duration_seconds, 3),
            )
            return result

    @staticmethod
    def _result(
        config: IngestionConfig,
        started: float,
        tables: list[TableResult],
        details: dict[str, Any],
        *,
        errors: list[IngestionError],
    ) -> IngestionResult:
        return IngestionResult(
            source=config.name,
            success=not errors,
            rows_loaded=sum(t.rows_loaded for t in tables),
            bytes_written=sum(t.bytes_written for t in tables),
            tables=tables,
            duration_seconds=time.monotonic() - started,
            errors=[e.to_detail() for e in errors],
            details=details,
        )

    def _extracts(self, pipeline: DltPipeline) -> tuple[list[Extract], Callable[[], None]]:
        config = pipeline.config
        built = pipeline.kind.build(config, pipeline.source, self.settings)
        if config.write_mode is WriteMode.MERGE:
            # the one check only the source can make: the key it was to supply is missing
            keyless = [e.name for e in built.extracts if not e.primary_key]
            if keyless:
                built.release()
                raise PipelineConfigurationError(
                    f"source {config.name!r}: write_mode 'merge' needs a primary key, and table "
                    f"{keyless[0]!r} has none in the source; set primary_key",
                    source=config.name,
                    details={"field": "primary_key", "table": keyless[0]},
                )
        return built.extracts, built.release

    def _load(
        self,
        pipeline: DltPipeline,
        tables: list[TableResult],
        details: dict[str, Any],
        *,
        workers: int = 1,
    ) -> None:
        from floe_iceberg import load_catalog

        config = pipeline.config
        # The source first: a source that fails on its configuration (a missing table, a bad
        # path) must not create the embedded warehouse that opening the catalog creates.
        with span("extract", source_type=config.source_type, pipeline_name=config.name):
            with on_side("source", config.name, pipeline.kind.errors):
                extracts, cleanup = self._extracts(pipeline)
        try:
            with on_side("destination", config.name):
                catalog = load_catalog(self.catalog)
            for extract in extracts:
                earlier = pipeline.committed.get(extract.table)
                if earlier is not None:
                    # An earlier attempt of this run committed it: loading it again would
                    # append its rows twice (or, incremental, report 0 rows and no snapshot).
                    log.info("table_already_committed", source=config.name, table=extract.table)
                    tables.append(earlier[0])
                    details["tables"][extract.table] = earlier[1]
                    details.setdefault("committed_by_earlier_attempt", []).append(extract.table)
                    continue
                result = self._load_table(catalog, pipeline, extract, details, workers)
                tables.append(result)
                pipeline.committed[extract.table] = (result, details["tables"][extract.table])
        finally:
            cleanup()

    def _load_table(
        self,
        catalog: Any,
        pipeline: DltPipeline,
        extract: Extract,
        details: dict[str, Any],
        workers: int = 1,
    ) -> TableResult:
        from floe_iceberg import read_table_state
        from floe_ingestion_dlt._table_load import load_parallel_table, table_result, table_spec

        config = pipeline.config
        saved = None
        if config.window is not None:
            # A window is its own bounded extract: it neither reads nor advances the cursor
            # state, and replaces only its slice, so windows may commit in any order at once.
            state = ResourceState(extract.resource, None)
        else:
            with on_side("destination", config.name):
                saved = read_table_state(catalog, extract.table, state_key(config))
            state = ResourceState(extract.resource, saved.state)
        spec = table_spec(config, extract, saved)
        parallel = getattr(pipeline.source, "parallel", None)
        if pipeline.kind.load_parallel is not None and parallel and saved is not None:
            committed, cursors = load_parallel_table(
                self, catalog, pipeline, extract, spec, saved, workers
            )
        else:
            committed = self._write(catalog, pipeline, extract, spec, state)
            cursors = state.cursors()
        return table_result(
            config,
            extract.table,
            committed,
            cursors=cursors,
            primary_key=extract.primary_key,
            extra=extract.details,
            details=details,
        )

    def _write(
        self, catalog: Any, pipeline: DltPipeline, extract: Extract, spec: Any, state: Any
    ) -> Any:
        from floe_iceberg import write_table

        config = pipeline.config
        batches = source_batches(state, self.settings.batch_rows, config.name, pipeline.kind.errors)
        try:
            with load_step(config, extract.table) as current:
                committed = write_table(
                    catalog,
                    spec,
                    batches,
                    state=None if config.window is not None else state.committed,
                )
                current.set_attribute("ingestion.rows_loaded", committed.rows_loaded)
        finally:
            # A write that fails mid-stream leaves the source generator suspended, holding its
            # database cursor and transaction (locks included) until garbage collection.
            batches.close()
        return committed


def _errors_of(pipeline: IngestionPipeline) -> Callable[[], ErrorTable] | None:
    return pipeline.kind.errors if isinstance(pipeline, DltPipeline) else None
