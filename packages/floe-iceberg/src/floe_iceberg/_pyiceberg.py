"""Every private part of pyiceberg floe-iceberg relies on, in one place.

Supported pyiceberg: ``>=0.12,<0.13`` (the pin in ``pyproject.toml``; developed and tested on
0.12.0). pyiceberg makes no promise about ``_``-names between minor versions, so an upgrade
starts here: ``tests/floe_iceberg_tests/test_pyiceberg_privates.py`` checks each name below
(attribute, signature, behaviour) and fails naming the private that moved.

What is used, and why:

- ``pyiceberg.table.update.snapshot._SnapshotProducer``: the type of what ``fast_append()``
  and ``overwrite()`` return (typing only).
- ``Transaction._table``: a create-table transaction's staged table; its FileIO and location
  provider exist before the table does, and pyiceberg has no public accessor.
- ``Transaction._snapshot_producers``: removing our producer makes a load with state fail on
  a concurrent commit instead of being rebased onto it (``_rebuild_snapshot_updates``).
- ``_SnapshotProducer._clean_all_uncommitted()``: deletes the manifests of a commit that did
  not land. ``commit_transaction`` cleans only the producers still registered in the
  transaction, and a load with state has unregistered its own (above); a load that fails
  between staging its snapshot and committing it needs the clean-up too.
- ``DataFile._spec_id``: ``write_file`` leaves it unset; a file read back before its commit
  (merge drops superseded rows from it) needs it.
- ``pyiceberg.io.pyarrow._pyarrow_to_schema_without_ids``: the Iceberg schema of an Arrow
  schema without field ids, which the contract compares with the table's.
- ``pyiceberg.io.pyarrow._determine_partitions``: splits an Arrow table by a partition spec
  into (PartitionKey, rows), as pyiceberg's own partitioned append does.
- ``pyiceberg.io.pyarrow._to_requested_schema``: casts a batch to the file schema with field
  ids, as ``write_file`` does, for a data file streamed row group by row group.
- ``pyiceberg.table.update.snapshot._OverwriteFiles`` and its ``_summary``: compaction's
  snapshot (files rewritten, rows unchanged) is an overwrite whose summary says ``replace``.
  ``UpdateSnapshot.overwrite()`` always says ``overwrite``, which readers take for changed
  data; pyiceberg has no public ``replace``/``RewriteFiles``, and its summary totals reject
  ``Operation.REPLACE``, so the totals are computed as for an overwrite, then relabelled.
  Its ``_existing_manifests`` is extended so compaction can also remove position delete
  files (``remove_delete_file``): pyiceberg 0.12 removes data files only, and would rewrite a
  DELETES manifest as a DATA one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.io.pyarrow import (
    _determine_partitions,
    _pyarrow_to_schema_without_ids,
    _to_requested_schema,
)
from pyiceberg.manifest import (
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriterV2,
)
from pyiceberg.table.snapshots import (
    Operation,
    SnapshotSummaryCollector,
    Summary,
    update_snapshot_summaries,
)
from pyiceberg.table.update.snapshot import _OverwriteFiles, _SnapshotProducer

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pyiceberg.io import FileIO
    from pyiceberg.io.fileformat import FileFormatModel
    from pyiceberg.manifest import DataFile
    from pyiceberg.partitioning import PartitionKey, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Transaction
    from pyiceberg.table.locations import LocationProvider

__all__ = [
    "SUPPORTED_PYICEBERG",
    "ReplaceFiles",
    "RowDelta",
    "SnapshotProducer",
    "arrow_to_schema",
    "clean_uncommitted",
    "ensure_spec_id",
    "never_rebase",
    "rewrite_producer",
    "row_delta_producer",
    "split_by_partition",
    "staged_io",
    "staged_location_provider",
    "to_file_schema",
]

SUPPORTED_PYICEBERG = ">=0.12,<0.13"
"""The pyiceberg versions these privates were checked against (the package's pin)."""

SnapshotProducer = _SnapshotProducer[Any]
"""What ``tx.update_snapshot().fast_append()`` / ``.overwrite()`` return."""


def staged_io(tx: Transaction) -> FileIO:
    """Return the FileIO of a transaction's table, also while a create transaction stages it.

    Args:
        tx: A table or create-table transaction.

    Returns:
        The table's FileIO.
    """
    return tx._table.io


def staged_location_provider(tx: Transaction) -> LocationProvider:
    """Return the location provider of a transaction's (possibly staged) table.

    Args:
        tx: A table or create-table transaction.

    Returns:
        Where the table's data and metadata files go.
    """
    return tx._table.location_provider()


def never_rebase(tx: Transaction, producer: SnapshotProducer) -> None:
    """Make a staged snapshot fail, instead of being rebased, if the table moves before commit.

    On a CommitFailedException pyiceberg 0.12's ``commit_transaction`` refreshes the table and
    re-runs every registered snapshot producer on top of the new head
    (``Transaction._rebuild_snapshot_updates``; a fast append validates nothing). A load with
    state chose its rows from the cursor it read at the base version: rebased, it would land on
    top of a concurrent load of the same rows (duplicates, and its older cursor on top). With
    no producer registered, pyiceberg re-raises at once and the staged snapshot keeps its
    ``AssertRefSnapshotId`` on the base. The producer's updates stay in the transaction; the
    load deletes its manifests (:func:`clean_uncommitted`) when the commit fails.

    Args:
        tx: The transaction the producer was committed into (its ``with`` block has exited).
        producer: The snapshot producer.
    """
    tx._snapshot_producers.remove(producer)


def clean_uncommitted(producer: SnapshotProducer) -> None:
    """Delete the manifests and manifest lists a producer wrote for a commit that did not land.

    Args:
        producer: The snapshot producer of the failed commit.
    """
    producer._clean_all_uncommitted()


def ensure_spec_id(data_file: DataFile, spec_id: int) -> None:
    """Give a freshly written DataFile its partition spec id if ``write_file`` left it unset.

    Args:
        data_file: A DataFile from ``pyiceberg.io.pyarrow.write_file``.
        spec_id: The table's default spec id.
    """
    if not hasattr(data_file, "_spec_id"):  # needed to read the file back before commit
        data_file.spec_id = spec_id


def arrow_to_schema(arrow_schema: pa.Schema) -> Schema:
    """Return the Iceberg schema of an Arrow schema, without field ids (the catalog assigns them).

    Args:
        arrow_schema: An Arrow schema of Iceberg-ready types.

    Returns:
        The Iceberg schema.
    """
    return _pyarrow_to_schema_without_ids(arrow_schema)


def to_file_schema(
    batch: pa.RecordBatch,
    *,
    requested_schema: Schema,
    file_schema: Schema,
    downcast_ns_timestamp_to_us: bool,
    format_model: FileFormatModel,
) -> pa.RecordBatch:
    """Cast a batch in the table's Arrow schema to a data file's schema, with field ids.

    Args:
        batch: Rows in the table's Arrow schema.
        requested_schema: The file's (sanitised) Iceberg schema.
        file_schema: The table's Iceberg schema the batch follows.
        downcast_ns_timestamp_to_us: pyiceberg's setting of the same name.
        format_model: The file format's model (Parquet).

    Returns:
        The batch as the file stores it.
    """
    return _to_requested_schema(
        requested_schema=requested_schema,
        file_schema=file_schema,
        batch=batch,
        downcast_ns_timestamp_to_us=downcast_ns_timestamp_to_us,
        include_field_ids=True,
        format_model=format_model,
    )


def rewrite_producer(
    tx: Transaction, io: FileIO, snapshot_properties: dict[str, str]
) -> ReplaceFiles:
    """Return a snapshot producer that commits a ``replace`` snapshot (Iceberg's RewriteFiles).

    It removes the data files given to ``delete_data_file`` and adds those given to
    ``append_data_file``, as an overwrite does, but its summary says ``replace``: the table's
    rows did not change. ``remove_delete_file`` also removes position delete files (their
    DELETES manifests are rewritten with the rest kept as EXISTING and these as DELETED).

    Args:
        tx: The table transaction.
        io: The table's FileIO.
        snapshot_properties: Extra summary entries.

    Returns:
        The producer (use it as a context manager, like ``fast_append()``).
    """
    return _ReplaceFiles(
        operation=Operation.OVERWRITE,
        transaction=tx,
        io=io,
        snapshot_properties=snapshot_properties,
    )


def _totals(
    producer: Any,
    operation: Operation,
    *,
    added: Iterable[DataFile],
    removed: Iterable[DataFile],
    properties: dict[str, str] | None,
) -> Summary:
    """A producer's snapshot summary: its own counts (each file under its own spec) and totals."""
    from pyiceberg.table import TableProperties

    metadata = producer._transaction.table_metadata
    schema = metadata.schema()
    specs = metadata.specs()
    limit = int(
        metadata.properties.get(
            TableProperties.WRITE_PARTITION_SUMMARY_LIMIT,
            TableProperties.WRITE_PARTITION_SUMMARY_LIMIT_DEFAULT,
        )
    )
    collector = SnapshotSummaryCollector(partition_summary_limit=limit)
    for data_file in added:
        collector.add_file(data_file, schema=schema, partition_spec=specs[data_file.spec_id])
    for gone in removed:
        collector.remove_file(gone, schema=schema, partition_spec=specs[gone.spec_id])
    parent = producer._parent_snapshot_id
    previous = metadata.snapshot_by_id(parent) if parent is not None else None
    return update_snapshot_summaries(
        summary=Summary(operation=operation, **collector.build(), **dict(properties or {})),
        previous_summary=previous.summary if previous is not None else None,
    )


class _ReplaceFiles(_OverwriteFiles):
    """An overwrite whose snapshot summary says ``replace`` (see :func:`rewrite_producer`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._removed_delete_files: list[DataFile] = []

    def remove_delete_file(self, delete_file: DataFile) -> _ReplaceFiles:
        """Remove one live position delete file in this snapshot.

        Args:
            delete_file: The delete file, as the current snapshot's manifests hold it.

        Returns:
            The producer.
        """
        self._removed_delete_files.append(delete_file)
        return self

    def _existing_manifests(self) -> list[ManifestFile]:
        # pyiceberg handles the data files; DELETES manifests come back untouched (none of
        # their files is in _deleted_data_files) and are rewritten here when one goes
        manifests = super()._existing_manifests()
        removed = {f.file_path for f in self._removed_delete_files}
        if not removed:
            return manifests
        out: list[ManifestFile] = []
        found: set[str] = set()
        for manifest in manifests:
            if manifest.content != ManifestContent.DELETES:
                out.append(manifest)
                continue
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=True)
            gone = {e.data_file.file_path for e in entries} & removed
            if not gone:
                out.append(manifest)
                continue
            found |= gone
            with _DeleteManifestWriter(
                spec=self.spec(manifest.partition_spec_id),
                schema=self.schema(),
                output_file=self.new_manifest_output(),
                snapshot_id=self._snapshot_id,
                avro_compression=self._compression,
            ) as writer:
                for entry in entries:
                    dropped = entry.data_file.file_path in gone
                    writer.add_entry(
                        ManifestEntry.from_args(
                            status=(
                                ManifestEntryStatus.DELETED
                                if dropped
                                else ManifestEntryStatus.EXISTING
                            ),
                            snapshot_id=self._snapshot_id if dropped else entry.snapshot_id,
                            sequence_number=entry.sequence_number,
                            file_sequence_number=entry.file_sequence_number,
                            data_file=entry.data_file,
                        )
                    )
            out.append(writer.to_manifest_file())
        if missing := sorted(removed - found):
            raise ValueError(f"delete files to remove are not live: {', '.join(missing[:5])}")
        return out

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
        summary = _totals(  # totals as an overwrite: REPLACE is refused
            self,
            Operation.OVERWRITE,
            added=self._added_data_files,
            removed=(*self._deleted_data_files, *self._removed_delete_files),
            properties=snapshot_properties,
        )
        return Summary(Operation.REPLACE, **summary.additional_properties)


ReplaceFiles = _ReplaceFiles
"""What :func:`rewrite_producer` returns: a snapshot producer with ``remove_delete_file``."""


def split_by_partition(
    spec: PartitionSpec, schema: Schema, table: pa.Table
) -> Iterator[tuple[PartitionKey, pa.Table]]:
    """Split rows by a partition spec, as pyiceberg's partitioned append does.

    Args:
        spec: The table's partition spec.
        schema: The table's Iceberg schema (the rows follow its Arrow form).
        table: The rows.

    Returns:
        One ``(partition key, rows)`` per partition present.
    """
    for part in _determine_partitions(spec, schema, table):
        yield part.partition_key, part.arrow_table_partition


class _DeleteManifestWriter(ManifestWriterV2):
    """A v2 manifest writer whose manifest holds delete files (``content = deletes``)."""

    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


class _RowDelta(_OverwriteFiles):
    """An overwrite that also adds position delete files (see :func:`row_delta_producer`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._added_delete_files: list[DataFile] = []

    def add_delete_file(self, delete_file: DataFile) -> _RowDelta:
        """Add one position delete file to the snapshot.

        Args:
            delete_file: A DataFile with content POSITION_DELETES, the partition (and spec id)
                of the data file its rows point into.

        Returns:
            The producer.
        """
        self._added_delete_files.append(delete_file)
        return self

    def _process_manifests(self, manifests: list[ManifestFile]) -> list[ManifestFile]:
        return [*super()._process_manifests(manifests), *self._delete_manifests()]

    def _delete_manifests(self) -> list[ManifestFile]:
        by_spec: dict[int, list[DataFile]] = defaultdict(list)
        for delete_file in self._added_delete_files:
            by_spec[delete_file.spec_id].append(delete_file)
        written: list[ManifestFile] = []
        for spec_id, files in sorted(by_spec.items()):
            with _DeleteManifestWriter(
                spec=self.spec(spec_id),
                schema=self.schema(),
                output_file=self.new_manifest_output(),
                snapshot_id=self._snapshot_id,
                avro_compression=self._compression,
            ) as writer:
                for delete_file in files:
                    writer.add(
                        ManifestEntry.from_args(
                            status=ManifestEntryStatus.ADDED,
                            snapshot_id=self._snapshot_id,
                            sequence_number=None,
                            file_sequence_number=None,
                            data_file=delete_file,
                        )
                    )
            written.append(writer.to_manifest_file())
        return written

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
        return _totals(
            self,
            self._operation,
            added=(*self._added_data_files, *self._added_delete_files),
            removed=self._deleted_data_files,
            properties=snapshot_properties,
        )


RowDelta = _RowDelta
"""What :func:`row_delta_producer` returns: a snapshot producer with ``add_delete_file``."""


def row_delta_producer(
    tx: Transaction, io: FileIO, snapshot_properties: dict[str, str]
) -> RowDelta:
    """Return a snapshot producer that adds data files and position delete files at once.

    Iceberg's ``RowDelta``: ``append_data_file`` adds data files (a DATA manifest, as an
    overwrite), ``add_delete_file`` adds position delete files (a DELETES manifest per
    partition spec), ``delete_data_file`` removes data files; the summary counts all of them
    (``added-position-delete-files``, ``added-position-deletes``, the totals). The table must
    be format version 2 (a v1 manifest list refuses delete manifests).

    Args:
        tx: The table transaction (a table with a current snapshot).
        io: The table's FileIO.
        snapshot_properties: Extra summary entries.

    Returns:
        The producer (use it as a context manager, like ``overwrite()``).
    """
    return _RowDelta(
        operation=Operation.OVERWRITE,
        transaction=tx,
        io=io,
        snapshot_properties=snapshot_properties,
    )
