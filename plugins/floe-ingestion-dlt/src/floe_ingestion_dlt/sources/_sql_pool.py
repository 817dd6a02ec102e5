"""The worker processes of parallel ``sql_database`` loads, and running the parts in them.

A ``spawn`` process pool (dlt and pyarrow start threads: fork is unsafe), started once per
plugin and reused; :func:`gather` runs a load's parts in it (or one after another in this
process with one worker) and stops every worker at the first failure or on Ctrl-C.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from floe_core import ErrorCode, IngestionError
from floe_ingestion_dlt.sources._sql_part import PartDone, PartTask, run_part

__all__ = ["WorkerPool", "gather"]


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
    "floe_ingestion_dlt.sources._sql_part",
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


def gather(tasks: list[PartTask], workers: int, pools: WorkerPool) -> list[PartDone]:
    """Run the parts (in the worker pool when ``workers > 1``); stop at the first failure."""
    if workers <= 1:
        out: list[PartDone] = []
        for task in tasks:
            out.append(run_part(task))
            if out[-1].error:
                break
        return out
    pool = pools.get(workers)
    try:
        futures: list[Future[PartDone]] = [pool.submit(run_part, t) for t in tasks]
        pending: set[Future[PartDone]] = set(futures)
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
            out.append(PartDone(None, None, _crash_detail(exc)) if exc else future.result())
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
