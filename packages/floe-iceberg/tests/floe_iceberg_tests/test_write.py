"""append / replace / merge against every catalog, one snapshot per load, failures leave nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError, ValidationException

from floe_core import CatalogConfig, WriteMode
from floe_iceberg import TableWrite, read_state, read_table_state, write_table


def _rows(catalog: Catalog, table: str, *columns: str) -> list[tuple[object, ...]]:
    data = catalog.load_table(table).scan().to_arrow()
    names = columns or tuple(data.column_names)
    return sorted(zip(*(data[c].to_pylist() for c in names), strict=True), key=repr)


def _snapshots(catalog: Catalog, table: str) -> int:
    return len(catalog.load_table(table).snapshots())


def _parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def _s3(config: CatalogConfig) -> pafs.S3FileSystem:
    """The S3 server behind a REST catalog's FileIO properties."""
    props = config.properties
    return pafs.S3FileSystem(
        access_key=props["s3.access-key-id"],
        secret_key=props["s3.secret-access-key"],
        endpoint_override=props["s3.endpoint"],
        region=props["s3.region"],
        force_virtual_addressing=False,
    )


def _stored_parquet(config: CatalogConfig, location: str) -> list[str]:
    """Every Parquet file under a table location, on local disk or on the S3 server."""
    if config.type == "sql":
        return [str(p) for p in _parquet_files(Path(location))]
    s3 = _s3(config)
    selector = pafs.FileSelector(
        location.removeprefix("s3://"), recursive=True, allow_not_found=True
    )
    return sorted(i.path for i in s3.get_file_info(selector) if i.path.endswith(".parquet"))


class Boom(RuntimeError):
    pass


def _failing(after: int) -> Iterator[pa.RecordBatch]:
    for i in range(after):
        yield pa.record_batch({"id": [i * 10 + 1, i * 10 + 2], "name": ["a", "b"]})
    raise Boom("source died mid-stream")


def test_append_twice(catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND)
    first = write_table(catalog, spec, [pa.table({"id": [1, 2], "name": ["a", "b"]})])
    second = write_table(
        catalog,
        spec,
        (pa.record_batch({"id": [i], "name": [f"n{i}"]}) for i in (3, 4, 5)),
    )

    assert (first.rows_loaded, second.rows_loaded) == (2, 3)
    assert first.files_written == second.files_written == 1
    assert second.bytes_written > 0
    assert _rows(catalog, table_name, "id", "name") == [
        (1, "a"),
        (2, "b"),
        (3, "n3"),
        (4, "n4"),
        (5, "n5"),
    ]
    table = catalog.load_table(table_name)
    assert [s.snapshot_id for s in table.snapshots()] == [first.snapshot_id, second.snapshot_id]
    assert table.current_snapshot().summary["floe.rows-loaded"] == "3"
    assert table.properties["write.metadata.delete-after-commit.enabled"] == "true"


def test_replace_is_one_overwrite(catalog: Catalog, table_name: str) -> None:
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})],
    )
    result = write_table(
        catalog,
        TableWrite(table_name, WriteMode.REPLACE),
        [pa.table({"id": [7], "name": ["z"]}), pa.table({"id": [8], "name": ["y"]})],
    )

    assert result.rows_loaded == 2
    assert _rows(catalog, table_name, "id", "name") == [(7, "z"), (8, "y")]
    table = catalog.load_table(table_name)
    assert len(table.snapshots()) == 2
    assert table.current_snapshot().summary.operation.value == "overwrite"


def test_replace_with_no_rows_truncates(catalog: Catalog, table_name: str) -> None:
    write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1, 2]})])
    result = write_table(catalog, TableWrite(table_name, WriteMode.REPLACE), [])

    assert result.snapshot_id is not None
    assert _rows(catalog, table_name) == []
    assert _snapshots(catalog, table_name) == 2


