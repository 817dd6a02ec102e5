"""Compaction of partitioned tables: partition by partition, deletes folded, rows unchanged."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo
from pyiceberg.manifest import DataFileContent

from floe_core import MergeStrategy, WriteMode
from floe_core.maintenance import MaintenanceConfig
from floe_iceberg import TableWrite, maintain_table, write_table

UTC = dt.UTC
COMPACT = MaintenanceConfig.model_validate(
    {"target_file_size_bytes": 1 << 30, "snapshot_retention_days": 30, "orphan_window_days": 30}
)


def _rows(ids: list[int], region: str, tag: str) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "region": pa.array([region] * len(ids), pa.string()),
            "v": pa.array([None if i % 4 == 0 else f"{tag}{i}" for i in ids], pa.string()),
        }
    )


def _scan(catalog: Catalog, name: str) -> list[dict[str, object]]:
    rows = catalog.load_table(name).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["id"], r["region"]))  # type: ignore[arg-type,return-value]


def _files(catalog: Catalog, name: str) -> dict[DataFileContent, list[tuple[str, int]]]:
    """Live files by content: (the partition's region, rows) each."""
    table = catalog.load_table(name)
    snapshot = table.current_snapshot()
    assert snapshot is not None
    found: dict[DataFileContent, list[tuple[str, int]]] = {}
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            f = entry.data_file
            found.setdefault(f.content, []).append((f.partition[0], f.record_count))
    return found


def test_small_files_are_compacted_within_their_partition(
    sql_catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, partition_by=("region",))
    for load in range(4):  # four loads, each a small file in eu and in us
        rows = pa.concat_tables(
            [_rows([load * 10 + 1], "eu", "a"), _rows([load * 10 + 2, load * 10 + 3], "us", "a")]
        )
        write_table(sql_catalog, spec, [rows])
    write_table(sql_catalog, spec, [_rows([99], "apac", "a")])  # one file alone: stays
    before = _scan(sql_catalog, table_name)
    solo = [t.file.file_path for t in _plan(sql_catalog, table_name, "apac")]

    result = maintain_table(sql_catalog, table_name, COMPACT)

    assert result.files_compacted == 8 and result.compaction_skipped is None
    assert _scan(sql_catalog, table_name) == before
    assert sorted(_files(sql_catalog, table_name)[DataFileContent.DATA]) == [
        ("apac", 1),
        ("eu", 4),
        ("us", 8),
    ]
    # each new file holds one partition's rows: a filter on the partition plans one file
    for region, rows in (("eu", 4), ("us", 8)):
        (task,) = _plan(sql_catalog, table_name, region)
        assert task.file.partition[0] == region and task.file.record_count == rows
    assert [t.file.file_path for t in _plan(sql_catalog, table_name, "apac")] == solo

    again = maintain_table(sql_catalog, table_name, COMPACT)
    assert again.files_compacted == 0
    assert again.compaction_skipped == "fewer than two small files in any partition"


def test_merge_on_read_deletes_are_folded_partition_by_partition(
    sql_catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(
        table_name,
        WriteMode.MERGE,
        primary_key=("id", "region"),
        merge_strategy=MergeStrategy.MERGE_ON_READ,
        partition_by=("region",),
        state_key="orders",
    )
    write_table(sql_catalog, spec, [_rows(list(range(40)), "eu", "a")], state=lambda: {"c": 1})
    write_table(sql_catalog, spec, [_rows(list(range(40)), "us", "a")], state=lambda: {"c": 2})
    for n, tag in enumerate("bcd"):  # keys updated two and three times: deletes of deletes
        change = pa.concat_tables([_rows([3, 7, 50 + n], "eu", tag), _rows([5, 7], "us", tag)])
        write_table(sql_catalog, spec, [change], state=lambda n=n: {"c": 3 + n})
    assert len(_files(sql_catalog, table_name)[DataFileContent.POSITION_DELETES]) >= 4
    before = _scan(sql_catalog, table_name)
    state = sql_catalog.load_table(table_name).current_snapshot().summary["floe.state.orders"]  # type: ignore[union-attr]

    result = maintain_table(sql_catalog, table_name, COMPACT)

    assert result.compaction_skipped is None
    after = _files(sql_catalog, table_name)
    assert DataFileContent.POSITION_DELETES not in after
    assert sorted(r for r, _ in after[DataFileContent.DATA]) == ["eu", "us"]
    assert _scan(sql_catalog, table_name) == before
    assert len(before) == 83 and {r["v"] for r in before if r["id"] == 7} == {"d7"}
    summary = sql_catalog.load_table(table_name).current_snapshot().summary  # type: ignore[union-attr]
    assert summary is not None and summary["floe.state.orders"] == state


def _plan(catalog: Catalog, name: str, region: str) -> list[object]:
    return list(catalog.load_table(name).scan(row_filter=EqualTo("region", region)).plan_files())
