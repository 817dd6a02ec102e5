"""Stream Arrow batches into an Iceberg table: one atomic commit per table per load.

``write_table`` consumes the batches once, normalising their types (:mod:`.schema`), applying
the schema contract, and writing Parquet data files in the background as the rows arrive
(about ``target_file_bytes`` of Arrow data per file). Appends and replaces stream each batch
into the open file, row group by row group, so writing overlaps extraction; merge gathers
each file's rows first (at most ``max_in_flight`` such chunks in memory) to de-duplicate keys.
Only when the input is exhausted does it ask for the load's state, then commits everything in a
single snapshot through the catalog:

- ``append``: one fast-append of the new files;
- ``replace``: one overwrite that removes every current data file and adds the new ones;
- ``merge``: one overwrite that drops or rewrites the files holding incoming keys (see
  :mod:`._merge`) and adds the new ones.

Schema changes (new columns, promotions) are staged in the same transaction, and a table that
does not exist is created by the same commit as its first data, so a failed load leaves the
catalog exactly as it was and deletes the files it wrote (best effort; data, manifests and a
large state's file). Only when the catalog's answer to the commit itself is unknown (a dropped
connection) are the files kept, because the commit may have landed.

A load with a ``state_key`` commits on top of the version it started from or not at all: it is
never rebased onto a concurrent commit (pyiceberg would re-apply its fast append on the new
head), and with ``based_on`` it refuses to start on another version than its state was read
from. Pure appends without state keep pyiceberg's own commit retries.

Errors: floe errors for what this module detects (contract violations, bad names or types,
configuration); everything else propagates raw for the plugin's error boundary::

    raised by a dependency                          what it means here
    -------------------------------------------------------------------------------------------
    pyiceberg CommitFailedException                 a concurrent commit won (a load with state
                                                    at once, a pure append after pyiceberg's
                                                    own retries); nothing landed: TRANSIENT
    pyiceberg ValidationException                   a concurrent commit conflicts with this
                                                    replace/merge; nothing landed: TRANSIENT
    pyiceberg TableAlreadyExistsError               a concurrent load created the table first:
                                                    TRANSIENT (the re-run appends to it)
    pyiceberg CommitStateUnknownException,          the commit's outcome is unknown (files kept):
      ServerError, ServiceUnavailableError,         TRANSIENT
      requests ConnectionError / Timeout
    pyiceberg UnauthorizedError, OAuthError,        catalog credentials: PERMANENT AUTH_FAILED
      ForbiddenError, AuthorizationExpiredError
    pyiceberg BadRequestError, NoSuchNamespaceError the catalog refused a name: CONFIGURATION
    pyiceberg ValidationError, ResolveError         inconsistent table metadata: PERMANENT
    OSError (FileNotFoundError, PermissionError),   storage failed while writing files (S3 errors
      pyarrow ArrowIOError                          arrive as OSError): TRANSIENT
    sqlalchemy OperationalError                     the SQL catalog's database (locked SQLite,
                                                    unreachable PostgreSQL): TRANSIENT
    pyarrow ArrowInvalid / ArrowNotImplementedError a key type pyarrow cannot hash (merge):
                                                    PERMANENT
    TypeError                                       ``state()`` returned a non-JSON value (a bug)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import structlog
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchTableError,
    TableAlreadyExistsError,
    ValidationException,
)
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update.snapshot import _SnapshotProducer

from floe_core import (
    DestinationWriteError,
    ErrorCode,
    PipelineConfigurationError,
    SchemaContract,
    SchemaContractViolation,
    WriteMode,
)
from floe_core.telemetry import span
from floe_iceberg import _merge
from floe_iceberg._files import FileWriter, StreamedFile, WrittenFile
from floe_iceberg.schema import (
    coerce_types,
    conform,
    discard,
    key_columns_missing,
    normalize_batch,
    plan_contract,
    target_arrow_schema,
)
from floe_iceberg.state import (
    StateRead,
    encode_state,
    same_state,
    state_property,
    stored_state_value,
    summary_value,
)

__all__ = ["DEFAULT_TARGET_FILE_BYTES", "CommittedWrite", "TableWrite", "write_table"]

log = structlog.get_logger(__name__)

DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024
"""Arrow bytes accumulated per data file (Parquet on disk is typically 3-10x smaller)."""

_NEW_TABLE_PROPERTIES = {
    # one metadata file per load would pile up forever; keep the last 100 (readers of older
    # snapshots are unaffected: snapshots live on until expire_snapshots)
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}
_NOT_LANDED = (CommitFailedException, ValidationException, TableAlreadyExistsError)
_IDENT_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class TableWrite:
    """What to write and how.

    Attributes:
        table: ``namespace.table``; namespaces are created as needed.
        write_mode: ``append``, ``replace`` or ``merge``.
        primary_key: The key ``merge`` upserts on (one or more columns).
        schema_contract: What new columns in the data do to an existing table.
        state_key: Where this load's state lives (e.g. the pipeline/resource name). A load
            with a state key is never rebased onto a concurrent commit: it fails instead.
        based_on: The table version this load's state was read from
            (:func:`~floe_iceberg.state.read_table_state`); the write refuses,
            as a COMMIT_CONFLICT with nothing written, when the table is at another version.
        snapshot_properties: Extra properties recorded in the summary of the snapshot this
            load commits (an orchestrator's run id, ...); the write path's own ``floe.*``
            properties win over a key of the same name.
    """

    table: str
    write_mode: WriteMode
    primary_key: tuple[str, ...] = ()
    schema_contract: SchemaContract = SchemaContract.EVOLVE
    state_key: str | None = None
    based_on: StateRead | None = None
    snapshot_properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommittedWrite:
    """What one load committed to one table.

    Attributes:
        table: ``namespace.table``.
        snapshot_id: The snapshot the load committed, or None when nothing was committed
            (no rows, no deletions and no new state).
        rows_loaded: Rows written to the table by this load.
        bytes_written: Bytes of data files written (including files rewritten by merge).
        rows_discarded: Rows dropped by ``discard_row`` or superseded by a later duplicate key.
        files_written: Data files written (including rewrites).
    """

    table: str
    snapshot_id: int | None
    rows_loaded: int
    bytes_written: int
    rows_discarded: int = 0
    files_written: int = 0


def _identifier(table: str) -> tuple[str, ...]:
    namespace, sep, name = table.rpartition(".")
    parts = [*namespace.split("."), name] if sep else [name]
    if not sep or not all(p and p[0] != "_" and set(p) <= _IDENT_OK for p in parts):
        raise PipelineConfigurationError(
            f"destination table {table!r} must be 'namespace.table': letters, digits and '_', "
            "each part not starting with '_'",
            code=ErrorCode.DESTINATION_CONFIG_ERROR,
            details={"field": "destination_table"},
        )
    return tuple(parts)


def _batches_of(item: pa.RecordBatch | pa.Table) -> Iterator[pa.RecordBatch]:
    if isinstance(item, pa.RecordBatch):
        yield item
    elif isinstance(item, pa.Table):
        yield from item.to_batches()
    else:
        raise TypeError(f"write_table takes pyarrow RecordBatch or Table items, not {type(item)}")


def _current_data_files(metadata: TableMetadata, io: FileIO) -> list[DataFile]:
    snapshot = metadata.current_snapshot()
    if snapshot is None:
        return []
    return [
        entry.data_file
        for manifest in snapshot.manifests(io)
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)
        if entry.data_file.content == DataFileContent.DATA
    ]


class _Load:
    """The state of one ``write_table`` call."""

    def __init__(
        self,
        catalog: Catalog,
        spec: TableWrite,
        *,
        target_file_bytes: int,
        target_file_rows: int | None,
        max_in_flight: int,
    ) -> None:
        self.catalog = catalog
        self.spec = spec
        self.identifier = _identifier(spec.table)
        self.target_file_bytes = target_file_bytes
        self.target_file_rows = target_file_rows
        self.max_in_flight = max_in_flight
        try:
            self.table: Table | None = catalog.load_table(self.identifier)
        except NoSuchTableError:
            self.table = None
        self.existed = self.table is not None
        self._check_base()
        self.tx: Transaction | None = None
        self.io: FileIO | None = None
        self.writer: FileWriter | None = None
        self.metadata: TableMetadata | None = None
        self.target: pa.Schema | None = None
        self.schema_changed = False
        self.buffer: list[pa.RecordBatch] = []
        self.streaming: StreamedFile | None = None
        self.buffer_bytes = 0
        self.buffer_rows = 0
        self.futures: list[Future[WrittenFile]] = []
        self.rows = 0
        self.discarded = 0
        self.pending_null_rows = 0
        self.producer: _SnapshotProducer[Any] | None = None
        self.state_file: str | None = None
        self.keys = _merge.KeyIndex(spec.primary_key) if self.merging else None

    @property
    def merging(self) -> bool:
        return self.spec.write_mode is WriteMode.MERGE

    def _check_base(self) -> None:
        """Refuse to write on top of another table version than the state was read from."""
        base = self.spec.based_on
        if base is None:
            return
        snapshot = self.table.current_snapshot() if self.table is not None else None
        now = None if snapshot is None else snapshot.snapshot_id
        if (self.existed, now) == (base.table_exists, base.snapshot_id):
            return
        was = f"snapshot {base.snapshot_id}" if base.table_exists else "no table"
        raise DestinationWriteError(
            f"table {self.spec.table!r} changed after this load read its state ({was}, now "
            f"{f'snapshot {now}' if self.existed else 'no table'}): a concurrent load "
            "committed; nothing was written, retry the load",
            code=ErrorCode.COMMIT_CONFLICT,
            details={"table": self.spec.table, "read_snapshot_id": base.snapshot_id},
        )

    # -- setup -------------------------------------------------------------------------------

    def _begin(self, arrow_schema: pa.Schema | None) -> None:
        if self.table is not None:
            if not self.table.spec().is_unpartitioned():
                raise DestinationWriteError(
                    f"table {self.spec.table!r} is partitioned ({self.table.spec()}); this write "
                    "path writes unpartitioned Bronze tables. Load into a new table, or remove "
                    "the partition fields",
                    code=ErrorCode.DESTINATION_WRITE_FAILED,
                    details={"table": self.spec.table},
                )
            self.tx = self.table.transaction()
            self.io = self.table.io
        else:
            assert arrow_schema is not None
            namespace = self.identifier[:-1]
            self.catalog.create_namespace_if_not_exists(namespace)
            self.tx = self.catalog.create_table_transaction(
                self.identifier, schema=arrow_schema, properties=dict(_NEW_TABLE_PROPERTIES)
            )
            self.io = self.tx._table.io  # the staged table's FileIO; pyiceberg has no accessor
            self.schema_changed = True
        self.writer = FileWriter(self.io, max_in_flight=self.max_in_flight)
        self._refresh()

    def _refresh(self) -> None:
        assert self.tx is not None
        self.metadata = self.tx.table_metadata
        self.target = target_arrow_schema(self.metadata.schema())

    # -- consuming ---------------------------------------------------------------------------

    def add(self, batch: pa.RecordBatch) -> None:
        rows = batch.num_rows
        normalized = normalize_batch(batch)
        if normalized.num_columns == 0:
            if self.tx is None and self.table is None:
                self.pending_null_rows += rows  # no typed column yet: the schema is unknown
                return
            if self.tx is None:
                self._begin(None)
            self._buffer(self._nulls(rows))
            return
        current = self.metadata.schema() if self.metadata is not None else None
        normalized = coerce_types(
            normalized,
            current if current is not None or self.table is None else self.table.schema(),
            table=self.spec.table,
            keys=self.spec.primary_key if self.merging else (),
        )
        if self.tx is None:
            self._begin(normalized.schema)
            if self.pending_null_rows:
                self._buffer(self._nulls(self.pending_null_rows))
                self.pending_null_rows = 0
        assert self.tx is not None and self.metadata is not None
        plan = plan_contract(
            self.metadata.schema(),
            normalized.schema,
            self.spec.schema_contract,
            table=self.spec.table,
            contract_applies=self.existed,
        )
        if plan.evolve:
            self.flush()  # rows so far are written under the schema they were conformed to
            with self.tx.update_schema() as update:
                update.union_by_name(normalized.schema)
            self.schema_changed = True
            self._refresh()
        normalized, dropped = discard(normalized, plan)
        self.discarded += dropped
        if self.merging:
            self._check_keys(normalized)
        assert self.target is not None
        self._buffer(conform(normalized, self.target, table=self.spec.table))

    def _nulls(self, rows: int) -> pa.RecordBatch:
        assert self.target is not None
        if self.merging:
            missing = ", ".join(self.spec.primary_key)
            raise SchemaContractViolation(
                f"table {self.spec.table!r}: merge rows carry no value in primary key {missing}",
                details={"table": self.spec.table, "failed_rows": rows},
            )
        arrays = [pa.nulls(rows, type=f.type) for f in self.target]
        return pa.RecordBatch.from_arrays(arrays, schema=self.target)

    def _check_keys(self, batch: pa.RecordBatch) -> None:
        missing = key_columns_missing(batch.schema, self.spec.primary_key)
        if missing:
            raise PipelineConfigurationError(
                f"table {self.spec.table!r}: primary_key column(s) {', '.join(missing)} are not "
                f"in the data (columns: {', '.join(batch.schema.names)}); fix primary_key",
                code=ErrorCode.INVALID_CONFIG,
                details={"field": "primary_key", "missing": missing},
            )
        for name in self.spec.primary_key:
            nulls = batch.column(name).null_count
            if nulls:
                raise SchemaContractViolation(
                    f"table {self.spec.table!r}: {nulls} row(s) have a null primary key "
                    f"{name!r}; merge needs a value in every key column",
                    failed_records=nulls,
                    details={"table": self.spec.table, "column": name},
                )

    def _buffer(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        row_bytes = max(1.0, batch.nbytes / batch.num_rows)
        while batch.num_rows > 0:
            room_rows = int((self.target_file_bytes - self.buffer_bytes) / row_bytes)
            if self.target_file_rows is not None:
                room_rows = min(room_rows, self.target_file_rows - self.buffer_rows)
            room_rows = max(1, room_rows)
            piece = batch if batch.num_rows <= room_rows else batch.slice(0, room_rows)
            batch = batch.slice(piece.num_rows)
            self._take(piece)
            self.buffer_bytes += int(piece.num_rows * row_bytes)
            self.buffer_rows += piece.num_rows
            if self.buffer_bytes >= self.target_file_bytes or (
                self.target_file_rows is not None and self.buffer_rows >= self.target_file_rows
            ):
                self.flush()

    def _take(self, piece: pa.RecordBatch) -> None:
        if self.keys is not None:  # merge de-duplicates whole chunks: keep them until flush
            self.buffer.append(piece)
            return
        assert self.writer is not None and self.metadata is not None
        if self.streaming is None:
            self.streaming = self.writer.open(self.metadata)
        self.streaming.write(piece)

    def flush(self) -> None:
        if self.streaming is not None:  # append / replace: the rows are already on their way
            streamed, self.streaming = self.streaming, None
            self.rows += self.buffer_rows
            self.buffer_bytes = self.buffer_rows = 0
            self.futures.append(streamed.close())
            return
        if not self.buffer:
            return
        assert self.writer is not None and self.metadata is not None
        batches, self.buffer = self.buffer, []
        self.buffer_bytes = self.buffer_rows = 0
        if self.keys is not None:
            chunk, dropped = _merge.dedupe(pa.Table.from_batches(batches), self.spec.primary_key)
            self.discarded += dropped
            self.keys.add(len(self.futures), chunk)
            batches = chunk.to_batches()
        self.rows += sum(b.num_rows for b in batches)
        self.futures.append(self.writer.submit(self.metadata, batches))

    # -- committing --------------------------------------------------------------------------

    def _merge_deletes(
        self, written: list[WrittenFile | None]
    ) -> tuple[list[DataFile], list[WrittenFile]]:
        assert self.keys is not None and self.writer is not None
        assert self.metadata is not None and self.io is not None
        keys, losers = self.keys.resolve()
        for file_no, positions in losers.items():
            old = written[file_no]
            assert old is not None
            replacement = _merge.drop_rows(self.writer, self.metadata, self.io, old, positions)
            self.discarded += len(positions)
            self.rows -= len(positions)
            written[file_no] = replacement.result() if replacement is not None else None
        removed, rewriting, _ = _merge.delete_matching(
            self.writer, self.metadata, self.io, keys, self.spec.primary_key
        )
        return removed, [f.result() for f in rewriting]

    def commit(self, state: dict[str, Any] | None) -> CommittedWrite:
        self.flush()
        if self.writer is not None:
            self.writer.wait()
        written: list[WrittenFile | None] = [f.result() for f in self.futures]
        new_text = encode_state(state) if state is not None else None
        if self.tx is None and self.table is not None:
            self._begin(None)
        if self.tx is None:  # no table and no typed data: nothing to create
            if self.pending_null_rows:
                log.warning(
                    "rows_without_typed_columns",
                    table=self.spec.table,
                    rows=self.pending_null_rows,
                    reason="every column was null, so the new table has no schema",
                )
            discarded = self.discarded + self.pending_null_rows
            return CommittedWrite(self.spec.table, None, 0, 0, discarded, 0)
        assert self.metadata is not None and self.io is not None
        removed: list[DataFile] = []
        rewrites: list[WrittenFile] = []
        if self.merging:
            removed, rewrites = self._merge_deletes(written)
        elif self.spec.write_mode is WriteMode.REPLACE:
            removed = _current_data_files(self.metadata, self.io)
        files = [w for w in written if w is not None] + rewrites
        # A state equal to the stored one needs no snapshot of its own and no new state file;
        # a snapshot made anyway (new rows) carries the stored summary value forward (a small
        # inline state or a file reference), so each of this key's snapshots holds its state
        # and expiring older snapshots cannot lose it.
        carried: str | None = None
        if self.spec.state_key is None:
            new_text = None
        else:
            stored = stored_state_value(self.metadata, self.spec.state_key)
            if new_text is None or same_state(stored, new_text):
                new_text, carried = None, stored
        needs_snapshot = bool(files or removed or new_text is not None or not self.existed)
        if not needs_snapshot and not self.schema_changed:
            self.writer_close()
            log.info("load_skipped", table=self.spec.table, reason="nothing to commit")
            return CommittedWrite(self.spec.table, None, 0, 0, self.discarded, 0)
        snapshot_id = self._commit(files, removed, new_text, needs_snapshot, carried=carried)
        result = CommittedWrite(
            table=self.spec.table,
            snapshot_id=snapshot_id,
            rows_loaded=self.rows,
            bytes_written=sum(w.data_file.file_size_in_bytes for w in files),
            rows_discarded=self.discarded,
            files_written=len(files),
        )
        log.info(
            "load_committed",
            table=self.spec.table,
            rows=result.rows_loaded,
            snapshot_id=snapshot_id,
            files=result.files_written,
            bytes=result.bytes_written,
            rows_discarded=result.rows_discarded,
            write_mode=self.spec.write_mode.value,
        )
        return result

    def _commit(
        self,
        files: list[WrittenFile],
        removed: list[DataFile],
        new_text: str | None,
        needs_snapshot: bool,
        *,
        carried: str | None = None,
    ) -> int | None:
        assert self.tx is not None and self.metadata is not None and self.io is not None
        snapshot_id: int | None = None
        with span(
            "commit",
            destination_table=self.spec.table,
            write_mode=self.spec.write_mode.value,
            schema_contract=self.spec.schema_contract.value,
        ) as current:
            if needs_snapshot:
                properties: dict[str, str] = dict(self.spec.snapshot_properties)
                if new_text is not None and self.spec.state_key is not None:
                    # written before the commit; abort() deletes it if the commit does not land
                    locations = self.tx._table.location_provider()
                    value, self.state_file = summary_value(new_text, self.io, locations)
                    properties[state_property(self.spec.state_key)] = value
                elif carried is not None and self.spec.state_key is not None:
                    properties[state_property(self.spec.state_key)] = carried
                properties.update(
                    {
                        "floe.write-mode": self.spec.write_mode.value,
                        "floe.rows-loaded": str(self.rows),
                        "floe.rows-discarded": str(self.discarded),
                        "floe.load-id": str(uuid.uuid4()),
                    }
                )
                update = self.tx.update_snapshot(snapshot_properties=properties)
                producer = update.overwrite() if removed else update.fast_append()
                self.producer = producer
                with producer:
                    for data_file in removed:
                        producer.delete_data_file(data_file)
                    for written in files:
                        producer.append_data_file(written.data_file)
                if self.spec.state_key is not None or self.spec.based_on is not None:
                    _never_rebase(self.tx, producer)
                snapshot_id = producer.snapshot_id
            self.committing = True
            self.tx.commit_transaction()
            self.committed = True  # from here on, never delete a file of this load
            current.set_attribute("ingestion.rows_loaded", self.rows)
            current.set_attribute(
                "ingestion.bytes_written", sum(w.data_file.file_size_in_bytes for w in files)
            )
            if snapshot_id is not None:
                current.set_attribute("ingestion.snapshot_id", snapshot_id)
        self.writer_close()
        return snapshot_id

    committing = False
    committed = False

    def writer_close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def abort(self, error: BaseException) -> None:
        """Clean up after a failure: delete this load's files unless the commit may have landed."""
        if self.streaming is not None:  # the source failed mid-file: stop its worker
            self.streaming.cancel()
            self.streaming = None
        if self.writer is None:
            return
        if self.committed:
            self.writer.close()
            return
        if self.committing and not isinstance(error, _NOT_LANDED):
            self.writer.close()
            log.warning(
                "commit_outcome_unknown",
                table=self.spec.table,
                error=type(error).__name__,
                files_kept=len(self.writer.paths),
            )
            return
        if self.producer is not None:
            try:
                self.producer._clean_all_uncommitted()  # manifests of a commit that did not land
            except Exception:
                log.warning("manifest_cleanup_failed", table=self.spec.table)
        if self.state_file is not None and self.io is not None:
            try:
                self.io.delete(self.state_file)
            except Exception:
                log.warning("state_file_cleanup_failed", table=self.spec.table)
        self.writer.discard()


def _never_rebase(tx: Transaction, producer: _SnapshotProducer[Any]) -> None:
    """Make a staged snapshot fail, instead of being rebased, if the table moves before commit.

    On a CommitFailedException pyiceberg 0.12's ``commit_transaction`` refreshes the table and
    re-runs every registered snapshot producer on top of the new head
    (``Transaction._rebuild_snapshot_updates``; a fast append validates nothing). A load with
    state chose its rows from the cursor it read at the base version: rebased, it would land on
    top of a concurrent load of the same rows (duplicates, and its older cursor on top). With
    no producer registered, pyiceberg re-raises at once and the staged snapshot keeps its
    ``AssertRefSnapshotId`` on the base; the plugin reports COMMIT_CONFLICT and the runner
    re-runs the load, which re-reads the state. The producer stays staged (its updates are in
    the transaction); ``_Load.abort`` deletes its manifests when the commit fails.
    """
    tx._snapshot_producers.remove(producer)


def write_table(
    catalog: Catalog,
    spec: TableWrite,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    state: Callable[[], dict[str, Any] | None] | None = None,
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
    target_file_rows: int | None = None,
    max_in_flight: int = 2,
) -> CommittedWrite:
    """Write one load into one table, committing data, schema and state atomically.

    Args:
        catalog: The Iceberg catalog (see :func:`load_catalog`).
        spec: The table, write mode, key, contract and state key.
        batches: The rows, consumed once, as they come.
        state: Called after ``batches`` is exhausted; its dict is committed as the table's state
            for ``spec.state_key`` in the same snapshot as the data (unless it equals the
            stored state; a large one is written to a state file, see :mod:`.state`).
        target_file_bytes: Arrow bytes per data file.
        target_file_rows: Optional row cap per data file.
        max_in_flight: Data files written concurrently (each holds its rows in memory).

    Returns:
        What was committed.

    Raises:
        SchemaContractViolation: ``freeze`` met a new column or a variant column for a value
            that does not coerce to its column's type (SCHEMA_CONTRACT_VIOLATION); a merge key
            value that does not coerce, or a nested value against a scalar column
            (SCHEMA_CORRUPTION); or a merge row has a null key. Values that do not coerce land
            in dlt-named variant columns under the other contracts (:mod:`.schema`).
        DestinationWriteError: SCHEMA_CORRUPTION for a column name or type Iceberg cannot take;
            DESTINATION_WRITE_FAILED for a partitioned table (not supported); COMMIT_CONFLICT
            (before anything is read or written) when the table is not at ``spec.based_on``.
        PipelineConfigurationError: A bad table name (DESTINATION_CONFIG_ERROR) or a merge
            without (or with a missing) primary key (INVALID_CONFIG).
    """
    if spec.write_mode is WriteMode.MERGE and not spec.primary_key:
        raise PipelineConfigurationError(
            f"table {spec.table!r}: write_mode 'merge' needs primary_key",
            code=ErrorCode.INVALID_CONFIG,
            details={"field": "primary_key"},
        )
    started = time.monotonic()
    load = _Load(
        catalog,
        spec,
        target_file_bytes=target_file_bytes,
        target_file_rows=target_file_rows,
        max_in_flight=max_in_flight,
    )
    try:
        with span(
            "write_files", destination_table=spec.table, write_mode=spec.write_mode.value
        ) as current:
            for item in batches:
                for batch in _batches_of(item):
                    load.add(batch)
            load.flush()
            if load.writer is not None:
                load.writer.wait()
            current.set_attribute("ingestion.rows_loaded", load.rows)
        result = load.commit(state() if state is not None else None)
    except BaseException as error:
        load.abort(error)
        raise
    log.debug("write_table_done", table=spec.table, seconds=round(time.monotonic() - started, 3))
    return result
