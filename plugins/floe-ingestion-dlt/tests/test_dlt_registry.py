"""The source-type registry and the error boundary by exception class.

A source type is one object plus one registry line: a tiny in-memory source type, defined here,
loads end to end into the embedded Iceberg catalog. Dependency errors are judged by their class
(the most specific in the table wins), and a source type's own rules judge only its failures.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from dlt_test_helpers import Api

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    IngestionConfig,
    IngestionError,
    SourceConnectionError,
)
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt._config import DltPluginConfig, SourceModel
from floe_ingestion_dlt._errors import ErrorTable, handler_for, translate
from floe_ingestion_dlt._source import Extract, destination_for
from floe_ingestion_dlt.sources import (
    FILESYSTEM,
    REGISTRY,
    REST_API,
    SQL_DATABASE,
    Built,
    SourceType,
)

P, T, C = ErrorCategory.PERMANENT, ErrorCategory.TRANSIENT, ErrorCategory.CONFIGURATION


# --- a source type defined in a test: rows held in memory ----------------------------------


class MemoryGone(Exception):
    """The in-memory source's own dependency error."""


class MemorySourceConfig(SourceModel):
    rows: list[dict[str, Any]]
    fail_after: int | None = None


RELEASED: list[str] = []


def _build_memory(config: IngestionConfig, source: MemorySourceConfig, _: DltPluginConfig) -> Built:
    import dlt

    def rows() -> Any:
        for number, row in enumerate(source.rows):
            if source.fail_after is not None and number == source.fail_after:
                raise MemoryGone("the memory went away")
            yield row

    resource = dlt.resource(rows, name="rows")
    extract = Extract(
        name="rows",
        resource=resource,
        table=destination_for(config, "rows", 1),
        primary_key=config.primary_key,
    )
    return Built([extract], release=lambda: RELEASED.append(config.name))


def _memory_errors() -> ErrorTable:
    def gone(exc: BaseException, source: str | None) -> IngestionError:
        return SourceConnectionError(f"memory unavailable: {exc}", source=source)

    return {MemoryGone: gone}


MEMORY = SourceType(
    name="memory", model=MemorySourceConfig, build=_build_memory, errors=_memory_errors
)


@pytest.fixture
def memory_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, MEMORY.name, MEMORY)  # the one registry line
    RELEASED.clear()


def _memory(**source: Any) -> IngestionConfig:
    return IngestionConfig(
        name="mem",
        source_type="memory",
        source_config=source,
        destination_table="bronze.memory_rows",
    )


def test_a_new_source_type_loads_end_to_end(
    memory_registered: None, embedded_catalog: CatalogConfig
) -> None:
    from floe_iceberg import load_catalog

    plugin = DltIngestionPlugin({"batch_rows": 2}, catalog=embedded_catalog)
    assert "memory" in plugin.list_available_sources()
    assert plugin.source_supplies_primary_key("memory") is False
    rows = [{"id": i, "name": f"n{i}"} for i in range(5)]
    result = plugin.run(plugin.create_pipeline(_memory(rows=rows)))
    assert result.success, result.errors
    assert result.rows_loaded == 5
    assert RELEASED == ["mem"]
    table = load_catalog(embedded_catalog).load_table("bronze.memory_rows").scan().to_arrow()
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == rows


def test_a_new_source_types_model_and_errors_are_its_own(
    memory_registered: None, embedded_catalog: CatalogConfig
) -> None:
    plugin = DltIngestionPlugin(catalog=embedded_catalog)
    with pytest.raises(IngestionError) as info:
        plugin.create_pipeline(_memory(rows=[], colour="blue"))
    assert info.value.category is C and "'colour'" in info.value.message

    rows = [{"id": i} for i in range(3)]
    failed = plugin.run(plugin.create_pipeline(_memory(rows=rows, fail_after=1)))
    (error,) = failed.errors
    assert (error.category, error.code) == (T, ErrorCode.SOURCE_UNAVAILABLE)
    assert error.message == "memory unavailable: the memory went away"
    assert RELEASED == ["mem"]  # released after a failed run too
    # without the source type's table the same exception is an unknown one
    plain = translate(MemoryGone("x"), side="source", source_errors=REST_API.errors)
    assert plain.code is ErrorCode.INTERNAL_ERROR


def test_registry_and_who_supplies_a_primary_key() -> None:
    plugin = DltIngestionPlugin()
    assert plugin.list_available_sources() == sorted(REGISTRY)
    assert {name: kind.name for name, kind in REGISTRY.items()} == {
        "filesystem": "filesystem",
        "rest_api": "rest_api",
        "sql_database": "sql_database",
    }
    assert plugin.source_supplies_primary_key("sql_database") is True
    assert plugin.source_supplies_primary_key("rest_api") is False
    assert plugin.source_supplies_primary_key("filesystem") is False
    assert plugin.source_supplies_primary_key("no_such_type") is False


