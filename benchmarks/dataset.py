"""Source data: generated once per size, cached in ``benchmarks/.data`` and in PostgreSQL.

The bulk table has 10 columns (ints, floats, text, timestamps) and ``id`` 1..N. Beside it:

- ``bench_changes``: N/10 rows, half updates of existing ids (every 20th id), half new ids
  (N+1 .. N+N/20), all with ``category = 'merged'``. Merged into an N-row table it leaves
  N + N/20 rows of which N/10 are ``'merged'``.
- ``bench_inc_new``: N/100 rows with ids N+1 .. N+N/100 and later ``updated_at``: what an
  incremental run must find.

SQLite: one file per size, ``.data/bulk_<N>.sqlite`` with tables ``bench_bulk``,
``bench_changes``, ``bench_inc_new``. PostgreSQL: tables ``bench_bulk_<N>`` etc. in ``public``
and ``bench_lineitem_sf<sf>`` for TPC-H, each recorded in ``bench_ready`` once complete.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

DATA_DIR = Path(__file__).resolve().parent / ".data"
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
MERGE_MARKER = "merged"

_BATCH = 200_000
_VERSION = 2  # bump when the generated data changes: caches are keyed by it and the size
_BASE_TS = datetime(2024, 1, 1)
_CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
_WORDS = (
    "the quick brown fox jumps over lazy dogs while careful packages sleep above final "
    "ironic deposits haggle slyly express requests"
).split()
_COLUMNS = (
    ("id", "INTEGER PRIMARY KEY", "bigint PRIMARY KEY"),
    ("qty", "INTEGER NOT NULL", "integer NOT NULL"),
    ("amount_a", "FLOAT", "double precision"),
    ("amount_b", "FLOAT", "double precision"),
    ("category", "TEXT", "text"),
    ("name", "TEXT", "text"),
    ("comment", "TEXT", "text"),
    ("created_at", "DATETIME", "timestamp"),
    ("updated_at", "DATETIME", "timestamp"),
    ("score", "BIGINT", "bigint"),
)
_TABLES = ("bench_bulk", "bench_changes", "bench_inc_new")


@dataclass(frozen=True)
class Source:
    """One source database table, with the URLs each client wants.

    Attributes:
        kind: ``sqlite`` or ``postgres``.
        sqlalchemy_url: For SQLAlchemy, dlt and floe.
        connectorx_url: For connectorx (its SQLite URL has one slash fewer).
        table: The table to read.
    """

    kind: str
    sqlalchemy_url: str
    connectorx_url: str
    table: str

    def with_table(self, table: str) -> Source:
        """Return the same database with another table."""
        return replace(self, table=table)


@dataclass(frozen=True)
class BulkSet:
    """The three tables of one size in one database: bulk, changes, incremental additions."""

    bulk: Source
    changes: Source
    inc_new: Source
    rows: int


def check_rows(rows: int) -> int:
    """Return ``rows`` if the change sets divide it evenly.

    Raises:
        ValueError: ``rows`` is not a positive multiple of 100.
    """
    if rows < 100 or rows % 100:
        raise ValueError(f"--rows must be a multiple of 100 and at least 100, not {rows}")
    return rows


def _ids(start: int, stop: int, step: int = 1) -> pa.Array:
    return pa.array(range(start, stop, step), pa.int64())


def _batch(ids: pa.Array, *, merged: bool = False, late: int = 0) -> pa.Table:
    def mod(values: pa.Array, by: int) -> pa.Array:
        return pc.subtract(values, pc.multiply(pc.divide(values, by), by))

    seconds = pc.cast(pc.multiply(ids, 1_000_000), pa.duration("us"))
    created = pc.add(pa.scalar(_BASE_TS, pa.timestamp("us")), seconds)
    jitter = pc.cast(pc.add(mod(ids, 1000), late * 1_000_000), pa.duration("us"))
    updated = pc.add(created, jitter)
    id_text = pc.cast(ids, pa.string())
    categories = pa.array(_CATEGORIES)
    category = (
        pa.array([MERGE_MARKER] * len(ids), pa.string())
        if merged
        else pc.take(categories, mod(ids, len(_CATEGORIES)))
    )
    words = pa.array(_WORDS)
    n = len(_WORDS)
    comment = pc.binary_join_element_wise(
        pc.take(words, mod(ids, n)),
        pc.take(words, mod(pc.divide(ids, 7), n)),
        pc.take(words, mod(pc.divide(ids, 49), n)),
        pc.take(words, mod(pc.divide(ids, 343), n)),
        " ",
    )
    amount_b = pc.multiply(pc.sin(pc.cast(ids, pa.float64())), 1000.0)
    if merged:
        amount_b = pc.subtract(amount_b, 1.0)
    return pa.table(
        {
            "id": ids,
            "qty": pc.cast(mod(pc.multiply(ids, 7919), 1000), pa.int32()),
            "amount_a": pc.multiply(pc.cast(mod(ids, 100_003), pa.float64()), 0.37),
            "amount_b": amount_b,
            "category": category,
            "name": pc.binary_join_element_wise("customer-", id_text, ""),
            "comment": comment,
            "created_at": created,
            "updated_at": updated,
            "score": mod(pc.multiply(ids, 31), 1_000_003),
        }
    )


def _batches(kind: str, rows: int) -> Iterator[pa.Table]:
    """Yield the generated rows of table ``kind`` for size ``rows`` in batches."""
    if kind == "bench_bulk":
        for start in range(1, rows + 1, _BATCH):
            yield _batch(_ids(start, min(start + _BATCH, rows + 1)))
    elif kind == "bench_changes":
        late = rows * 2  # later than anything in the bulk table
        yield _batch(_ids(1, rows + 1, 20), merged=True, late=late)
        yield _batch(_ids(rows + 1, rows + rows // 20 + 1), merged=True, late=late)
    elif kind == "bench_inc_new":
        yield _batch(_ids(rows + 1, rows + rows // 100 + 1))
    else:  # pragma: no cover - internal names only
        raise ValueError(kind)


def _log(message: str) -> None:
    print(f"  [data] {message}", file=sys.stderr, flush=True)


# --- SQLite ---------------------------------------------------------------------------------


def sqlite_sources(path: Path, rows: int) -> BulkSet:
    """Describe the bulk, changes and incremental tables of an SQLite file."""
    sa = f"sqlite:///{path}"  # path is absolute: sqlite:////abs/path
    cx = f"sqlite://{path}"
    base = Source("sqlite", sa, cx, "bench_bulk")
    return BulkSet(base, base.with_table("bench_changes"), base.with_table("bench_inc_new"), rows)


def ensure_sqlite(rows: int) -> BulkSet:
    """Generate (once) and return the SQLite file for ``rows``."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"bulk_v{_VERSION}_{rows}.sqlite"
    if not path.exists():
        _log(f"generating {path.name} ({rows:,} rows)")
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        columns = ", ".join(f"{name} {sqlite_type}" for name, sqlite_type, _ in _COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        for table in _TABLES:
            conn.execute(f"CREATE TABLE {table} ({columns})")
            for batch in _batches(table, rows):
                cols = [
                    (pc.cast(c, pa.string()) if pa.types.is_timestamp(c.type) else c).to_pylist()
                    for c in batch.columns
                ]
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", zip(*cols, strict=True))
            conn.execute(f"CREATE INDEX {table}_updated_at ON {table} (updated_at)")
            conn.commit()
        conn.close()
        tmp.rename(path)
    return sqlite_sources(path, rows)


def sqlite_working_copy(bulk: BulkSet, folder: Path) -> BulkSet:
    """Copy the SQLite file into ``folder`` so a path may change it (incremental runs)."""
    src = Path(bulk.bulk.sqlalchemy_url.removeprefix("sqlite:///"))
    dst = folder / "source.sqlite"
    shutil.copyfile(src, dst)
    return sqlite_sources(dst, bulk.rows)


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_dsn() -> str:
    """The benchmark's PostgreSQL DSN (env ``FLOE_BENCH_POSTGRES_DSN``)."""
    return os.environ.get("FLOE_BENCH_POSTGRES_DSN", DEFAULT_POSTGRES_DSN)


def redact(url: str) -> str:
    """Return ``url`` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def postgres_error(dsn: str) -> str | None:
    """Return why PostgreSQL cannot be used, or None when it answers."""
    try:
        import psycopg2  # type: ignore[import-untyped]
    except ImportError:
        return "psycopg2 is not installed (uv sync --group bench)"
    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except psycopg2.Error as exc:
        return f"PostgreSQL at {redact(dsn)} is unreachable: {str(exc).strip().splitlines()[0]}"
    return None


def _pg_source(dsn: str, table: str) -> Source:
    sa = dsn.replace("postgresql://", "postgresql+psycopg2://", 1)
    return Source("postgres", sa, dsn, table)


def postgres_sources(dsn: str, rows: int) -> BulkSet:
    """Describe the PostgreSQL tables of size ``rows``."""
    return BulkSet(
        _pg_source(dsn, f"bench_bulk_{rows}"),
        _pg_source(dsn, f"bench_changes_{rows}"),
        _pg_source(dsn, f"bench_inc_new_{rows}"),
        rows,
    )


def _pg_ready(cur: object, name: str) -> bool:
    cur.execute(  # type: ignore[attr-defined]
        "CREATE TABLE IF NOT EXISTS bench_ready (name text PRIMARY KEY, done timestamptz)"
    )
    cur.execute("SELECT 1 FROM bench_ready WHERE name = %s", (name,))  # type: ignore[attr-defined]
    return cur.fetchone() is not None  # type: ignore[attr-defined]


def _copy_arrow(cur: object, table: str, batch: pa.Table) -> None:
    buf = io.BytesIO()
    pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
    buf.seek(0)
    cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buf)  # type: ignore[attr-defined]


def ensure_postgres(dsn: str, rows: int) -> BulkSet:
    """Generate (once) and return the PostgreSQL tables of size ``rows``."""
    import psycopg2

    sources = postgres_sources(dsn, rows)
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            if _pg_ready(cur, f"bulk_v{_VERSION}_{rows}"):
                return sources
        _log(f"loading PostgreSQL bench_*_{rows} ({rows:,} rows)")
        columns = ", ".join(f"{name} {pg_type}" for name, _, pg_type in _COLUMNS)
        with conn, conn.cursor() as cur:
            for kind in _TABLES:
                table = f"{kind}_{rows}"
                cur.execute(f"DROP TABLE IF EXISTS {table}")
                cur.execute(f"CREATE TABLE {table} ({columns})")
                for batch in _batches(kind, rows):
                    _copy_arrow(cur, table, batch)
                cur.execute(f"CREATE INDEX ON {table} (updated_at)")
                cur.execute(f"ANALYZE {table}")
            cur.execute("INSERT INTO bench_ready VALUES (%s, now())", (f"bulk_v{_VERSION}_{rows}",))
    finally:
        conn.close()
    return sources


def postgres_working_copy(bulk: BulkSet, name: str) -> BulkSet:
    """Create ``bench_inc_<name>_<N>`` as a copy of the bulk table for an incremental run."""
    import psycopg2

    table = f"bench_inc_{name}_{bulk.rows}"
    conn = psycopg2.connect(bulk.bulk.connectorx_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} (LIKE {bulk.bulk.table} INCLUDING ALL)")
            cur.execute(f"INSERT INTO {table} SELECT * FROM {bulk.bulk.table}")
            cur.execute(f"ANALYZE {table}")
    finally:
        conn.close()
    return replace(bulk, bulk=bulk.bulk.with_table(table))


def add_new_rows(work: BulkSet) -> int:
    """Insert the incremental additions into the working bulk table; return how many."""
    target, new = work.bulk.table, work.inc_new.table
    if work.bulk.kind == "sqlite":
        conn = sqlite3.connect(work.bulk.sqlalchemy_url.removeprefix("sqlite:///"))
        with conn:
            added = conn.execute(f"INSERT INTO {target} SELECT * FROM {new}").rowcount
        conn.close()
        return int(added)
    import psycopg2

    pg = psycopg2.connect(work.bulk.connectorx_url)
    try:
        with pg, pg.cursor() as cur:
            cur.execute(f"INSERT INTO {target} SELECT * FROM {new}")
            return int(cur.rowcount)
    finally:
        pg.close()


def drop_postgres_table(source: Source) -> None:
    """Drop a working table made by :func:`postgres_working_copy`."""
    import psycopg2

    conn = psycopg2.connect(source.connectorx_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {source.table}")
    finally:
        conn.close()


# --- TPC-H ----------------------------------------------------------------------------------

_LINEITEM = """
    l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL,
    l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
    l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
    l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
    l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
    l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL,
    l_comment varchar(44) NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber)
