"""Run each step in a fresh child process and read the Iceberg table back.

Children are forked by a :mod:`multiprocessing` fork server that imported dlt, pyiceberg,
pyarrow and connectorx once (``benchmarks.path``), so every path starts from the same warm
interpreter and the imports (3-4 s here) are neither timed nor paid per step. A child's peak RSS
is its own ``ru_maxrss`` (its own children included), which starts from the same imported
baseline for every path.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from benchmarks.path import Step, StepResult

_CONTEXT: ForkServerContext | None = None


def _context() -> ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["benchmarks.path"])
        _CONTEXT = ctx
    return _CONTEXT


def run_in_child(step: Step, timeout: float) -> StepResult:
    """Run ``step`` in a child forked from the warm fork server.

    Args:
        step: What to load.
        timeout: Seconds before the child is killed.

    Returns:
        The child's report; a crash or timeout becomes ``error``.
    """
    from benchmarks.path import run_step

    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    # a parallel step starts worker processes of its own, which a daemonic process may not
    child = ctx.Process(target=run_step, args=(step, send), daemon=step.parallel is None)
    started = time.perf_counter()
    child.start()
    send.close()
    payload: dict[str, Any] | None = None
    if receive.poll(timeout):
        try:
            payload = receive.recv()
        except EOFError:
            payload = None
    child.join(timeout=max(1.0, timeout - (time.perf_counter() - started)))
    if child.is_alive():
        child.kill()
        child.join()
        return StepResult(error=f"timed out after {timeout:.0f} s")
    if payload is None:
        return StepResult(error=f"child died with exit code {child.exitcode}")
    return StepResult(**payload)


@dataclass(frozen=True)
class Verification:
    """What reading the Iceberg table back found."""

    rows: int
    distinct_keys: int | None
    marked: int | None
    total: float | None = None
    total_type: str | None = None


def open_table(ref: dict[str, str]) -> Any:
    """Open the Iceberg table a child described."""
    if ref.get("kind") == "catalog":
        from pyiceberg.catalog.sql import SqlCatalog

        catalog = SqlCatalog(ref.get("name", "bench"), uri=ref["uri"], warehouse=ref["warehouse"])
        return catalog.load_table(ref["identifier"])
    if ref.get("kind") == "location":
        from pyiceberg.table import StaticTable

        metadata = sorted((Path(ref["location"]) / "metadata").glob("*.metadata.json"))
        if not metadata:
            raise FileNotFoundError(f"no Iceberg metadata under {ref['location']}")
        return StaticTable.from_metadata(str(metadata[-1]))
    raise ValueError(f"no table reference: {ref}")


def verify(
    ref: dict[str, str],
    key: str | None,
    marker: tuple[str, str] | None,
    total: str | None = None,
) -> Verification:
    """Count the rows of an Iceberg table, and its distinct keys and marked rows if asked.

    Args:
        ref: The table reference from :class:`~benchmarks.path.StepResult`.
        key: A key column whose distinct values to count, or None.
        marker: ``(column, value)`` whose matching rows to count, or None.
        total: A numeric column to sum (and report the Iceberg type of), or None.

    Returns:
        The counts.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = open_table(ref)
    fields = [c for c in (key, marker[0] if marker else None, total) if c]
    if not fields:
        return Verification(rows=int(table.scan().count()), distinct_keys=None, marked=None)
    rows = 0
    marked = 0
    summed = 0.0
    keys: list[Any] = []
    for batch in table.scan(selected_fields=tuple(fields)).to_arrow_batch_reader():
        rows += batch.num_rows
        if total:
            summed += float(pc.sum(batch.column(total)).as_py() or 0)
        if key:
            keys.append(batch.column(key))
        if marker:
            marked += int(pc.sum(pc.equal(batch.column(marker[0]), marker[1])).as_py() or 0)
    distinct = None
    if key:
        distinct = int(pc.count_distinct(pa.chunked_array(keys)).as_py()) if keys else 0
    total_type = str(table.schema().find_field(total).field_type) if total else None
    return Verification(
        rows=rows,
        distinct_keys=distinct,
        marked=marked if marker else None,
        total=summed if total else None,
        total_type=total_type,
    )
