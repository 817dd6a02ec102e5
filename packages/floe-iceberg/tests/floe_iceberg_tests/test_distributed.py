"""The two-phase write: plan, file sets from several workers, one commit (ADR-0027)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from floe_core import (
    CatalogConfig,
    DestinationWriteError,
    ErrorCode,
    LoadWindow,
    SchemaContract,
    SchemaContractViolation,
    WriteMode,
)
from floe_iceberg import (
    FileSet,
    LoadPlan,
    TableWrite,
    abandon_load,
    commit_load,
    plan_load,
    read_state,
    write_files,
    write_table,
)
from floe_iceberg._abandoned import RECORD_PREFIX


def _rows(catalog: Catalog, table: str) -> list[dict[str, object]]:
    rows = catalog.load_table(table).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: repr(r.get("id")))


def _snapshots(catalog: Catalog, table: str) -> int:
    return len(catalog.load_table(table).metadata.snapshots)


def _records(catalog: Catalog, table: str) -> list[dict[str, object]]:
    folder = Path(catalog.load_table(table).location().removeprefix("file://")) / "metadata"
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"{RECORD_PREFIX}*.json"))]


def _parquet(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*.parquet")}


def _through_json(catalog: Catalog, plan: LoadPlan, parts: list[pa.Table]) -> list[FileSet]:
    """Each part written against the plan read back from JSON, its file set sent back as JSON."""
    wire = plan.to_json()
    sets = [
        write_files(catalog, LoadPlan.from_json(wire), [rows], part=n, target_file_rows=2)
        for n, rows in enumerate(parts)
    ]
    return [FileSet.from_json(s.to_json()) for s in sets]


def test_parts_commit_once_with_the_state_like_one_worker(
    sql_catalog: Catalog, table_name: str
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [0]})])
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="k")
    plan = plan_load(sql_catalog, spec)
    parts = [pa.table({"id": [1, 2, 3]}), pa.table({"id": [4, 5]}), pa.table({"id": [6]})]
    sets = _through_json(sql_catalog, plan, parts)
    assert [len(s.files) for s in sets] == [2, 1, 1]  # target_file_rows=2
    assert _records(sql_catalog, table_name)  # listed while uncommitted

    result = commit_load(sql_catalog, plan, sets, state={"max_id": 6})

    assert result.rows_loaded == 6 and result.files_written == 4
    assert _rows(sql_catalog, table_name) == [{"id": i} for i in range(7)]
    assert _snapshots(sql_catalog, table_name) == 2  # one for the whole distributed load
    assert read_state(sql_catalog, table_name, "k") == {"max_id": 6}
    summary = sql_catalog.load_table(table_name).current_snapshot().summary  # type: ignore[union-attr]
    assert summary["floe.load-id"] == plan.load_id
    assert _records(sql_catalog, table_name) == []  # committed: nothing is abandoned


def test_merge_across_parts_dedupes_and_rewrites_once_like_one_worker(
    sql_catalog: Catalog, table_name: str, tmp_path: Path
) -> None:
    first = pa.table({"id": [1, 2, 3, 4], "v": ["a", "b", "c", "d"]})
    parts = [
        pa.table({"id": [2, 5], "v": ["b1", "e"]}),
        pa.table({"id": [5, 3], "v": ["e2", "c2"]}),  # id 5 again: the later part wins
    ]
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",))
    write_table(sql_catalog, spec, [first])
    single = f"{table_name}_single"
    write_table(sql_catalog, TableWrite(single, WriteMode.MERGE, primary_key=("id",)), [first])
    write_table(sql_catalog, TableWrite(single, WriteMode.MERGE, primary_key=("id",)), parts)

    plan = plan_load(sql_catalog, spec)
    result = commit_load(sql_catalog, plan, _through_json(sql_catalog, plan, parts))

    assert _rows(sql_catalog, table_name) == _rows(sql_catalog, single)
    assert _rows(sql_catalog, table_name) == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "b1"},
        {"id": 3, "v": "c2"},
        {"id": 4, "v": "d"},
        {"id": 5, "v": "e2"},
    ]
    assert result.rows_discarded == 1


def test_replace_across_parts_is_one_overwrite(sql_catalog: Catalog, table_name: str) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [9]})])
    spec = TableWrite(table_name, WriteMode.REPLACE)
    plan = plan_load(sql_catalog, spec)
    parts = [pa.table({"id": [1]}), pa.table({"id": [2, 3]})]
    commit_load(sql_catalog, plan, _through_json(sql_catalog, plan, parts))
    assert _rows(sql_catalog, table_name) == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert _snapshots(sql_catalog, table_name) == 2


def test_a_new_column_per_worker_evolves_the_table_once(
    sql_catalog: Catalog, table_name: str
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [0]})])
    plan = plan_load(sql_catalog, TableWrite(table_name, WriteMode.APPEND))
    parts = [pa.table({"id": [1], "x": ["x1"]}), pa.table({"id": [2], "y": [2.5]})]

    commit_load(sql_catalog, plan, _through_json(sql_catalog, plan, parts))

    assert _rows(sql_catalog, table_name) == [
        {"id": 0, "x": None, "y": None},
        {"id": 1, "x": "x1", "y": None},
        {"id": 2, "x": None, "y": 2.5},  # part 1's file was rewritten to the committed ids
    ]


def test_a_new_table_from_parts_with_different_columns(
    sql_catalog: Catalog, table_name: str
) -> None:
    plan = plan_load(sql_catalog, TableWrite(table_name, WriteMode.APPEND))
    parts = [pa.table({"id": [1], "a": [True]}), pa.table({"id": [2], "b": ["two"]})]
    commit_load(sql_catalog, plan, _through_json(sql_catalog, plan, parts))
    assert _rows(sql_catalog, table_name) == [
        {"id": 1, "a": True, "b": None},
        {"id": 2, "a": None, "b": "two"},
    ]


def test_freeze_fails_the_worker_that_found_a_new_column(
    sql_catalog: Catalog, table_name: str
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [0]})])
    spec = TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE)
    plan = plan_load(sql_catalog, spec)
    write_files(sql_catalog, plan, [pa.table({"id": [1]})], part=0)
    with pytest.raises(SchemaContractViolation) as caught:
        write_files(sql_catalog, plan, [pa.table({"id": [2], "x": [1]})], part=1)
    assert caught.value.code is ErrorCode.SCHEMA_CONTRACT_VIOLATION


def test_two_distributed_loads_at_once_one_lands_the_other_conflicts(
    embedded_catalog: CatalogConfig, sql_catalog: Catalog, table_name: str
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [0]})])
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="k")
    first, second = plan_load(sql_catalog, spec), plan_load(sql_catalog, spec)
    first_sets = _through_json(sql_catalog, first, [pa.table({"id": [1]}), pa.table({"id": [2]})])
    second_sets = _through_json(sql_catalog, second, [pa.table({"id": [3]})])
    before = _parquet(Path(embedded_catalog.warehouse or ""))

    commit_load(sql_catalog, first, first_sets, state={"max": 2})
    with pytest.raises(DestinationWriteError) as caught:
        commit_load(sql_catalog, second, second_sets, state={"max": 3})

    assert caught.value.code is ErrorCode.COMMIT_CONFLICT
    assert _rows(sql_catalog, table_name) == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert read_state(sql_catalog, table_name, "k") == {"max": 2}
    left = _parquet(Path(embedded_catalog.warehouse or ""))
    assert not set(second_sets[0].paths) & left  # the loser's files are gone
    assert set(first_sets[0].paths) <= left
    assert set(second_sets[0].paths) <= before


_WORKER = """
import sys, time
import pyarrow as pa
from floe_core import CatalogConfig
from floe_iceberg import LoadPlan, load_catalog, write_files