def test_merge_updates_inserts_dedupes_and_adds_a_column(catalog: Catalog, table_name: str) -> None:
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [pa.table({"id": [1, 2, 3, 4], "name": ["a", "b", "c", "d"]})],
    )
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",))
    batches = [
        pa.record_batch({"id": [2, 5], "name": ["B", "e"]}),
        pa.record_batch({"id": [5, 6], "name": ["E", "f"], "score": [1.5, 2.5]}),  # new column
        pa.record_batch({"id": [6, 4], "name": ["F", "D"], "score": [3.5, None]}),
    ]
    # one row per file: duplicates are spread across files and must be resolved at the end
    result = write_table(catalog, spec, batches, target_file_rows=2)

    assert _rows(catalog, table_name, "id", "name", "score") == [
        (1, "a", None),
        (2, "B", None),
        (3, "c", None),
        (4, "D", None),
        (5, "E", 1.5),
        (6, "F", 3.5),
    ]
    assert result.rows_loaded == 4  # 2, 5, 6, 4 after dedupe
    assert result.rows_discarded == 2  # the superseded 5 and 6
    assert _snapshots(catalog, table_name) == 2
    field = catalog.load_table(table_name).schema().find_field("score")
    assert str(field.field_type) == "double"


def test_merge_into_a_new_table_and_again(catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",))
    write_table(catalog, spec, [pa.table({"id": [1, 1, 2], "v": [10, 11, 20]})])
    write_table(catalog, spec, [pa.table({"id": [2, 3], "v": [21, 30]})])

    assert _rows(catalog, table_name, "id", "v") == [(1, 11), (2, 21), (3, 30)]
    assert _snapshots(catalog, table_name) == 2


def test_merge_with_composite_key(sql_catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("region", "id"))
    write_table(
        sql_catalog,
        spec,
        [pa.table({"region": ["eu", "eu", "us"], "id": [1, 2, 1], "v": ["a", "b", "c"]})],
    )
    write_table(
        sql_catalog,
        spec,
        [pa.table({"region": ["us", "eu", "us"], "id": [1, 3, 2], "v": ["C", "d", "e"]})],
    )

    assert _rows(sql_catalog, table_name, "region", "id", "v") == [
        ("eu", 1, "a"),
        ("eu", 2, "b"),
        ("eu", 3, "d"),
        ("us", 1, "C"),
        ("us", 2, "e"),
    ]


def test_merge_rewrites_only_files_with_hits(sql_catalog: Catalog, table_name: str) -> None:
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [pa.table({"id": list(range(100)), "v": ["old"] * 100})],
        target_file_rows=25,  # four files: ids 0-24, 25-49, 50-74, 75-99
    )
    before = {f.file.file_path for f in sql_catalog.load_table(table_name).scan().plan_files()}
    assert len(before) == 4
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.MERGE, primary_key=("id",)),
        [pa.table({"id": [30, 31, 200], "v": ["new", "new", "new"]})],
    )

    table = sql_catalog.load_table(table_name)
    after = {f.file.file_path for f in table.scan().plan_files()}
    assert len(before - after) == 1  # only the 25-49 file was rewritten
    data = table.scan().to_arrow()
    assert data.num_rows == 101
    changed = data.filter(pa.compute.equal(data["v"], "new"))["id"].to_pylist()
    assert sorted(changed) == [30, 31, 200]


def test_merge_without_key_column_in_data_is_a_config_error(
    sql_catalog: Catalog, table_name: str
) -> None:
    from floe_core import ErrorCategory, PipelineConfigurationError

    with pytest.raises(PipelineConfigurationError) as info:
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.MERGE, primary_key=("key",)),
            [pa.table({"id": [1]})],
        )
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert "key" in info.value.message
    with pytest.raises(NoSuchTableError):
        sql_catalog.load_table(table_name)


