"""``floe validate`` for ``sql_database``: reflect tables and columns, read no rows.

What ``floe ingest`` would reject but ``create_pipeline`` cannot see without connecting: a table
that is not in the database, an ``incremental.cursor_field`` or ``primary_key`` column that is
not in a table, and ``write_mode: merge`` on a table without a primary key. The connection has
the caller's short timeout; its failures (refused, unknown host, wrong password, missing
database) propagate for the source type's error table to categorise, as a load would.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from floe_core import ErrorCode, IngestionConfig, PipelineConfigurationError, WriteMode
from floe_ingestion_dlt.sources._sql_connect import engine_for, release, sql_url

if TYPE_CHECKING:
    from floe_ingestion_dlt.sources.sql_database import SqlDatabaseSourceConfig

__all__ = ["probe_sql"]


def probe_sql(config: IngestionConfig, source: SqlDatabaseSourceConfig, timeout: float) -> None:
    """Reflect the selected tables and check the columns the config names.

    Args:
        config: The source.
        source: Its validated sql_database config.
        timeout: Seconds to connect.

    Raises:
        PipelineConfigurationError: A table, cursor column or key column is missing, or a
            table to merge has no primary key and none is configured.
    """
    import sqlalchemy as sa

    engine = engine_for(sql_url(source, config.name), connect_timeout=max(1, math.ceil(timeout)))
    try:
        inspector = sa.inspect(engine)
        schema = source.schema_
        existing = [*inspector.get_table_names(schema=schema)]
        existing += inspector.get_view_names(schema=schema)
        where = f" in schema {schema!r}" if schema else ""
        tables = source.tables if source.tables is not None else sorted(existing)
        for table in tables:
            if table not in existing:
                raise PipelineConfigurationError(
                    f"source {config.name!r} (sql_database): table {table!r} not found in the "
                    f"database{where}; tables are {', '.join(sorted(existing)) or '(none)'}",
                    code=ErrorCode.SOURCE_NOT_FOUND,
                    source=config.name,
                    details={"field": "tables", "table": table},
                )
        if not tables:
            raise PipelineConfigurationError(
                f"source {config.name!r} (sql_database): the database has no tables{where}",
                code=ErrorCode.SOURCE_NOT_FOUND,
                source=config.name,
                details={"field": "tables"},
            )
        for table in tables:
            _check_columns(config, table, inspector, schema)
    finally:
        release(engine)


def _check_columns(config: IngestionConfig, table: str, inspector: Any, schema: str | None) -> None:
    columns = [str(c["name"]) for c in inspector.get_columns(table, schema=schema)]
    listed = ", ".join(columns)
    if config.incremental is not None and config.incremental.cursor_field not in columns:
        raise PipelineConfigurationError(
            f"source {config.name!r}: incremental.cursor_field "
            f"{config.incremental.cursor_field!r} is not a column of table {table!r}; "
            f"columns are {listed}",
            source=config.name,
            details={"field": "incremental.cursor_field", "table": table},
        )
    missing = [c for c in config.primary_key or () if c not in columns]
    if missing:
        raise PipelineConfigurationError(
            f"source {config.name!r}: primary_key column {missing[0]!r} is not a column of "
            f"table {table!r}; columns are {listed}",
            source=config.name,
            details={"field": "primary_key", "table": table},
        )
    if config.write_mode is WriteMode.MERGE and not config.primary_key:
        reflected = inspector.get_pk_constraint(table, schema=schema) or {}
        if not reflected.get("constrained_columns"):
            raise PipelineConfigurationError(
                f"source {config.name!r}: write_mode 'merge' needs a primary key, and table "
                f"{table!r} has none in the source; set primary_key",
                source=config.name,
                details={"field": "primary_key", "table": table},
            )
