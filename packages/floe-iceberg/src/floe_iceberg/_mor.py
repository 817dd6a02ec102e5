"""Merge (upsert on a primary key) as merge-on-read: new data files plus position deletes.

The incoming rows are written as new data files, deduplicated on the key as for copy-on-write
(last one wins; :mod:`._merge`). No existing data file is rewritten: the rows they hold for an
incoming key are deleted by position delete files (:mod:`._deletes`), one per data file hit,
committed with the new data files and the state in one overwrite snapshot
(:func:`~floe_iceberg._pyiceberg.row_delta_producer`).

Finding the rows to delete reads only the key columns of candidate files:

- candidates are the current snapshot's data files whose key min/max may hold an incoming key
  (:func:`._merge.key_range`), and, when the key includes every source column of the table's
  partition spec (a key's partition then never changes), only files of the partitions the
  incoming rows land in. Otherwise a key may have moved between partitions, and every
  partition is a candidate, pruned by the key statistics only;
- the positions earlier delete files already delete are left out (the scan task's delete
  files, read by :func:`._deletes.deleted_positions`), so a key updated twice is deleted once
  per version and a deleted row is never counted again.

:func:`settle_merge` is the commit's one entry for a merge of either strategy; copy-on-write
into a partitioned table rewrites hit files split by the current spec (their rows keep their
partition) through :func:`._partitioned.write_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import structlog
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile
from pyiceberg.table import DataScan
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record

from floe_iceberg import _merge
from floe_iceberg._deletes import deleted_positions, write_position_deletes
from floe_iceberg._files import FileWriter, WrittenFile
from floe_iceberg._partitioned import write_rows

__all__ = [
    "MergeOnRead",
    "SettledMerge",
    "key_fixes_partition",
    "plan_merge_on_read",
    "settle_merge",
]

log = structlog.get_logger(__name__)

_POS = "__floe_pos"


@dataclass
class MergeOnRead:
    """What a merge-on-read commit adds besides the incoming data files.

    Attributes:
        delete_files: Position delete files, one per existing data file with replaced rows.
        replaced: Existing rows the delete files delete.
        superseded: Incoming rows a later duplicate key superseded (dropped before commit).
        candidates: Existing data files whose key columns were read.
    """

    delete_files: list[DataFile]
    replaced: int
    superseded: int
    candidates: int


@dataclass
class SettledMerge:
    """What a merge's commit changes besides adding the incoming data files.

    Attributes:
        removed: Existing data files to remove (copy-on-write).
        rewrites: Their rewritten replacements (copy-on-write).
        delete_files: Position delete files to add (merge-on-read).
        superseded: Incoming rows a later duplicate key superseded.
    """

    removed: list[DataFile]
    rewrites: list[WrittenFile]
    delete_files: list[DataFile]
    superseded: int


def settle_merge(
    writer: FileWriter,
    metadata: TableMetadata,
    io: FileIO,
    *,
    primary_key: Sequence[str],
    merge_on_read: bool,
    keys: Sequence[pa.Table],
    written: list[WrittenFile | None],
) -> SettledMerge:
    """Settle a merge once every part's files are written, by either strategy.

    Args:
        writer: The committer's file writer.
        metadata: The transaction's table metadata.
        io: The table's FileIO.
        primary_key: The merge key.
        merge_on_read: Position delete files (True) or copy-on-write rewrites.
        keys: The key columns of each incoming file, in load order.
        written: The incoming files, in load order (superseded rows are dropped from them).

    Returns:
        The files to remove, rewrite and add.
    """
    index = _merge.KeyIndex(primary_key)
    for file_no, file_keys in enumerate(keys):
        index.add(file_no, file_keys)
    if merge_on_read:
        planned = plan_merge_on_read(writer, metadata, io, index, written)
        return SettledMerge([], [], planned.delete_files, planned.superseded)
    if metadata.spec().is_unpartitioned():
        removed, rewrites, superseded = _merge.plan_merge(writer, metadata, io, index, written)
        return SettledMerge(removed, rewrites, [], superseded)
    # copy-on-write into a partitioned table: rewrites keep (re-split by) the current spec
    distinct, superseded = drop_superseded(writer, metadata, io, index, written)
    removed, pending, _ = _merge.delete_matching(
        writer,
        metadata,
        io,
        distinct,
        index.keys,
        rewrite=lambda rows: write_rows(writer, metadata, rows),
    )
    return SettledMerge(removed, [f.result() for f in pending], [], superseded)


def key_fixes_partition(metadata: TableMetadata, names: Sequence[str]) -> bool:
    """Whether the merge key includes every source column of the table's partition spec.

    Then a key's row always lands in the partition its old row is in (partition values are
    functions of the key), so candidates can be pruned by the incoming rows' partitions.

    Args:
        metadata: The table metadata.
        names: Primary-key columns.

    Returns:
        True for such a key (and for an unpartitioned table).
    """
    schema = metadata.schema()
    sources = {schema.find_column_name(f.source_id) for f in metadata.spec().fields}
    return sources <= set(names)


def _rewrite_without(
    writer: FileWriter,
    metadata: TableMetadata,
    io: FileIO,
    written: WrittenFile,
    positions: pa.Array,
) -> WrittenFile | None:
    """Rewrite one of the load's own files without some rows, keeping its partition."""
    if metadata.spec().is_unpartitioned():
        pending = _merge.drop_rows(writer, metadata, io, written, positions)
        return pending.result() if pending is not None else None
    rows = _merge.read_file(metadata, io, written.data_file, metadata.schema())
    kept = _merge.without(rows, positions)
    writer.delete(written.data_file.file_path)
    if kept.num_rows == 0:
        return None
    (replacement,) = write_rows(writer, metadata, kept)  # one file's rows: one partition
    return replacement.result()


