"""Helpers the maintenance tests share: an incremental source, checksums, child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog

from floe_core import CatalogConfig, WriteMode
from floe_iceberg import TableWrite, read_table_state, write_table
from floe_iceberg._compact import live_files
from floe_iceberg._listing import list_files, location_key


def source_rows(start: int, stop: int) -> pa.Table:
    """Rows ``start <= id < stop`` of the test source (``name`` derived from ``id``)."""
    ids = pa.array(range(start, stop), pa.int64())
    return pa.table(
        {"id": ids, "name": pc.binary_join_element_wise("n", pc.cast(ids, pa.string()), "")}
    )


def incremental_load(catalog: Catalog, table: str, source_size: int, *, key: str = "k") -> int:
    """One incremental run: load the source's rows above the stored cursor; return rows loaded."""
    base = read_table_state(catalog, table, key)
    last = -1 if base.state is None else int(base.state["last_id"])
    rows = source_rows(last + 1, source_size)
    spec = TableWrite(table, WriteMode.APPEND, state_key=key, based_on=base)
    new_last = source_size - 1 if rows.num_rows else last
    result = write_table(catalog, spec, [rows], state=lambda: {"last_id": new_last})
    return result.rows_loaded


def checksum(catalog: Catalog, table: str) -> tuple[int, int, int]:
    """Row count, sum of ids and a hash of every (id, name) pair, read back from Iceberg."""
    data = catalog.load_table(table).scan().to_arrow()
    pairs = sorted(zip(data["id"].to_pylist(), data["name"].to_pylist(), strict=True))
    return data.num_rows, sum(p[0] for p in pairs), hash(tuple(pairs))


def data_files(catalog: Catalog, table: str) -> list[Any]:
    """The live data files of a table."""
    loaded = catalog.load_table(table)
    return live_files(loaded.metadata, loaded)


def stored_keys(catalog: Catalog, table: str) -> set[str]:
    """Every file under the table location, as location keys."""
    loaded = catalog.load_table(table)
    return {f.key for f in list_files(loaded.io, loaded.location())}


def live_keys(catalog: Catalog, table: str) -> set[str]:
    """The live data files of a table, as location keys."""
    return {location_key(f.file_path) for f in data_files(catalog, table)}


def config_json(config: CatalogConfig) -> str:
    """A catalog config as JSON a child process can rebuild (secrets revealed: test servers)."""
    data = config.model_dump()
    data["properties"] = dict(config.properties)  # model_dump masks the S3 keys
    for key in ("credential", "token"):
        if data.get(key) is not None:
            data[key] = data[key].get_secret_value()
    return json.dumps(data)


CHILD_PRELUDE = """
import json, os, sys, time
import pyarrow as pa
from floe_core import CatalogConfig, WriteMode
from floe_iceberg import TableWrite, load_catalog, write_table
catalog = load_catalog(CatalogConfig.model_validate(json.loads(os.environ["FLOE_TEST_CATALOG"])))
TABLE = os.environ["FLOE_TEST_TABLE"]
MARKER = os.environ["FLOE_TEST_MARKER"]
def mark():
    with open(MARKER, "w") as f:
        f.write("ready")
"""


def start_child(
    code: str, config: CatalogConfig, table: str, marker: Path, **env_vars: str
) -> subprocess.Popen[str]:
    """Start ``sys.executable -c`` with the prelude; catalog and table in its environment."""
    env = {
        **os.environ,
        "FLOE_TEST_CATALOG": config_json(config),
        "FLOE_TEST_TABLE": table,
        "FLOE_TEST_MARKER": str(marker),
        **env_vars,
    }
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_PRELUDE + code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(marker: Path, child: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Wait until the child wrote its marker (fail with its stderr if it died first)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"child exited {child.returncode}: {child.stderr.read()[-3000:]}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            child.kill()
            _, err = child.communicate()
            raise AssertionError(f"child did not get ready in time: {err[-3000:]}")
        time.sleep(0.05)
