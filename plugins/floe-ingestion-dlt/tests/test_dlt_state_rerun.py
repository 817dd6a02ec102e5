"""Re-runs with no new rows commit nothing, whatever the process's string hash seed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from floe_core import CatalogConfig
from floe_iceberg import load_catalog
from floe_ingestion_dlt._state import canonical

_RUN = """
import sys
from floe_core import CatalogConfig, IngestionConfig
from floe_ingestion_dlt import DltIngestionPlugin

plugin = DltIngestionPlugin(catalog=CatalogConfig.embedded(sys.argv[1]))
config = IngestionConfig(
    name="events",
    source_type="sql_database",
    source_config={"connection_string": "sqlite:///" + sys.argv[2], "tables": ["events"]},
    destination_table="bronze.events",
    incremental={"cursor_field": "seq"},
)
result = plugin.run(plugin.create_pipeline(config))
assert result.success, result.errors
print(result.rows_loaded)
"""


def test_unchanged_state_makes_no_snapshot_across_processes(tmp_path: Path) -> None:
    db = tmp_path / "src.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)")
        # the last cursor value (3) is shared by 4 rows: dlt keeps 4 unique hashes
        conn.executemany("INSERT INTO events VALUES (?, ?)", [(i, min(i, 3)) for i in range(8)])
    warehouse = tmp_path / "warehouse"
    loaded = []
    for seed in ("1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _RUN, str(warehouse), str(db)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        loaded.append(int(out.stdout.strip().splitlines()[-1]))

    assert loaded == [8, 0, 0, 0, 0]
    table = load_catalog(CatalogConfig.embedded(warehouse)).load_table("bronze.events")
    assert len(table.snapshots()) == 1  # the first load only
    assert table.scan().to_arrow().num_rows == 8


def test_canonical_state_sorts_keys_and_unique_hashes_only() -> None:
    state = {"b": {"unique_hashes": ["z", "a"], "other": [3, 1]}, "a": 1}
    assert canonical(state) == {"a": 1, "b": {"other": [3, 1], "unique_hashes": ["a", "z"]}}
    assert list(canonical(state)) == ["a", "b"]
