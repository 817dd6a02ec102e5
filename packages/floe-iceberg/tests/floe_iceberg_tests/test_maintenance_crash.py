"""Maintenance against killed loads, racing loads, and its own SIGKILL in every step."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from floe_core import CatalogConfig, DestinationWriteError
from floe_core.maintenance import MaintenanceConfig
from floe_iceberg import find_stray_files, load_catalog, maintain_table, read_state

from ._maintenance_helpers import (
    checksum,
    incremental_load,
    live_keys,
    source_rows,
    start_child,
    stored_keys,
    wait_for,
)


def _later() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


ZERO_WINDOW = MaintenanceConfig(orphan_window_days=0)

KILLED_LOAD = """
def batches():
    for i in range(4):
        yield pa.table({"id": pa.array(range(10**6 + i * 100, 10**6 + i * 100 + 100), pa.int64()),
                        "name": ["killed"] * 100})
    time.sleep(1.0)  # the streamed files reach storage
    mark()
    time.sleep(600)
write_table(catalog, TableWrite(TABLE, WriteMode.APPEND), batches(), target_file_rows=100)
"""


def _kill_a_load(config: CatalogConfig, table: str, tmp_path: Path) -> None:
    marker = tmp_path / f"marker-{time.monotonic_ns()}"
    child = start_child(KILLED_LOAD, config, table, marker)
    try:
        wait_for(marker, child)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def _parquet(keys: set[str]) -> set[str]:
    return {k for k in keys if k.endswith(".parquet")}


def test_files_of_a_killed_load_go_only_after_the_window(
    catalog: Catalog, catalog_config: CatalogConfig, table_name: str, tmp_path: Path
) -> None:
    for load in range(1, 4):
        incremental_load(catalog, table_name, load * 100)
    before = checksum(catalog, table_name)
    _kill_a_load(catalog_config, table_name, tmp_path)
    orphans = _parquet(stored_keys(catalog, table_name)) - live_keys(catalog, table_name)
    assert len(orphans) >= 3  # the killed load's data files stayed behind

    default = maintain_table(catalog, table_name, MaintenanceConfig(small_file_threshold_bytes=1))
    assert default.orphan_files == 0 and default.orphans_kept_recent >= 3
    assert orphans <= stored_keys(catalog, table_name)  # nothing recent was touched

    swept = maintain_table(catalog, table_name, ZERO_WINDOW, now=_later())

    assert swept.orphan_files >= len(orphans)
    stored = stored_keys(catalog, table_name)
    assert not orphans & stored  # the killed load's files are gone
    assert live_keys(catalog, table_name) <= stored  # every live file stayed
    for snapshot in catalog.load_table(table_name).snapshots():  # older snapshots read too
        assert catalog.load_table(table_name).scan(snapshot_id=snapshot.snapshot_id).to_arrow()
    loaded = catalog.load_table(table_name)
    assert loaded.metadata_location.endswith(".metadata.json")
    assert checksum(catalog, table_name) == before
    assert read_state(catalog, table_name, "k") == {"last_id": 299}


def test_a_killed_first_load_is_reported_and_removed_with_the_namespace_location(
    catalog: Catalog, catalog_config: CatalogConfig, table_name: str, tmp_path: Path
) -> None:
    incremental_load(catalog, table_name, 100)
    namespace = table_name.split(".")[0]
    never_created = f"{namespace}.never_created"
    _kill_a_load(catalog_config, never_created, tmp_path)
    assert not catalog.table_exists(never_created)
    before = checksum(catalog, table_name)

    found = find_stray_files(catalog, namespace, orphan_window_days=0, now=_later())

    assert len(found) == 1 and found[0].files >= 3 and not found[0].removed
    assert "never_created" in found[0].prefix
    location = found[0].prefix.rsplit("/", 1)[0]
    again = find_stray_files(catalog, namespace, orphan_window_days=0, now=_later())
    assert again[0].files == found[0].files  # reporting removed nothing

    removed = find_stray_files(
        catalog, namespace, orphan_window_days=0, namespace_location=location, now=_later()
    )

    assert removed[0].removed and removed[0].files == found[0].files
    assert find_stray_files(catalog, namespace, orphan_window_days=0, now=_later()) == []
    assert checksum(catalog, table_name) == before
    assert _parquet(stored_keys(catalog, table_name)) == live_keys(catalog, table_name)


RACING_LOADS = """
from floe_iceberg import read_table_state
from pyiceberg.exceptions import CommitFailedException
from floe_core import DestinationWriteError
mark()
for load in range(1, 16):
    size = 1000 + load * 100
    for attempt in range(50):
        base = read_table_state(catalog, TABLE, "k")
        last = int(base.state["last_id"])
        rows = pa.table({"id": pa.array(range(last + 1, size), pa.int64()),
                         "name": [f"n{i}" for i in range(last + 1, size)]})
        spec = TableWrite(TABLE, WriteMode.APPEND, state_key="k", based_on=base)
        try:
            write_table(catalog, spec, [rows], state=lambda: {"last_id": size - 1})
            break
        except (CommitFailedException, DestinationWriteError):
            time.sleep(0.05)  # a compaction committed first: read the state again
    else:
        sys.exit("gave up")
