"""Merge-on-read: position delete files instead of rewrites, read back like copy-on-write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.manifest import DataFileContent, ManifestContent
from pyiceberg.table import Table

from floe_core import ErrorCode, MergeStrategy, PipelineConfigurationError, WriteMode
from floe_iceberg import (
    FileSet,
    LoadPlan,
    TableWrite,
    commit_load,
    plan_load,
    write_files,
    write_table,
)

UTC = dt.UTC
MOR = MergeStrategy.MERGE_ON_READ


def _merge(table: str, strategy: MergeStrategy, **kw: object) -> TableWrite:
    return TableWrite(
        table,
        WriteMode.MERGE,
        primary_key=("id",),
        merge_strategy=strategy,
        **kw,  # type: ignore[arg-type]
    )


def _rows(table: pa.Table, keys: Sequence[str] = ("id",)) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: tuple(r[k] for k in keys))  # type: ignore[misc]


def _scan(catalog: Catalog, name: str) -> list[dict[str, object]]:
    return _rows(catalog.load_table(name).scan().to_arrow())


def _batch(ids: list[int], tag: str, *, region: str | None = "eu") -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array([None if i % 3 == 0 else f"{tag}{i}" for i in ids], pa.string()),
            "amount": pa.array([None if i % 4 == 0 else i * 1.5 for i in ids], pa.float64()),
            "ts": pa.array(
                [dt.datetime(2026, 1, 1 + i % 5, tzinfo=UTC) for i in ids],
                pa.timestamp("us", "UTC"),
            ),
            "region": pa.array([region] * len(ids), pa.string()),
        }
    )


def _data_paths(table: Table) -> set[str]:
    return {t.file.file_path for t in table.scan().plan_files()}


def _delete_files(table: Table) -> list[dict[str, object]]:
    return table.inspect.delete_files().select(["file_path", "record_count", "content"]).to_pylist()


def _files_on_disk(table: Table) -> set[str]:
    folder = Path(unquote(urlparse(table.location()).path)) / "data"
    return {p.name for p in folder.rglob("*.parquet")}


MERGES = [
    _batch(list(range(0, 40)), "a"),  # the first load creates the table
    _batch([3, 5, 7, 40, 41], "b"),  # updates and new keys
    _batch([5, 7, 42], "c"),  # 5 and 7 updated twice: their b rows are deleted, not a again
    _batch([5], "d"),  # and a third time
    pa.concat_tables([_batch([1, 2], "e"), _batch([2, 1, 43], "f")]),  # duplicates: last wins
]


def test_merges_in_a_row_read_back_exactly_as_copy_on_write(
    sql_catalog: Catalog, table_name: str
) -> None:
    cow, mor = f"{table_name}_cow", f"{table_name}_mor"
    for rows in MERGES:
        a = write_table(sql_catalog, _merge(cow, MergeStrategy.COPY_ON_WRITE), [rows])
        b = write_table(sql_catalog, _merge(mor, MOR), [rows], target_file_rows=3)
        assert _scan(sql_catalog, mor) == _scan(sql_catalog, cow)
        assert (b.rows_loaded, b.rows_discarded) == (a.rows_loaded, a.rows_discarded)
    table = sql_catalog.load_table(mor)
    assert table.format_version == 2
    rows = {r["id"]: r for r in _scan(sql_catalog, mor)}
    assert rows[5]["name"] == "d5" and rows[7]["name"] == "c7" and rows[1]["name"] == "f1"
    assert rows[3]["name"] is None and rows[4]["amount"] is None  # nulls stay nulls
    assert len(rows) == 44
    deletes = _delete_files(table)
    assert deletes and all(d["content"] == DataFileContent.POSITION_DELETES for d in deletes)
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    # every row replaced once per version: 3+2 (b), 2 (c), 1 (d), 2 (e/f) positions in total
    assert snapshot.summary["total-position-deletes"] == str(3 + 2 + 1 + 2)
    assert snapshot.summary["total-records"] == str(44 + 3 + 2 + 1 + 2)


def test_a_small_merge_rewrites_no_existing_file_and_writes_in_proportion(
    sql_catalog: Catalog, table_name: str
) -> None:
    cow, mor = f"{table_name}_cow", f"{table_name}_mor"
    base = _batch(list(range(4000)), "a")
    change = _batch([10, 1500, 3999, 5000], "z")  # three files hit, one new key
    for name, strategy in ((cow, MergeStrategy.COPY_ON_WRITE), (mor, MOR)):
        write_table(sql_catalog, _merge(name, strategy), [base], target_file_rows=1000)
    before = sql_catalog.load_table(mor)
    old_files = _data_paths(before)
    cow_result = write_table(sql_catalog, _merge(cow, MergeStrategy.COPY_ON_WRITE), [change])
    mor_result = write_table(sql_catalog, _merge(mor, MOR), [change])

    after = sql_catalog.load_table(mor)
    assert _scan(sql_catalog, mor) == _scan(sql_catalog, cow)
    assert old_files < _data_paths(after)  # every old data file is still live
    assert len(_data_paths(after) - old_files) == 1
    assert (mor_result.files_written, mor_result.delete_files_written) == (1, 3)
    assert cow_result.files_written == 4  # the change and three rewritten 1000-row files
    snapshot = after.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    summary = snapshot.summary
    assert summary.operation.value == "overwrite"
    assert "deleted-data-files" not in summary.additional_properties
    assert summary["added-data-files"] == "1" and summary["added-position-delete-files"] == "3"
    assert summary["added-position-deletes"] == "3"
    manifests = snapshot.manifests(after.io)
    assert sum(m.content == ManifestContent.DELETES for m in manifests) == 1
    # what merge-on-read wrote is the change's file and three 3-row delete files, no more
    added = [
        e for e in after.inspect.entries().to_pylist() if e["snapshot_id"] == snapshot.snapshot_id
    ]
    assert mor_result.bytes_written == sum(e["data_file"]["file_size_in_bytes"] for e in added)
    assert mor_result.bytes_written * 3 < cow_result.bytes_written


def test_a_failed_commit_leaves_the_table_and_its_folder_as_they_were(
    sql_catalog: Catalog, table_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.exceptions import CommitFailedException

    write_table(sql_catalog, _merge(table_name, MOR), [MERGES[0]])
    table = sql_catalog.load_table(table_name)
    rows, files = _scan(sql_catalog, table_name), _files_on_disk(table)
    snapshot = table.current_snapshot()

    def refuse(*args: object, **kwargs: object) -> None:
        raise CommitFailedException("a concurrent commit won")

    monkeypatch.setattr(SqlCatalog, "commit_table", refuse)
    with pytest.raises(CommitFailedException):
        write_table(sql_catalog, _merge(table_name, MOR), [MERGES[1]])
    monkeypatch.undo()
    table = sql_catalog.load_table(table_name)
    assert table.current_snapshot() == snapshot
    assert _scan(sql_catalog, table_name) == rows
    assert _files_on_disk(table) == files  # the new data file and the delete file are gone


def test_a_load_with_state_commits_on_its_version_or_fails(
    sql_catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.exceptions import CommitFailedException

    spec = _merge(table_name, MOR, state_key="k")
    write_table(sql_catalog, spec, [MERGES[0]], state=lambda: {"cursor": 1})

    def another_load_lands_first() -> dict[str, object]:
        write_table(sql_catalog, spec, [MERGES[2]], state=lambda: {"cursor": 3})
        return {"cursor": 2}

    with pytest.raises(CommitFailedException):
        write_table(sql_catalog, spec, [MERGES[1]], state=another_load_lands_first)
    expected = {r["id"]: r for r in _rows(MERGES[0])} | {r["id"]: r for r in _rows(MERGES[2])}
    assert _scan(sql_catalog, table_name) == _rows(pa.Table.from_pylist(list(expected.values())))


def test_a_v1_table_is_upgraded_to_v2_in_the_merge_commit(
    sql_catalog: Catalog, table_name: str
) -> None:
    namespace = table_name.rpartition(".")[0]
    sql_catalog.create_namespace_if_not_exists(namespace)
    first = MERGES[0]
    sql_catalog.create_table(table_name, schema=first.schema, properties={"format-version": "1"})
    sql_catalog.load_table(table_name).append(first)
    assert sql_catalog.load_table(table_name).format_version == 1
    write_table(sql_catalog, _merge(table_name, MOR), [MERGES[1]])
    table = sql_catalog.load_table(table_name)
    assert table.format_version == 2
    expected = {r["id"]: r for r in _rows(first)} | {r["id"]: r for r in _rows(MERGES[1])}
    assert _scan(sql_catalog, table_name) == _rows(pa.Table.from_pylist(list(expected.values())))
    assert len(_delete_files(table)) == 1


def test_merge_on_read_needs_merge(sql_catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, merge_strategy=MOR)
    with pytest.raises(PipelineConfigurationError) as info:
        write_table(sql_catalog, spec, [MERGES[0]])
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "merge_strategy" in info.value.message and "'append'" in info.value.message
    assert not sql_catalog.table_exists(table_name)


def test_the_two_phase_path_merges_on_read_like_one_worker(
    sql_catalog: Catalog, table_name: str
) -> None:
    single, parted = f"{table_name}_one", f"{table_name}_parts"
    parts = [_batch([1, 2, 50], "p"), _batch([2, 3, 51], "q")]  # 2 in both: the later part wins
    for name in (single, parted):
        write_table(sql_catalog, _merge(name, MOR), [MERGES[0]])
    write_table(sql_catalog, _merge(single, MOR), parts)
    plan = LoadPlan.from_json(plan_load(sql_catalog, _merge(parted, MOR)).to_json())
    assert plan.merge_on_read
    sets = [
        FileSet.from_json(
            write_files(sql_catalog, plan, [rows], part=n, target_file_rows=2).to_json()
        )
        for n, rows in enumerate(parts)
    ]
    result = commit_load(sql_catalog, plan, sets)
    assert _scan(sql_catalog, parted) == _scan(sql_catalog, single)
    assert {r["id"]: r["name"] for r in _scan(sql_catalog, parted)}[2] == "q2"
    assert result.rows_discarded == 1 and result.delete_files_written >= 1
    table = sql_catalog.load_table(parted)
    assert len(_data_paths(table)) == 1 + result.files_written  # nothing old was rewritten


def test_switching_strategy_on_a_table_keeps_the_rows_right(
    sql_catalog: Catalog, table_name: str
) -> None:
    cow, mixed = f"{table_name}_cow", f"{table_name}_mixed"
    strategies = [MOR, MOR, MergeStrategy.COPY_ON_WRITE, MOR, MergeStrategy.COPY_ON_WRITE]
    for rows, strategy in zip(MERGES, strategies, strict=True):
        write_table(sql_catalog, _merge(cow, MergeStrategy.COPY_ON_WRITE), [rows])
        write_table(sql_catalog, _merge(mixed, strategy), [rows], target_file_rows=7)
        assert _scan(sql_catalog, mixed) == _scan(sql_catalog, cow)
