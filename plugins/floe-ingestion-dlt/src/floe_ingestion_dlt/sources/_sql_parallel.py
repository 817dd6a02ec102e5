"""Parallel extraction of one ``sql_database`` table: parts on their own connections, one commit.

The table is split into parts by :mod:`._sql_ranges`. Each part is its own query (the range
filter added by dlt's query adapter) on its own connection, iterated with the table's
incremental cursor seeded from the stored state, and written by :func:`floe_iceberg.write_files`
against one :class:`~floe_iceberg.LoadPlan`. With ``workers > 1`` the parts run in a ``spawn``
process pool (dlt and pyarrow start threads: fork is unsafe), each worker streaming its rows
into Parquet (memory flat per worker) and returning only its file set's JSON; the parent commits
every file set once with the cursor state, the maximum over all parts (:func:`merge_states`).
``merge`` de-duplicates keys and rewrites the table's files once, at the commit. A failed part,
or Ctrl-C, stops the other workers and removes every file of the load
(:func:`floe_iceberg.abandon_load`); what a killed worker could not delete is listed for ``floe
maintain``.

The three phases are functions shared by every runner of the parts: :func:`plan_table` (split
and plan), :func:`~._sql_part.run_part` (one part, anywhere) and :func:`settle_parts` (commit
once, or abandon). :func:`load_parallel` runs them in this process and its worker pool
(:mod:`._sql_pool`); :mod:`floe_ingestion_dlt._parts` runs them as an orchestrator's steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from floe_core import (
    CatalogConfig,
    ErrorCode,
    IngestionConfig,
    IngestionError,
    PipelineConfigurationError,
)
from floe_core.errors import ErrorDetail
from floe_ingestion_dlt.sources._sql_part import PartDone, part_task, run_part
from floe_ingestion_dlt.sources._sql_pool import WorkerPool, gather
from floe_ingestion_dlt.sources._sql_ranges import (
    ParallelConfig,
    PartRange,
    merge_states,
    part_ranges,
)

__all__ = [
    "ParallelConfig",
    "PartRange",
    "WorkerPool",
    "facts",
    "load_parallel",
    "merge_states",
    "part_ranges",
    "part_task",
    "plan_table",
    "run_part",
    "settle_parts",
]

log = structlog.get_logger("floe_ingestion_dlt")


def plan_table(
    catalog: Any,
    *,
    config: IngestionConfig,
    source: Any,
    resource: str,
    primary_key: tuple[str, ...],
    spec: Any,
    workers: int,
) -> tuple[Any, list[PartRange], str]:
    """Split one table into parts and plan its load (phase one; writes nothing).

    Args:
        catalog: The open Iceberg catalog.
        config: The source.
        source: Its validated ``sql_database`` model (with ``parallel``).
        resource: The table (dlt resource name).
        primary_key: The table's key (configured or reflected), for ``partitions: auto``.
        spec: The load's ``TableWrite`` (``based_on`` the state's version).
        workers: The workers the parts are planned for (``partitions: auto``).

    Returns:
        The ``LoadPlan``, the parts' ranges and the split column.

    Raises:
        PipelineConfigurationError: No usable split column.
        IngestionError: The source failed while splitting (translated as the source's).
    """
    from floe_iceberg import plan_load
    from floe_ingestion_dlt._errors import translate
    from floe_ingestion_dlt.sources._sql_connect import engine_for, release, sql_url
    from floe_ingestion_dlt.sources._sql_errors import sql_errors

    parallel: ParallelConfig = source.parallel
    column = parallel.column
    if column is None:
        if len(primary_key) != 1:
            raise PipelineConfigurationError(
                f"source {config.name!r}: parallel without a column needs a single-column "
                f"primary key on table {resource!r}; set parallel.column",
                source=config.name,
                details={"field": "parallel.column", "table": resource},
            )
        column = primary_key[0]
    try:
        engine = engine_for(sql_url(source, config.name))
        try:
            ranges = part_ranges(
                engine, resource, source.schema_, column, parallel.count(workers), parallel.split
            )
        finally:
            release(engine)
    except (IngestionError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # the split reads the source: its failures are the source's
        raise translate(exc, side="source", source=config.name, source_errors=sql_errors) from exc
    plan = plan_load(catalog, spec)
    log.info(
        "parallel_load_planned",
        source=config.name,
        table=spec.table,
        parts=len(ranges),
        workers=workers,
        column=column,
        split=parallel.split,
    )
    return plan, ranges, column


def settle_parts(
    catalog: Any, plan: Any, done: list[PartDone], parts: int
) -> tuple[Any, dict[str, Any] | None]:
    """Commit the parts' files once, with the maximum cursor; or abandon them (phase three).

    Args:
        catalog: The open Iceberg catalog.
        plan: The table's ``LoadPlan``.
        done: What the parts returned.
        parts: How many parts the table has (a missing one fails the load).

    Returns:
        The ``CommittedWrite`` and the merged state.

    Raises:
        IngestionError: A part failed or is missing (every file of the load was removed or
            listed for ``floe maintain``), or the commit failed.
    """
    from floe_iceberg import abandon_load, commit_load
    from floe_iceberg.distributed import FileSet

    file_sets: list[Any] = []
    try:
        file_sets = [FileSet.from_json(d.file_set) for d in done if d.file_set is not None]
        errors = [d.error for d in done if d.error is not None]
        if errors:
            raise IngestionError.from_detail(ErrorDetail.model_validate_json(errors[0]))
        if len(file_sets) != parts:
            raise IngestionError(
                f"table {plan.table!r}: {len(file_sets)} of its {parts} parts reported files; "
                "the load was abandoned, re-run it",
                code=ErrorCode.INTERNAL_ERROR,
            )
        state = merge_states([d.state for d in done])
    except BaseException:
        abandon_load(catalog, plan, file_sets, parts=range(parts))
        raise
    return commit_load(catalog, plan, file_sets, state=state), state


def load_parallel(
    catalog: Any,
    *,
    catalog_config: CatalogConfig,
    plugin: Any,
    config: IngestionConfig,
    source: Any,
    resource: str,
    primary_key: tuple[str, ...],
    spec: Any,
    saved: dict[str, Any] | None,
    workers: int,
    on_done: Callable[[dict[str, Any] | None, dict[str, Any]], None],
    pool: WorkerPool | None = None,
) -> Any:
    """Load one table in parts and commit them once.

    Args:
        catalog: The open Iceberg catalog (the parent's).
        catalog_config: Its config, for the workers to open their own.
        plugin: The plugin settings.
        config: The source.
        source: Its validated ``sql_database`` model (with ``parallel``).
        resource: The table (dlt resource name).
        primary_key: The table's key (configured or reflected), for ``partitions: auto``.
        spec: The load's ``TableWrite`` (``based_on`` the state's version).
        saved: The stored state of the table.
        workers: Worker processes (1: the parts run one after another in this process).
        on_done: Receives the merged state and facts about the parts (count, workers, peak
            RSS of each worker process) before the commit, for the result's details.
        pool: The plugin's worker processes (None: started for this load and closed after).

    Returns:
        The ``CommittedWrite``.

    Raises:
        IngestionError: A part failed (its error, translated in the worker), or the commit.
    """
    from floe_iceberg import abandon_load

    plan, ranges, column = plan_table(
        catalog,
        config=config,
        source=source,
        resource=resource,
        primary_key=primary_key,
        spec=spec,
        workers=workers,
    )
    wire = plan.to_json()
    tasks = [
        part_task(config, plugin, catalog_config, wire, n, r, resource, saved)
        for n, r in enumerate(ranges)
    ]
    try:
        pools = pool if pool is not None else WorkerPool()
        try:
            done = gather(tasks, workers, pools)
        finally:
            if pool is None:
                pools.close()
    except BaseException:  # Ctrl-C: the parts that ran are not known
        abandon_load(catalog, plan, [], parts=range(len(tasks)))
        raise
    committed, state = settle_parts(catalog, plan, done, len(tasks))
    on_done(state, facts(done, column, source.parallel.split, workers))
    return committed


def facts(done: list[PartDone], column: str, split: str, workers: int) -> dict[str, Any]:
    """Facts about a table's parts for the result's details (peak RSS of each process)."""
    peaks: dict[int, int] = {}
    for part in done:
        peaks[part.pid] = max(peaks.get(part.pid, 0), part.maxrss_kib)
    return {
        "parts": len(done),
        "workers": workers,
        "column": column,
        "split": split,
        "worker_maxrss_kib": sorted(peaks.values()) if workers > 1 else [],
    }
