"""The ``merge-scale`` workload: the same changes merged into a table and into one 10x larger.

For each table size (1M and 10M rows from PostgreSQL; ``--quick``: 10k and 100k from SQLite)
and each ``merge_strategy`` (``copy_on_write``, ``merge_on_read``), floe loads the bulk table
(untimed), then merges ten change sets of C rows each on ``id`` (C = 100,000; ``--quick``
1,000), one after another, each through floe from the source database in a child of its own.
Change set k updates C/2 existing ids spread over the whole key range (every 2N/C-th id,
offset by k, so no two sets touch the same row) and adds C/2 new ids (N + k C/2 + 1 ...); every
changed row carries ``category = 'merged'``. Two rows per size and strategy:

- ``merge-scale C→N``: the first merge alone: wall time, bytes written (the snapshot's
  ``added-files-size``: data and delete files), data files added, delete files added;
- ``merge-scale 10xC→N``: all ten merges (wall time: their sum), then a full pyiceberg scan
  of the table (every column, through the batch reader; median of 3), ``maintain_table`` with
  the default settings (compaction, expiry, orphans), and the same scan of the compacted table.
  Beside each pyiceberg scan, the same full scan by DuckDB's iceberg extension (``SELECT *`` to
  Arrow, median of 3; left out when the extension is not installed): the cost of applying
  position deletes depends on the reader.

The table is read back after the first merge, after the tenth and after maintenance: N + m C/2
rows, unique ids, m C merged rows. A merge-on-read merge that adds no delete files (or a
copy-on-write one that does) is WRONG. With ``--repeat`` every figure is the median of the runs.
Targets (issue 13), printed after the table: merge-on-read into the 10x table within 1.5x of
the time into the small one; bytes written proportional to the change, not the table (10x table
/ small table within 1.5x); the scan after ten merges within 1.5x of the compacted scan.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from benchmarks import dataset
from benchmarks.dataset import Source
from benchmarks.merge_scale_data import MERGES, postgres_changes, sqlite_changes
from benchmarks.path import Step, StepResult
from benchmarks.report import Row
from benchmarks.runner import open_table, run_in_child, verify
from benchmarks.workload import Settings, label_rows

STRATEGIES = ("copy_on_write", "merge_on_read")
SHORT = {"copy_on_write": "floe-cow", "merge_on_read": "floe-mor"}
TARGET = 1.5
"""Every merge-scale target is a ratio of at most this."""
FULL = ((1_000_000, 10_000_000), 100_000)
QUICK = ((10_000, 100_000), 1_000)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- one series: base load, ten merges, scan, maintenance, scan -----------------------------------


class _Failed(Exception):
    """A step failed or the table read back wrong: the series' rows are marked."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Series:
    """What one run of the series measured."""

    first_seconds: float = 0.0
    first_bytes: int = 0
    first_data_files: int = 0
    first_delete_files: int = 0
    merge_seconds: list[float] = field(default_factory=list)
    merge_bytes: list[int] = field(default_factory=list)
    scan_seconds: float = 0.0
    maintain_seconds: float = 0.0
    compacted_scan_seconds: float = 0.0
    duckdb_scan_seconds: float | None = None
    duckdb_compacted_scan_seconds: float | None = None
    files_before: tuple[int, int] = (0, 0)
    files_after: tuple[int, int] = (0, 0)
    compaction: str = ""
    maxrss_kib: int = 0


def _summary_int(summary: Any, key: str) -> int:
    value = summary.get(key) if summary is not None else None
    return int(value) if value is not None else 0


def _files(ref: dict[str, str]) -> tuple[int, int]:
    """Return the live data files and the distinct delete files applying to them."""
    tasks = list(open_table(ref).scan().plan_files())
    deletes = {d.file_path for task in tasks for d in task.delete_files}
    return len(tasks), len(deletes)


def _scan_seconds(ref: dict[str, str], rows: int, times: int = 3) -> float:
    """Median seconds of a full scan (every column, deletes applied) through the batch reader."""
    runs = []
    for _ in range(times):
        table = open_table(ref)
        started = time.perf_counter()
        seen = sum(batch.num_rows for batch in table.scan().to_arrow_batch_reader())
        runs.append(time.perf_counter() - started)
        if seen != rows:
            raise _Failed("WRONG", f"the scan read {seen:,} rows, want {rows:,}")
    return statistics.median(runs)


