"""Workload ``dagster``: 4 sources in parallel through Dagster vs one after another by floe.

The same four sources (the bulk table, each into its own Iceberg table of one embedded
catalog) are loaded twice, from a cold process each time, as a user would run them:

- ``floe-ingest``: ``floe ingest floe.yaml``, the sources one after another in one process;
- ``dagster-multiprocess``: ``dagster job execute`` of the ``ingestion`` job of
  ``floe_dagster.build_definitions``, Dagster's multiprocess executor running each source as
  its own step process (as many at once as there are cores).

Both wall times include process start-up and imports (each Dagster step pays them again); every
table must hold exactly N rows with unique ids. Left out of ``--quick`` (name it with
``--workload dagster``): at 10,000 rows start-up is all it would measure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.dataset import BulkSet
from benchmarks.report import Row
from benchmarks.runner import verify

SOURCES = 4
PATHS = ("floe-ingest", "dagster-multiprocess")
_BIN = Path(sys.executable).parent


def _project(folder: Path, data: BulkSet) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    sources = [
        {
            "name": f"s{i}",
            "type": "sql_database",
            "config": {"connection_string": data.bulk.sqlalchemy_url, "tables": [data.bulk.table]},
            "destination": {"table": f"bench.t{i}"},
        }
        for i in range(SOURCES)
    ]
    floe_yaml = folder / "floe.yaml"
    floe_yaml.write_text(yaml.safe_dump({"ingestion": {"sources": sources}}))
    manifest = folder / "platform-manifest.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "storage": {"type": "local", "path": str(folder / "warehouse")},
                "observability": {"logs": {"format": "json", "level": "WARNING"}},
            }
        )
    )
    (folder / "defs.py").write_text(
        "from floe_dagster import build_definitions\n\n"
        f"defs = build_definitions({str(floe_yaml)!r}, {str(manifest)!r})\n"
    )
    (folder / "home").mkdir()
    (folder / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return floe_yaml, manifest


def _command(path: str, folder: Path, floe_yaml: Path, manifest: Path) -> list[str]:
    if path == "floe-ingest":
        return [str(_BIN / "floe"), "ingest", str(floe_yaml), "--manifest", str(manifest)]
    return [str(_BIN / "dagster"), "job", "execute", "-f", "defs.py", "-j", "ingestion"]


def run(scratch: Path, data: BulkSet, path: str, timeout: float) -> Row:
    """Load the 4 sources by one path and check every table.

    Args:
        scratch: Parent of the work folder.
        data: The bulk set (its bulk table is each source's table).
        path: ``floe-ingest`` or ``dagster-multiprocess``.
        timeout: Seconds the command may take.

    Returns:
        The row: rows = 4 x N, the command's wall time.
    """
    label = f"{SOURCES} sources x {data.rows:,}"
    row = Row("dagster", data.bulk.kind, path, SOURCES * data.rows, label)
    folder = scratch / f"dagster_{path}"
    floe_yaml, manifest = _project(folder, data)
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home")}
    started = time.perf_counter()
    done = subprocess.run(
        _command(path, folder, floe_yaml, manifest),
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    row.seconds = time.perf_counter() - started
    if done.returncode != 0:
        row.status = "FAILED"
        row.error = (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]
        return row
    ref = {
        "kind": "catalog",
        "name": "floe",  # the embedded catalog's name: the SQL catalog keys tables by it
        "uri": f"sqlite:///{folder / 'warehouse' / 'catalog.db'}",
        "warehouse": (folder / "warehouse").as_uri(),
    }
    wrong = []
    for i in range(SOURCES):
        found = verify({**ref, "identifier": f"bench.t{i}"}, "id", None, None)
        if found.rows != data.rows or found.distinct_keys != found.rows:
            wrong.append(f"bench.t{i}: {found.rows:,} rows, {found.distinct_keys:,} distinct ids")
    if wrong:
        row.status = "WRONG"
        row.check = "; ".join(wrong)
    else:
        row.check = f"ok: {SOURCES} tables x {data.rows:,} rows, id unique"
    print(f"  {label} {data.bulk.kind} {path}: {row.seconds:.2f} s", file=sys.stderr, flush=True)
    return row