def drop_superseded(
    writer: FileWriter,
    metadata: TableMetadata,
    io: FileIO,
    index: _merge.KeyIndex,
    written: list[WrittenFile | None],
) -> tuple[pa.Table, int]:
    """Drop incoming rows whose key a later incoming row has (files of this load only).

    Args:
        writer: The load's file writer.
        metadata: The transaction's table metadata.
        io: The table's FileIO.
        index: The incoming keys by file.
        written: The load's files, in order; an entry becomes its rewrite, or None.

    Returns:
        The distinct incoming keys and how many incoming rows were superseded.
    """
    keys, losers = index.resolve()
    superseded = 0
    for file_no, positions in losers.items():
        old = written[file_no]
        assert old is not None
        written[file_no] = _rewrite_without(writer, metadata, io, old, positions)
        superseded += len(positions)
    return keys, superseded


def _incoming_partitions(written: Sequence[WrittenFile | None]) -> set[tuple[int, Record]]:
    return {(w.data_file.spec_id, w.data_file.partition) for w in written if w is not None}


def plan_merge_on_read(
    writer: FileWriter,
    metadata: TableMetadata,
    io: FileIO,
    index: _merge.KeyIndex,
    written: list[WrittenFile | None],
) -> MergeOnRead:
    """Settle a merge-on-read once every incoming file is written.

    Args:
        writer: The load's file writer (delete files and rewrites go through it).
        metadata: The transaction's table metadata (schema, spec, current snapshot).
        io: The table's FileIO.
        index: The incoming keys by file.
        written: The load's files, in order (superseded rows are dropped from them).

    Returns:
        The delete files to commit and the counts.
    """
    keys, superseded = drop_superseded(writer, metadata, io, index, written)
    names = index.keys
    if keys.num_rows == 0 or metadata.current_snapshot() is None:
        return MergeOnRead([], 0, superseded, 0)
    partitions: set[tuple[int, Record]] | None = None
    if not metadata.spec().is_unpartitioned() and key_fixes_partition(metadata, names):
        partitions = _incoming_partitions(written)
    scan = DataScan(table_metadata=metadata, io=io, row_filter=_merge.key_range(keys, names))
    delete_files: list[DataFile] = []
    replaced = candidates = 0
    for task in scan.plan_files():
        data_file = task.file
        current = data_file.spec_id == metadata.default_spec_id
        if (
            partitions is not None
            and current
            and (data_file.spec_id, data_file.partition) not in (partitions)
        ):
            continue
        candidates += 1
        existing = _merge.read_keys(metadata, io, data_file, names)  # every row, file order
        if existing.num_rows == 0:
            continue
        existing = pa.table([existing[n].cast(keys[n].type) for n in names], names=list(names))
        existing = existing.append_column(_POS, _merge.row_numbers(existing.num_rows))
        gone = deleted_positions(io, task.delete_files, data_file.file_path)
        if len(gone):
            existing = existing.filter(pc.invert(pc.is_in(existing[_POS], value_set=gone)))
        hits = existing.join(keys, keys=list(names), join_type="left semi", use_threads=False)
        if hits.num_rows == 0:
            continue
        positions = hits[_POS].combine_chunks()
        delete_files.append(write_position_deletes(writer, metadata, io, data_file, positions))
        replaced += len(positions)
    log.debug(
        "merge_on_read_planned",
        candidates=candidates,
        delete_files=len(delete_files),
        replaced=replaced,
        partition_pruned=partitions is not None,
    )
    return MergeOnRead(delete_files, replaced, superseded, candidates)
