"""``python -m benchmarks``: run the workloads over every path and print one comparison table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks import dataset, maintenance, merge_scale, orchestrated, workload
from benchmarks.path import PATHS
from benchmarks.report import Row, render_table, render_targets

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_PATHS = ("floe", "dlt-sqlalchemy", "dlt-pyarrow", "dlt-connectorx", "floor")
_SLOW_PATH = "dlt-sqlalchemy"
_SLOW_ROWS = 2_000_000
_MERGE_PATHS = ("floe", "dlt-connectorx", "floor")
BIG_ROWS = 10_000_000


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="floe against dlt and the physical floor: one table from one run.",
    )
    parser.add_argument("--rows", type=int, help="bulk rows (default 1,000,000; --quick 10,000)")
    parser.add_argument("--big", action="store_true", help="bulk workload at 10,000,000 rows")
    parser.add_argument(
        "--workload",
        nargs="+",
        choices=(*workload.WORKLOADS, "all"),
        default=["all"],
        help="one or more workloads (default: all)",
    )
    parser.add_argument(
        "--source", choices=("sqlite", "postgres", "all"), default=None, help="default: all"
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=PATHS,
        metavar="PATH",
        help=f"paths to run, of: {', '.join(PATHS)}. Default: {', '.join(DEFAULT_PATHS)} for "
        f"bulk/tpch ({_SLOW_PATH} only up to {_SLOW_ROWS:,} rows), "
        f"{', '.join(_MERGE_PATHS)} for merge/incremental",
    )
    parser.add_argument(
        "--tpch-scale", type=float, help="TPC-H scale factor (default 1; --quick 0.01)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 10,000 rows, SQLite only, TPC-H and dagster left out unless named "
        "with --workload",
    )
    parser.add_argument(
        "--profile",
        nargs="*",
        metavar="PATH",
        help="write a pyinstrument profile of each timed step of these paths (default floe) to "
        "benchmarks/results/; profiled timings are slower than unprofiled ones",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each path N times (fresh child and table each time) and report the run with "
        "the median wall time; any wrong or failed run marks the path (default 1)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds one step may take (default 3600)"
    )
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 10_000 if args.quick else 1_000_000
    try:
        dataset.check_rows(args.rows)
    except ValueError as exc:
        parser.error(str(exc))
    if args.source is None:
        args.source = "sqlite" if args.quick else "all"
    if args.tpch_scale is None:
        args.tpch_scale = 0.01 if args.quick else 1.0
    return args


def _paths_for(name: str, rows: int, chosen: list[str] | None) -> tuple[list[str], list[str]]:
    """Return the paths to run for a workload and the notes on the ones left out."""
    if chosen:
        return list(chosen), []
    notes: list[str] = []
    paths = list(DEFAULT_PATHS)
    if name in ("merge", "incremental"):
        left = [p for p in paths if p not in _MERGE_PATHS]
        notes.append(
            f"{name}: {', '.join(left)} left out (dlt's merge and cursor do not depend on the "
            "extract backend; name them with --paths to run them)"
        )
        paths = list(_MERGE_PATHS)
    elif rows > _SLOW_ROWS:
        paths.remove(_SLOW_PATH)
        notes.append(
            f"{name}: {_SLOW_PATH} left out at {rows:,} rows (~100 s per million rows here); "
            f"name it with --paths to run it"
        )
    return paths, notes


def _repeated(run: Callable[[], Row], times: int) -> Row:
    """Run one path ``times`` times; return the median run, or the first incorrect one."""
    runs = []
    for _ in range(max(1, times)):
        row = run()
        if not row.ok:
            return row
        runs.append(row)
    runs.sort(key=lambda r: r.seconds or 0.0)
    median = runs[(len(runs) - 1) // 2]
    if len(runs) > 1:
        median.extra["all_seconds"] = [round(r.seconds or 0.0, 3) for r in runs]
        median.check += (
            f" (median of {len(runs)}: " + "/".join(f"{r.seconds or 0.0:.2f}" for r in runs) + ")"
        )
    return median


def _parallel(
    settings: workload.Settings,
    args: argparse.Namespace,
    sources: list[str],
    dsn: str,
    notes: list[str],
) -> list[Row]:
    """The ``parallel`` workload: the bulk table (and, on PostgreSQL, TPC-H lineitem) loaded
    in one stream and by 2 worker processes, split on the key."""
    out: list[Row] = []
    paths = list(args.paths or workload.PARALLEL_PATHS)
    size = BIG_ROWS if args.big else args.rows
    for kind in sources:
        data = (
            dataset.ensure_sqlite(size) if kind == "sqlite" else dataset.ensure_postgres(dsn, size)
        )
        for path in paths:
            run = partial(
                workload.parallel,
                settings,
                data.bulk,
                data.rows,
                path,
                column="id",
                key="id",
                label=f"bulk {workload.label_rows(data.rows)}",
            )
            out.append(_repeated(run, args.repeat))
    if "postgres" in sources and not args.quick:
        problem = dataset.tpch_error(dsn)
        if problem:
            notes.append(f"parallel: TPC-H left out: {problem}")
            return out
        source, count, total = dataset.ensure_lineitem(dsn, args.tpch_scale)
        for path in paths:
            run = partial(
                workload.parallel,
                settings,
                source,
                count,
                path,
                column="l_orderkey",
                total=("l_extendedprice", total),
                label=f"tpch lineitem SF{args.tpch_scale:g}",
            )
            out.append(_repeated(run, args.repeat))
    return out


def _versions() -> str:
    names = ("dlt", "pyiceberg", "pyarrow", "connectorx", "floe-ingestion-dlt", "dagster")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


def main(argv: list[str] | None = None) -> int:
    """Run the selected workloads and print the table.

    Returns:
        0 when every path ran and loaded the right rows; 1 when any failed, loaded wrong rows,
        or nothing could run (e.g. only PostgreSQL asked for and unreachable).
    """
    args = _parse(argv)
    started = time.monotonic()
    if "all" in args.workload:
        workloads = [
            w
            for w in workload.WORKLOADS
            if not (args.quick and w in ("tpch", "dagster")) and w not in workload.ON_REQUEST
        ]
    else:
        workloads = [w for w in workload.WORKLOADS if w in args.workload]
    sources = ["sqlite", "postgres"] if args.source == "all" else [args.source]
    dsn = dataset.postgres_dsn()
    notes: list[str] = []
    if "postgres" in sources:
        problem = dataset.postgres_error(dsn)
        if problem:
            notes.append(f"postgres: left out: {problem}")
            sources.remove("postgres")

    scratch = Path(tempfile.mkdtemp(prefix="floe-bench-"))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    profile_dir = None
    if args.profile is not None:
        profile_dir = RESULTS_DIR / f"{stamp}-profiles"
        profile_dir.mkdir(parents=True, exist_ok=True)
        notes.append(f"profiled (slower) paths: {', '.join(args.profile or ['floe'])}")
    settings = workload.Settings(
        scratch=scratch,
        timeout=args.timeout,
        profile_dir=profile_dir,
        profile_paths=tuple(args.profile or ["floe"]),
    )
    rows: list[Row] = []
    try:
        for name in workloads:
            if name in ("tpch", "tpch-month"):
                problem = dataset.tpch_error(dsn)
                if problem:
                    notes.append(f"{name}: left out: {problem}")
                    continue
                source, count, total = dataset.ensure_lineitem(dsn, args.tpch_scale)
                if name == "tpch-month":  # floe partitioned, beside floe unpartitioned
                    run_month = partial(
                        workload.tpch_month, settings, source, count, total, args.tpch_scale
                    )
                    plain = partial(
                        workload.tpch, settings, source, count, total, args.tpch_scale, "floe"
                    )
                    rows.append(_repeated(plain, args.repeat))
                    rows.append(_repeated(run_month, args.repeat))
                    continue
                paths, why = _paths_for(name, count, args.paths)
                notes.extend(why)
                for path in paths:
                    rows.append(
                        _repeated(
                            partial(
                                workload.tpch, settings, source, count, total, args.tpch_scale, path
                            ),
                            args.repeat,
                        )
                    )
                continue
            if name == "parallel":
                rows.extend(_parallel(settings, args, sources, dsn, notes))
                continue
            if name == "dagster":
                for kind in sources:
                    data = (
                        dataset.ensure_sqlite(args.rows)
                        if kind == "sqlite"
                        else dataset.ensure_postgres(dsn, args.rows)
                    )
                    for path in orchestrated.PATHS:
                        rows.append(
                            _repeated(
                                partial(orchestrated.run, scratch, data, path, args.timeout),
                                args.repeat,
                            )
                        )
                continue
            if name == "merge-scale":  # PostgreSQL unless --quick or --source sqlite
                kinds = ["postgres"] if args.source == "all" and "postgres" in sources else sources
                rows.extend(
                    merge_scale.run(
                        settings, quick=args.quick, sources=kinds, dsn=dsn, repeat=args.repeat
                    )
                )
                continue
            if name == "maintenance":  # the engine alone, in-process: no source, no paths
                rows.append(maintenance.run(scratch, quick=args.quick))
                continue
            size = BIG_ROWS if (name == "bulk" and args.big) else args.rows
            paths, why = _paths_for(name, size, args.paths)
            notes.extend(why)
            for kind in sources:
                data = (
                    dataset.ensure_sqlite(size)
                    if kind == "sqlite"
                    else dataset.ensure_postgres(dsn, size)
                )
                for path in paths:
                    rows.append(
                        _repeated(
                            partial(workload.RUNNERS[name], settings, data, path), args.repeat
                        )
                    )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    header = (
        f"floe benchmarks {stamp} on {platform.node()} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}): {_versions()}"
    )
    text = "\n".join(
        [
            header,
            "",
            render_table(rows),
            "",
            "time/floe: the path's wall time ÷ floe's; * fastest correct path of the group.",
            "Targets (issue 5):",
            render_targets(rows, BIG_ROWS if args.big else None) or "  (floe not run)",
            *(
                ["Speed-up:", *(f"  {n}" for n in workload.speedups(rows))]
                if any(r.workload == "parallel" for r in rows)
                else []
            ),
            *(
                ["Merge scale (issue 13):", *merge_scale.targets(rows)]
                if any(r.workload == "merge-scale" for r in rows)
                else []
            ),
            *(["Notes:", *(f"  {n}" for n in notes)] if notes else []),
            f"Total {time.monotonic() - started:.0f} s.",
        ]
    )
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{stamp}.txt").write_text(text + "\n")
    (RESULTS_DIR / f"{stamp}.json").write_text(
        json.dumps(
            {"args": vars(args), "notes": notes, "rows": [asdict(r) for r in rows]},
            indent=2,
            default=str,
        )
    )
    return 0 if rows and all(r.status == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