catalog = load_catalog(CatalogConfig.embedded(sys.argv[1]))
plan = LoadPlan.from_json(open(sys.argv[2]).read())

def rows():
    for i in range(3):
        yield pa.table({"id": [10 * i, 10 * i + 1]})
    print("written", flush=True)
    time.sleep(600)

write_files(catalog, plan, rows(), part=0, target_file_rows=2)
"""

_COMMITTER = """
import sys, time
from pyiceberg.catalog.sql import SqlCatalog
from floe_core import CatalogConfig
from floe_iceberg import FileSet, LoadPlan, commit_load, load_catalog

catalog = load_catalog(CatalogConfig.embedded(sys.argv[1]))
plan = LoadPlan.from_json(open(sys.argv[2]).read())
sets = [FileSet.from_json(open(p).read()) for p in sys.argv[3:]]

def hang(self, *args, **kwargs):
    print("committing", flush=True)
    time.sleep(600)

SqlCatalog.commit_table = hang
commit_load(catalog, plan, sets, state={"max": 99})
"""


def _run_until(
    script: str, marker: str, *args: str, ready: Callable[[], bool] | None = None
) -> None:
    """Run ``script`` until it prints ``marker`` (and ``ready()`` holds, if given), then SIGKILL."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == marker:
                break
        else:
            raise AssertionError(f"the subprocess ended before {marker!r}: {process.wait()}")
        deadline = time.monotonic() + 120  # a loaded machine: the background writer lags
        while ready is not None and not ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()


