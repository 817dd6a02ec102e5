"""Partitioned tables: spec at creation, partitioned files, pruning, evolution, bad configs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import GreaterThanOrEqual, LessThan

from floe_core import (
    CatalogConfig,
    ErrorCode,
    PipelineConfigurationError,
    WriteMode,
)
from floe_iceberg import TableWrite, load_catalog, write_table
from floe_iceberg._partitioned import PartitionedRoller

UTC = dt.UTC


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return load_catalog(CatalogConfig.embedded(str(tmp_path)))


def _events(days: int, per_day: int, start_id: int = 0) -> pa.Table:
    ids, stamps, regions = [], [], []
    for d in range(days):
        for i in range(per_day):
            ids.append(start_id + d * per_day + i)
            stamps.append(dt.datetime(2026, 1, 1 + d, i % 24, tzinfo=UTC))
            regions.append("eu" if i % 2 else "us")
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "ts": pa.array(stamps, pa.timestamp("us", "UTC")),
            "region": regions,
        }
    )


def _sorted(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: r["id"])  # type: ignore[arg-type,return-value]


def test_day_partitioned_append_prunes_to_one_day(catalog: Catalog) -> None:
    data = _events(days=5, per_day=40)
    spec = TableWrite("bronze.events", WriteMode.APPEND, partition_by=("day(ts)",))
    result = write_table(catalog, spec, [data.slice(0, 90), data.slice(90)])
    table = catalog.load_table("bronze.events")
    assert [str(f.transform) for f in table.spec().fields] == ["day"]
    assert result.files_written == 5  # one file per day
    assert _sorted(table.scan().to_arrow()) == _sorted(data)
    one_day = table.scan(
        row_filter=GreaterThanOrEqual("ts", "2026-01-03T00:00:00+00:00")
        & LessThan("ts", "2026-01-04T00:00:00+00:00")
    )
    tasks = list(one_day.plan_files())
    assert len(tasks) == 1
    assert one_day.to_arrow().num_rows == 40
    assert len(snapshots := table.snapshots()) == 1 and snapshots[0].summary is not None


def test_bucket_and_identity_then_evolution_in_the_load_commit(catalog: Catalog) -> None:
    first = TableWrite("bronze.ev", WriteMode.APPEND, partition_by=("region", "bucket(4, id)"))
    data = _events(days=2, per_day=20)
    write_table(catalog, first, [data])
    table = catalog.load_table("bronze.ev")
    old_spec = table.spec().spec_id
    assert [f.name for f in table.spec().fields] == ["region", "id_bucket_4"]
    files_before = {t.file.file_path for t in table.scan().plan_files()}
    assert all(t.file.spec_id == old_spec for t in table.scan().plan_files())

    more = _events(days=2, per_day=20, start_id=1000)
    evolved = TableWrite("bronze.ev", WriteMode.APPEND, partition_by=("month(ts)",))
    write_table(catalog, evolved, [more])
    table = catalog.load_table("bronze.ev")
    assert [str(f.transform) for f in table.spec().fields] == ["month"]
    assert len(table.snapshots()) == 2  # the spec change rode with the data
    tasks = list(table.scan().plan_files())
    kept = [t for t in tasks if t.file.file_path in files_before]
    assert len(kept) == len(files_before) and all(t.file.spec_id == old_spec for t in kept)
    new = [t for t in tasks if t.file.file_path not in files_before]
    assert len(new) == 1 and new[0].file.spec_id == table.spec().spec_id
    expected = _sorted(pa.concat_tables([data, more]))
    assert _sorted(table.scan().to_arrow()) == expected


def test_replace_of_a_partitioned_table_replaces_all_of_it(catalog: Catalog) -> None:
    spec = TableWrite("bronze.r", WriteMode.REPLACE, partition_by=("day(ts)",))
    write_table(catalog, spec, [_events(days=3, per_day=10)])
    again = _events(days=1, per_day=5, start_id=500)
    write_table(catalog, spec, [again])
    table = catalog.load_table("bronze.r")
    assert _sorted(table.scan().to_arrow()) == _sorted(again)
    assert len(list(table.scan().plan_files())) == 1


def test_open_partition_cap_rolls_files(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("floe_iceberg._partitioned.DEFAULT_MAX_OPEN", 2)
    seen: list[int] = []
    original = PartitionedRoller.add

    def add(self: PartitionedRoller, batch: pa.RecordBatch) -> None:
        original(self, batch)
        seen.append(len(self._open))

    monkeypatch.setattr(PartitionedRoller, "add", add)
    data = _events(days=6, per_day=12)
    # interleave days so every batch touches every partition
    order = pa.array(sorted(range(data.num_rows), key=lambda i: (i % 12, i)))
    mixed = data.take(order)
    spec = TableWrite("bronze.cap", WriteMode.APPEND, partition_by=("day(ts)",))
    result = write_table(catalog, spec, mixed.to_batches(max_chunksize=6))
    table = catalog.load_table("bronze.cap")
    assert _sorted(table.scan().to_arrow()) == _sorted(data)
    assert max(seen) <= 2
    assert result.files_written > 6  # rolled rather than grown


@pytest.mark.parametrize(
    ("partition_by", "needle"),
    [(("day(region)",), "does not fit column 'region'"), (("day(nope)",), "'nope'")],
)
def test_bad_partition_column_is_a_configuration_error(
    catalog: Catalog, partition_by: tuple[str, ...], needle: str
) -> None:
    spec = TableWrite("bronze.bad", WriteMode.APPEND, partition_by=partition_by)
    with pytest.raises(PipelineConfigurationError) as info:
        write_table(catalog, spec, [_events(1, 3)])
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "partition_by" in info.value.message and needle in info.value.message
    assert not catalog.table_exists("bronze.bad")


def test_copy_on_write_merge_into_a_partitioned_table_keeps_every_file_in_its_partition(
    catalog: Catalog,
) -> None:
    spec = TableWrite("bronze.m", WriteMode.MERGE, primary_key=("id",), partition_by=("day(ts)",))
    first = _events(days=3, per_day=4)
    write_table(catalog, spec, [first])
    change = _events(days=1, per_day=2, start_id=5)  # ids 5, 6 move from day 2 to day 1
    change = change.set_column(2, "region", pa.array(["xx", "xx"]))
    result = write_table(catalog, spec, [change])
    table = catalog.load_table("bronze.m")
    expected = {r["id"]: r for r in first.to_pylist()} | {r["id"]: r for r in change.to_pylist()}
    assert _sorted(table.scan().to_arrow()) == sorted(expected.values(), key=lambda r: r["id"])
    assert result.files_written == 2  # the change (day 1) and day 2's file rewritten
    for task in table.scan().plan_files():  # each file holds one day: its partition's
        with table.io.new_input(task.file.file_path).open() as stream:
            stamps = pq.read_table(stream, columns=["ts"])["ts"].to_pylist()
        days = {(ts.date() - dt.date(1970, 1, 1)).days for ts in stamps}
        assert days == {task.file.partition[0]}


def test_buffered_bytes_cap_rolls_files(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("floe_iceberg._partitioned.DEFAULT_MAX_BUFFERED_BYTES", 1)
    data = _events(days=2, per_day=10)
    spec = TableWrite("bronze.mem", WriteMode.APPEND, partition_by=("day(ts)",))
    result = write_table(catalog, spec, data.to_batches(max_chunksize=5))
    assert result.files_written == 4  # each 5-row piece written at once, none gathered
    assert _sorted(catalog.load_table("bronze.mem").scan().to_arrow()) == _sorted(data)


def test_target_file_rows_cuts_one_partition_into_several_files(catalog: Catalog) -> None:
    data = _events(days=1, per_day=25)
    spec = TableWrite("bronze.rows", WriteMode.APPEND, partition_by=("day(ts)",))
    result = write_table(catalog, spec, [data], target_file_rows=10)
    assert result.files_written == 3
    tasks = catalog.load_table("bronze.rows").scan().plan_files()
    assert sorted(t.file.record_count for t in tasks) == [5, 10, 10]


def test_sort_by_sets_the_sort_order_and_sorts_each_file(catalog: Catalog) -> None:
    import pyarrow.parquet as pq

    ids = [5, None, 3, 9, 1, None, 7]
    data = pa.table({"id": pa.array(ids, pa.int64()), "k": list("abcdefg")})
    spec = TableWrite("bronze.s", WriteMode.APPEND, sort_by=("id desc nulls first",))
    write_table(catalog, spec, [data])
    table = catalog.load_table("bronze.s")
    (field,) = table.sort_order().fields
    assert (str(field.direction), str(field.null_order)) == ("DESC", "NULLS FIRST")
    (task,) = table.scan().plan_files()
    stored = pq.read_table(task.file.file_path.removeprefix("file://"))
    assert stored.column("id").to_pylist() == [None, None, 9, 7, 5, 3, 1]
    # a changed sort_by changes the table's order in the next load's commit
    again = TableWrite("bronze.s", WriteMode.APPEND, sort_by=("k",))
    write_table(catalog, again, [pa.table({"id": pa.array([2], pa.int64()), "k": ["z"]})])
    table = catalog.load_table("bronze.s")
    (field,) = table.sort_order().fields
    assert (table.schema().find_column_name(field.source_id), str(field.direction)) == ("k", "ASC")
    assert table.scan().to_arrow().num_rows == 8


def test_sort_by_within_each_partition_file(catalog: Catalog) -> None:
    import pyarrow.parquet as pq

    data = _events(days=2, per_day=10).sort_by([("id", "descending")])
    spec = TableWrite("bronze.ps", WriteMode.APPEND, partition_by=("day(ts)",), sort_by=("id",))
    write_table(catalog, spec, [data])
    for task in catalog.load_table("bronze.ps").scan().plan_files():
        stored = pq.read_table(task.file.file_path.removeprefix("file://")).column("id")
        assert stored.to_pylist() == sorted(stored.to_pylist())


def test_sort_by_an_unknown_column_is_a_configuration_error(catalog: Catalog) -> None:
    spec = TableWrite("bronze.bads", WriteMode.APPEND, sort_by=("nope desc",))
    with pytest.raises(PipelineConfigurationError) as info:
        write_table(catalog, spec, [_events(1, 3)])
    assert info.value.code is ErrorCode.INVALID_CONFIG and "sort_by" in info.value.message
    assert not catalog.table_exists("bronze.bads")


def test_nulls_and_identity_values_land_in_their_own_partitions(catalog: Catalog) -> None:
    data = pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "region": ["eu", None, "us", "eu", None],
        }
    )
    spec = TableWrite("bronze.nulls", WriteMode.APPEND, partition_by=("region",))
    result = write_table(catalog, spec, [data])
    assert result.files_written == 3
    table = catalog.load_table("bronze.nulls")
    parts = sorted(
        ((t.file.partition[0] or ""), t.file.record_count) for t in table.scan().plan_files()
    )
    assert parts == [("", 2), ("eu", 2), ("us", 1)]
    assert _sorted(table.scan().to_arrow()) == _sorted(data)