"""


def _tpchgen() -> str | None:
    found = shutil.which("tpchgen-cli")
    if found:
        return found
    beside = Path(sys.executable).parent / "tpchgen-cli"
    return str(beside) if beside.exists() else None


def tpch_error(dsn: str) -> str | None:
    """Return why the TPC-H workload cannot run, or None."""
    if _tpchgen() is None:
        return "tpchgen-cli is not installed (uv sync --group bench)"
    return postgres_error(dsn)


def ensure_lineitem(dsn: str, scale: float) -> tuple[Source, int, float]:
    """Generate TPC-H ``lineitem`` at ``scale`` with tpchgen-cli and COPY it into PostgreSQL.

    Returns:
        The source table, its row count and the sum of ``l_extendedprice``.
    """
    import psycopg2

    label = f"{scale:g}".replace(".", "_")
    table = f"bench_lineitem_sf{label}"
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            if not _pg_ready(cur, table):
                _log(f"generating TPC-H lineitem SF{scale:g} into PostgreSQL {table}")
                cur.execute(f"DROP TABLE IF EXISTS {table}")
                cur.execute(f"CREATE TABLE {table} ({_LINEITEM})")
                gen = subprocess.Popen(
                    [
                        _tpchgen() or "tpchgen-cli",
                        "csv",
                        "-s",
                        f"{scale:g}",
                        "-T",
                        "lineitem",
                        "--stdout",
                    ],
                    stdout=subprocess.PIPE,
                )
                assert gen.stdout is not None
                cur.copy_expert(
                    f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", gen.stdout
                )
                if gen.wait() != 0:
                    raise RuntimeError(f"tpchgen-cli exited with {gen.returncode}")
                cur.execute(f"ANALYZE {table}")
                cur.execute("INSERT INTO bench_ready VALUES (%s, now())", (table,))
            cur.execute(f"SELECT count(*), sum(l_extendedprice) FROM {table}")
            count, total = cur.fetchone()
    finally:
        conn.close()
    return _pg_source(dsn, table), int(count), float(total)