def _duckdb_scan_seconds(ref: dict[str, str], rows: int, times: int = 3) -> float | None:
    """Median seconds of DuckDB's full scan of the table, or None without the extension."""
    try:
        from floe_testing.readback import duckdb_connection

        connection = duckdb_connection()
    except (ImportError, RuntimeError):
        return None
    location = str(open_table(ref).metadata_location).removeprefix("file://")
    query = f"SELECT * FROM iceberg_scan('{location}')"
    runs = []
    try:
        for _ in range(times):
            started = time.perf_counter()
            seen = connection.execute(query).to_arrow_table().num_rows
            runs.append(time.perf_counter() - started)
            if seen != rows:
                raise _Failed("WRONG", f"DuckDB read {seen:,} rows, want {rows:,}")
    finally:
        connection.close()
    return statistics.median(runs)


def _check(ref: dict[str, str], rows: int, merged: int, when: str) -> None:
    found = verify(ref, "id", ("category", dataset.MERGE_MARKER))
    if (found.rows, found.distinct_keys, found.marked) != (rows, rows, merged):
        raise _Failed(
            "WRONG",
            f"{when}: {found.rows:,} rows, {found.distinct_keys:,} distinct ids, "
            f"{found.marked:,} merged; want {rows:,}, {rows:,}, {merged:,}",
        )


class _Runner:
    def __init__(self, settings: Settings, source_kind: str, rows: int, strategy: str) -> None:
        self.settings = settings
        self.name = f"mscale_{source_kind}_{rows}_{SHORT[strategy][5:]}_{uuid.uuid4().hex[:8]}"
        self.workdir = settings.scratch / self.name
        self.workdir.mkdir(parents=True)
        self.strategy = strategy
        self.maxrss_kib = 0

    def step(self, source: Source, profile: str | None = None, **kwargs: Any) -> StepResult:
        step = Step(
            path="floe",
            workdir=str(self.workdir),
            source=source,
            name=self.name,
            profile=profile,
            **kwargs,
        )
        result = run_in_child(step, self.settings.timeout)
        if result.error is not None:
            raise _Failed("FAILED", result.error.splitlines()[0])
        return result

    def profile(self, what: str) -> str | None:
        if self.settings.profile_dir is None or "floe" not in self.settings.profile_paths:
            return None
        return str(self.settings.profile_dir / f"merge-scale-{self.name}-{what}.txt")


