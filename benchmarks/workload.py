"""The workloads: which steps each path runs, and what the table must hold afterwards."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import dataset
from benchmarks.dataset import BulkSet, Source
from benchmarks.path import Step, StepResult
from benchmarks.report import Row
from benchmarks.runner import open_table, run_in_child, verify

WORKLOADS = (
    "bulk",
    "tpch",
    "merge",
    "incremental",
    "dagster",
    "maintenance",
    "parallel",
    "tpch-month",
    "merge-scale",
)
ON_REQUEST = ("parallel", "tpch-month", "merge-scale")
"""Workloads that ``all`` leaves out: they run only when named with ``--workload``."""
PARALLEL_PATHS = ("floe", "floe-w2")
"""The ``parallel`` workload's paths: one stream (1 worker), and 2 worker processes."""


@dataclass(frozen=True)
class Settings:
    """What the command line chose.

    Attributes:
        scratch: Parent folder of every path's work folder.
        timeout: Seconds one step may take.
        profile_dir: Where to write pyinstrument profiles of timed steps, if anywhere.
        profile_paths: The paths to profile.
    """

    scratch: Path
    timeout: float
    profile_dir: Path | None = None
    profile_paths: tuple[str, ...] = ()


def label_rows(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1_000 and rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return f"{rows:,}"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Run:
    """One path through one workload: its work folder, its pipeline name and its row."""

    def __init__(self, settings: Settings, row: Row) -> None:
        self.settings = settings
        self.row = row
        slug = f"{row.workload}_{row.source}_{row.path}".replace("-", "_")
        self.name = f"{slug}_{uuid.uuid4().hex[:8]}"
        self.workdir = settings.scratch / self.name
        self.workdir.mkdir(parents=True)

    def step(self, source: Source, *, timed: bool, **kwargs: object) -> StepResult | None:
        """Run one step; on failure mark the row FAILED and return None."""
        profile = None
        if timed and self.settings.profile_dir and self.row.path in self.settings.profile_paths:
            label = self.row.label.replace(" ", "_").replace("→", "-into-")
            profile = str(
                self.settings.profile_dir / f"{label}-{self.row.source}-{self.row.path}.txt"
            )
            self.row.extra["profile"] = profile
        step = Step(
            path=self.row.path,
            workdir=str(self.workdir),
            source=source,
            name=self.name,
            profile=profile,
            **kwargs,  # type: ignore[arg-type]
        )
        result = run_in_child(step, self.settings.timeout)
        if result.error is not None:
            self.row.status = "FAILED"
            self.row.error = ("" if timed else "setup: ") + result.error.splitlines()[0]
            self.row.extra["traceback"] = result.details.get("traceback")
            return None
        if timed:
            self.row.seconds = result.seconds
            self.row.maxrss_kib = result.maxrss_kib
            self.row.extra["rows_reported"] = result.rows_reported
            self.row.extra["details"] = result.details
        else:
            self.row.extra["setup_seconds"] = round(result.seconds, 3)
            self.row.extra["setup_maxrss_kib"] = result.maxrss_kib
        return result

    def check(
        self,
        result: StepResult,
        *,
        rows: int,
        key: str | None = None,
        marker: tuple[str, str] | None = None,
        marked: int | None = None,
        total: tuple[str, float] | None = None,
    ) -> None:
        """Read the table back; mark the row WRONG unless it holds exactly what it should."""
        try:
            found = verify(result.table, key, marker, total[0] if total else None)
        except Exception as exc:
            self.row.status = "WRONG"
            self.row.check = f"cannot read the table back: {type(exc).__name__}: {exc}"
            return
        problems = []
        if found.rows != rows:
            problems.append(f"{found.rows:,} rows, want {rows:,}")
        if key and found.distinct_keys != found.rows:
            problems.append(f"{found.distinct_keys:,} distinct {key} in {found.rows:,} rows")
        if marker and marked is not None and found.marked != marked:
            problems.append(
                f"{found.marked:,} rows with {marker[0]}={marker[1]!r}, want {marked:,}"
            )
        if total and found.total is not None:
            want = total[1]
            if abs(found.total - want) > max(0.01, abs(want) * 1e-9):
                problems.append(f"sum({total[0]}) = {found.total:,.2f}, want {want:,.2f}")
        self.row.extra["read_back"] = found.__dict__
        if problems:
            self.row.status = "WRONG"
            self.row.check = "; ".join(problems)
        else:
            self.row.check = f"ok: {found.rows:,} rows" + (f", {key} unique" if key else "")
            if total:
                self.row.check += f", sum({total[0]}) matches, {found.total_type}"

    def done(self) -> Row:
        shutil.rmtree(self.workdir, ignore_errors=True)
        state = "" if self.row.status == "ok" else f" {self.row.status}"
        secs = "" if self.row.seconds is None else f" {self.row.seconds:.2f} s"
        _say(f"  {self.row.label} {self.row.source} {self.row.path}:{secs}{state}")
        return self.row


def bulk(settings: Settings, data: BulkSet, path: str, *, workload: str = "bulk") -> Row:
    """Load the whole bulk table once; the table must then hold exactly N rows."""
    row = Row(workload, data.bulk.kind, path, data.rows, f"{workload} {label_rows(data.rows)}")
    run = _Run(settings, row)
    result = run.step(data.bulk, timed=True)
    if result is not None:
        run.check(result, rows=data.rows, key="id")
    return run.done()


def tpch(
    settings: Settings, source: Source, count: int, total: float, scale: float, path: str
) -> Row:
    """Load TPC-H lineitem once.

    The table must then hold exactly ``count`` rows whose ``l_extendedprice`` (a decimal) sums
    to ``total``, the source's sum.
    """
    row = Row("tpch", source.kind, path, count, f"tpch lineitem SF{scale:g}")
    run = _Run(settings, row)
    result = run.step(source, timed=True, primary_key=("l_orderkey", "l_linenumber"))
    if result is not None:
        run.check(result, rows=count, total=("l_extendedprice", total))
    return run.done()


def tpch_month(settings: Settings, source: Source, count: int, total: float, scale: float) -> Row:
    """Load TPC-H lineitem partitioned by ``month(l_shipdate)`` (floe only).

    The table must hold exactly ``count`` rows summing to ``total``; a scan filtered to one
    month must plan only that month's files (counted, next to the table's file count).
    """
    row = Row("tpch-month", source.kind, "floe", count, f"tpch lineitem SF{scale:g} by month")
    run = _Run(settings, row)
    result = run.step(source, timed=True, partition_by=("month(l_shipdate)",))
    if result is not None:
        run.check(result, rows=count, total=("l_extendedprice", total))
        try:
            planned, files = _month_files(result.table)
        except Exception as exc:
            row.status, row.check = "WRONG", f"cannot plan a month scan: {exc}"
        else:
            row.extra["files_planned_one_month"], row.extra["files"] = planned, files
            row.check += f"; one month plans {planned} of {files} files"
            if planned == 0 or planned >= files:
                row.status = "WRONG"
    return run.done()


def _month_files(table: dict[str, str]) -> tuple[int, int]:
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

    loaded = open_table(table)
    one = And(GreaterThanOrEqual("l_shipdate", "1995-03-01"), LessThan("l_shipdate", "1995-04-01"))
    planned = len(list(loaded.scan(row_filter=one).plan_files()))
    return planned, len(list(loaded.scan().plan_files()))


def merge(settings: Settings, data: BulkSet, path: str) -> Row:
    """Load N rows (untimed), then merge N/10 changes on ``id`` (timed).

    Half the changes update existing ids, half are new; all carry ``category='merged'``, so the
    table must end with N + N/20 rows, unique ids, and N/10 merged rows.
    """
    changes = data.rows // 10
    label = f"merge {label_rows(changes)}→{label_rows(data.rows)}"
    row = Row("merge", data.bulk.kind, path, changes, label)
    run = _Run(settings, row)
    if run.step(data.bulk, timed=False) is not None:
        result = run.step(data.changes, timed=True, write_mode="merge", primary_key=("id",))
        if result is not None:
            run.check(
                result,
                rows=data.rows + data.rows // 20,
                key="id",
                marker=("category", dataset.MERGE_MARKER),
                marked=changes,
            )
    return run.done()


def incremental(settings: Settings, data: BulkSet, path: str) -> Row:
    """Load N rows with a cursor (untimed), add N/100 rows, load again (timed).

    The second load must find exactly the new rows: N + N/100 rows, unique ids.
    """
    new = data.rows // 100
    label = f"incremental {label_rows(new)} new of {label_rows(data.rows)}"
    row = Row("incremental", data.bulk.kind, path, new, label)
    run = _Run(settings, row)
    if data.bulk.kind == "sqlite":
        work = dataset.sqlite_working_copy(data, run.workdir)
    else:
        work = dataset.postgres_working_copy(data, run.name)
    try:
        if run.step(work.bulk, timed=False, cursor="updated_at") is not None:
            dataset.add_new_rows(work)
            result = run.step(work.bulk, timed=True, cursor="updated_at")
            if result is not None:
                run.check(result, rows=data.rows + new, key="id")
    finally:
        if work.bulk.kind == "postgres":
            dataset.drop_postgres_table(work.bulk)
    return run.done()


def parallel(
    settings: Settings,
    source: Source,
    count: int,
    path: str,
    *,
    column: str,
    label: str,
    total: tuple[str, float] | None = None,
    key: str | None = None,
) -> Row:
    """Load one table with ``path`` (``floe``: one stream; ``floe-w<N>``: N worker processes).

    The table must hold exactly ``count`` rows (unique ``key``; ``total``'s column summing to
    the source's), the same as the one-stream load.
    """
    row = Row("parallel", source.kind, path, count, f"parallel {label}")
    run = _Run(settings, row)
    result = run.step(
        source,
        timed=True,
        primary_key=(column,),
        parallel={"column": column, "partitions": "auto"},
    )
    if result is not None:
        run.check(result, rows=count, key=key, total=total)
        facts = result.details.get("parallel")
        if facts:
            row.extra["parallel"] = facts
            peaks = facts.get("worker_maxrss_kib") or []
            own = result.details.get("own_maxrss_kib", result.maxrss_kib)  # the parent alone
            if peaks:
                row.check += (
                    f"; {facts['parts']} parts, worker peak RSS "
                    + "/".join(f"{p / 1024:.0f}" for p in peaks)
                    + f" MiB, total {(sum(peaks) + own) / 1024:.0f} MiB"
                )
    return run.done()


def speedups(rows: list[Row]) -> list[str]:
    """Return one note per ``parallel`` source and label: each path's speed-up over ``floe``."""
    notes = []
    groups: dict[tuple[str, str], dict[str, Row]] = {}
    for row in rows:
        if row.workload == "parallel":
            groups.setdefault((row.label, row.source), {})[row.path] = row
    for (label, source), paths in groups.items():
        one = paths.get("floe")
        if one is None or not one.ok or not one.seconds:
            continue
        for path, row in sorted(paths.items()):
            if path != "floe" and row.ok and row.seconds:
                notes.append(
                    f"{label} {source}: {path} {one.seconds / row.seconds:.2f}x the one-stream "
                    f"load ({one.seconds:.2f} s -> {row.seconds:.2f} s)"
                )
    return notes


RUNNERS: dict[str, Callable[..., Row]] = {
    "bulk": bulk,
    "merge": merge,
    "incremental": incremental,
}
