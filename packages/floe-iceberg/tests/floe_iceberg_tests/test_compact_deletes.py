"""Compaction folds merge-on-read's position deletes back into data files.

A merge-on-read table after several merges (keys updated twice: deletes of deletes) is
compacted by ``maintain_table``: every data file a delete applies to is rewritten with its
deletes applied, the delete files go in the same ``replace`` snapshot, and pyiceberg and DuckDB
read exactly the rows they read before. The rules of which delete files may go are tested on
their own below (a delete file naming a file that is not rewritten stays).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestEntry,
    ManifestEntryStatus,
)

from floe_core import CatalogConfig, MergeStrategy, WriteMode
from floe_core.maintenance import MaintenanceConfig
from floe_iceberg import TableWrite, maintain_table, read_state, write_table
from floe_iceberg._compact import live_files
from floe_iceberg._deletes import FILE_PATH_ID
from floe_iceberg._fold import match_deletes, referenced_paths
from floe_testing.readback import read_with_duckdb

from ._maintenance_helpers import source_rows

KEY = "k"


def _rows(table: pa.Table) -> list[dict[str, object]]:
    return table.sort_by("id").to_pylist()  # type: ignore[no-any-return]


def _changes(ids: list[int], tag: str) -> pa.Table:
    rows = pa.concat_tables([source_rows(i, i + 1) for i in ids])
    return rows.set_column(1, "name", pa.array([f"{tag}{i}" for i in ids]))


def _live(catalog: Catalog, table: str) -> tuple[list[DataFile], list[DataFile]]:
    loaded = catalog.load_table(table)
    files = live_files(loaded.metadata, loaded)
    data = [f for f in files if f.content == DataFileContent.DATA]
    return data, [f for f in files if f.content != DataFileContent.DATA]


def _merge_on_read_table(catalog: Catalog, table: str) -> None:
    """400 rows in 4 files, then 3 merges touching ids < 200 only (files 3 and 4 untouched)."""
    spec = TableWrite(
        table,
        WriteMode.MERGE,
        primary_key=("id",),
        merge_strategy=MergeStrategy.MERGE_ON_READ,
        state_key=KEY,
    )
    write_table(catalog, spec, [source_rows(0, 400)], target_file_rows=100, state=lambda: {"n": 0})
    changes = [
        _changes([*range(0, 200, 7), *range(400, 410)], "a"),
        _changes([*range(0, 200, 14), *range(400, 405)], "b"),  # keys of the first, again
        _changes([7, 400, 150], "c"),  # a third version
    ]
    for number, change in enumerate(changes, 1):
        write_table(catalog, spec, [change], target_file_rows=100, state=lambda n=number: {"n": n})


def test_compaction_folds_every_delete_file_and_keeps_the_rows(
    catalog: Catalog, catalog_config: CatalogConfig, table_name: str
) -> None:
    _merge_on_read_table(catalog, table_name)
    data_before, deletes_before = _live(catalog, table_name)
    assert len(deletes_before) >= 3  # one per data file hit per merge
    base_paths = sorted(f.file_path for f in data_before)
    table = catalog.load_table(table_name)
    rows_before = _rows(table.scan().to_arrow())
    assert len(rows_before) == 410
    untouched = {t.file.file_path for t in table.scan().plan_files() if not t.delete_files}

    # no file is "small": only the files deletes apply to are rewritten
    result = maintain_table(catalog, table_name, MaintenanceConfig(small_file_threshold_bytes=1))

    assert result.compaction_skipped is None and result.compaction_snapshot_id is not None
    data_after, deletes_after = _live(catalog, table_name)
    assert deletes_after == []
    assert untouched <= {f.file_path for f in data_after}  # files without deletes stay
    assert result.files_compacted == len(base_paths) - len(untouched)
    table = catalog.load_table(table_name)
    assert _rows(table.scan().to_arrow()) == rows_before
    if catalog_config.type == "sql":  # DuckDB reads local tables (no S3 keys given to it)
        assert sorted(_rows(read_with_duckdb(table)), key=lambda r: r["id"]) == rows_before  # type: ignore[arg-type, return-value]
    summary = table.current_snapshot().summary
    assert summary is not None and summary.operation.value == "replace"
    assert summary.get("total-delete-files") == "0"
    assert summary.get("total-position-deletes") == "0"
    assert summary.get("removed-position-delete-files") == str(len(deletes_before))
    assert summary.get("total-records") == "410"
    assert read_state(catalog, table_name, KEY) == {"n": 3}
    assert {r["name"] for r in rows_before if r["id"] in (7, 400, 150)} == {"c7", "c400", "c150"}


def test_a_merge_after_compaction_still_reads_right(sql_catalog: Catalog, table_name: str) -> None:
    _merge_on_read_table(sql_catalog, table_name)
    maintain_table(sql_catalog, table_name, MaintenanceConfig())
    spec = TableWrite(
        table_name,
        WriteMode.MERGE,
        primary_key=("id",),
        merge_strategy=MergeStrategy.MERGE_ON_READ,
        state_key=KEY,
    )
    write_table(sql_catalog, spec, [_changes([7, 399], "d")], state=lambda: {"n": 4})
    table = sql_catalog.load_table(table_name)
    rows = _rows(table.scan().to_arrow())
    assert len(rows) == 410
    assert {r["id"]: r["name"] for r in rows if r["id"] in (7, 399)} == {7: "d7", 399: "d399"}
    assert sorted(_rows(read_with_duckdb(table)), key=lambda r: r["id"]) == rows  # type: ignore[arg-type, return-value]


def test_a_merge_on_read_landing_during_compaction_conflicts_and_a_rerun_folds_it(
    sql_catalog: Catalog, table_name: str
) -> None:
    from floe_core import DestinationWriteError, ErrorCode
    from floe_iceberg import _compact

    _merge_on_read_table(sql_catalog, table_name)
    table = sql_catalog.load_table(table_name)
    plan = _compact.plan_compaction(table, table_name, small_file_bytes=1 << 30)
    writer, written = _compact.write_compacted(table, plan, target_file_bytes=1 << 30)
    paths = [Path(w.data_file.file_path.removeprefix("file://")) for w in written]
    assert paths and all(p.exists() for p in paths)
    # a merge deletes rows of files being rewritten: committing would bring the old rows back
    spec = TableWrite(
        table_name, WriteMode.MERGE, primary_key=("id",), merge_strategy=MergeStrategy.MERGE_ON_READ
    )
    write_table(sql_catalog, spec, [_changes([0, 300], "e")])
    merged = _rows(sql_catalog.load_table(table_name).scan().to_arrow())

    with pytest.raises(DestinationWriteError) as caught:
        _compact.commit_compaction(
            table,
            table_name,
            plan,
            written,
            writer,
            reload=lambda: sql_catalog.load_table(table_name),
        )

    assert caught.value.code is ErrorCode.COMMIT_CONFLICT
    assert _rows(sql_catalog.load_table(table_name).scan().to_arrow()) == merged
    assert not any(p.exists() for p in paths)  # its own files were deleted
    rerun = maintain_table(sql_catalog, table_name, MaintenanceConfig())
    assert rerun.compaction_snapshot_id is not None
    assert _live(sql_catalog, table_name)[1] == []
    assert _rows(sql_catalog.load_table(table_name).scan().to_arrow()) == merged
    assert {r["id"]: r["name"] for r in merged if r["id"] in (0, 300)} == {0: "e0", 300: "e300"}


def test_delete_files_left_by_a_copy_on_write_merge_go_without_rewriting_data(
    sql_catalog: Catalog, table_name: str
) -> None:
    def merge(rows: pa.Table, strategy: MergeStrategy) -> None:
        spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",), merge_strategy=strategy)
        write_table(sql_catalog, spec, [rows])

    merge(source_rows(0, 100), MergeStrategy.COPY_ON_WRITE)
    merge(_changes([5], "m"), MergeStrategy.MERGE_ON_READ)  # a delete file naming the base file
    merge(_changes([6], "c"), MergeStrategy.COPY_ON_WRITE)  # rewrites the base file
    data_before, deletes_before = _live(sql_catalog, table_name)
    live = {f.file_path for f in data_before}
    assert deletes_before and all(
        not (referenced_paths(PyArrowFileIO(), d) & live) for d in deletes_before
    )
    rows = _rows(sql_catalog.load_table(table_name).scan().to_arrow())

    result = maintain_table(
        sql_catalog, table_name, MaintenanceConfig(small_file_threshold_bytes=1)
    )

    assert result.compaction_skipped is None and result.files_compacted == 0
    data_after, deletes_after = _live(sql_catalog, table_name)
    assert deletes_after == [] and {f.file_path for f in data_after} == live
    table = sql_catalog.load_table(table_name)
    assert _rows(table.scan().to_arrow()) == rows
    assert {r["id"]: r["name"] for r in rows if r["id"] in (5, 6)} == {5: "m5", 6: "c6"}
    again = maintain_table(sql_catalog, table_name, MaintenanceConfig(small_file_threshold_bytes=1))
    assert again.compaction_skipped == "fewer than two small files"


# --- which delete files apply where, and which may go -------------------------------------------


def _data_file(
    path: str, content: DataFileContent = DataFileContent.DATA, **kw: object
) -> DataFile:
    data_file = DataFile.from_args(
        content=content,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=None,
        record_count=1,
        file_size_in_bytes=1,
        **kw,
    )
    data_file.spec_id = 0
    return data_file


def _entry(data_file: DataFile, sequence: int) -> ManifestEntry:
    return ManifestEntry.from_args(
        status=ManifestEntryStatus.EXISTING,
        snapshot_id=1,
        sequence_number=sequence,
        file_sequence_number=sequence,
        data_file=data_file,
    )


def _scoped_delete(path: str, target: str) -> DataFile:
    bound = target.encode()
    return _data_file(
        path,
        DataFileContent.POSITION_DELETES,
        lower_bounds={FILE_PATH_ID: bound},
        upper_bounds={FILE_PATH_ID: bound},
    )


def _multi_file_delete(tmp_path: Path, targets: list[str]) -> DataFile:
    path = tmp_path / "multi-deletes.parquet"
    pq.write_table(pa.table({"file_path": targets, "pos": pa.array([0] * len(targets))}), path)
    return _data_file(
        str(path),
        DataFileContent.POSITION_DELETES,
        lower_bounds={FILE_PATH_ID: min(targets).encode()},
        upper_bounds={FILE_PATH_ID: max(targets).encode()},
    )


def test_a_delete_file_naming_a_file_not_rewritten_stays(tmp_path: Path) -> None:
    io = PyArrowFileIO()
    a, b, c = (_data_file(f"/w/data/{n}.parquet") for n in "abc")
    only_a = _scoped_delete("/w/data/d1.parquet", a.file_path)
    a_and_b = _multi_file_delete(tmp_path, [a.file_path, b.file_path])
    assert referenced_paths(io, only_a) == {a.file_path}
    assert referenced_paths(io, a_and_b) == {a.file_path, b.file_path}

    deletes = match_deletes(
        io, [_entry(f, 1) for f in (a, b, c)], [_entry(only_a, 2), _entry(a_and_b, 2)]
    )
    assert set(deletes.applied) == {a.file_path, b.file_path}
    assert deletes.applied[a.file_path] == {only_a, a_and_b}

    live = [a.file_path, b.file_path, c.file_path]
    assert deletes.removable([a.file_path], live) == [only_a]  # a_and_b still names b
    removed = deletes.removable([a.file_path, b.file_path], live)
    assert {f.file_path for f in removed} == {only_a.file_path, a_and_b.file_path}
    # a file already gone (rewritten by an earlier merge) does not keep a delete file alive
    assert {f.file_path for f in deletes.removable([a.file_path], [a.file_path])} == {
        only_a.file_path,
        a_and_b.file_path,
    }


def test_a_delete_file_never_applies_to_a_later_data_file() -> None:
    io = PyArrowFileIO()
    later = _data_file("/w/data/later.parquet")
    delete = _scoped_delete("/w/data/d.parquet", later.file_path)
    deletes = match_deletes(io, [_entry(later, 5)], [_entry(delete, 4)])
    assert deletes.applied == {}
    same = match_deletes(io, [_entry(later, 4)], [_entry(delete, 4)])
    assert same.applied == {later.file_path: {delete}}


def test_equality_deletes_are_refused_by_the_plan() -> None:
    io = PyArrowFileIO()
    equality = _data_file("/w/data/eq.parquet", DataFileContent.EQUALITY_DELETES)
    assert match_deletes(io, [], [_entry(equality, 1)]).equality == 1


@pytest.mark.parametrize("threshold", [None, 1])
def test_a_table_without_deletes_compacts_as_before(
    sql_catalog: Catalog, table_name: str, threshold: int | None
) -> None:
    for start in range(0, 300, 100):
        write_table(
            sql_catalog, TableWrite(table_name, WriteMode.APPEND), [source_rows(start, start + 100)]
        )
    result = maintain_table(
        sql_catalog, table_name, MaintenanceConfig(small_file_threshold_bytes=threshold)
    )
    if threshold == 1:
        assert result.compaction_skipped == "fewer than two small files"
    else:
        assert result.files_compacted == 3 and result.files_written == 1
