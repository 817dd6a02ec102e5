"""Stream Arrow batches into an Iceberg table: one atomic commit per table per load.

A load has three steps (ADR-0027): plan (:mod:`._plan`), write any number of file sets
(:func:`write_part`, one per worker, anywhere), commit them once (:mod:`._settle`).
``write_table`` is the one-process use of the same three steps: it plans the load against the
table version it finds, consumes the batches once as a single part,
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
  :mod:`._merge`) and adds the new ones; with ``merge_on_read`` it adds the new files and
  position delete files for the replaced rows instead, rewriting nothing (:mod:`._mor`).

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
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata

from floe_core import SchemaContract, SchemaContractViolation
from floe_core.telemetry import span
from floe_iceberg import _merge
from floe_iceberg._abandoned import PartRecord
from floe_iceberg._files import FileWriter
from floe_iceberg._fileset import FileSet
from floe_iceberg._partition import apply_sort_order, evolve_spec, new_table_spec
from floe_iceberg._partitioned import PartitionedRoller
from floe_iceberg._plan import NEW_TABLE_PROPERTIES, LoadPlan, plan_with_table
from floe_iceberg._pyiceberg import staged_io
from floe_iceberg._required import creation_schema, keep_required, required_property, to_relax
from floe_iceberg._roll import FileRoller
from floe_iceberg._settle import discard_files, settle
from floe_iceberg._spec import CommittedWrite, TableWrite
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
from floe_iceberg.state import check_based_on

__all__ = ["DEFAULT_TARGET_FILE_BYTES", "CommittedWrite", "TableWrite", "write_part", "write_table"]

log = structlog.get_logger(__name__)

DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024
"""Arrow bytes accumulated per data file (Parquet on disk is typically 3-10x smaller)."""


def _batches_of(item: pa.RecordBatch | pa.Table) -> Iterator[pa.RecordBatch]:
    if isinstance(item, pa.RecordBatch):
        yield item
    elif isinstance(item, pa.Table):
        yield from item.to_batches()
    else:
        raise TypeError(f"write_table takes pyarrow RecordBatch or Table items, not {type(item)}")


class _Load:
    """One worker's share of a load: fed batches against a plan, finished into a file set.

    The worker stages its schema changes in a transaction of its own that is never committed
    (it only gives the files their schema and field ids); the commit re-applies them
    (:mod:`._settle`).
    """

    def __init__(
        self,
        catalog: Catalog,
        plan: LoadPlan,
        table: Table | None,
        *,
        part: int,
        record: PartRecord | None,
        target_file_bytes: int,
        target_file_rows: int | None,
        max_in_flight: int,
    ) -> None:
        self.catalog = catalog
        self.plan = plan
        self.part = part
        self.record = record
        self.identifier = split_table_name(plan.table)
        self.target_file_bytes = target_file_bytes
        self.target_file_rows = target_file_rows
        self.max_in_flight = max_in_flight
        self.table = table
        self.existed = table is not None
        self.types = TableTypes()
        self.tx: Transaction | None = None
        self.io: FileIO | None = None
        self.writer: FileWriter | None = None
        self.roller: FileRoller | PartitionedRoller | None = None
        self.metadata: TableMetadata | None = None
        self.target: pa.Schema | None = None
        self.discarded = 0
        self.pending_null_rows = 0

    @property
    def merging(self) -> bool:
        return self.plan.merging

    @property
    def rows_so_far(self) -> int:
        return self.roller.rows if self.roller is not None else 0

    # -- plan --------------------------------------------------------------------------------

    def _begin(self, first: pa.RecordBatch | None) -> None:
        if self.table is not None:
            self.tx = self.table.transaction()
            self.io = self.table.io
            evolve_spec(self.tx, self.plan.partition_by, self.plan.table)  # floe: partitions
        else:
            assert first is not None
            schema = creation_schema(
                first,
                self.plan.required_columns,
                self.plan.primary_key if self.merging else (),
            )
            self.tx = self.catalog.create_table_transaction(
                self.identifier,
                schema=schema,
                location=self.plan.location,
                partition_spec=new_table_spec(schema, self.plan.partition_by, self.plan.table),
                properties={**NEW_TABLE_PROPERTIES, **required_property(schema)},
            )
            self.io = staged_io(self.tx)
        # The worker's transaction is never committed: the spec and sort order set here only
        # shape the files (split by partition, rows sorted); the commit sets them on the table.
        apply_sort_order(self.tx, self.plan.sort_by, self.plan.table)  # floe: sort order
        if self.record is not None:
            self.record.attach(self.io)
        self.writer = FileWriter(
            self.io,
            max_in_flight=self.max_in_flight,
            on_path=self.record.add if self.record is not None else None,
        )
        self._refresh()
        assert self.metadata is not None
        sorted_rows = bool(self.plan.sort_by) and not self.merging  # merge files stay unsorted
        if not self.metadata.spec().is_unpartitioned() or sorted_rows:  # floe: partitions
            self.roller = PartitionedRoller(
                self.writer,
                self.metadata,
                target_file_bytes=self.target_file_bytes,
                target_file_rows=self.target_file_rows,
                sort_by=() if self.merging else self.plan.sort_by,
                primary_key=self.plan.primary_key if self.merging else (),  # merge-on-read
            )
            return
        self.roller = FileRoller(
            self.writer,
            self.metadata,
            target_file_bytes=self.target_file_bytes,
            target_file_rows=self.target_file_rows,
            primary_key=self.plan.primary_key if self.merging else (),
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
            table=self.plan.table,
            keys=self.plan.primary_key if self.merging else (),
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
            self.plan.schema_contract,
            table=self.plan.table,
            contract_applies=self.existed,
        )
        relax = to_relax(normalized, self.metadata.schema(), self.metadata.properties)
        if relax and self.plan.schema_contract is SchemaContract.EVOLVE:
            self.flush()  # rows so far are written under the schema they were conformed to
            with self.tx.update_schema() as update:
                for name in relax:
                    update.make_column_optional(name)
            log.info("columns_made_optional", table=self.plan.table, columns=relax)
            self._refresh()
        if plan.evolve:
            self.flush()  # rows so far are written under the schema they were conformed to
            with self.tx.update_schema() as update:
                update.union_by_name(keep_required(normalized.schema, self.metadata.schema()))
            self._refresh()
        normalized, dropped = discard(normalized, plan)
        self.discarded += dropped
        if self.merging:
            _merge.check_keys(normalized, self.plan.primary_key, table=self.plan.table)
        assert self.target is not None
        self._roll(conform(normalized, self.target, table=self.plan.table))

    def _roll(self, batch: pa.RecordBatch) -> None:
        assert self.roller is not None
        self.roller.add(batch)

    def flush(self) -> None:
        if self.roller is not None:
            self.roller.flush()

    def _nulls(self, rows: int) -> pa.RecordBatch:
        assert self.target is not None
        if self.merging:
            missing = ", ".join(self.plan.primary_key)
            raise SchemaContractViolation(
                f"table {self.plan.table!r}: merge rows carry no value in primary key {missing}",
                details={"table": self.plan.table, "failed_rows": rows},
            )
        arrays = [pa.nulls(rows, type=f.type) for f in self.target]
        return pa.RecordBatch.from_arrays(arrays, schema=self.target)

    # -- finish ------------------------------------------------------------------------------

    def finish(self) -> FileSet:
        """Wait for every file and describe them (the writer's threads stop)."""
        if self.tx is None and self.table is not None:
            self._begin(None)  # the table's schema is known: nothing pending
        if self.roller is None or self.writer is None or self.metadata is None:
            if self.pending_null_rows:
                log.warning(
                    "rows_without_typed_columns",
                    table=self.plan.table,
                    rows=self.pending_null_rows,
                    reason="every column was null, so the new table has no schema",
                )
            discarded = self.discarded + self.pending_null_rows
            return FileSet(self.plan.load_id, self.part, [], None, 0, discarded)
        written = [w for w in self.roller.finish() if w is not None]
        self.writer.close()
        return FileSet(
            load_id=self.plan.load_id,
            part=self.part,
            files=written,
            schema=self.metadata.schema(),
            rows=self.roller.rows,
            discarded=self.discarded + self.roller.deduplicated,
            keys=self.roller.keys.tables() if self.roller.keys is not None else None,
        )

    def abort(self) -> None:
        """Stop the writer and delete this worker's files (best effort)."""
        if self.roller is not None:  # the source failed mid-file: stop its worker
            self.roller.cancel()
        if self.writer is not None:
            self.writer.discard()


def _write(load: _Load, batches: Iterable[pa.RecordBatch | pa.Table]) -> FileSet:
    try:
        with span(
            "write_files",
            destination_table=load.plan.table,
            write_mode=load.plan.write_mode.value,
        ) as current:
            for item in batches:
                for batch in _batches_of(item):
                    load.add(batch)
            load.flush()
            file_set = load.finish()
            current.set_attribute("ingestion.rows_loaded", file_set.rows)
    except BaseException:
        load.abort()
        raise
    return file_set


def write_part(
    catalog: Catalog,
    plan: LoadPlan,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    part: int = 0,
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
    target_file_rows: int | None = None,
    max_in_flight: int = 2,
) -> FileSet:
    """Write one part of a planned load (see :func:`floe_iceberg.distributed.write_files`).

    Args:
        catalog: The Iceberg catalog.
        plan: The load's plan.
        batches: This part's rows.
        part: This worker's part number, unique in the load.
        target_file_bytes: Arrow bytes per data file.
        target_file_rows: Optional row cap per data file.
        max_in_flight: Data files written concurrently.

    Returns:
        The file set.

    Raises:
        DestinationWriteError: COMMIT_CONFLICT when a pinned plan's table has moved.
    """
    try:
        table: Table | None = catalog.load_table(split_table_name(plan.table))
    except NoSuchTableError:
        table = None
    check_based_on(plan.base, plan.table, table)
    if table is not None and not plan.table_exists:
        table = None  # created by another load meanwhile: write as planned, the commit decides
    load = _Load(
        catalog,
        plan,
        table,
        part=part,
        record=PartRecord(plan.location, plan.load_id, part),
        target_file_bytes=target_file_bytes,
        target_file_rows=target_file_rows,
        max_in_flight=max_in_flight,
    )
    return _write(load, batches)


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
            COMMIT_CONFLICT (before anything is read or written) when the table is not at
            ``spec.based_on``.
        PipelineConfigurationError: A bad table name (DESTINATION_CONFIG_ERROR), a merge
            without (or with a missing) primary key, or ``merge_on_read`` without ``merge``
            (INVALID_CONFIG).
    """
    started = time.monotonic()
    plan, table = plan_with_table(catalog, spec)
    load = _Load(
        catalog,
        plan,
        table,
        part=0,
        record=None,
        target_file_bytes=target_file_bytes,
        target_file_rows=target_file_rows,
        max_in_flight=max_in_flight,
    )
    file_set = _write(load, batches)
    try:
        new_state = state() if state is not None else None
    except BaseException:
        discard_files([file_set], load.io)
        raise
    result = settle(
        catalog, plan, [file_set], state=new_state, table=table, max_in_flight=max_in_flight
    )
    log.debug("write_table_done", table=spec.table, seconds=round(time.monotonic() - started, 3))
    return result