def test_failure_mid_stream_leaves_no_table_and_no_files(
    catalog_config: CatalogConfig, catalog: Catalog, table_name: str
) -> None:
    namespace = table_name.split(".")[0]
    if catalog_config.type == "sql":
        root = catalog_config.warehouse or ""
    else:  # SeaweedFS puts tables at s3://<table bucket>/<namespace>/<table>
        root = f"s3://{catalog_config.warehouse}/{namespace}"
    with pytest.raises(Boom):
        write_table(
            catalog,
            TableWrite(table_name, WriteMode.APPEND, state_key="k"),
            _failing(after=2),
            target_file_rows=2,  # files were already written when the source died
            state=lambda: {"cursor": 99},
        )

    with pytest.raises(NoSuchTableError):
        catalog.load_table(table_name)
    assert _stored_parquet(catalog_config, root) == []
    assert read_state(catalog, table_name, "k") is None
    # the same load succeeding puts its files exactly where the failed one was looked for
    write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1]})])
    assert len(_stored_parquet(catalog_config, root)) == 1


def test_failure_mid_stream_leaves_existing_table_unchanged(
    catalog_config: CatalogConfig, catalog: Catalog, table_name: str
) -> None:
    first = write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, state_key="k"),
        [pa.table({"id": [1], "name": ["x"]})],
        state=lambda: {"cursor": 1},
    )
    location = catalog.load_table(table_name).location()
    files_before = _stored_parquet(catalog_config, location)
    assert len(files_before) == 1
    for mode in (WriteMode.APPEND, WriteMode.REPLACE):
        with pytest.raises(Boom):
            write_table(
                catalog,
                TableWrite(table_name, mode, state_key="k"),
                _failing(after=2),
                target_file_rows=2,
                state=lambda: {"cursor": 2},
            )
    with pytest.raises(Boom):
        write_table(
            catalog,
            TableWrite(table_name, WriteMode.MERGE, primary_key=("id",), state_key="k"),
            _failing(after=2),
            target_file_rows=2,
        )

    table = catalog.load_table(table_name)
    assert [s.snapshot_id for s in table.snapshots()] == [first.snapshot_id]
    assert _rows(catalog, table_name, "id", "name") == [(1, "x")]
    assert read_state(catalog, table_name, "k") == {"cursor": 1}
    assert _stored_parquet(catalog_config, location) == files_before


def test_failed_commit_deletes_its_files(
    embedded_catalog: CatalogConfig, sql_catalog: Catalog, table_name: str
) -> None:
    """A concurrent writer wins between our files and our commit: replace must not land."""
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1]})])

    def concurrent_append() -> None:
        sql_catalog.load_table(table_name).append(pa.table({"id": [2]}))
        return None

    with pytest.raises(ValidationException):
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.REPLACE),
            [pa.table({"id": [3]})],
            state=concurrent_append,
        )

    assert _rows(sql_catalog, table_name) == [(1,), (2,)]
    assert _snapshots(sql_catalog, table_name) == 2
    assert len(_parquet_files(Path(embedded_catalog.warehouse or ""))) == 2


def test_empty_load_commits_nothing(catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="k")
    assert write_table(catalog, spec, []).snapshot_id is None
    with pytest.raises(NoSuchTableError):
        catalog.load_table(table_name)

    write_table(catalog, spec, [pa.table({"id": [1]})], state=lambda: {"c": 1})
    unchanged = write_table(
        catalog, spec, [pa.table({"id": pa.array([], pa.int64())})], state=lambda: {"c": 1}
    )
    assert unchanged.snapshot_id is None
    assert _snapshots(catalog, table_name) == 1