def _series(
    settings: Settings, base: Source, changes: list[Source], rows: int, size: int, strategy: str
) -> _Series:
    """Run the base load, the ten merges, the scans and the maintenance once."""
    from floe_core import CatalogConfig
    from floe_core.maintenance import MaintenanceConfig
    from floe_iceberg import load_catalog, maintain_table

    run = _Runner(settings, base.kind, rows, strategy)
    out = _Series()
    try:
        ref = run.step(base).table
        half = size // 2
        for k, source in enumerate(changes):
            result = run.step(
                source,
                profile=run.profile("first") if k == 0 else None,
                write_mode="merge",
                primary_key=("id",),
                # copy-on-write is floe's default: named only for merge-on-read, so the
                # reference rows also run on a floe without merge_strategy
                merge_strategy=None if strategy == "copy_on_write" else strategy,
            )
            out.maxrss_kib = max(out.maxrss_kib, result.maxrss_kib)
            summary = open_table(ref).current_snapshot().summary
            written = _summary_int(summary, "added-files-size")
            deletes = _summary_int(summary, "added-delete-files")
            if (deletes > 0) != (strategy == "merge_on_read"):
                raise _Failed("WRONG", f"merge {k + 1} ({strategy}) added {deletes} delete files")
            out.merge_seconds.append(result.seconds)
            out.merge_bytes.append(written)
            if k == 0:
                out.first_seconds, out.first_bytes = result.seconds, written
                out.first_data_files = _summary_int(summary, "added-data-files")
                out.first_delete_files = deletes
                _check(ref, rows + half, size, "after the first merge")
        total = rows + MERGES * half
        _check(ref, total, MERGES * size, f"after {MERGES} merges")
        out.files_before = _files(ref)
        out.scan_seconds = _scan_seconds(ref, total)
        out.duckdb_scan_seconds = _duckdb_scan_seconds(ref, total)
        catalog = load_catalog(CatalogConfig.embedded(run.workdir / "floe"))
        started = time.perf_counter()
        done = maintain_table(catalog, ref["identifier"], MaintenanceConfig())
        out.maintain_seconds = time.perf_counter() - started
        out.compaction = done.compaction_skipped or (
            f"{done.files_compacted} files compacted into {done.files_written}"
        )
        _check(ref, total, MERGES * size, "after maintenance")
        out.files_after = _files(ref)
        out.compacted_scan_seconds = _scan_seconds(ref, total)
        out.duckdb_compacted_scan_seconds = _duckdb_scan_seconds(ref, total)
    finally:
        shutil.rmtree(run.workdir, ignore_errors=True)
    return out


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _rows_for(kind: str, rows: int, size: int, strategy: str, runs: list[_Series]) -> list[Row]:
    path = SHORT[strategy]
    label = f"merge-scale {label_rows(size)}→{label_rows(rows)}"
    first = Row("merge-scale", kind, path, size, label)
    series = Row(
        "merge-scale",
        kind,
        path,
        MERGES * size,
        f"merge-scale {MERGES}x{label_rows(size)}→{label_rows(rows)}",
    )
    common = {"strategy": strategy, "table_rows": rows, "changes": size, "runs": len(runs)}
    first.seconds = _median([r.first_seconds for r in runs])
    first.maxrss_kib = max(r.maxrss_kib for r in runs)
    first_bytes = int(_median([r.first_bytes for r in runs]))
    first.extra = {
        **common,
        "bytes_written": first_bytes,
        "data_files_added": runs[0].first_data_files,
        "delete_files_added": runs[0].first_delete_files,
        "all_seconds": [round(r.first_seconds, 3) for r in runs],
    }
    first.check = (
        f"ok: {first_bytes / 2**20:,.2f} MiB written, {runs[0].first_data_files} data + "
        f"{runs[0].first_delete_files} delete files added"
    )
    series.seconds = _median([sum(r.merge_seconds) for r in runs])
    series.maxrss_kib = first.maxrss_kib
    scan = _median([r.scan_seconds for r in runs])
    compacted = _median([r.compacted_scan_seconds for r in runs])
    ratio = scan / compacted if compacted else float("inf")
    last = runs[-1]
    series.extra = {
        **common,
        "merge_seconds_median": round(_median([_median(r.merge_seconds) for r in runs]), 3),
        "merge_bytes_median": int(_median([_median(r.merge_bytes) for r in runs])),
        "merge_seconds": [round(s, 3) for s in last.merge_seconds],
        "merge_bytes": last.merge_bytes,
        "scan_s": round(scan, 3),
        "maintain_s": round(_median([r.maintain_seconds for r in runs]), 3),
        "compacted_scan_s": round(compacted, 3),
        "scan_vs_compacted": round(ratio, 3),
        **_duckdb_figures(runs),
        "files_before": last.files_before,
        "files_after": last.files_after,
        "compaction": last.compaction,
    }
    series.check = (
        f"ok: scan {scan:.2f}s, compacted {compacted:.2f}s ({ratio:.2f}x); files "
        f"{last.files_before[0]}+{last.files_before[1]}del→"
        f"{last.files_after[0]}+{last.files_after[1]}del"
    )
    return [first, series]


def _duckdb_figures(runs: list[_Series]) -> dict[str, float]:
    after = [r.duckdb_scan_seconds for r in runs if r.duckdb_scan_seconds is not None]
    compacted = [
        r.duckdb_compacted_scan_seconds for r in runs if r.duckdb_compacted_scan_seconds is not None
    ]
    if not after or not compacted:
        return {}
    scan, base = _median(after), _median(compacted)
    return {
        "duckdb_scan_s": round(scan, 3),
        "duckdb_compacted_scan_s": round(base, 3),
        "duckdb_scan_vs_compacted": round(scan / base if base else float("inf"), 3),
    }


def _failed_rows(kind: str, rows: int, size: int, strategy: str, error: _Failed) -> list[Row]:
    out = []
    for count, label in (
        (size, f"merge-scale {label_rows(size)}→{label_rows(rows)}"),
        (MERGES * size, f"merge-scale {MERGES}x{label_rows(size)}→{label_rows(rows)}"),
    ):
        row = Row("merge-scale", kind, SHORT[strategy], count, label, status=error.status)
        row.error = str(error)
        row.extra = {"strategy": strategy, "table_rows": rows, "changes": size}
        out.append(row)
    return out


