"""Compaction: rewrite a table's small data files into files of the target size, rows unchanged.

Shaped like Iceberg's ``RewriteFiles``: :func:`plan_compaction` picks, against one table version,
the live data files smaller than the threshold; :func:`write_compacted` reads their rows (in
the table's current schema) and writes new files through the load path's
:class:`~floe_iceberg._roll.FileRoller`; :func:`commit_compaction` commits one ``replace``
snapshot that removes exactly the planned files and adds the new ones. Before each attempt it
reloads the table and checks every planned file is still live: if a concurrent commit removed
or rewrote one (a merge, a replace), it fails with COMMIT_CONFLICT and deletes its own files,
leaving the table unchanged, instead of bringing those rows back. A concurrent append only
makes the attempt retry on the new head. Every attempt carries the newest value of each state
key (``floe.state.*``) into the compaction snapshot, so the next incremental load resumes from
the cursor it would have found anyway, and expiring older snapshots cannot lose it.

A partitioned table is compacted partition by partition: only partitions of the current spec
holding two or more small files (or a file a delete applies to) are rewritten, through the
load path's :class:`~floe_iceberg._partitioned.PartitionedRoller`, so every new file holds one
partition's rows; files of older specs stay as they are.

Refused (skipped with a reason, the table untouched): a sort order with transforms other than
identity, and a table with equality delete files (floe folds position deletes only).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import structlog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntry
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.transforms import IdentityTransform

from floe_core import DestinationWriteError, ErrorCode
from floe_iceberg._files import FileWriter, WrittenFile
from floe_iceberg._fold import match_deletes
from floe_iceberg._partitioned import PartitionedRoller
from floe_iceberg._pyiceberg import clean_uncommitted, never_rebase, rewrite_producer
from floe_iceberg._roll import FileRoller
from floe_iceberg.schema import target_arrow_schema
from floe_iceberg.state import STATE_PREFIX

__all__ = ["CompactionPlan", "carried_states", "commit_compaction", "live_files", "plan_compaction"]

log = structlog.get_logger(__name__)

COMMIT_ATTEMPTS = 8
"""Commits tried when concurrent appends keep moving the table's head."""
_ROW_GROUP_LIMIT = "write.parquet.row-group-limit"
_ROW_GROUP_LIMIT_DEFAULT = 1_048_576  # pyiceberg's default for the property
_CHUNK_BYTES = 128 * 1024 * 1024
"""Arrow bytes of rows handed to the file writer at once (at most one row group's worth)."""
_BACKOFF_SECONDS = 0.05
"""First wait between commit attempts; doubled each time, jittered, capped at 2 s."""


@dataclass
class CompactionPlan:
    """What one compaction rewrites, planned against one table version.

    Attributes:
        table: ``namespace.table``.
        files: The data files to rewrite: the small ones and every one a delete applies to.
        files_before: Live data files then.
        bytes_before: Their bytes.
        skipped: Why nothing is compacted (None when :attr:`files` is the work).
        sort_columns: Columns the rewritten rows are sorted by (the table's sort order).
        applied: Data file path → the position delete files applied when it is read.
        delete_files: The delete files the compaction snapshot removes.
        deletes_seen: Paths of every live delete file of the planned version (a commit finding
            any other set conflicts: a new delete could name a row being rewritten).
    """

    table: str
    files: list[DataFile] = field(default_factory=list)
    files_before: int = 0
    bytes_before: int = 0
    skipped: str | None = None
    sort_columns: tuple[str, ...] = ()
    applied: dict[str, set[DataFile]] = field(default_factory=dict)
    delete_files: list[DataFile] = field(default_factory=list)
    deletes_seen: frozenset[str] = frozenset()

    @property
    def bytes(self) -> int:
        """Bytes of the files to rewrite."""
        return sum(f.file_size_in_bytes for f in self.files)

    @property
    def rows(self) -> int:
        """Rows in the files to rewrite."""
        return sum(f.record_count for f in self.files)


def _live_entries(metadata: TableMetadata, table: Table) -> list[ManifestEntry]:
    snapshot = metadata.current_snapshot()
    if snapshot is None:
        return []
    return [
        entry
        for manifest in snapshot.manifests(table.io)
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
    ]


def live_files(metadata: TableMetadata, table: Table) -> list[DataFile]:
    """Return every live file (data and delete files) of the table's current snapshot.

    Args:
        metadata: The table metadata.
        table: The table (for its FileIO).

    Returns:
        The files.
    """
    return [entry.data_file for entry in _live_entries(metadata, table)]


def carried_states(metadata: TableMetadata) -> dict[str, str]:
    """Return the newest value of every state key, as of the table's current snapshot.

    Args:
        metadata: The table metadata.

    Returns:
        ``floe.state.<key>`` → the stored value (inline JSON or a state-file reference),
        walking back from the current snapshot through its parents.
    """
    states: dict[str, str] = {}
    snapshot = metadata.current_snapshot()
    seen: set[int] = set()
    while snapshot is not None and snapshot.snapshot_id not in seen:
        seen.add(snapshot.snapshot_id)
        if snapshot.summary is not None:
            for key, value in snapshot.summary.additional_properties.items():
                if key.startswith(STATE_PREFIX):
                    states.setdefault(key, value)
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    return states


