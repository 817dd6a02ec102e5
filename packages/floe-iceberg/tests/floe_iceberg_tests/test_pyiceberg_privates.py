"""The pyiceberg privates floe-iceberg relies on (:mod:`floe_iceberg._pyiceberg`), one test each.

Each test exercises the exact attribute, signature and behaviour the engine uses, so after a
pyiceberg upgrade the failure names the private that changed instead of surfacing as a
mysterious error in a load.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyiceberg
import pytest
from packaging.specifiers import SpecifierSet
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table, Transaction
from pyiceberg.types import LongType, StringType, StructType

from floe_iceberg import _merge, _pyiceberg
from floe_iceberg._files import FileWriter

ROWS = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]})


@contextmanager
def _relied_on(private: str) -> Iterator[None]:
    """Turn any failure inside into one that names the pyiceberg private."""
    try:
        yield
    except (Exception, pytest.fail.Exception) as exc:  # also pytest.raises' DID NOT RAISE
        pytest.fail(
            f"pyiceberg {pyiceberg.__version__}: {private}, which floe-iceberg relies on, "
            f"changed ({type(exc).__name__}: {exc}); update floe_iceberg/_pyiceberg.py",
            pytrace=True,
        )


def _table(catalog: Catalog, name: str) -> Table:
    namespace, _, _ = name.rpartition(".")
    catalog.create_namespace_if_not_exists(namespace)
    table = catalog.create_table(name, schema=ROWS.schema)
    table.append(ROWS)
    return catalog.load_table(name)


def _data_file(table: Table) -> DataFile:
    writer = FileWriter(table.io)
    try:
        return writer.submit(table.metadata, ROWS.to_batches()).result().data_file
    finally:
        writer.close()


def _stage(table: Table, *, rebase: bool) -> tuple[Transaction, _pyiceberg.SnapshotProducer]:
    tx = table.transaction()
    producer = tx.update_snapshot().fast_append()
    with producer:
        producer.append_data_file(_data_file(table))
    if not rebase:
        _pyiceberg.never_rebase(tx, producer)
    return tx, producer


def _metadata_files(table: Table, suffix: str) -> set[str]:
    folder = Path(unquote(urlparse(table.location()).path)) / "metadata"
    return {p.name for p in folder.glob(f"*{suffix}")}


def test_installed_pyiceberg_is_the_supported_range() -> None:
    assert pyiceberg.__version__ in SpecifierSet(_pyiceberg.SUPPORTED_PYICEBERG), (
        f"pyiceberg {pyiceberg.__version__} is outside {_pyiceberg.SUPPORTED_PYICEBERG}: check "
        "every private in floe_iceberg/_pyiceberg.py, then move the pin and the range together"
    )


def test_snapshot_producer_is_what_fast_append_and_overwrite_return(
    sql_catalog: Catalog, table_name: str
) -> None:
    table = _table(sql_catalog, table_name)
    with _relied_on("pyiceberg.table.update.snapshot._SnapshotProducer"):
        from pyiceberg.table.update.snapshot import _SnapshotProducer

        update = table.transaction().update_snapshot()
        for producer in (update.fast_append(), update.overwrite()):
            assert isinstance(producer, _SnapshotProducer)
            assert isinstance(producer.snapshot_id, int)
            assert callable(producer.append_data_file) and callable(producer.delete_data_file)


def test_transaction_table_gives_a_staged_tables_io_and_locations(
    sql_catalog: Catalog, table_name: str
) -> None:
    namespace, _, _ = table_name.rpartition(".")
    sql_catalog.create_namespace_if_not_exists(namespace)
    tx = sql_catalog.create_table_transaction(table_name, schema=ROWS.schema)
    with _relied_on("Transaction._table (a create transaction's staged table)"):
        assert isinstance(_pyiceberg.staged_io(tx), FileIO)
        path = _pyiceberg.staged_location_provider(tx).new_metadata_location("x.metadata.json")
        assert path.startswith(tx.table_metadata.location)


def test_removing_the_producer_from_snapshot_producers_stops_the_rebase(
    sql_catalog: Catalog, table_name: str
) -> None:
    table = _table(sql_catalog, table_name)
    with _relied_on("Transaction._snapshot_producers (commit_transaction's rebase)"):
        guarded, producer = _stage(table, rebase=False)
        assert producer not in guarded._snapshot_producers
        rebased, producer = _stage(table, rebase=True)
        assert producer in rebased._snapshot_producers
        sql_catalog.load_table(table_name).append(ROWS)  # a concurrent commit wins
        with pytest.raises(CommitFailedException):
            guarded.commit_transaction()
        rebased.commit_transaction()  # pyiceberg re-applies it on the new head: why we guard
    assert len(sql_catalog.load_table(table_name).scan().to_arrow()) == 6


def test_clean_all_uncommitted_deletes_a_failed_commits_manifests(
    sql_catalog: Catalog, table_name: str
) -> None:
    table = _table(sql_catalog, table_name)
    before = _metadata_files(table, ".avro")
    with _relied_on("_SnapshotProducer._clean_all_uncommitted()"):
        _, producer = _stage(table, rebase=False)
        assert _metadata_files(table, ".avro") - before, "staging wrote no manifest"
        _pyiceberg.clean_uncommitted(producer)
        assert _metadata_files(table, ".avro") == before


def test_a_written_data_file_reads_back_once_its_spec_id_is_set(
    sql_catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.io.pyarrow import write_file
    from pyiceberg.table import WriteTask

    table = _table(sql_catalog, table_name)
    task = WriteTask(uuid.uuid4(), 0, table.metadata.schema(), ROWS.to_batches())
    (data_file,) = write_file(table.io, table.metadata, iter([task]))
    with _relied_on("DataFile._spec_id (unset by write_file)"):
        _pyiceberg.ensure_spec_id(data_file, table.metadata.default_spec_id)
        assert data_file.spec_id == table.metadata.default_spec_id
        read = _merge._read(table.metadata, table.io, FileScanTask(data_file), None)
        assert read.to_pylist() == ROWS.to_pylist()


def test_pyarrow_to_schema_without_ids_converts_an_arrow_schema(
    sql_catalog: Catalog, table_name: str
) -> None:
    arrow = pa.schema(
        [
            pa.field("id", pa.int64()),
            pa.field("name", pa.large_string()),
            pa.field("tags", pa.struct([pa.field("k", pa.large_string())])),
        ]
    )
    with _relied_on("pyiceberg.io.pyarrow._pyarrow_to_schema_without_ids"):
        from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids

        assert next(iter(inspect.signature(_pyarrow_to_schema_without_ids).parameters)) == (
            "schema"
        )
        schema = _pyiceberg.arrow_to_schema(arrow)
        types = {f.name: type(f.field_type) for f in schema.fields}
        assert types == {"id": LongType, "name": StringType, "tags": StructType}
        assert all(not f.required for f in schema.fields)


def test_to_requested_schema_adds_field_ids(sql_catalog: Catalog, table_name: str) -> None:
    from pyiceberg.io.fileformat import FileFormatFactory
    from pyiceberg.manifest import FileFormat
    from pyiceberg.schema import sanitize_column_names

    table = _table(sql_catalog, table_name)
    schema = table.metadata.schema()
    with _relied_on("pyiceberg.io.pyarrow._to_requested_schema"):
        from pyiceberg.io.pyarrow import _to_requested_schema

        parameters = set(inspect.signature(_to_requested_schema).parameters)
        assert parameters >= {
            "requested_schema",
            "file_schema",
            "batch",
            "downcast_ns_timestamp_to_us",
            "include_field_ids",
            "format_model",
        }
        batch = table.scan().to_arrow().to_batches()[0]
        out = _pyiceberg.to_file_schema(
            batch,
            requested_schema=sanitize_column_names(schema),
            file_schema=schema,
            downcast_ns_timestamp_to_us=False,
            format_model=FileFormatFactory.get(FileFormat.PARQUET),
        )
        ids = {f.name: (f.metadata or {}).get(b"PARQUET:field_id") for f in out.schema}
        assert ids == {f.name: str(f.field_id).encode() for f in schema.fields}
        assert out.to_pylist() == batch.to_pylist()


def test_overwrite_files_commits_a_replace_snapshot_with_overwrite_totals(
    sql_catalog: Catalog, table_name: str
) -> None:
    table = _table(sql_catalog, table_name)
    table.append(ROWS)
    table = sql_catalog.load_table(table_name)
    old = [t.file for t in table.scan().plan_files()]
    new = _data_file(table)
    with _relied_on("_OverwriteFiles and _SnapshotProducer._summary (a replace snapshot)"):
        tx = table.transaction()
        producer = _pyiceberg.rewrite_producer(tx, table.io, {"floe.x": "y"})
        with producer:
            for data_file in old:
                producer.delete_data_file(data_file)
            producer.append_data_file(new)
        tx.commit_transaction()
        summary = sql_catalog.load_table(table_name).current_snapshot().summary  # type: ignore[union-attr]
        assert summary is not None and summary.operation.value == "replace"
        assert summary["floe.x"] == "y"
        assert summary["deleted-data-files"] == "2" and summary["added-data-files"] == "1"
        assert summary["total-data-files"] == "1" and summary["total-records"] == "2"
    assert sql_catalog.load_table(table_name).scan().to_arrow().num_rows == 2


def test_determine_partitions_splits_by_spec() -> None:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import LongType, NestedField, StringType

    schema = Schema(
        NestedField(1, "id", LongType(), required=False),
        NestedField(2, "region", StringType(), required=False),
    )
    spec = PartitionSpec(
        PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="region")
    )
    rows = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "region": ["eu", "us", "eu"]})
    with _relied_on("pyiceberg.io.pyarrow._determine_partitions"):
        from pyiceberg.io.pyarrow import _determine_partitions

        assert list(inspect.signature(_determine_partitions).parameters) == [
            "spec",
            "schema",
            "arrow_table",
        ]
        parts = {
            tuple(v.value for v in key.field_values): part["id"].to_pylist()
            for key, part in _pyiceberg.split_by_partition(spec, schema, rows)
        }
        assert parts == {("eu",): [1, 3], ("us",): [2]}
        keys = [key for key, _ in _pyiceberg.split_by_partition(spec, schema, rows)]
        assert all(key.partition[0] in {"eu", "us"} for key in keys)


def test_row_delta_writes_delete_files_into_a_deletes_manifest_and_counts_them(
    sql_catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.manifest import ManifestContent

    from floe_iceberg._deletes import write_position_deletes

    table = _table(sql_catalog, table_name)
    (old,) = [t.file for t in table.scan().plan_files()]
    new = _data_file(table)
    writer = FileWriter(table.io)
    deletes = write_position_deletes(writer, table.metadata, table.io, old, pa.array([1]))
    writer.close()
    with _relied_on(
        "_OverwriteFiles/_SnapshotProducer (_process_manifests, _summary, new_manifest_output, "
        "_compression, _snapshot_id) and ManifestWriterV2 (content, _meta)"
    ):
        tx = table.transaction()
        producer = _pyiceberg.row_delta_producer(tx, table.io, {"floe.x": "y"})
        producer.add_delete_file(deletes)
        with producer:
            producer.append_data_file(new)
        tx.commit_transaction()
        table = sql_catalog.load_table(table_name)
        snapshot = table.current_snapshot()
        assert snapshot is not None and snapshot.summary is not None
        summary = snapshot.summary
        assert summary.operation.value == "overwrite" and summary["floe.x"] == "y"
        assert summary["added-position-delete-files"] == "1"
        assert summary["added-position-deletes"] == "1"
        assert summary["total-delete-files"] == "1" and summary["total-data-files"] == "2"
        contents = sorted(m.content for m in snapshot.manifests(table.io))
        assert contents == [ManifestContent.DATA, ManifestContent.DATA, ManifestContent.DELETES]
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: (r["id"], r["name"]))
    assert rows == [{"id": 1, "name": "a"}, {"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def test_manifest_writer_v2_subclass_writes_a_deletes_manifest(
    sql_catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.manifest import DataFileContent, ManifestContent

    from floe_iceberg._deletes import write_position_deletes

    table = _table(sql_catalog, table_name)
    (old,) = [t.file for t in table.scan().plan_files()]
    writer = FileWriter(table.io)
    deletes = write_position_deletes(writer, table.metadata, table.io, old, pa.array([0, 1]))
    writer.close()
    with _relied_on("pyiceberg.manifest.ManifestWriterV2 (content(), _meta, add)"):
        tx = table.transaction()
        producer = _pyiceberg.row_delta_producer(tx, table.io, {})
        producer.add_delete_file(deletes)
        with producer:
            pass
        tx.commit_transaction()
        table = sql_catalog.load_table(table_name)
        snapshot = table.current_snapshot()
        assert snapshot is not None
        (manifest,) = [m for m in snapshot.manifests(table.io) if m.content != ManifestContent.DATA]
        assert manifest.content == ManifestContent.DELETES
        assert manifest.added_files_count == 1 and manifest.added_rows_count == 2
        with AvroFile[Any](table.io.new_input(manifest.manifest_path)) as avro:
            assert avro.header.meta["content"] == "deletes"
            assert avro.header.meta["format-version"] == "2"
        (entry,) = manifest.fetch_manifest_entry(table.io)
        assert entry.data_file.content == DataFileContent.POSITION_DELETES
        assert entry.data_file.file_path == deletes.file_path
        assert entry.sequence_number == snapshot.sequence_number
    assert table.scan().to_arrow().num_rows == 0  # both rows deleted


def test_replace_files_removes_delete_files_from_their_deletes_manifest(
    sql_catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.manifest import ManifestContent, ManifestEntryStatus

    from floe_iceberg._deletes import write_position_deletes

    table = _table(sql_catalog, table_name)
    table.append(ROWS)
    table = sql_catalog.load_table(table_name)
    first, second = sorted((t.file for t in table.scan().plan_files()), key=lambda f: f.file_path)
    writer = FileWriter(table.io)
    deletes = [
        write_position_deletes(writer, table.metadata, table.io, f, pa.array([0], pa.int64()))
        for f in (first, second)
    ]
    writer.close()
    tx = table.transaction()
    with _pyiceberg.row_delta_producer(tx, table.io, {}) as delta:
        for delete_file in deletes:
            delta.add_delete_file(delete_file)
    tx.commit_transaction()
    table = sql_catalog.load_table(table_name)
    assert table.scan().to_arrow().num_rows == 2  # row 0 of each file deleted

    new = _data_file(table)  # ROWS again: replaces what is left of the first file, and more
    with _relied_on("_OverwriteFiles._existing_manifests and _SnapshotProducer internals"):
        tx = table.transaction()
        producer = _pyiceberg.rewrite_producer(tx, table.io, {})
        with producer:
            producer.delete_data_file(first)
            producer.append_data_file(new)
            producer.remove_delete_file(deletes[0])
        tx.commit_transaction()
        table = sql_catalog.load_table(table_name)
        snapshot = table.current_snapshot()
        assert snapshot is not None and snapshot.summary is not None
        assert snapshot.summary["total-delete-files"] == "1"
        assert snapshot.summary["removed-position-delete-files"] == "1"
        manifests = [
            m for m in snapshot.manifests(table.io) if m.content == ManifestContent.DELETES
        ]
        entries = {
            e.data_file.file_path: e.status
            for m in manifests
            for e in m.fetch_manifest_entry(table.io, discard_deleted=False)
        }
        assert entries == {
            deletes[0].file_path: ManifestEntryStatus.DELETED,
            deletes[1].file_path: ManifestEntryStatus.EXISTING,
        }
    # the second file's row 0 stays deleted; the new file is read whole
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == [1, 2, 2]