def run(settings: Settings, *, quick: bool, sources: list[str], dsn: str, repeat: int) -> list[Row]:
    """Run the workload for every size, strategy and source.

    Args:
        settings: The command line's settings (scratch folder, timeout, profiling).
        quick: 10k and 100k rows with 1,000 changes instead of 1M and 10M with 100,000.
        sources: ``sqlite`` and/or ``postgres``.
        dsn: The PostgreSQL DSN.
        repeat: Runs per size and strategy; figures are medians.

    Returns:
        Two rows per source, size and strategy (the first merge; the ten merges and scans).
    """
    import logging

    import structlog

    # maintenance runs in this process: keep the engine's log lines out of the report
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sizes, size = QUICK if quick else FULL
    out: list[Row] = []
    for kind in sources:
        for rows in sizes:
            if kind == "sqlite":
                base, changes = dataset.ensure_sqlite(rows).bulk, sqlite_changes(rows, size)
            else:
                base = dataset.ensure_postgres(dsn, rows).bulk
                changes = postgres_changes(dsn, rows, size)
            for strategy in STRATEGIES:
                runs: list[_Series] = []
                try:
                    for _ in range(max(1, repeat)):
                        runs.append(_series(settings, base, changes, rows, size, strategy))
                except _Failed as exc:
                    out.extend(_failed_rows(kind, rows, size, strategy, exc))
                    _say(f"  merge-scale {rows:,} {kind} {strategy}: {exc.status} {exc}")
                    continue
                out.extend(_rows_for(kind, rows, size, strategy, runs))
                _say(f"  merge-scale {rows:,} {kind} {strategy}: {out[-2].seconds:.2f} s")
    return out


def _by(rows: list[Row], source: str, strategy: str, series: bool) -> dict[int, Row]:
    found = {}
    for row in rows:
        extra = row.extra
        if row.workload != "merge-scale" or row.source != source or not row.ok:
            continue
        if extra.get("strategy") == strategy and (row.rows > extra["changes"]) == series:
            found[int(extra["table_rows"])] = row
    return found


def targets(rows: list[Row]) -> list[str]:
    """Check the issue's merge-scale targets, one line each.

    Args:
        rows: Every row of the run (the merge-scale ones are picked out).

    Returns:
        The lines (PASS/MISS with the figures; n/a where a row failed or did not run).
    """
    out = []
    sources = sorted({r.source for r in rows if r.workload == "merge-scale"})
    for source in sources:
        for strategy in STRATEGIES:
            first = _by(rows, source, strategy, series=False)
            sizes = sorted(first)
            if len(sizes) == 2:
                small, big = first[sizes[0]], first[sizes[1]]
                where = f"{source} {SHORT[strategy]} {label_rows(big.extra['table_rows'])}"
                t = (big.seconds or 0.0) / (small.seconds or 1e-9)
                b = big.extra["bytes_written"] / max(1, small.extra["bytes_written"])
                verdict = "PASS" if t <= TARGET else "MISS"
                bytes_verdict = "PASS" if b <= TARGET else "MISS"
                if strategy == "copy_on_write":
                    verdict = bytes_verdict = "(reference)"
                out.append(
                    f"  {where} vs {label_rows(small.extra['table_rows'])}: time {t:.2f}x "
                    f"({big.seconds:.2f} s vs {small.seconds:.2f} s, target ≤{TARGET}x) {verdict}; "
                    f"bytes {b:.2f}x ({big.extra['bytes_written'] / 2**20:,.2f} vs "
                    f"{small.extra['bytes_written'] / 2**20:,.2f} MiB) {bytes_verdict}"
                )
            for table_rows, row in sorted(_by(rows, source, strategy, series=True).items()):
                ratio = row.extra["scan_vs_compacted"]
                out.append(
                    f"  {source} {SHORT[strategy]} {label_rows(table_rows)}: scan after {MERGES} "
                    f"merges {row.extra['scan_s']:.2f} s vs compacted "
                    f"{row.extra['compacted_scan_s']:.2f} s: {ratio:.2f}x (target ≤{TARGET}x) "
                    f"{'PASS' if ratio <= TARGET else 'MISS'}"
                    + (
                        f"; DuckDB {row.extra['duckdb_scan_s']:.2f} s vs "
                        f"{row.extra['duckdb_compacted_scan_s']:.2f} s: "
                        f"{row.extra['duckdb_scan_vs_compacted']:.2f}x"
                        if "duckdb_scan_s" in row.extra
                        else ""
                    )
                )
    return out
