"""Stream Arrow batches into an Iceberg table: one atomic commit per table per load.

``write_table`` plans the load against the table version it finds, consumes the batches once,
normalising their types and applying the schema contract (:mod:`.schema`), and writes Parquet
data files in the background as the rows arrive (about ``target_file_bytes`` of Arrow data per
file; rolling in :mod:`._roll`, file writing in :mod:`._files`). Appends and replaces stream
each batch into the open file, row group by row group, so writing overlaps extraction; merge
gathers each file's rows first (at most ``max_in_flight`` such chunks in memory) to
de-duplicate keys.
Only when the input is exhausted does it ask for the load's state, then commits everything in a
single snapshot through the catalog (:mod:`._commit`):

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
configuration); everything else propagates raw for the caller's error boundary (the table of
what each dependency's exception means is in :mod:`._commit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import structlog
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata

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
from floe_iceberg._commit import SnapshotCommit, current_data_files, snapshot_summary
from floe_iceberg._files import FileWriter, WrittenFile
from floe_iceberg._partition import apply_sort_order, evolve_spec, new_table_spec
from floe_iceberg._partitioned import PartitionedRoller
from floe_iceberg._pyiceberg import staged_io
from floe_iceberg._required import creation_schema, keep_required, required_property, to_relax
from floe_iceberg._roll import FileRoller
from floe_iceberg._spec import CommittedWrite, TableWrite
from floe_iceberg._window import plan_window_replace
from floe_iceberg.identifier import split_table_name
from floe_iceberg.schema import (
    TableTypes,
    coerce_types,
    conform,
    discard,
    normalize_batch,
    plan_contract,
    target_arrow_schema,
)
from floe_iceberg.state import (
    check_based_on,
    encode_state,
    same_state,
    stored_state_value,
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


def _batches_of(item: pa.RecordBatch | pa.Table) -> Iterator[pa.RecordBatch]:
    if isinstance(item, pa.RecordBatch):
        yield item
    elif isinstance(item, pa.Table):
        yield from item.to_batches()
    else:
        raise TypeError(f"write_table takes pyarrow RecordBatch or Table items, not {type(item)}")


class _Load:
    """One ``write_table`` call: planned against one table version, fed batches, committed once."""

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
        self.identifier = split_table_name(spec.table)
        self.target_file_bytes = target_file_bytes
        self.target_file_rows = target_file_rows
        self.max_in_flight = max_in_flight
        try:
            self.table: Table | None = catalog.load_table(self.identifier)
        except NoSuchTableError:
            self.table = None
        self.existed = self.table is not None
        check_based_on(spec.based_on, spec.table, self.table)
        self.types = TableTypes()
        self.tx: Transaction | None = None
        self.io: FileIO | None = None
        self.writer: FileWriter | None = None
        self.roller: FileRoller | PartitionedRoller | None = None
        self.metadata: TableMetadata | None = None
        self.target: pa.Schema | None = None
        self.schema_changed = False
        self.discarded = 0
        self.pending_null_rows = 0
        self.snapshot = SnapshotCommit(spec.table)

    @property
    def merging(self) -> bool:
        return self.spec.write_mode is WriteMode.MERGE

    @property
    def rows_so_far(self) -> int:
        return self.roller.rows if self.roller is not None else 0

    # -- plan --------------------------------------------------------------------------------

    def _begin(self, first: pa.RecordBatch | None) -> None:
        partitioned = bool(self.spec.partition_by) or (
            self.table is not None and not self.table.spec().is_unpartitioned()
        )
        if self.merging and partitioned:  # floe: partitions (copy-on-write keeps no partition)
            raise DestinationWriteError(
                f"table {self.spec.table!r}: merge into a partitioned table is not supported "
                "yet; use append or replace, or an unpartitioned table",
                code=ErrorCode.DESTINATION_WRITE_FAILED,
                details={"table": self.spec.table},
            )
        if self.table is not None:
            self.tx = self.table.transaction()
            self.io = self.table.io
            if evolve_spec(self.tx, self.spec.partition_by, self.spec.table):  # floe: partitions
                self.schema_changed = True
        else:
            assert first is not None
            namespace = self.identifier[:-1]
            self.catalog.create_namespace_if_not_exists(namespace)
            schema = creation_schema(
                first,
                self.spec.required_columns,
                self.spec.primary_key if self.merging else (),
            )
            self.tx = self.catalog.create_table_transaction(
                self.identifier,
                schema=schema,
                partition_spec=new_table_spec(schema, self.spec.partition_by, self.spec.table),
                properties={**_NEW_TABLE_PROPERTIES, **required_property(schema)},
            )
            self.io = staged_io(self.tx)
            self.schema_changed = True
        if apply_sort_order(self.tx, self.spec.sort_by, self.spec.table):  # floe: sort order
            self.schema_changed = True
        self.writer = FileWriter(self.io, max_in_flight=self.max_in_flight)
        self._refresh()
        assert self.metadata is not None
        sorted_rows = bool(self.spec.sort_by) and not self.merging  # merge files stay unsorted
        if not self.metadata.spec().is_unpartitioned() or sorted_rows:  # floe: partitions
            self.roller = PartitionedRoller(
                self.writer,
                self.metadata,
                target_file_bytes=self.target_file_bytes,
                target_file_rows=self.target_file_rows,
                sort_by=self.spec.sort_by,
            )
            return
        self.roller = FileRoller(
            self.writer,
            self.metadata,
            target_file_bytes=self.target_file_bytes,
            target_file_rows=self.target_file_rows,
            primary_key=self.spec.primary_key if self.merging else (),
        )

    def _refresh(self) -> None:
        assert self.tx is not None
        self.metadata = self.tx.table_metadata
        self.target = target_arrow_schema(self.metadata.schema())
        if self.roller is not None:
            self.roller.metadata = self.metadata

    # -- add ---------------------------------------------------------------------------------

    def add(self, batch: pa.RecordBatch) -> None:
        rows = batch.num_rows
        normalized = normalize_batch(batch)
        if normalized.num_columns == 0:
            if self.tx is None and self.table is None:
                self.pending_null_rows += rows  # no typed column yet: the schema is unknown
                return
            if self.tx is None:
                self._begin(None)
            self._roll(self._nulls(rows))
            return
        current = self.metadata.schema() if self.metadata is not None else None
        normalized = coerce_types(
            normalized,
            self.types.of(
                current if current is not None or self.table is None else self.table.schema()
            ),
            table=self.spec.table,
            keys=self.spec.primary_key if self.merging else (),
        )
        if self.tx is None:
            self._begin(normalized)
            if self.pending_null_rows:
                self._roll(self._nulls(self.pending_null_rows))
                self.pending_null_rows = 0
        assert self.tx is not None and self.metadata is not None
        plan = plan_contract(
            self.metadata.schema(),
            normalized.schema,
            self.spec.schema_contract,
            table=self.spec.table,
            contract_applies=self.existed,
        )
        relax = to_relax(normalized, self.metadata.schema(), self.metadata.properties)
        if relax and self.spec.schema_contract is SchemaContract.EVOLVE:
            self.flush()  # rows so far are written under the schema they were conformed to
            with self.tx.update_schema() as update:
                for name in relax:
                    update.make_column_optional(name)
            log.info("columns_made_optional", table=self.spec.table, columns=relax)
            self.schema_changed = True
            self._refresh()
        if plan.evolve:
            self.flush()  # rows so far are written under the schema they were conformed to
            with self.tx.update_schema() as update:
                update.union_by_name(keep_required(normalized.schema, self.metadata.schema()))
            self.schema_changed = True
            self._refresh()
        normalized, dropped = discard(normalized, plan)
        self.discarded += dropped
        if self.merging:
            _merge.check_keys(normalized, self.spec.primary_key, table=self.spec.table)
        assert self.target is not None
        self._roll(conform(normalized, self.target, table=self.spec.table))

    def _roll(self, batch: pa.RecordBatch) -> None:
        assert self.roller is not None
        self.roller.add(batch)

    def flush(self) -> None:
        if self.roller is not None:
            self.roller.flush()

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

    # -- commit ------------------------------------------------------------------------------

    def commit(self, state: dict[str, Any] | None) -> CommittedWrite:
        written = self.roller.finish() if self.roller is not None else []
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
        assert self.roller is not None and self.writer is not None
        rows = self.roller.rows
        self.discarded += self.roller.deduplicated
        removed: list[DataFile] = []
        rewrites: list[WrittenFile] = []
        if self.merging:
            assert self.roller.keys is not None
            removed, rewrites, superseded = _merge.plan_merge(
                self.writer, self.metadata, self.io, self.roller.keys, written
            )
            self.discarded += superseded
            rows -= superseded
        elif self.spec.replace_window is not None:
            removed, rewrites = plan_window_replace(
                self.writer, self.metadata, self.io, self.spec.replace_window, table=self.spec.table
            )
        elif self.spec.write_mode is WriteMode.REPLACE:
            removed = current_data_files(self.metadata, self.io)
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
            self.writer.close()
            log.info("load_skipped", table=self.spec.table, reason="nothing to commit")
            return CommittedWrite(self.spec.table, None, 0, 0, self.discarded, 0)
        key = self.spec.state_key
        summary = (
            snapshot_summary(self.spec, rows=rows, discarded=self.discarded, carried=carried)
            if needs_snapshot
            else None
        )
        snapshot_id = self.snapshot.commit(
            self.tx,
            self.io,
            files=files,
            removed=removed,
            properties=summary,
            state=(key, new_text) if key is not None and new_text is not None else None,
            rebase=key is None and self.spec.based_on is None,
            rows=rows,
            span_attributes={
                "write_mode": self.spec.write_mode.value,
                "schema_contract": self.spec.schema_contract.value,
            },
        )
        self.writer.close()
        result = CommittedWrite(
            table=self.spec.table,
            snapshot_id=snapshot_id,
            rows_loaded=rows,
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

    def abort(self, error: BaseException) -> None:
        """Clean up after a failure: delete this load's files unless the commit may have landed."""
        if self.roller is not None:  # the source failed mid-file: stop its worker
            self.roller.cancel()
        self.snapshot.abort(error, self.writer)


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
            that does not coerce to its column's type, or a merge row has a null key
            (SCHEMA_CONTRACT_VIOLATION). Values that do not coerce land in variant columns
            under the other contracts (:mod:`.schema`).
        DestinationWriteError: SCHEMA_CORRUPTION for a column name or type Iceberg cannot take,
            a merge key value that does not coerce, or a nested value against a scalar column;
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
            current.set_attribute("ingestion.rows_loaded", load.rows_so_far)
        result = load.commit(state() if state is not None else None)
    except BaseException as error:
        load.abort(error)
        raise
    log.debug("write_table_done", table=spec.table, seconds=round(time.monotonic() - started, 3))
    return result