print("loads done")
"""


def test_compaction_racing_loads_in_another_process(
    sql_catalog: Catalog, embedded_catalog: CatalogConfig, table_name: str, tmp_path: Path
) -> None:
    for load in range(1, 11):
        incremental_load(sql_catalog, table_name, load * 100)
    marker = tmp_path / "marker"
    child = start_child(RACING_LOADS, embedded_catalog, table_name, marker)
    wait_for(marker, child)
    compactions = 0
    settings = MaintenanceConfig(target_file_size_bytes=1 << 30)
    while child.poll() is None:
        try:
            done = maintain_table(sql_catalog, table_name, settings)
        except DestinationWriteError as exc:  # a racing append never removes files
            pytest.fail(f"compaction failed: {exc}")
        compactions += done.compaction_snapshot_id is not None
    out, err = child.communicate()
    assert child.returncode == 0, err[-3000:]
    assert "loads done" in out and compactions >= 1

    expected = source_rows(0, 2500)
    names = [f"n{i}" for i in range(2500)]
    data = sql_catalog.load_table(table_name).scan().to_arrow().sort_by("id")
    assert data["id"].to_pylist() == expected["id"].to_pylist()  # no row twice, none lost
    assert data["name"].to_pylist() == names
    assert read_state(sql_catalog, table_name, "k") == {"last_id": 2499}
    assert incremental_load(sql_catalog, table_name, 2500) == 0


CRASHING_MAINTENANCE = """
import datetime as dt
from floe_core.maintenance import MaintenanceConfig
from floe_iceberg import maintenance, _compact, _expire, _orphan
step = os.environ["FLOE_TEST_STEP"]
def die(*args, **kwargs):
    mark()
    os.kill(os.getpid(), 9)
if step == "compact":
    _compact.commit_compaction = die  # its files are written, nothing is committed
elif step == "expire":
    _expire.expire = die
elif step == "after-expire":
    _orphan.plan_orphans = die
elif step == "orphans":
    real = _orphan.delete_files
    def one_then_die(io, files, *, table):
        real(io, list(files)[:1], table=table)
        die()
    _orphan.delete_files = one_then_die
settings = MaintenanceConfig(snapshot_retention_days=0, keep_last_snapshots=1,
                             orphan_window_days=0)
later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
maintenance.maintain_table(catalog, TABLE, settings, now=later)
print("not killed")
"""


@pytest.mark.parametrize("step", ["compact", "expire", "after-expire", "orphans"])
def test_a_sigkill_in_any_maintenance_step_leaves_a_correct_table(
    sql_catalog: Catalog,
    embedded_catalog: CatalogConfig,
    table_name: str,
    tmp_path: Path,
    step: str,
) -> None:
    for load in range(1, 6):
        incremental_load(sql_catalog, table_name, load * 100)
    data = Path(sql_catalog.load_table(table_name).location().removeprefix("file://")) / "data"
    for n in range(3):  # orphans for the last step to delete (as a killed load leaves)
        (data / f"00000-{n}-orphan.parquet").write_bytes(b"PAR1")
    before = checksum(sql_catalog, table_name)
    marker = tmp_path / "marker"
    child = start_child(
        CRASHING_MAINTENANCE, embedded_catalog, table_name, marker, FLOE_TEST_STEP=step
    )
    out, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, (out, err[-3000:])

    fresh = load_catalog(embedded_catalog)
    assert checksum(fresh, table_name) == before  # readable, every row once
    assert read_state(fresh, table_name, "k") == {"last_id": 499}
    settings = MaintenanceConfig(
        snapshot_retention_days=0, keep_last_snapshots=1, orphan_window_days=0
    )
    maintain_table(fresh, table_name, settings, now=_later())
    assert checksum(fresh, table_name) == before
    assert _parquet(stored_keys(fresh, table_name)) == live_keys(fresh, table_name)
    assert incremental_load(fresh, table_name, 500) == 0
