"""Merge-on-read into partitioned tables: keys that move between partitions, pruning, specs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from floe_core import MergeStrategy, WriteMode
from floe_iceberg import TableWrite, write_table
from floe_iceberg._pyiceberg import split_by_partition

UTC = dt.UTC


def _spec(table: str, strategy: MergeStrategy, partition_by: tuple[str, ...] = ()) -> TableWrite:
    return TableWrite(
        table,
        WriteMode.MERGE,
        primary_key=("id",),
        merge_strategy=strategy,
        partition_by=partition_by,
    )


def _rows(ids: list[int], regions: list[str], tag: str, day: int = 1) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "region": pa.array(regions, pa.string()),
            "ts": pa.array(
                [dt.datetime(2026, 1, day + i % 3, tzinfo=UTC) for i in ids],
                pa.timestamp("us", "UTC"),
            ),
            "v": pa.array([None if i % 5 == 0 else f"{tag}{i}" for i in ids], pa.string()),
        }
    )


def _scan(catalog: Catalog, name: str) -> list[dict[str, object]]:
    rows = catalog.load_table(name).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: r["id"])  # type: ignore[arg-type,return-value]


def _deletes_keep_their_partition(table: Table) -> int:
    """Check each delete file's partition is its data file's; return how many there are."""
    data = {t.file.file_path: (t.file.spec_id, t.file.partition) for t in table.scan().plan_files()}
    entries = [
        e.data_file
        for m in table.current_snapshot().manifests(table.io)  # type: ignore[union-attr]
        for e in m.fetch_manifest_entry(table.io, discard_deleted=True)
        if e.data_file.content.value == 1
    ]
    for delete_file in entries:
        with table.io.new_input(delete_file.file_path).open() as stream:
            (target,) = set(pq.read_table(stream)["file_path"].to_pylist())
        assert (delete_file.spec_id, delete_file.partition) == data[target]
    return len(entries)


def _eu_us(ids: list[int], us: set[int]) -> list[str]:
    return ["us" if i in us else "eu" for i in ids]


MOVES = [
    _rows(list(range(20)), _eu_us(list(range(20)), {1, 3, 5}), "a"),
    _rows([2, 4, 6, 30], _eu_us([2, 4, 6, 30], {2, 4, 30}), "b"),  # 2, 4 move eu -> us
    _rows([2, 3], _eu_us([2, 3], set()), "c"),  # 2 moves back, 3 moves us -> eu
    pa.concat_tables(  # within one load: 7 arrives in eu, then in us (the us row wins)
        [_rows([7, 8], ["eu", "eu"], "d"), _rows([7, 31], ["us", "eu"], "e")]
    ),
]


@pytest.mark.parametrize(
    "partition_by",
    [("region",), ("day(ts)",), ("region", "bucket(2, id)")],
    ids=["identity", "day", "two-fields"],
)
def test_keys_moving_between_partitions_read_back_as_copy_on_write(
    sql_catalog: Catalog, table_name: str, partition_by: tuple[str, ...]
) -> None:
    cow, mor, pcow = f"{table_name}_cow", f"{table_name}_mor", f"{table_name}_pcow"
    for day, rows in enumerate(MOVES, start=1):
        rows = rows.set_column(
            2,
            "ts",
            pa.array(
                [dt.datetime(2026, 1, day + i % 2, tzinfo=UTC) for i in rows["id"].to_pylist()],
                pa.timestamp("us", "UTC"),
            ),
        )  # each load's rows land on other days: a key's day changes too
        write_table(sql_catalog, _spec(cow, MergeStrategy.COPY_ON_WRITE), [rows])
        write_table(sql_catalog, _spec(mor, MergeStrategy.MERGE_ON_READ, partition_by), [rows])
        # copy-on-write into the partitioned table too: its rewrites keep their partitions
        write_table(sql_catalog, _spec(pcow, MergeStrategy.COPY_ON_WRITE, partition_by), [rows])
        assert _scan(sql_catalog, mor) == _scan(sql_catalog, cow)
        assert _scan(sql_catalog, pcow) == _scan(sql_catalog, cow)
    table = sql_catalog.load_table(mor)
    assert len(table.spec().fields) == len(partition_by)
    rewritten = sql_catalog.load_table(pcow)
    assert rewritten.inspect.delete_files().num_rows == 0
    for task in rewritten.scan().plan_files():  # every rewritten file is in its rows' partition
        with rewritten.io.new_input(task.file.file_path).open() as stream:
            rows = pa.Table.from_batches(pq.read_table(stream).to_batches())
        parts = split_by_partition(rewritten.spec(), rewritten.schema(), rows)
        assert {key.partition for key, _ in parts} == {task.file.partition}
    final = {r["id"]: (r["region"], r["v"]) for r in _scan(sql_catalog, mor)}
    assert final[2] == ("eu", "c2") and final[3] == ("eu", "c3") and final[7] == ("us", "e7")
    assert _deletes_keep_their_partition(table) >= 3


def test_a_key_that_fixes_the_partition_prunes_candidates_by_partition(
    sql_catalog: Catalog, table_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cow, mor = f"{table_name}_cow", f"{table_name}_mor"
    first = _rows(list(range(40)), ["eu"] * 40, "a")
    change = _rows([3, 17, 100], ["eu"] * 3, "b")
    for name, strategy, spec in (
        (cow, MergeStrategy.COPY_ON_WRITE, ()),
        (mor, MergeStrategy.MERGE_ON_READ, ("bucket(8, id)",)),
    ):
        write_table(sql_catalog, _spec(name, strategy, spec), [first])
        capsys.readouterr()
        write_table(sql_catalog, _spec(name, strategy, spec), [change])
    planned = [
        line for line in capsys.readouterr().out.splitlines() if "merge_on_read_planned" in line
    ]
    assert _scan(sql_catalog, mor) == _scan(sql_catalog, cow)
    table = sql_catalog.load_table(mor)
    buckets = {t.file.partition[0] for t in table.scan().plan_files()}
    assert len(buckets) == 8
    (line,) = planned
    assert "partition_pruned=True" in line
    # key stats alone leave every bucket (ids 3..100 span them all); the partitions of the
    # incoming rows leave at most their three buckets
    candidates = int(line.split("candidates=")[1].split()[0])
    assert 1 <= candidates <= 3
    assert 1 <= _deletes_keep_their_partition(table) <= 2  # 3 and 17 may share a bucket
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert summary is not None and summary["total-position-deletes"] == "2"


def test_deletes_into_files_of_an_older_spec_keep_that_spec(
    sql_catalog: Catalog, table_name: str
) -> None:
    cow, mor = f"{table_name}_cow", f"{table_name}_mor"
    loads = [
        (MOVES[0], ("region",)),
        (MOVES[1], ("day(ts)",)),  # the spec evolves in this merge's commit
        (MOVES[2], ("day(ts)",)),
    ]
    for rows, partition_by in loads:
        write_table(sql_catalog, _spec(cow, MergeStrategy.COPY_ON_WRITE), [rows])
        write_table(sql_catalog, _spec(mor, MergeStrategy.MERGE_ON_READ, partition_by), [rows])
        assert _scan(sql_catalog, mor) == _scan(sql_catalog, cow)
    table = sql_catalog.load_table(mor)
    spec_ids = {t.file.spec_id for t in table.scan().plan_files()}
    assert len(spec_ids) == 2
    assert _deletes_keep_their_partition(table) >= 2


_SOURCES = {
    "d": pa.array([dt.date(2026, 1, 1 + i % 3) for i in range(12)], pa.date32()),
    "ts": pa.array(
        [dt.datetime(2026, 1, 1, i % 3, tzinfo=UTC) for i in range(12)], pa.timestamp("us", "UTC")
    ),
    "s": pa.array([f"k{i % 3}" for i in range(12)]),
    "dec": pa.array([Decimal(f"{i % 3}.50") for i in range(12)], pa.decimal128(10, 2)),
    "b": pa.array([i % 2 == 0 for i in range(12)]),
}


@pytest.mark.parametrize(
    ("column", "transform"),
    [
        ("d", "d"),
        ("ts", "ts"),
        ("s", "s"),
        ("dec", "dec"),
        ("b", "b"),
        ("ts", "day(ts)"),
        ("ts", "hour(ts)"),
        ("d", "month(d)"),
        ("s", "truncate(1, s)"),
        ("dec", "bucket(3, dec)"),
    ],
)
def test_pruning_by_partition_matches_committed_partitions_of_every_type(
    sql_catalog: Catalog, table_name: str, column: str, transform: str
) -> None:
    """The incoming files' partition tuples equal those read from the manifests, per type."""
    base = pa.table(
        {"id": pa.array(range(12), pa.int64()), column: _SOURCES[column], "v": ["a"] * 12}
    )
    spec = TableWrite(
        table_name,
        WriteMode.MERGE,
        primary_key=("id", column),  # the key fixes the partition: candidates are pruned
        merge_strategy=MergeStrategy.MERGE_ON_READ,
        partition_by=(transform,),
    )
    write_table(sql_catalog, spec, [base])
    write_table(sql_catalog, spec, [base.slice(2, 3).set_column(2, "v", pa.array(["z"] * 3))])
    rows = sql_catalog.load_table(table_name).scan().to_arrow().to_pylist()
    assert len(rows) == 12
    assert sorted(r["id"] for r in rows if r["v"] == "z") == [2, 3, 4]