def _rerun_is_exact(catalog: Catalog, table: str, spec: TableWrite) -> None:
    plan = plan_load(catalog, spec)
    sets = _through_json(catalog, plan, [pa.table({"id": [10, 11]}), pa.table({"id": [20]})])
    commit_load(catalog, plan, sets, state={"max": 20})
    assert _rows(catalog, table) == [{"id": 0}, {"id": 10}, {"id": 11}, {"id": 20}]
    assert read_state(catalog, table, "k") == {"max": 20}


def test_a_worker_killed_mid_load_leaves_the_table_and_lists_its_files(
    embedded_catalog: CatalogConfig, sql_catalog: Catalog, table_name: str, tmp_path: Path
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [0]})])
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="k")
    plan = plan_load(sql_catalog, spec)
    (tmp_path / "plan.json").write_text(plan.to_json())
    warehouse = Path(embedded_catalog.warehouse or "")
    before = _parquet(warehouse)

    _run_until(
        _WORKER,
        "written",
        str(warehouse),
        str(tmp_path / "plan.json"),
        ready=lambda: len(_parquet(warehouse) - before) >= 2,
    )

    orphans = _parquet(warehouse) - before
    assert len(orphans) >= 2  # two full files, and the third may be under way
    (record,) = _records(sql_catalog, table_name)
    assert record["load_id"] == plan.load_id and record["created_at"]
    listed = {str(p).removeprefix("file://") for p in record["files"]}  # type: ignore[attr-defined]
    assert orphans <= listed  # no file of the killed worker is unlisted
    assert _rows(sql_catalog, table_name) == [{"id": 0}]
    assert _snapshots(sql_catalog, table_name) == 1

    abandon_load(sql_catalog, plan, [], parts=[0])
    assert _parquet(warehouse) == before
    _rerun_is_exact(sql_catalog, table_name, spec)


def test_a_committer_killed_mid_commit_leaves_the_table_and_lists_every_file(
    embedded_catalog: CatalogConfig, sql_catalog: Catalog, table_name: str, tmp_path: Path
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [0]})])
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="k")
    plan = plan_load(sql_catalog, spec)
    sets = _through_json(sql_catalog, plan, [pa.table({"id": [10, 11]}), pa.table({"id": [20]})])
    (tmp_path / "plan.json").write_text(plan.to_json())
    paths = []
    for file_set in sets:
        path = tmp_path / f"set-{file_set.part}.json"
        path.write_text(file_set.to_json())
        paths.append(str(path))
    warehouse = Path(embedded_catalog.warehouse or "")

    _run_until(_COMMITTER, "committing", str(warehouse), str(tmp_path / "plan.json"), *paths)

    assert _rows(sql_catalog, table_name) == [{"id": 0}]
    assert read_state(sql_catalog, table_name, "k") is None
    listed = {
        str(p).removeprefix("file://")
        for record in _records(sql_catalog, table_name)
        for p in record["files"]  # type: ignore[attr-defined]
    }
    assert {p.removeprefix("file://") for s in sets for p in s.paths} <= listed
    abandon_load(sql_catalog, plan, sets)
    assert not listed & _parquet(warehouse)
    _rerun_is_exact(sql_catalog, table_name, spec)