def test_state_round_trip_and_carry_forward(catalog: Catalog, table_name: str) -> None:
    cursor = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, state_key="orders"),
        [pa.table({"id": [1]})],
        state=lambda: {"last_value": cursor, "note": "ünïcode"},
    )
    assert read_state(catalog, table_name, "orders") == {"last_value": cursor, "note": "ünïcode"}
    assert read_state(catalog, table_name, "other") is None
    assert read_state(catalog, "floe_nothing_here.t", "orders") is None

    # a load without a state key (replace) leaves the key alone; loads of the key without new
    # state (merge with None, append with the same state) carry the stored value forward, so
    # every snapshot of the key holds its state (expiring older snapshots cannot lose it)
    write_table(catalog, TableWrite(table_name, WriteMode.REPLACE), [pa.table({"id": [2]})])
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.MERGE, primary_key=("id",), state_key="orders"),
        [pa.table({"id": [2]})],
        state=lambda: None,
    )
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, state_key="orders"),
        [pa.table({"id": [4]})],
        state=lambda: {"note": "ünïcode", "last_value": cursor},  # equal, in another order
    )
    table = catalog.load_table(table_name)
    summaries = [s.summary.additional_properties for s in table.snapshots()]
    assert ["floe.state.orders" in s for s in summaries] == [True, False, True, True]
    assert len({s["floe.state.orders"] for s in summaries if "floe.state.orders" in s}) == 1
    assert read_state(catalog, table_name, "orders") == {"last_value": cursor, "note": "ünïcode"}
    assert _rows(catalog, table_name) == [(2,), (4,)]

    # another state key on the same table does not disturb the first
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, state_key="refunds"),
        [pa.table({"id": [3]})],
        state=lambda: {"last_value": 5},
    )
    assert read_state(catalog, table_name, "refunds") == {"last_value": 5}
    assert read_state(catalog, table_name, "orders") == {"last_value": cursor, "note": "ünïcode"}


def test_state_is_read_after_the_batches(sql_catalog: Catalog, table_name: str) -> None:
    seen: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(3):
            seen.append(i)
            yield pa.record_batch({"id": [i]})

    def state() -> dict[str, object]:
        return {"batches_seen": len(seen)}

    write_table(
        sql_catalog, TableWrite(table_name, WriteMode.APPEND, state_key="s"), batches(), state=state
    )
    assert read_state(sql_catalog, table_name, "s") == {"batches_seen": 3}


def test_contract_violation_mid_stream_deletes_written_files(
    embedded_catalog: CatalogConfig, sql_catalog: Catalog, table_name: str
) -> None:
    from floe_core import SchemaContract, SchemaContractViolation

    first = write_table(
        sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1]})]
    )
    files_before = _parquet_files(Path(embedded_catalog.warehouse or ""))
    spec = TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE)
    with pytest.raises(SchemaContractViolation):
        write_table(
            sql_catalog,
            spec,
            [pa.table({"id": [2, 3]}), pa.table({"id": [4], "surprise": ["x"]})],
            target_file_rows=1,  # two files are on disk when the violation arrives
        )

    assert [s.snapshot_id for s in sql_catalog.load_table(table_name).snapshots()] == [
        first.snapshot_id
    ]
    assert _parquet_files(Path(embedded_catalog.warehouse or "")) == files_before


