"""``sql_database``: dlt's ``sql_database`` source with an Arrow-native backend.

Backends (``backend`` per source, ``sql_backend`` plugin-wide):

- ``pyarrow``: SQLAlchemy cursor → Arrow in ``chunk_size`` partitions, server-side cursors via
  ``yield_per``; exact types on every database (numeric(38, 9), timestamptz, uuid, arrays).
- ``connectorx``: Rust reader in streaming mode (``return_type="arrow_stream"``, memory flat in
  table size), 3-7x faster. Exact numerics are selected as text (connectorx 0.4.6 panics on a
  PostgreSQL ``numeric`` value whose scale differs from the column's) and every column the
  database reflects as ``decimal(p, s)`` is cast back to it in Arrow (SQLite hands floats).
- ``auto`` (default): ``connectorx`` for SQLite, PostgreSQL and MySQL/MariaDB, where the full
  type matrix is tested; ``pyarrow`` for any other database.

Types that connectorx 0.4.6 cannot read (it panics) or that have no exact Arrow/Iceberg type are
selected as text on both backends. For PostgreSQL and MySQL/MariaDB every column then gets one
Arrow type from its reflected SQL type, so both backends land the same schema and values
(:mod:`~floe_ingestion_dlt.sources._sql_arrow`).

Queries: :mod:`floe_ingestion_dlt.sources._sql_types`; connections:
:mod:`~floe_ingestion_dlt.sources._sql_connect`; errors:
:mod:`~floe_ingestion_dlt.sources._sql_errors`.
The primary key is reflected from the database when ``primary_key`` is not configured.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from floe_core import ErrorCode, IngestionConfig, PipelineConfigurationError
from floe_ingestion_dlt._config import DltPluginConfig, SourceModel, SqlBackend
from floe_ingestion_dlt._source import Extract, destination_for
from floe_ingestion_dlt._window import window_incremental
from floe_ingestion_dlt.sources._base import Built, SourceType
from floe_ingestion_dlt.sources._sql_arrow import canonical_caster, table_adapter
from floe_ingestion_dlt.sources._sql_connect import check_sql_config, engine_for, release, sql_url
from floe_ingestion_dlt.sources._sql_errors import sql_errors
from floe_ingestion_dlt.sources._sql_parallel import load_parallel
from floe_ingestion_dlt.sources._sql_probe import probe_sql
from floe_ingestion_dlt.sources._sql_ranges import ParallelConfig, PartRange
from floe_ingestion_dlt.sources._sql_types import initial_value, query_adapter, type_adapter

__all__ = ["SQL_DATABASE", "SqlDatabaseSourceConfig"]

_CONNECTORX_TESTED = frozenset({"sqlite", "postgresql", "mysql", "mariadb"})
"""Databases whose every common type round-trips exactly through connectorx (tested)."""


class SqlDatabaseSourceConfig(SourceModel):
    """``source_type: sql_database``: tables of a database reachable through SQLAlchemy."""

    connection_string: str | None = Field(
        default=None,
        description="SQLAlchemy URL; put the password in a secret ref or ${VAR}, never inline.",
    )
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="drivername, host, port, username, password (secret ref), database, query.",
    )
    schema_: str | None = Field(default=None, alias="schema", description="Database schema.")
    tables: list[str] | None = Field(default=None, description="Tables to load; omitted: all.")
    chunk_size: int | None = Field(default=None, ge=1, description="Rows per extracted chunk.")
    backend: SqlBackend | None = Field(
        default=None, description="'auto', 'pyarrow' or 'connectorx' (default: the plugin's)."
    )
    parallel: ParallelConfig | None = Field(
        default=None,
        description="Read each table in ranges of a column, on several connections and "
        "workers, committed once: {column, partitions, split}.",
    )
    reflection_level: Literal["minimal", "full", "full_with_precision"] = Field(
        default="full_with_precision",
        description="How much of the column types to reflect; the default keeps decimal "
        "precision/scale and text lengths.",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_way_to_connect(self) -> SqlDatabaseSourceConfig:
        if (self.connection_string is None) == (self.credentials is None):
            raise ValueError("give exactly one of 'connection_string' or 'credentials'")
        if self.tables is not None and not self.tables:
            raise ValueError("'tables' is empty: list tables, or omit it to load all tables")
        return self


def build_sql_extracts(
    config: IngestionConfig,
    source: SqlDatabaseSourceConfig,
    plugin: DltPluginConfig,
    *,
    part: PartRange | None = None,
) -> Built:
    """Reflect the tables and build one resource per table.

    Args:
        config: The source.
        source: Its validated sql_database config.
        plugin: The plugin config (default backend and batch size).
        part: Read only this range of each table (one part of a parallel load).

    Returns:
        The extracts, released by closing every connection of their engine.

    Raises:
        PipelineConfigurationError: ``namespace.table`` for several reflected tables.
    """
    import dlt
    from dlt.sources.sql_database import sql_database

    url = sql_url(source, config.name)
    engine = engine_for(url)
    backend = source.backend or plugin.sql_backend
    if backend == "auto":
        backend = "connectorx" if url.get_backend_name() in _CONNECTORX_TESTED else "pyarrow"
    chunk_size = source.chunk_size or plugin.batch_rows
    backend_kwargs: dict[str, Any] = {}
    if backend == "connectorx":
        backend_kwargs = {"return_type": "arrow_stream", "batch_size": chunk_size}
    else:
        backend_kwargs = {"tz": "UTC"}
    targets: dict[str, dict[str, Any]] = {}  # per table, column -> Arrow type (reflection)
    try:
        dlt_source = sql_database(
            credentials=engine,
            schema=source.schema_,
            table_names=source.tables,
            chunk_size=chunk_size,
            backend=backend,
            reflection_level=source.reflection_level,
            backend_kwargs=backend_kwargs,
            table_adapter_callback=table_adapter(url.get_backend_name(), targets),
            type_adapter_callback=type_adapter(url.get_backend_name()),
            query_adapter_callback=_in_part(query_adapter(url.get_backend_name(), backend), part),
        )
        resources = list(dlt_source.resources.values())
        if not resources:
            raise PipelineConfigurationError(
                f"source {config.name!r} (sql_database): the database has no tables"
                + (f" in schema {source.schema_!r}" if source.schema_ else ""),
                code=ErrorCode.SOURCE_NOT_FOUND,
                source=config.name,
                details={"field": "tables"},
            )
        extracts: list[Extract] = []
        for resource in resources:
            resource.add_map(canonical_caster(resource.name, targets))
            if config.window is not None:  # a WHERE on the column; the cursor is not used
                resource.apply_hints(incremental=window_incremental(config.window))
            elif config.incremental is not None:
                resource.apply_hints(
                    incremental=dlt.sources.incremental(
                        config.incremental.cursor_field,
                        initial_value=initial_value(config, resource),
                    )
                )
            extracts.append(
                Extract(
                    name=resource.name,
                    resource=resource,
                    table=destination_for(config, resource.name, len(resources)),
                    primary_key=config.primary_key or _reflected_key(resource),
                    required=_not_null(resource),
                )
            )
    except BaseException:
        engine.dispose()
        raise
    return Built(extracts, lambda: release(engine))


def _in_part(adapt: Any, part: PartRange | None) -> Any:
    """Add a parallel load's range filter to the query adapter."""
    if part is None:
        return adapt

    def adapt_in_part(query: Any, table: Any, incremental: Any = None, engine: Any = None) -> Any:
        return adapt(query, table, incremental, engine).where(part.clause(table))

    return adapt_in_part


def _reflected_key(resource: Any) -> tuple[str, ...]:
    columns = resource.compute_table_schema().get("columns", {})
    return tuple(name for name, column in columns.items() if column.get("primary_key"))


def _not_null(resource: Any) -> tuple[str, ...]:
    columns = resource.compute_table_schema().get("columns", {})
    return tuple(name for name, column in columns.items() if column.get("nullable") is False)


SQL_DATABASE = SourceType(
    name="sql_database",
    model=SqlDatabaseSourceConfig,
    check=check_sql_config,
    probe=probe_sql,
    build=build_sql_extracts,
    errors=sql_errors,
    supplies_primary_key=True,
    load_parallel=load_parallel,
    supports_window=True,
)
"""``source_type: sql_database``."""