def _ts(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


def _timed(*rows: tuple[int, dt.datetime]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.int64()),
            "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )


def _partitions(catalog: Catalog, table: str) -> list[tuple[object, ...]]:
    tasks = catalog.load_table(table).scan().plan_files()
    found = [tuple(t.file.partition[i] for i in range(len(t.file.partition))) for t in tasks]
    return sorted(found, key=repr)


def test_parts_write_a_new_partitioned_sorted_table_split_by_partition(
    sql_catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, partition_by=("day(ts)",), sort_by=("id desc",))
    plan = plan_load(sql_catalog, spec)
    parts = [_timed((1, _ts(1)), (2, _ts(2)), (3, _ts(1, 5))), _timed((4, _ts(2, 3)))]
    sets = [
        write_files(sql_catalog, LoadPlan.from_json(plan.to_json()), [rows], part=n)
        for n, rows in enumerate(parts)
    ]
    commit_load(sql_catalog, plan, [FileSet.from_json(s.to_json()) for s in sets])

    table = sql_catalog.load_table(table_name)
    assert [f.name for f in table.spec().fields] == ["ts_day"]
    assert len(table.sort_order().fields) == 1
    partitions = _partitions(sql_catalog, table_name)
    assert len(partitions) == 3 and len(set(partitions)) == 2  # day 2: one file per part
    one_day = table.scan(row_filter=f"ts >= '{_ts(1).isoformat()}' and ts < '{_ts(2).isoformat()}'")
    assert len(list(one_day.plan_files())) == 1
    assert sorted(one_day.to_arrow()["id"].to_pylist()) == [1, 3]
    assert _snapshots(sql_catalog, table_name) == 1


def test_parts_evolve_an_unpartitioned_table_in_the_load_commit(
    sql_catalog: Catalog, table_name: str
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [_timed((0, _ts(1)))])
    plan = plan_load(
        sql_catalog, TableWrite(table_name, WriteMode.APPEND, partition_by=("day(ts)",))
    )
    parts = [_timed((1, _ts(1))), _timed((2, _ts(2)))]
    commit_load(sql_catalog, plan, _through_json(sql_catalog, plan, parts))

    table = sql_catalog.load_table(table_name)
    assert [f.name for f in table.spec().fields] == ["ts_day"]
    specs = sorted(t.file.spec_id for t in table.scan().plan_files())
    assert specs == [0, table.spec().spec_id, table.spec().spec_id]
    assert _snapshots(sql_catalog, table_name) == 2


def test_parts_replace_exactly_their_window(sql_catalog: Catalog, table_name: str) -> None:
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [_timed((1, _ts(1, 5)), (2, _ts(2)), (3, _ts(2, 23)), (4, _ts(3, 1)))],
    )
    window = LoadWindow(column="ts", start=_ts(2), end=_ts(3))
    plan = plan_load(sql_catalog, TableWrite(table_name, WriteMode.APPEND, replace_window=window))
    assert LoadPlan.from_json(plan.to_json()).replace_window == window
    parts = [_timed((20, _ts(2, 1))), _timed((30, _ts(2, 2)))]
    commit_load(sql_catalog, plan, _through_json(sql_catalog, plan, parts))

    assert [r["id"] for r in _rows(sql_catalog, table_name)] == [1, 20, 30, 4]
    assert _snapshots(sql_catalog, table_name) == 2  # one overwrite for the whole window


def test_a_merge_into_a_partitioned_table_across_parts_matches_one_worker(
    sql_catalog: Catalog, table_name: str
) -> None:
    def rows(ids: list[int], region: str) -> pa.Table:
        return pa.table({"id": pa.array(ids, pa.int64()), "region": [region] * len(ids)})

    first = rows([1, 2, 3, 4], "eu")
    parts = [rows([2, 5], "us"), rows([5, 3], "ap")]  # 5 in both parts: the later one wins
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",), partition_by=("region",))
    single = f"{table_name}_single"
    one = TableWrite(single, WriteMode.MERGE, primary_key=("id",), partition_by=("region",))
    for target in (spec, one):
        write_table(sql_catalog, target, [first])
    write_table(sql_catalog, one, parts)
    plan = plan_load(sql_catalog, spec)
    commit_load(sql_catalog, plan, _through_json(sql_catalog, plan, parts))
    assert _rows(sql_catalog, table_name) == _rows(sql_catalog, single)
    assert {r["id"]: r["region"] for r in _rows(sql_catalog, table_name)} == {
        1: "eu",
        2: "us",
        3: "ap",
        4: "eu",
        5: "ap",
    }