def test_commit_with_unknown_outcome_keeps_its_files(
    embedded_catalog: CatalogConfig,
    sql_catalog: Catalog,
    table_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The commit landed but its answer was lost: the files must stay (they are the table)."""
    from pyiceberg.catalog.sql import SqlCatalog

    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1]})])
    real_commit = SqlCatalog.commit_table

    def commit_then_lose_the_answer(self: SqlCatalog, *args: object, **kwargs: object) -> object:
        real_commit(self, *args, **kwargs)  # type: ignore[arg-type]
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(SqlCatalog, "commit_table", commit_then_lose_the_answer)
    with pytest.raises(ConnectionResetError):
        write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [2]})])
    monkeypatch.undo()

    assert _rows(sql_catalog, table_name) == [(1,), (2,)]  # every referenced file still exists
    assert len(_parquet_files(Path(embedded_catalog.warehouse or ""))) == 2


def _parquet_count(config: CatalogConfig, catalog: Catalog, table: str) -> int:
    return len(_stored_parquet(config, catalog.load_table(table).location()))


def test_a_load_with_state_is_not_rebased_onto_a_concurrent_commit(
    catalog_config: CatalogConfig, catalog: Catalog, table_name: str
) -> None:
    """Load B lands while A is between its files and its commit: A must fail, not stack on B.

    pyiceberg would retry A's fast append on top of B; A's rows were chosen by the cursor A
    read before B, so they would duplicate B's, and A's older cursor would win.
    """
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="orders")
    write_table(catalog, spec, [pa.table({"id": [0]})], state=lambda: {"cursor": 0})

    def a_state() -> dict[str, object]:
        write_table(catalog, spec, [pa.table({"id": [1, 2]})], state=lambda: {"cursor": 2})
        return {"cursor": 2}

    from pyiceberg.exceptions import CommitFailedException

    with pytest.raises(CommitFailedException):
        write_table(catalog, spec, [pa.table({"id": [1, 2]})], state=a_state)

    assert _rows(catalog, table_name) == [(0,), (1,), (2,)]
    assert _snapshots(catalog, table_name) == 2
    assert read_state(catalog, table_name, "orders") == {"cursor": 2}
    assert _parquet_count(catalog_config, catalog, table_name) == 2  # A's file is deleted


def test_another_key_committing_first_fails_the_load_and_its_rerun_keeps_both_states(
    sql_catalog: Catalog, table_name: str
) -> None:
    """Load A (key a) meets load B (key b) at commit: A fails cleanly; re-run, both keys live."""
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.APPEND, state_key="b"),
        [pa.table({"id": [0]})],
        state=lambda: {"cursor": 1},
    )

    def b_lands() -> dict[str, object]:
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.APPEND, state_key="b"),
            [pa.table({"id": [2]})],
            state=lambda: {"cursor": 2},
        )
        return {"cursor": 10}

    a = TableWrite(table_name, WriteMode.APPEND, state_key="a")
    from pyiceberg.exceptions import CommitFailedException

    with pytest.raises(CommitFailedException):
        write_table(sql_catalog, a, [pa.table({"id": [1]})], state=b_lands)
    assert read_state(sql_catalog, table_name, "a") is None
    write_table(sql_catalog, a, [pa.table({"id": [1]})], state=lambda: {"cursor": 10})

    assert read_state(sql_catalog, table_name, "a") == {"cursor": 10}
    assert read_state(sql_catalog, table_name, "b") == {"cursor": 2}
    assert _rows(sql_catalog, table_name) == [(0,), (1,), (2,)]
    assert _snapshots(sql_catalog, table_name) == 3


def test_a_pure_append_is_still_retried_onto_a_concurrent_commit(
    sql_catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND)
    write_table(sql_catalog, spec, [pa.table({"id": [0]})])

    def other_append() -> None:
        write_table(sql_catalog, spec, [pa.table({"id": [1]})])

    write_table(sql_catalog, spec, [pa.table({"id": [2]})], state=other_append)
    assert _rows(sql_catalog, table_name) == [(0,), (1,), (2,)]
    assert _snapshots(sql_catalog, table_name) == 3


@pytest.mark.parametrize("exists", [True, False])
def test_a_load_based_on_a_stale_version_writes_nothing(
    catalog_config: CatalogConfig, catalog: Catalog, table_name: str, exists: bool
) -> None:
    """The state was read, then another load committed: this load must not start at all."""
    from floe_core import DestinationWriteError, ErrorCategory, ErrorCode

    spec = TableWrite(table_name, WriteMode.APPEND, state_key="orders")
    if exists:
        write_table(catalog, spec, [pa.table({"id": [0]})], state=lambda: {"cursor": 0})
    read = read_table_state(catalog, table_name, "orders")
    assert read.table_exists is exists
    other = write_table(catalog, spec, [pa.table({"id": [1]})], state=lambda: {"cursor": 1})
    pulled: list[int] = []

    def batches() -> Iterator[pa.Table]:
        pulled.append(1)
        yield pa.table({"id": [1]})

    with pytest.raises(DestinationWriteError) as info:
        write_table(
            catalog,
            TableWrite(table_name, WriteMode.APPEND, state_key="orders", based_on=read),
            batches(),
            state=lambda: {"cursor": 1},
        )

    assert (info.value.code, info.value.category) == (
        ErrorCode.COMMIT_CONFLICT,
        ErrorCategory.TRANSIENT,
    )
    assert pulled == []  # nothing was extracted for a load that cannot commit
    assert _rows(catalog, table_name) == ([(0,), (1,)] if exists else [(1,)])
    table = catalog.load_table(table_name)
    assert table.current_snapshot().snapshot_id == other.snapshot_id
    assert _parquet_count(catalog_config, catalog, table_name) == (2 if exists else 1)
    # at the version it was read from, the same load commits
    fresh = read_table_state(catalog, table_name, "orders")
    assert fresh.state == {"cursor": 1}
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="orders", based_on=fresh)
    write_table(catalog, spec, [pa.table({"id": [2]})], state=lambda: {"cursor": 2})
    assert read_state(catalog, table_name, "orders") == {"cursor": 2}


def test_a_large_state_goes_to_a_file_beside_the_metadata(
    catalog_config: CatalogConfig, catalog: Catalog, table_name: str
) -> None:
    """dlt's unique_hashes can be one per row: the summary must hold a reference, not them."""
    import json

    from floe_iceberg.state import STATE_FILE_THRESHOLD

    big = {"cursor": dt.date(2024, 1, 2), "hashes": [f"h{i:011d}" for i in range(2000)]}
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="ev")
    first = write_table(catalog, spec, [pa.table({"id": [1]})], state=lambda: big)
    write_table(catalog, spec, [pa.table({"id": [2]})], state=lambda: big)  # unchanged

    table = catalog.load_table(table_name)
    summaries = [s.summary.additional_properties for s in table.snapshots()]
    value = summaries[0]["floe.state.ev"]
    assert summaries[1]["floe.state.ev"] == value  # the unchanged state's reference, carried
    assert len(value) < 500 < STATE_FILE_THRESHOLD
    reference = json.loads(value)
    assert reference["path"].startswith(table.location())
    assert reference["bytes"] > STATE_FILE_THRESHOLD
    assert table.io.new_input(reference["path"]).exists()
    assert read_state(catalog, table_name, "ev") == big
    assert _rows(catalog, table_name) == [(1,), (2,)]
    assert table.current_snapshot().parent_snapshot_id == first.snapshot_id

    # a changed large state whose commit does not land leaves no state file behind
    bigger = {**big, "hashes": [*big["hashes"], "extra"]}

    def concurrent_state() -> dict[str, object]:
        write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [3]})])
        return bigger

    from pyiceberg.exceptions import CommitFailedException

    with pytest.raises(CommitFailedException):
        write_table(catalog, spec, [pa.table({"id": [4]})], state=concurrent_state)
    metadata_dir = reference["path"].rsplit("/", 1)[0]
    assert _state_files(catalog_config, metadata_dir) == [reference["path"].rsplit("/", 1)[1]]
    assert read_state(catalog, table_name, "ev") == big
    assert _rows(catalog, table_name) == [(1,), (2,), (3,)]


