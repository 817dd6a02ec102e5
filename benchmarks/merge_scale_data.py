"""The ``merge-scale`` workload's change sets (see :mod:`benchmarks.merge_scale`).

Change set k of C rows for a table of N rows (ids 1..N) updates C/2 existing ids spread over
the whole key range (every 2N/C-th id, offset by k, so no two sets touch the same row) and adds
C/2 new ids (N + k C/2 + 1 ...); every row carries ``category = 'merged'``. Generated once per
size and cached like the bulk tables: SQLite ``.data/mscale_v<V>_<N>_<C>.sqlite`` (tables
``bench_mscale_<k>``), PostgreSQL ``bench_mscale_<N>_<C>_<k>`` recorded in ``bench_ready``.
"""

from __future__ import annotations

import sqlite3
import sys

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks import dataset
from benchmarks.dataset import Source

MERGES = 10
"""Change sets per size: the merges of one series."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def change_ids(rows: int, changes: int, k: int) -> tuple[pa.Array, pa.Array]:
    """Return the ids change set ``k`` updates and the new ids it adds.

    Args:
        rows: The table's size N (ids 1..N).
        changes: C, the rows of one change set.
        k: The set's number, 0 .. ``MERGES`` - 1.

    Returns:
        C/2 existing ids (every 2N/C-th, offset by k) and C/2 new ones after the previous sets'.
    """
    half = changes // 2
    step = rows // half
    if step <= MERGES:
        raise ValueError(f"{changes:,} changes are too many for {rows:,} rows")
    updates = pa.array(range(1 + k, 1 + k + half * step, step), pa.int64())
    new = pa.array(range(rows + k * half + 1, rows + (k + 1) * half + 1), pa.int64())
    return updates, new


def change_batches(rows: int, changes: int, k: int) -> list[pa.Table]:
    late = rows * 2 + k  # later than anything in the bulk table
    return [dataset._batch(ids, merged=True, late=late) for ids in change_ids(rows, changes, k)]


def sqlite_changes(rows: int, changes: int) -> list[Source]:
    dataset.DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = dataset.DATA_DIR / f"mscale_v{dataset._VERSION}_{rows}_{changes}.sqlite"
    if not path.exists():
        _say(f"  [data] generating {path.name}")
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp)
        columns = ", ".join(f"{n} {sqlite_type}" for n, sqlite_type, _ in dataset._COLUMNS)
        marks = ", ".join("?" for _ in dataset._COLUMNS)
        for k in range(MERGES):
            conn.execute(f"CREATE TABLE bench_mscale_{k} ({columns})")
            for batch in change_batches(rows, changes, k):
                cols = [
                    (pc.cast(c, pa.string()) if pa.types.is_timestamp(c.type) else c).to_pylist()
                    for c in batch.columns
                ]
                conn.executemany(
                    f"INSERT INTO bench_mscale_{k} VALUES ({marks})", zip(*cols, strict=True)
                )
        conn.commit()
        conn.close()
        tmp.rename(path)
    base = dataset.sqlite_sources(path, rows).bulk
    return [base.with_table(f"bench_mscale_{k}") for k in range(MERGES)]


def postgres_changes(dsn: str, rows: int, changes: int) -> list[Source]:
    import psycopg2  # type: ignore[import-untyped]

    tables = [f"bench_mscale_{rows}_{changes}_{k}" for k in range(MERGES)]
    ready = f"mscale_v{dataset._VERSION}_{rows}_{changes}"
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            if not dataset._pg_ready(cur, ready):
                _say(f"  [data] loading PostgreSQL bench_mscale_{rows}_{changes}_*")
                columns = ", ".join(f"{n} {pg_type}" for n, _, pg_type in dataset._COLUMNS)
                for k, table in enumerate(tables):
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
                    cur.execute(f"CREATE TABLE {table} ({columns})")
                    for batch in change_batches(rows, changes, k):
                        dataset._copy_arrow(cur, table, batch)
                    cur.execute(f"ANALYZE {table}")
                cur.execute("INSERT INTO bench_ready VALUES (%s, now())", (ready,))
    finally:
        conn.close()
    return [dataset._pg_source(dsn, table) for table in tables]
