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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.io.pyarrow import (
    _determine_partitions,
    _pyarrow_to_schema_without_ids,
    _to_requested_schema,
)
from pyiceberg.table.snapshots import Operation, Summary
from pyiceberg.table.update.snapshot import _OverwriteFiles, _SnapshotProducer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyiceberg.io import FileIO
    from pyiceberg.io.fileformat import FileFormatModel
    from pyiceberg.manifest import DataFile
    from pyiceberg.partitioning import PartitionKey, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Transaction
    from pyiceberg.table.locations import LocationProvider

__all__ = [
    "SUPPORTED_PYICEBERG",
    "SnapshotProducer",
    "arrow_to_schema",
    "clean_uncommitted",
    "ensure_spec_id",
    "never_rebase",
    "rewrite_producer",
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
) -> SnapshotProducer:
    """Return a snapshot producer that commits a ``replace`` snapshot (Iceberg's RewriteFiles).

    It removes the data files given to ``delete_data_file`` and adds those given to
    ``append_data_file``, as an overwrite does, but its summary says ``replace``: the table's
    rows did not change.

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


class _ReplaceFiles(_OverwriteFiles):
    """An overwrite whose snapshot summary says ``replace`` (see :func:`rewrite_producer`)."""

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
        summary = super()._summary(dict(snapshot_properties or {}))
        return Summary(Operation.REPLACE, **summary.additional_properties)


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