def _sort_columns(metadata: TableMetadata) -> tuple[str, ...] | None:
    order = metadata.sort_order()
    if order.is_unsorted:
        return ()
    schema = metadata.schema()
    columns: list[str] = []
    for sort_field in order.fields:
        if not isinstance(sort_field.transform, IdentityTransform):
            return None
        columns.append(schema.find_column_name(sort_field.source_id) or "")
    return tuple(columns)


def plan_compaction(table: Table, name: str, *, small_file_bytes: int) -> CompactionPlan:
    """Pick the data files to rewrite, against the table's current version.

    Args:
        table: The loaded table.
        name: ``namespace.table``.
        small_file_bytes: Files smaller than this are rewritten (and, whatever their size,
            the files a position delete applies to).

    Returns:
        The plan (``skipped`` says why there is nothing to do).
    """
    metadata = table.metadata
    entries = _live_entries(metadata, table)
    # oldest first: rewritten rows keep the order they were loaded in (compresses as well)
    ordered = sorted(entries, key=lambda e: (e.sequence_number or 0, e.data_file.file_path))
    data_entries = [e for e in ordered if e.data_file.content == DataFileContent.DATA]
    data = [e.data_file for e in data_entries]
    plan = CompactionPlan(
        name, files_before=len(data), bytes_before=sum(f.file_size_in_bytes for f in data)
    )
    delete_entries = [e for e in ordered if e.data_file.content != DataFileContent.DATA]
    deletes = match_deletes(table.io, data_entries, delete_entries)
    if deletes.equality:
        plan.skipped = "the table has equality delete files; floe folds position deletes only"
        return plan
    sort_columns = _sort_columns(metadata)
    if sort_columns is None:
        plan.skipped = "the sort order uses transforms; only identity sort orders are kept"
        return plan
    plan.sort_columns = sort_columns
    plan.deletes_seen = frozenset(deletes.files)
    current_spec = metadata.default_spec_id
    chosen = [
        f
        for f in data
        if f.spec_id == current_spec
        and (f.file_size_in_bytes < small_file_bytes or f.file_path in deletes.applied)
    ]
    chosen = _worth_rewriting(chosen, set(deletes.applied))
    with_deletes = [f for f in chosen if f.file_path in deletes.applied]
    plan.files = chosen
    plan.applied = {f.file_path: deletes.applied[f.file_path] for f in with_deletes}
    plan.delete_files = deletes.removable(
        (f.file_path for f in chosen), (f.file_path for f in data)
    )
    if not plan.files and not plan.delete_files:
        where = "" if metadata.spec().is_unpartitioned() else " in any partition"
        plan.skipped = f"fewer than two small files{where}"
    return plan


def _worth_rewriting(files: list[DataFile], with_deletes: set[str]) -> list[DataFile]:
    """The files whose rewrite changes something: per partition, two or more, or deletes.

    A partition holding one small file and no deletes would be rewritten into the same one
    file. (An unpartitioned table is one partition.) Delete files naming only removed files may
    still go when nothing is rewritten.
    """
    groups: dict[tuple[int, object], list[DataFile]] = {}
    for f in files:
        groups.setdefault((f.spec_id, f.partition), []).append(f)
    return [
        f
        for group in groups.values()
        if len(group) >= 2 or any(g.file_path in with_deletes for g in group)
        for f in group
    ]


def _batches(table: Table, plan: CompactionPlan, target: pa.Schema) -> Iterator[pa.RecordBatch]:
    metadata = table.metadata
    scan = ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue())
    # each file read with the position deletes that apply to it: only live rows are rewritten
    tasks = [FileScanTask(f, delete_files=plan.applied.get(f.file_path)) for f in plan.files]
    if plan.sort_columns:
        rows = pa.Table.from_batches(list(scan.to_record_batches(tasks)), schema=target)
        yield from rows.sort_by([(c, "ascending") for c in plan.sort_columns]).to_batches()
        return
    # Row groups as large as the table allows (the loads' small batches would otherwise make
    # 16 MiB ones, each with its own dictionary pages: about a third more bytes to scan).
    limit = int(metadata.properties.get(_ROW_GROUP_LIMIT, _ROW_GROUP_LIMIT_DEFAULT))
    chunk: list[pa.RecordBatch] = []
    rows = 0
    for task in tasks:  # one file at a time, in order (to_record_batches reads concurrently)
        for batch in scan.to_record_batches([task]):
            chunk.append(batch if batch.schema == target else batch.cast(target))
            rows += batch.num_rows
            if rows >= limit or sum(b.nbytes for b in chunk) >= _CHUNK_BYTES:
                yield from pa.Table.from_batches(chunk, schema=target).combine_chunks().to_batches()
                chunk, rows = [], 0
    if chunk:
        yield from pa.Table.from_batches(chunk, schema=target).combine_chunks().to_batches()


