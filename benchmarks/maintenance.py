"""The ``maintenance`` workload: many small incremental loads, then ``maintain_table``.

A table of ``base`` rows (one load) receives ``loads`` incremental loads of ``load_rows`` rows
each (one small data file per load, as a 15-minute schedule makes). Measured: a full scan
(pyiceberg to Arrow) before and after maintenance, the maintenance time, data files and bytes
before and after, and a scan of a table holding the same rows loaded in one go. Target: the
scan after compaction within 1.2x of the one-go scan. Runs in-process on the embedded catalog
(the engine alone: no extraction), so ``--quick`` stays a few seconds.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.report import Row

SCAN_TARGET = 1.2
"""The scan after compaction may take at most this many times the one-go scan."""


def _rows(start: int, count: int) -> pa.Table:
    ids = pa.array(range(start, start + count), pa.int64())
    return pa.table(
        {
            "id": ids,
            "name": pc.binary_join_element_wise("customer-", pc.cast(ids, pa.string()), ""),
            "amount": pc.multiply(pc.cast(ids, pa.float64()), 0.01),
            "bucket": pc.cast(pc.bit_wise_and(ids, 1023), pa.int32()),
        }
    )


def _scan(catalog: object, table: str, times: int = 3) -> tuple[float, pa.Table]:
    best = float("inf")
    data = pa.table({})
    for _ in range(times):
        started = time.perf_counter()
        data = catalog.load_table(table).scan().to_arrow()  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - started)
    return best, data


def _digest(data: pa.Table) -> tuple[int, int]:
    return data.num_rows, int(pc.sum(data["id"]).as_py() or 0)


def run(scratch: Path, *, quick: bool) -> Row:
    """Run the workload.

    Args:
        scratch: A folder for the warehouse.
        quick: 100k rows and 20 loads of 1k instead of 1M and 100 of 10k.

    Returns:
        The row: ``seconds`` is the maintenance time; ``extra`` holds scans, files, bytes.
    """
    import logging

    import structlog

    from floe_core import CatalogConfig, WriteMode
    from floe_core.maintenance import MaintenanceConfig
    from floe_iceberg import TableWrite, load_catalog, maintain_table, write_table

    # in-process: the engine's log lines would land between the table's rows (the other
    # workloads run in a child whose logs go to a file)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    base, loads, load_rows = (100_000, 20, 1_000) if quick else (1_000_000, 100, 10_000)
    total = base + loads * load_rows
    label = f"maintenance {loads}x{load_rows // 1000}k"
    row = Row(workload="maintenance", source="arrow", path="floe", rows=total, label=label)
    folder = scratch / f"maintenance_{uuid.uuid4().hex[:8]}"
    catalog = load_catalog(CatalogConfig.embedded(folder))
    small, whole = "bench.incremental", "bench.one_go"
    spec = TableWrite(small, WriteMode.APPEND, state_key="bench")
    write_table(catalog, spec, [_rows(0, base)], state=lambda: {"last_id": base - 1})
    for n in range(loads):
        start = base + n * load_rows
        last = start + load_rows - 1
        write_table(
            catalog, spec, [_rows(start, load_rows)], state=lambda last=last: {"last_id": last}
        )
    write_table(catalog, TableWrite(whole, WriteMode.APPEND), [_rows(0, total)])

    scan_before, before = _scan(catalog, small)
    started = time.perf_counter()
    done = maintain_table(catalog, small, MaintenanceConfig())
    row.seconds = time.perf_counter() - started
    scan_after, after = _scan(catalog, small)
    scan_one_go, one_go = _scan(catalog, whole)

    ratio = scan_after / scan_one_go if scan_one_go else float("inf")
    row.extra.update(
        {
            "scan_before_s": round(scan_before, 4),
            "scan_after_s": round(scan_after, 4),
            "scan_one_go_s": round(scan_one_go, 4),
            "scan_after_vs_one_go": round(ratio, 3),
            "files_before": done.files_before,
            "files_after": done.files_after,
            "bytes_before": done.bytes_before,
            "bytes_after": done.bytes_after,
        }
    )
    expected = (total, total * (total - 1) // 2)
    if not (_digest(before) == _digest(after) == _digest(one_go) == expected):
        row.status = "WRONG"
    row.check = (
        f"{done.files_before}→{done.files_after} files; scan {scan_before:.3f}s→"
        f"{scan_after:.3f}s, one go {scan_one_go:.3f}s ({ratio:.2f}x, target ≤{SCAN_TARGET}x)"
    )
    return row
