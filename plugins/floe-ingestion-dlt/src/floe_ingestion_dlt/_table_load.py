"""One table's load in the dlt plugin: its ``TableWrite``, its result, and the parallel path.

Shared by the one-stream load (:meth:`DltIngestionPlugin._load_table
<floe_ingestion_dlt.plugin.DltIngestionPlugin._load_table>`), the parts of a ``parallel``
source in the plugin's worker pool (:func:`load_parallel_table`) and the parts run as an
orchestrator's steps (:mod:`floe_ingestion_dlt._parts`), so the three report a table alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from floe_core import IngestionConfig, TableResult
from floe_ingestion_dlt._sides import load_step
from floe_ingestion_dlt.plugin import DltPipeline, state_key

if TYPE_CHECKING:
    from floe_ingestion_dlt._source import Extract
    from floe_ingestion_dlt.plugin import DltIngestionPlugin

__all__ = ["load_parallel_table", "table_result", "table_spec"]

log = structlog.get_logger("floe_ingestion_dlt")


def table_spec(config: IngestionConfig, extract: Extract, saved: Any) -> Any:
    """Return the ``TableWrite`` of one table's load.

    Args:
        config: The source.
        extract: The table's extract.
        saved: The table's stored state (``StateRead``); ignored for a window.

    Returns:
        The spec: a window replaces its slice and carries no state; otherwise the load is
        pinned to the state's version (``based_on``).
    """
    from floe_iceberg import TableWrite

    common: dict[str, Any] = {
        "table": extract.table,
        "write_mode": config.write_mode,
        "schema_contract": config.schema_contract,
        "snapshot_properties": config.snapshot_properties,
        "required_columns": extract.required,
        "partition_by": config.partition_by,
        "sort_by": config.sort_by,
        "merge_strategy": config.merge_strategy,
    }
    if config.window is not None:
        return TableWrite(**common, replace_window=config.window)
    return TableWrite(
        **common,
        primary_key=extract.primary_key,
        state_key=state_key(config),
        based_on=saved,  # the rows extracted depend on it: commit on that version only
    )


def table_result(
    config: IngestionConfig,
    table: str,
    committed: Any,
    *,
    cursors: dict[str, Any],
    primary_key: Sequence[str],
    extra: dict[str, Any],
    details: dict[str, Any],
) -> TableResult:
    """Record one committed table in the run's details and return its result.

    Args:
        config: The source.
        table: ``namespace.table``.
        committed: The ``CommittedWrite``.
        cursors: The committed cursors, as text.
        primary_key: The table's key.
        extra: The extract's own facts (e.g. ``parallel``).
        details: The run's details; ``details["tables"][table]`` is set.

    Returns:
        The table's result.
    """
    details["tables"][table] = {
        **extra,
        "cursors": cursors,
        "rows_discarded": committed.rows_discarded,
        "files_written": committed.files_written,
        "primary_key": list(primary_key),
    }
    log.info(
        "table_committed",
        source=config.name,
        table=table,
        rows=committed.rows_loaded,
        snapshot_id=committed.snapshot_id,
    )
    return TableResult(
        table=table,
        rows_loaded=committed.rows_loaded,
        bytes_written=committed.bytes_written,
        snapshot_id=committed.snapshot_id,
        write_mode=config.write_mode,
    )


def load_parallel_table(
    plugin: DltIngestionPlugin,
    catalog: Any,
    pipeline: DltPipeline,
    extract: Extract,
    spec: Any,
    saved: Any,
    workers: int,
) -> tuple[Any, dict[str, Any]]:
    """Load one table in parts in this process and its worker pool, committed once.

    Returns:
        The ``CommittedWrite`` and the committed cursors.
    """
    config = pipeline.config
    assert pipeline.kind.load_parallel is not None
    merged: dict[str, Any] = {}

    def keep(state: dict[str, Any] | None, facts: dict[str, Any]) -> None:
        merged.update((state or {}).get("cursors", {}))
        extract.details["parallel"] = facts

    with load_step(config, extract.table) as current:
        committed = pipeline.kind.load_parallel(
            catalog,
            catalog_config=plugin.catalog,
            plugin=plugin.settings,
            config=config,
            source=pipeline.source,
            resource=extract.name,
            primary_key=extract.primary_key,
            spec=spec,
            saved=saved.state,
            workers=workers,
            on_done=keep,
            pool=plugin._workers() if workers > 1 else None,
        )
        current.set_attribute("ingestion.rows_loaded", committed.rows_loaded)
        current.set_attribute("ingestion.parallel_workers", workers)
    return committed, merged
