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
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
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
    "load_parallel",
    "merge_states",
    "part_ranges",
]

log = structlog.get_logger("floe_ingestion_dlt")


@dataclass(frozen=True)
class _PartTask:
    config: IngestionConfig
    plugin: Any
    catalog: CatalogConfig
    plan: str
    part: int
    range: PartRange
    resource: str
    saved: dict[str, Any] | None


@dataclass(frozen=True)
class _PartDone:
    file_set: str | None
    state: dict[str, Any] | None
    error: str | None = None
    pid: int = 0
    maxrss_kib: int = 0


def _run_part(task: _PartTask) -> _PartDone:
    """Read one part and write its files (in a worker process, or in the parent)."""
    from floe_iceberg import LoadPlan, load_catalog, write_files
    from floe_ingestion_dlt._arrow import to_batches
    from floe_ingestion_dlt._errors import translate
    from floe_ingestion_dlt._state import ResourceState
    from floe_ingestion_dlt.sources._sql_errors import sql_errors
    from floe_ingestion_dlt.sources.sql_database import SQL_DATABASE, build_sql_extracts

    name = task.config.name
    side: Any = "source"
    try:
        source = SQL_DATABASE.parse(task.config).model_copy(update={"tables": [task.resource]})
        built = build_sql_extracts(task.config, source, task.plugin, part=task.range)
        try:
            (extract,) = built.extracts
            state = ResourceState(extract.resource, task.saved)
            side = "destination"
            catalog = load_catalog(task.catalog)
            plan = LoadPlan.from_json(task.plan)
            side = "source"
            batches = to_batches(state.iterate(), task.plugin.batch_rows)
            file_set = write_files(catalog, plan, _sided(batches), part=task.part)
        finally:
            built.release()
        return _PartDone(file_set.to_json(), state.committed(), None, *_peak())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        if isinstance(exc, _SourceFailure):
            exc, side = exc.cause, "source"
        elif side == "source" and not isinstance(exc, IngestionError):
            side = "destination"  # raised by the writer, not by the rows
        error = translate(exc, side=side, source=name, source_errors=sql_errors)
        return _PartDone(None, None, error.to_detail().model_dump_json(), *_peak())