def write_compacted(
    table: Table, plan: CompactionPlan, *, target_file_bytes: int
) -> tuple[FileWriter, list[WrittenFile]]:
    """Write the planned files' rows into new data files of about ``target_file_bytes`` each.

    Args:
        table: The table, at the version the plan was made against.
        plan: The plan.
        target_file_bytes: Size on disk to aim at; converted to Arrow bytes with the ratio of
            the planned files (Arrow bytes read per Parquet byte).

    Returns:
        The writer (its :meth:`~FileWriter.discard` deletes the new files) and the files.

    Raises:
        Exception: pyarrow/pyiceberg/storage failures, raw; the new files are deleted first.
    """
    metadata = table.metadata
    target = target_arrow_schema(metadata.schema())
    writer = FileWriter(table.io)
    roller: FileRoller | PartitionedRoller | None = None
    split = not metadata.spec().is_unpartitioned()
    disk = max(1, plan.bytes)
    try:
        for batch in _batches(table, plan, target):
            if roller is None:
                # Parquet compresses; the roller counts Arrow bytes. The ratio: Arrow bytes per
                # row of the first chunk over Parquet bytes per row of the planned files.
                disk_per_row = disk / max(1, plan.rows)
                ratio = max(1.0, batch.nbytes / max(1, batch.num_rows) / disk_per_row)
                make = PartitionedRoller if split else FileRoller
                roller = make(
                    writer,
                    metadata,
                    target_file_bytes=max(1, int(target_file_bytes * ratio)),
                    target_file_rows=None,
                )
            roller.add(batch)
        written = roller.finish() if roller is not None else []
    except BaseException:
        if roller is not None:
            roller.cancel()
        writer.discard()
        raise
    writer.close()
    return writer, [w for w in written if w is not None]


def commit_compaction(
    table: Table,
    name: str,
    plan: CompactionPlan,
    written: Sequence[WrittenFile],
    writer: FileWriter,
    *,
    reload: Callable[[], Table],
) -> int:
    """Commit one ``replace`` snapshot removing the planned files and adding ``written``.

    Args:
        table: The table as planned (its catalog reloads it before each attempt).
        name: ``namespace.table``.
        plan: What to remove.
        written: What to add.
        writer: The writer of ``written`` (its files are deleted when nothing lands).
        reload: A callable returning the table as the catalog has it now.

    Returns:
        The new snapshot's id.

    Raises:
        DestinationWriteError: COMMIT_CONFLICT when a concurrent commit removed or rewrote a
            planned file (or the head kept moving); the table is unchanged, the new files
            deleted.
        Exception: A commit whose outcome is unknown propagates raw (the files are kept).
    """
    planned = {f.file_path for f in plan.files}
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        current: Table = reload()
        metadata = current.metadata
        live = {f.file_path: f for f in live_files(metadata, current)}
        missing = sorted(planned - live.keys())
        deletes = {p for p, f in live.items() if f.content != DataFileContent.DATA}
        if missing or deletes != plan.deletes_seen:
            writer.discard()
            what = f"{len(missing)} of its files" if missing else "the delete files changed"
            raise DestinationWriteError(
                f"table {name!r}: a concurrent commit changed the files this compaction "
                f"rewrites ({what}); nothing was committed, run maintenance again",
                code=ErrorCode.COMMIT_CONFLICT,
                details={"table": name, "missing_files": missing[:10]},
            )
        properties = {
            **carried_states(metadata),
            "floe.maintenance": "compact",
            "floe.files-rewritten": str(len(plan.files)),
            "floe.rows-rewritten": str(sum(w.data_file.record_count for w in written)),
        }
        if plan.delete_files:
            properties["floe.delete-files-folded"] = str(len(plan.delete_files))
        tx = current.transaction()
        producer = rewrite_producer(tx, current.io, properties)
        with producer:
            for path in sorted(planned):
                producer.delete_data_file(live[path])
            for new in written:
                producer.append_data_file(new.data_file)
            for delete_file in plan.delete_files:
                producer.remove_delete_file(delete_file)
        never_rebase(tx, producer)  # re-checked above on every attempt instead
        try:
            tx.commit_transaction()
        except CommitFailedException:
            clean_uncommitted(producer)
            log.info("compaction_retry", table=name, attempt=attempt)
            wait = min(2.0, _BACKOFF_SECONDS * 2 ** (attempt - 1))
            time.sleep(wait * random.uniform(0.5, 1.5))
            continue
        return producer.snapshot_id
    writer.discard()
    raise DestinationWriteError(
        f"table {name!r}: the table kept changing during {COMMIT_ATTEMPTS} compaction commits; "
        "nothing was committed, run maintenance again",
        code=ErrorCode.COMMIT_CONFLICT,
        details={"table": name},
    )