# --- merge needs a key: the one runtime check, for what only the source knows ---------------


def test_merge_on_a_table_without_a_primary_key_names_the_table(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    db = tmp_path / "keyless.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, note TEXT)")
        conn.execute("INSERT INTO events VALUES (1, 'a')")
    config = IngestionConfig(
        name="events",
        source_type="sql_database",
        source_config={"connection_string": f"sqlite:///{db}", "tables": ["events"]},
        destination_table="bronze.events",
        write_mode="merge",
    )
    plugin = DltIngestionPlugin(catalog=embedded_catalog)
    result = plugin.run(plugin.create_pipeline(config))
    (error,) = result.errors
    assert (error.category, error.code) == (C, ErrorCode.INVALID_CONFIG)
    assert "'events'" in error.message and "set primary_key" in error.message
    assert error.details == {"field": "primary_key", "table": "events"}
    assert result.tables == []


# --- the error boundary by class -------------------------------------------------------------


def test_runtime_error_in_a_rest_resource_is_not_a_database_error(
    api: Api, embedded_catalog: CatalogConfig
) -> None:
    api.items = [{"id": 1}, {"id": 2}]

    def boom(row: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("could not connect: connection refused")

    config = IngestionConfig(
        name="api",
        source_type="rest_api",
        source_config={
            "client": {"base_url": api.base_url},
            "resources": [
                {
                    "name": "items",
                    "endpoint": {"path": "items", "data_selector": "items"},
                    "processing_steps": [{"map": boom}],
                }
            ],
        },
        destination_table="bronze.items",
    )
    plugin = DltIngestionPlugin(catalog=embedded_catalog)
    result = plugin.run(plugin.create_pipeline(config))
    (error,) = result.errors
    assert (error.category, error.code) == (P, ErrorCode.INTERNAL_ERROR)
    assert error.message.startswith("unexpected RuntimeError while reading the source")
    assert "database" not in error.message
    # the same text from connectorx, in a sql_database source, is the database being down
    as_sql = translate(
        RuntimeError("could not connect: connection refused"),
        side="source",
        source_errors=SQL_DATABASE.errors,
    )
    assert (as_sql.category, as_sql.code) == (T, ErrorCode.SOURCE_UNAVAILABLE)
    assert "cannot reach the database" in as_sql.message


def test_classes_not_names_decide() -> None:
    class Flaky(requests.ConnectionError):  # a subclass: still a connection error
        pass

    error = translate(Flaky("reset"), side="source", source_errors=REST_API.errors)
    assert (error.category, error.code) == (T, ErrorCode.SOURCE_UNAVAILABLE)
    # a class merely named like requests' is not requests'
    lookalike = type("ConnectionError", (Exception,), {"__module__": "requests.exceptions"})
    error = translate(lookalike("x"), side="source", source_errors=REST_API.errors)
    assert error.code is ErrorCode.INTERNAL_ERROR
    named_like_panic = type("PanicException", (Exception,), {})
    error = translate(named_like_panic("x"), side="source", source_errors=SQL_DATABASE.errors)
    assert error.code is ErrorCode.INTERNAL_ERROR


def test_most_specific_class_wins() -> None:
    import pyarrow as pa

    # ArrowNotImplementedError is a RuntimeError: the Arrow rule, not connectorx's
    exc = pa.ArrowNotImplementedError("not implemented: cast")
    error = translate(exc, side="source", source_errors=SQL_DATABASE.errors)
    assert error.message.startswith("the source data cannot be read as Arrow")
    # a RuntimeError subclass is not connectorx's plain RuntimeError
    error = translate(RecursionError("timeout"), side="source", source_errors=SQL_DATABASE.errors)
    assert error.code is ErrorCode.INTERNAL_ERROR

    def os_error(exc: BaseException, source: str | None) -> IngestionError | None:
        return None

    def connection(exc: BaseException, source: str | None) -> IngestionError | None:
        return None

    table: ErrorTable = {OSError: os_error, ConnectionError: connection}
    assert handler_for(ConnectionResetError(), table) is connection
    assert handler_for(FileNotFoundError(), table) is os_error
    assert handler_for(ValueError(), table) is None


def test_side_decides_what_an_os_error_means() -> None:
    missing = FileNotFoundError(2, "No such file", "s3://bucket/x.csv")
    as_files = translate(missing, side="source", source_errors=FILESYSTEM.errors)
    assert (as_files.category, as_files.code) == (C, ErrorCode.SOURCE_NOT_FOUND)
    as_destination = translate(missing, side="destination")
    assert as_destination.code is ErrorCode.DESTINATION_UNAVAILABLE