def _peak() -> tuple[int, int]:
    """This process's id and peak RSS (KiB, Linux ``ru_maxrss``)."""
    import os
    import resource

    return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class _SourceFailure(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _sided(batches: Any) -> Any:
    """Mark failures of the source's iterator, so that the writer's are told apart."""
    try:
        yield from batches
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        raise _SourceFailure(exc) from exc


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now (a failed part or Ctrl-C: their work is abandoned)."""
    # ProcessPoolExecutor has no public terminate before Python 3.14 (terminate_workers)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()


_WARM_MODULES = (
    "dlt",
    "dlt.sources.helpers.requests",
    "dlt.sources.sql_database",
    "dlt.common.libs.pyarrow",
    "dlt.extract",
    "connectorx",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.mysql",
    "pyiceberg.catalog.sql",
    "pyiceberg.catalog.rest",
    "pyiceberg.io.pyarrow",
    "floe_iceberg.writer",
    "floe_iceberg.distributed",
    "floe_ingestion_dlt._arrow",
    "floe_ingestion_dlt._state",
    "floe_ingestion_dlt._errors",
    "floe_ingestion_dlt.sources.sql_database",
)
"""What a part imports: a warm worker has them before its first part."""


def _warm() -> int:
    """Import what a part needs, once per worker process (run by :meth:`WorkerPool.warm`)."""
    import importlib
    import os
    import time

    for module in _WARM_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional driver that is not installed
            pass

    time.sleep(0.2)  # hold this worker, so that the next warm-up task starts another
    return os.getpid()


class WorkerPool:
    """The worker processes of parallel loads: started once, reused by every load.

    A spawned worker imports dlt, pyiceberg and connectorx before it reads a row (seconds on a
    cold process); a service (the plugin between ``startup`` and ``shutdown``) pays that once.
    A failed load stops the workers at once; the next load starts new ones.
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._size = 0

    def get(self, workers: int) -> ProcessPoolExecutor:
        """Return a pool of ``workers`` processes, starting it when there is none of that size.

        The processes are spawned: dlt and pyarrow start threads, which make fork unsafe.
        """
        if self._pool is None or self._size != workers:
            self.close()
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            self._size = workers
        return self._pool

    def warm(self, workers: int) -> None:
        """Start ``workers`` processes and import the libraries in each."""
        pool = self.get(workers)
        for future in [pool.submit(_warm) for _ in range(workers)]:
            future.result()

    def stop(self) -> None:
        """Kill the workers now (a failed part or Ctrl-C: their work is abandoned)."""
        if self._pool is not None:
            _stop(self._pool)
        self._pool = None

    def close(self) -> None:
        """Let the workers finish and exit."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None


def _gather(tasks: list[_PartTask], workers: int, pools: WorkerPool) -> list[_PartDone]:
    """Run the parts (in the worker pool when ``workers > 1``); stop at the first failure."""
    if workers <= 1:
        out: list[_PartDone] = []
        for task in tasks:
            out.append(_run_part(task))
            if out[-1].error:
                break
        return out
    pool = pools.get(workers)
    try:
        futures: list[Future[_PartDone]] = [pool.submit(_run_part, t) for t in tasks]
        pending: set[Future[_PartDone]] = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            if any(f.exception() is not None or f.result().error for f in done):
                break
    except BaseException:  # Ctrl-C in the parent
        pools.stop()
        raise
    if pending:
        pools.stop()
    out = []
    for future in futures:
        if future.done() and not future.cancelled():
            exc = future.exception()
            out.append(_PartDone(None, None, _crash_detail(exc)) if exc else future.result())
    if any(d.error for d in out):
        pools.stop()  # a worker may have died: start afresh next time
    return out


def _crash_detail(exc: BaseException | None) -> str:
    error = IngestionError(
        f"a worker process of the parallel load died ({type(exc).__name__}: {exc}); the "
        "load's files were removed or listed for floe maintain, re-run the load",
        code=ErrorCode.INTERNAL_ERROR,
    )
    return str(error.to_detail().model_dump_json())


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
    from floe_iceberg import abandon_load, commit_load, plan_load
    from floe_iceberg.distributed import FileSet
    from floe_ingestion_dlt.sources._sql_connect import engine_for, release, sql_url

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
    engine = engine_for(sql_url(source, config.name))
    try:
        ranges = part_ranges(
            engine, resource, source.schema_, column, parallel.count(workers), parallel.split
        )
    finally:
        release(engine)
    plan = plan_load(catalog, spec)
    wire = plan.to_json()
    tasks = [
        _PartTask(config, plugin, catalog_config, wire, n, r, resource, saved)
        for n, r in enumerate(ranges)
    ]
    log.info(
        "parallel_load_planned",
        source=config.name,
        table=spec.table,
        parts=len(tasks),
        workers=workers,
        column=column,
        split=parallel.split,
    )
    file_sets: list[Any] = []
    try:
        pools = pool if pool is not None else WorkerPool()
        try:
            done = _gather(tasks, workers, pools)
        finally:
            if pool is None:
                pools.close()
        file_sets = [FileSet.from_json(d.file_set) for d in done if d.file_set is not None]
        errors = [d.error for d in done if d.error is not None]
        if errors:
            raise IngestionError.from_detail(ErrorDetail.model_validate_json(errors[0]))
        state = merge_states([d.state for d in done])
    except BaseException:
        abandon_load(catalog, plan, file_sets, parts=range(len(tasks)))
        raise
    peaks: dict[int, int] = {}
    for part in done:
        peaks[part.pid] = max(peaks.get(part.pid, 0), part.maxrss_kib)
    facts = {
        "parts": len(tasks),
        "workers": workers,
        "column": column,
        "split": parallel.split,
        "worker_maxrss_kib": sorted(peaks.values()) if workers > 1 else [],
    }
    on_done(state, facts)
    return commit_load(catalog, plan, file_sets, state=state)
