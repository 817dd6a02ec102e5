"""The paths under test. Each runs inside its own child process (see :mod:`benchmarks.runner`).

Every path loads one source table into the Iceberg table ``bench.t`` and returns a
:class:`StepResult`. Only the load itself is timed: the interpreter and the heavy imports
(including what dlt and SQLAlchemy import on first use: requests, the SQL dialects) are already
paid for by the fork server, the same for every path. A cold CLI process pays ~0.4 s more for
the floe and dlt paths.

- ``floe``: ``DltIngestionPlugin`` with its defaults, embedded SQL catalog in the work folder.
- ``floe-connectorx``, ``floe-pyarrow``: the same with ``sql_backend`` set (only when named).
- ``dlt-<backend>``: plain dlt, ``sql_table(backend=...)`` into the ``filesystem`` destination
  with ``table_format="iceberg"`` (dlt's own defaults otherwise).
- ``floor``: connectorx → one Arrow table → one pyiceberg append (merge: one transaction that
  deletes the changed keys and appends the rows).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Heavy imports at module level on purpose: the fork server preloads this module once.
import connectorx as cx
import dlt
import dlt.sources.helpers.requests  # dlt's runtime init imports it on first use (0.25 s)
import pyarrow as pa
import pyarrow.compute as pc
import pyiceberg.io.pyarrow
import sqlalchemy.dialects.postgresql.psycopg2
import sqlalchemy.dialects.sqlite
from dlt.sources.sql_database import sql_table
from dlt.sources.sql_database.helpers import TableBackend
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import And, EqualTo, In, Or

from benchmarks.dataset import Source

try:  # the product; absent (or broken) while it is being written
    from floe_core.catalog import CatalogConfig
    from floe_core.ingestion import IncrementalConfig, IngestionConfig
    from floe_ingestion_dlt.plugin import DltIngestionPlugin

    FLOE_IMPORT_ERROR: str | None = None
except Exception as _exc:  # pragma: no cover - depends on the product's state
    FLOE_IMPORT_ERROR = f"{type(_exc).__name__}: {_exc}"

PATHS = (
    "floe",
    "dlt-sqlalchemy",
    "dlt-pyarrow",
    "dlt-connectorx",
    "floor",
    "floe-connectorx",
    "floe-pyarrow",
    "floe-w2",
    "floe-w4",
)
"""Every path. ``floe-<backend>`` is floe with its setting ``sql_backend: <backend>``; they run
only when named with ``--paths``; ``floe-w<N>`` is floe with ``workers: N`` and the workload's
``parallel`` setting (the ``parallel`` workload)."""
NAMESPACE = "bench"
TABLE = "t"
_ = (pyiceberg.io.pyarrow, sqlalchemy.dialects, dlt.sources.helpers.requests)  # keep the preloads


@dataclass(frozen=True)
class Step:
    """One load for one path.

    Attributes:
        path: One of :data:`PATHS`.
        workdir: The path's own folder (catalog, warehouse, pipeline state).
        source: The table to read.
        write_mode: ``append`` or ``merge``.
        primary_key: Key columns for merge.
        cursor: Cursor column for an incremental load, or None for a full one.
        name: Pipeline name, the same for every step of one path in one workload.
        profile: Write a pyinstrument profile of the load to this file (slows it down).
        parallel: The source's ``parallel`` setting for the ``floe-w<N>`` paths.
        partition_by: Iceberg partition transforms (floe paths only).
        merge_strategy: ``copy_on_write`` or ``merge_on_read`` for a floe merge; None leaves
            floe's default (the ``merge-scale`` workload sets it).
    """

    path: str
    workdir: str
    source: Source
    write_mode: str = "append"
    primary_key: tuple[str, ...] = ("id",)
    cursor: str | None = None
    name: str = "bench"
    profile: str | None = None
    parallel: dict[str, Any] | None = None
    partition_by: tuple[str, ...] = ()
    merge_strategy: str | None = None


@dataclass
class StepResult:
    """What a child reports back.

    Attributes:
        seconds: Wall seconds of the load alone.
        rows_reported: Rows the tool says it loaded.
        maxrss_kib: The child's own peak RSS (``ru_maxrss``, KiB), its children included.
        table: How to open the Iceberg table for verification.
        error: The failure, if the load failed.
        details: Tool-specific facts.
    """

    seconds: float = 0.0
    rows_reported: int | None = None
    maxrss_kib: int = 0
    table: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def catalog_ref(folder: Path) -> dict[str, str]:
    """Describe an SQL catalog in ``folder`` holding ``bench.t``."""
    return {
        "kind": "catalog",
        "uri": f"sqlite:///{folder / 'catalog.db'}",
        "warehouse": folder.as_uri(),
        "identifier": f"{NAMESPACE}.{TABLE}",
    }


# --- floe ---------------------------------------------------------------------------------------


def _floe(step: Step, out: StepResult, plugin_config: dict[str, Any] | None = None) -> None:
    if FLOE_IMPORT_ERROR is not None:
        raise RuntimeError(f"floe plugin unavailable: {FLOE_IMPORT_ERROR}")
    folder = Path(step.workdir) / "floe"
    strategy: dict[str, Any] = {}
    if step.merge_strategy is not None:
        if "merge_strategy" not in IngestionConfig.model_fields:
            raise RuntimeError(
                f"merge_strategy {step.merge_strategy!r} is not supported by this floe build "
                "(IngestionConfig has no merge_strategy)"
            )
        strategy["merge_strategy"] = step.merge_strategy
    plugin = DltIngestionPlugin(plugin_config, catalog=CatalogConfig.embedded(folder))
    config = IngestionConfig(
        name=step.name,
        source_type="sql_database",
        source_config={
            "connection_string": step.source.sqlalchemy_url,
            "tables": [step.source.table],
            **(
                {"parallel": step.parallel}
                if step.parallel and (plugin_config or {}).get("workers")
                else {}
            ),
        },
        destination_table=f"{NAMESPACE}.{TABLE}",
        write_mode=step.write_mode,
        primary_key=step.primary_key if step.write_mode == "merge" else (),
        incremental=IncrementalConfig(cursor_field=step.cursor) if step.cursor else None,
        partition_by=step.partition_by,
        **strategy,
    )
    plugin.startup()  # the plugin's own "import once" phase: a service pays it once, untimed
    try:
        started = time.perf_counter()
        result = plugin.run(plugin.create_pipeline(config))
        out.seconds = time.perf_counter() - started
    finally:
        plugin.shutdown()
    out.table = {**catalog_ref(folder), "name": "floe"}
    out.rows_reported = result.rows_loaded
    out.details = {"bytes_written": result.bytes_written, "attempts": result.attempts}
    for table in result.details.get("tables", {}).values():
        if "parallel" in table:
            out.details["parallel"] = table["parallel"]
    if not result.success:
        raise RuntimeError("; ".join(f"{e.code}: {e.message}" for e in result.errors))


# --- dlt alone ----------------------------------------------------------------------------------


def _dlt(step: Step, out: StepResult, backend: TableBackend) -> None:
    work = Path(step.workdir)
    started = time.perf_counter()
    kwargs: dict[str, Any] = {}
    if backend == "connectorx":
        # dlt would render the SQLAlchemy URL (postgresql+psycopg2://), which connectorx rejects
        kwargs["backend_kwargs"] = {"conn": step.source.connectorx_url}
    if step.cursor:
        kwargs["incremental"] = dlt.sources.incremental(step.cursor)
    res = sql_table(
        credentials=step.source.sqlalchemy_url, table=step.source.table, backend=backend, **kwargs
    )
    disposition: Any = (
        {"disposition": "merge", "strategy": "upsert"} if step.write_mode == "merge" else "append"
    )
    res.apply_hints(
        table_name=TABLE,
        write_disposition=disposition,
        primary_key=list(step.primary_key) if step.write_mode == "merge" else None,
    )
    pipeline = dlt.pipeline(
        pipeline_name=step.name,
        pipelines_dir=str(work / "dlt_pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=(work / "lake").as_uri()),
        dataset_name=NAMESPACE,
    )
    info = pipeline.run(res, table_format="iceberg", loader_file_format="parquet")
    out.seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    trace = pipeline.last_trace
    assert trace is not None
    counts = trace.last_normalize_info.row_counts if trace.last_normalize_info else {}
    out.rows_reported = int(counts.get(TABLE, 0))
    out.table = {"kind": "location", "location": str(work / "lake" / NAMESPACE / TABLE)}


# --- the floor ----------------------------------------------------------------------------------


def _cursor_text(value: Any) -> str:
    return str(value.strftime("%Y-%m-%d %H:%M:%S.%f"))


def _key_filter(keys: pa.Table, columns: tuple[str, ...]) -> Any:
    if len(columns) == 1:
        return In(term=columns[0], literals=keys.column(0).to_pylist())
    rows = keys.to_pylist()
    terms = [And(*(EqualTo(term=c, value=r[c]) for c in columns)) for r in rows]
    return terms[0] if len(terms) == 1 else Or(*terms)


def _floor(step: Step, out: StepResult) -> None:
    folder = Path(step.workdir) / "floor"
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / "cursor.json"
    started = time.perf_counter()
    catalog = SqlCatalog(
        "floor", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=folder.as_uri()
    )
    query = f"SELECT * FROM {step.source.table}"
    if step.cursor and state_file.exists():
        last = json.loads(state_file.read_text())["last"]
        query += f" WHERE {step.cursor} > '{last}'"
    data = cx.read_sql(step.source.connectorx_url, query, return_type="arrow")
    catalog.create_namespace_if_not_exists(NAMESPACE)
    identifier = f"{NAMESPACE}.{TABLE}"
    if step.write_mode == "merge" and catalog.table_exists(identifier):
        table = catalog.load_table(identifier)
        keys = data.select(list(step.primary_key))
        with table.transaction() as txn:
            txn.delete(_key_filter(keys, step.primary_key))
            txn.append(data)
    else:
        table = catalog.create_table_if_not_exists(identifier, schema=data.schema)
        table.append(data)
    if step.cursor and data.num_rows:
        state_file.write_text(json.dumps({"last": _cursor_text(pc.max(data[step.cursor]).as_py())}))
    out.seconds = time.perf_counter() - started
    out.rows_reported = data.num_rows
    out.table = {**catalog_ref(folder), "name": "floor"}


_RUNNERS: dict[str, Callable[[Step, StepResult], None]] = {
    "floe": _floe,
    "dlt-sqlalchemy": lambda s, o: _dlt(s, o, "sqlalchemy"),
    "dlt-pyarrow": lambda s, o: _dlt(s, o, "pyarrow"),
    "dlt-connectorx": lambda s, o: _dlt(s, o, "connectorx"),
    "floor": _floor,
    "floe-connectorx": lambda s, o: _floe(s, o, {"sql_backend": "connectorx"}),
    "floe-pyarrow": lambda s, o: _floe(s, o, {"sql_backend": "pyarrow"}),
    "floe-w2": lambda s, o: _floe(s, o, {"workers": 2}),
    "floe-w4": lambda s, o: _floe(s, o, {"workers": 4}),
}


def run_step(step: Step, conn: Any) -> None:
    """Child entry point: run ``step`` and send a :class:`StepResult` dict through ``conn``."""
    work = Path(step.workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    # the tools' logs (structlog, dlt, native libraries) go to a file, not into the table
    log = work / f"{step.path}.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # dlt reads these on every access: keep its state and config lookups in the work folder
    os.environ["DLT_DATA_DIR"] = str(work / "dlt_data")
    os.environ["DLT_PROJECT_DIR"] = str(work)
    os.environ["RUNTIME__LOG_LEVEL"] = "ERROR"
    out = StepResult()
    profiler = None
    if step.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    try:
        _RUNNERS[step.path](step, out)
    except BaseException as exc:
        out.error = f"{type(exc).__name__}: {exc}".strip()[:2000]
        out.details["traceback"] = traceback.format_exc()[-4000:]
        sys.stdout.flush()
        out.details["log_tail"] = log.read_text(errors="replace")[-2000:]
    if profiler is not None and step.profile:
        profiler.stop()
        Path(step.profile).write_text(profiler.output_text(unicode=True, show_all=False))
    own_usage = resource.getrusage(resource.RUSAGE_SELF)
    kids_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.maxrss_kib = max(own_usage.ru_maxrss, kids_usage.ru_maxrss)
    out.details["own_maxrss_kib"] = own_usage.ru_maxrss
    # CPU seconds of the whole step (setup included), the workers' too once they exited
    out.details["cpu_seconds"] = round(
        own_usage.ru_utime + own_usage.ru_stime + kids_usage.ru_utime + kids_usage.ru_stime, 3
    )
    conn.send(asdict(out))
    conn.close()