def _state_files(config: CatalogConfig, folder: str) -> list[str]:
    """Names of the floe-state-*.json files in a metadata folder, local or on S3."""
    if config.type == "sql":
        return sorted(p.name for p in Path(folder.removeprefix("file://")).glob("floe-state-*"))
    s3 = _s3(config)
    selector = pafs.FileSelector(folder.removeprefix("s3://"), allow_not_found=True)
    names = (i.path.rsplit("/", 1)[1] for i in s3.get_file_info(selector))
    return sorted(n for n in names if n.startswith("floe-state-"))


def test_losing_a_create_race_lands_nothing(
    catalog_config: CatalogConfig, catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError

    def other_load_creates_it_first() -> None:
        write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1]})])
        return None

    with pytest.raises((TableAlreadyExistsError, CommitFailedException)):
        write_table(
            catalog,
            TableWrite(table_name, WriteMode.APPEND),
            [pa.table({"id": [2]})],
            state=other_load_creates_it_first,
        )

    assert _rows(catalog, table_name) == [(1,)]
    assert _snapshots(catalog, table_name) == 1
    if catalog_config.type == "sql":
        assert len(_parquet_files(Path(catalog_config.warehouse or ""))) == 1


def test_appends_stream_batches_into_row_groups_while_the_source_runs(
    catalog_config: CatalogConfig,
    catalog: Catalog,
    table_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One file, several row groups; the first is on its way before the source ends."""
    import pyarrow.parquet as pq

    from floe_iceberg import _files

    monkeypatch.setattr(_files, "ROW_GROUP_BYTES", 1)  # every batch is its own row group
    spec = TableWrite(table_name, WriteMode.APPEND)
    write_table(catalog, spec, [pa.table({"id": [-1]})])
    location = catalog.load_table(table_name).location()
    on_storage_before_the_end: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(6):
            yield pa.record_batch({"id": list(range(i * 100, i * 100 + 100))})
        on_storage_before_the_end.append(len(_stored_parquet(catalog_config, location)))

    result = write_table(catalog, spec, batches())

    assert result.files_written == 1 and result.rows_loaded == 600
    if catalog_config.type == "sql":  # S3 shows an object only once its upload completes
        assert on_storage_before_the_end == [2]  # the new file was being written already
    assert _rows(catalog, table_name, "id") == sorted(
        [(-1,), *((i,) for i in range(600))], key=repr
    )
    files = catalog.load_table(table_name).inspect.files().to_pylist()
    (streamed,) = [f for f in files if f["record_count"] == 600]
    with catalog.load_table(table_name).io.new_input(streamed["file_path"]).open() as handle:
        assert pq.ParquetFile(handle).num_row_groups == 6


def test_a_streamed_file_that_fails_to_write_leaves_the_table_as_it_was(
    catalog_config: CatalogConfig,
    catalog: Catalog,
    table_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from floe_iceberg import _files

    spec = TableWrite(table_name, WriteMode.APPEND)
    before = write_table(catalog, spec, [pa.table({"id": [1]})])
    monkeypatch.setattr(_files, "ROW_GROUP_BYTES", 1)
    calls = {"n": 0}
    real = _files.to_file_schema

    def failing(*args: object, **kwargs: object) -> pa.RecordBatch:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_files, "to_file_schema", failing)
    with pytest.raises(OSError, match="disk full"):
        write_table(
            catalog,
            spec,
            (pa.record_batch({"id": [i]}) for i in range(2, 40)),
        )
    table = catalog.load_table(table_name)
    assert table.current_snapshot().snapshot_id == before.snapshot_id
    assert _rows(catalog, table_name, "id") == [(1,)]
    assert _parquet_count(catalog_config, catalog, table_name) == 1  # the failed file is gone


def test_a_source_failing_inside_a_streamed_file_stops_its_writer_and_deletes_it(
    catalog_config: CatalogConfig, catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND)
    before = write_table(catalog, spec, [pa.table({"id": [0], "name": ["x"]})])
    with pytest.raises(Boom):
        write_table(catalog, spec, _failing(after=30))  # one open file when the source dies
    assert catalog.load_table(table_name).current_snapshot().snapshot_id == before.snapshot_id
    assert _rows(catalog, table_name, "id") == [(0,)]
    assert _parquet_count(catalog_config, catalog, table_name) == 1


def test_snapshot_properties_land_in_the_summary_and_floe_keys_win(
    sql_catalog: Catalog, table_name: str
) -> None:
    extra = {"dagster.run-id": "abc-123", "floe.rows-loaded": "999"}
    spec = TableWrite(table_name, WriteMode.APPEND, snapshot_properties=extra)
    result = write_table(sql_catalog, spec, [pa.table({"id": [1, 2]})])
    summary = sql_catalog.load_table(table_name).current_snapshot().summary  # type: ignore[union-attr]
    assert result.snapshot_id is not None
    assert summary["dagster.run-id"] == "abc-123"
    assert summary["floe.rows-loaded"] == "2"


@pytest.mark.parametrize(("count", "start"), [(0, 0), (1, 0), (5, 0), (4, 7), (3, 2**40)])
def test_row_positions_are_the_range_they_stand_for(count: int, start: int) -> None:
    from floe_iceberg._merge import row_numbers

    built = row_numbers(count, start=start)
    assert built.type == pa.int64()
    assert built.to_pylist() == list(range(start, start + count))
