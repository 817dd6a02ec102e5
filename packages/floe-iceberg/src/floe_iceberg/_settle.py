"""Phase three of a load: commit a plan's file sets in one snapshot, or clean them up.

The committer opens the table (refusing, as COMMIT_CONFLICT, a pinned plan whose table has
moved), re-applies the schema changes the workers made (each file set carries its schema: new
columns are unioned in part order under the plan's contract), rewrites the files of a set whose
field ids disagree with the committed schema (two workers that each found a different new
column), settles a merge once over every part's keys (a later part's row wins a key, then the
copy-on-write rewrite of the table's files, or merge-on-read's position delete files,
:mod:`._mor`), and commits data, schema and state in one snapshot
(:class:`~floe_iceberg._commit.SnapshotCommit`). On failure it deletes every file of the load
(unless the commit's outcome is unknown) and leaves the workers' abandoned-files records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema, index_by_name
from pyiceberg.table import Table, Transaction

from floe_core import SchemaContract, SchemaContractViolation, WriteMode
from floe_iceberg import _merge, _mor
from floe_iceberg._abandoned import PartRecord, delete_records, record_path
from floe_iceberg._commit import SnapshotCommit, current_data_files, snapshot_summary
from floe_iceberg._contract import conform, plan_contract
from floe_iceberg._files import FileWriter, WrittenFile
from floe_iceberg._fileset import FileSet
from floe_iceberg._partition import apply_sort_order, evolve_spec, new_table_spec
from floe_iceberg._partitioned import PartitionedRoller
from floe_iceberg._plan import NEW_TABLE_PROPERTIES, LoadPlan, ensure_namespace
from floe_iceberg._pyiceberg import staged_io
from floe_iceberg._required import relaxable, required_property
from floe_iceberg._spec import CommittedWrite
from floe_iceberg._types import target_arrow_schema
from floe_iceberg._window import plan_window_replace
from floe_iceberg.identifier import split_table_name
from floe_iceberg.state import check_based_on, encode_state, same_state, stored_state_value

__all__ = ["COMMITTER_PART", "discard_files", "settle"]

log = structlog.get_logger(__name__)

_REWRITE_TARGET_BYTES = 128 * 1024 * 1024
"""Arrow bytes per data file when the commit rewrites a partitioned part's files."""

COMMITTER_PART = -1
"""The part number of the committer's own abandoned-files record (files it rewrites)."""

_UNSET: Any = object()


def discard_files(file_sets: Sequence[FileSet], io: FileIO | None) -> None:
    """Delete the data files of file sets that will not be committed (best effort).

    Args:
        file_sets: The file sets.
        io: The table's FileIO (None: nothing was written).
    """
    if io is None:
        return
    writer = FileWriter(io, max_in_flight=1)
    for file_set in file_sets:
        for path in file_set.paths:
            writer.delete(path)
    writer.close()


def _same_ids(written: Schema, committed: Schema) -> bool:
    ids = index_by_name(committed)
    return all(ids.get(name) == field_id for name, field_id in index_by_name(written).items())


class _Settle:
    def __init__(self, catalog: Catalog, plan: LoadPlan, *, max_in_flight: int) -> None:
        self.catalog = catalog
        self.plan = plan
        self.max_in_flight = max_in_flight
        self.snapshot = SnapshotCommit(plan.table)
        self.io: FileIO | None = None
        self.writer: FileWriter | None = None
        self.record: PartRecord | None = None

    def _open(self, table: Table | None, first: Schema) -> Transaction:
        if table is not None:
            self.io = table.io
            return table.transaction()
        identifier = split_table_name(self.plan.table)
        ensure_namespace(self.catalog, identifier[:-1])
        tx = self.catalog.create_table_transaction(
            identifier,
            schema=first,
            location=self.plan.location,
            partition_spec=new_table_spec(first, self.plan.partition_by, self.plan.table),
            properties={**NEW_TABLE_PROPERTIES, **required_property(first)},
        )
        self.io = staged_io(tx)
        return tx

    def commit(
        self,
        file_sets: Sequence[FileSet],
        state: dict[str, Any] | None,
        table: Table | None,
        *,
        records: bool,
    ) -> CommittedWrite:
        plan = self.plan
        sets = sorted(file_sets, key=lambda s: s.part)
        foreign = [s.part for s in sets if s.load_id != plan.load_id]
        if foreign:
            raise ValueError(f"file sets of parts {foreign} belong to another load")
        discarded = sum(s.discarded for s in sets)
        typed = [s for s in sets if s.schema is not None]
        existed = table is not None
        if not existed and not typed:  # no table and no typed data: nothing to create
            return CommittedWrite(plan.table, None, 0, 0, discarded, 0)
        tx = self._open(table, typed[0].schema if typed[0].schema is not None else Schema())
        assert self.io is not None
        schema_changed = not existed
        for file_set in typed:
            assert file_set.schema is not None
            schema_changed = self._relax(tx, file_set) or schema_changed
            contract = plan_contract(
                tx.table_metadata.schema(),
                target_arrow_schema(file_set.schema),
                plan.schema_contract,
                table=plan.table,
                contract_applies=existed,
            )
            if contract.evolve:
                with tx.update_schema() as update:
                    update.union_by_name(file_set.schema)
                schema_changed = True
        # floe: partitions / sort order, set in the load's commit as the workers set them in
        # their own (never committed) transactions, so the files' spec ids match.
        if existed and evolve_spec(tx, plan.partition_by, plan.table):
            schema_changed = True
        if apply_sort_order(tx, plan.sort_by, plan.table):
            schema_changed = True
        if plan.merge_on_read and tx.table_metadata.format_version < 2:  # delete files need v2
            tx.upgrade_table_version(2)
            log.info("table_format_upgraded", table=plan.table, format_version=2)
            schema_changed = True
        metadata = tx.table_metadata
        if records:
            self.record = PartRecord(plan.location, plan.load_id, COMMITTER_PART)
            self.record.attach(self.io)
        self.writer = FileWriter(
            self.io,
            max_in_flight=self.max_in_flight,
            on_path=self.record.add if self.record is not None else None,
        )
        written: list[WrittenFile | None] = []
        keys: list[Any] = []
        for file_set in typed:
            assert file_set.schema is not None
            files = file_set.files
            if not _same_ids(file_set.schema, metadata.schema()):
                files = self._rewrite(file_set, metadata)
            written.extend(files)
            if plan.merging:
                if file_set.keys is not None and files is file_set.files:
                    keys.extend(file_set.keys)
                else:
                    keys.extend(
                        _merge.read_keys(metadata, self.io, w.data_file, plan.primary_key)
                        for w in files
                    )
        rows = sum(w.rows for w in written if w is not None)
        removed: list[DataFile] = []
        rewrites: list[WrittenFile] = []
        deletes: list[DataFile] = []
        if plan.merging:
            merged = _mor.settle_merge(
                self.writer,
                metadata,
                self.io,
                primary_key=plan.primary_key,
                merge_on_read=plan.merge_on_read,
                keys=keys,
                written=written,
            )
            removed, rewrites, deletes = merged.removed, merged.rewrites, merged.delete_files
            discarded += merged.superseded
            rows -= merged.superseded
        elif plan.replace_window is not None:  # floe: windows
            removed, rewrites = plan_window_replace(
                self.writer, metadata, self.io, plan.replace_window, table=plan.table
            )
        elif plan.write_mode is WriteMode.REPLACE:
            removed = current_data_files(metadata, self.io)
        files = [w for w in written if w is not None] + rewrites
        return self._commit(
            tx, files, removed, deletes, state, rows, discarded, existed, schema_changed
        )

    def _relax(self, tx: Transaction, file_set: FileSet) -> bool:
        """Make optional the required fields a part brought a null in (or lacked).

        A worker relaxes such a field in its own transaction under ``evolve``, or its first
        batch had a null in it (so its schema has the field optional): the same rule as a
        one-process load (:func:`~floe_iceberg._required.to_relax`), applied per part.

        Args:
            tx: The commit's transaction.
            file_set: The part.

        Returns:
            Whether the schema changed.

        Raises:
            SchemaContractViolation: A part has nulls in a required field and the contract is
                not ``evolve``.
        """
        assert file_set.schema is not None
        metadata = tx.table_metadata
        part = {f.name: f for f in file_set.schema.fields}
        relax = [
            name
            for name in relaxable(metadata.schema(), metadata.properties)
            if name not in part or not part[name].required
        ]
        if not relax:
            return False
        if self.plan.schema_contract is not SchemaContract.EVOLVE:
            raise SchemaContractViolation(
                f"table {self.plan.table!r}: column {relax[0]!r} is required in the table but "
                f"part {file_set.part} has rows with no value for it",
                details={"table": self.plan.table, "column": relax[0]},
            )
        with tx.update_schema() as update:
            for name in relax:
                update.make_column_optional(name)
        log.info("columns_made_optional", table=self.plan.table, columns=relax)
        return True

    def _rewrite(self, file_set: FileSet, metadata: Any) -> list[WrittenFile]:
        assert self.writer is not None and self.io is not None and file_set.schema is not None
        target = target_arrow_schema(metadata.schema())
        out: list[WrittenFile] = []
        split = not metadata.spec().is_unpartitioned() or bool(self.plan.sort_by)
        for old in file_set.files:
            rows = _merge.read_file(metadata, self.io, old.data_file, file_set.schema)
            batches = [conform(b, target, table=self.plan.table) for b in rows.to_batches()]
            if split:  # floe: partitions (one file per partition, rows sorted, as written)
                roller = PartitionedRoller(
                    self.writer,
                    metadata,
                    target_file_bytes=_REWRITE_TARGET_BYTES,
                    target_file_rows=None,
                    sort_by=self.plan.sort_by,
                )
                for batch in batches:
                    roller.add(batch)
                out.extend(w for w in roller.finish() if w is not None)
            else:
                out.append(self.writer.submit(metadata, batches).result())
            self.writer.delete(old.data_file.file_path)
        log.info("file_set_rewritten", table=self.plan.table, part=file_set.part, files=len(out))
        return out

    def _commit(
        self,
        tx: Transaction,
        files: list[WrittenFile],
        removed: list[DataFile],
        deletes: list[DataFile],
        state: dict[str, Any] | None,
        rows: int,
        discarded: int,
        existed: bool,
        schema_changed: bool,
    ) -> CommittedWrite:
        plan = self.plan
        assert self.io is not None and self.writer is not None
        new_text = encode_state(state) if state is not None else None
        # A state equal to the stored one needs no snapshot of its own and no new state file;
        # a snapshot made anyway (new rows) carries the stored summary value forward (a small
        # inline state or a file reference), so each of this key's snapshots holds its state
        # and expiring older snapshots cannot lose it.
        carried: str | None = None
        if plan.state_key is None:
            new_text = None
        else:
            stored = stored_state_value(tx.table_metadata, plan.state_key)
            if new_text is None or same_state(stored, new_text):
                new_text, carried = None, stored
        needs_snapshot = bool(files or removed or deletes or new_text is not None or not existed)
        if not needs_snapshot and not schema_changed:
            self.writer.close()
            log.info("load_skipped", table=plan.table, reason="nothing to commit")
            return CommittedWrite(plan.table, None, 0, 0, discarded, 0)
        key = plan.state_key
        summary = (
            snapshot_summary(
                plan.spec(), rows=rows, discarded=discarded, carried=carried, load_id=plan.load_id
            )
            if needs_snapshot
            else None
        )
        snapshot_id = self.snapshot.commit(
            tx,
            self.io,
            files=files,
            removed=removed,
            deletes=deletes,
            properties=summary,
            state=(key, new_text) if key is not None and new_text is not None else None,
            # merge-on-read's deletes point at the rows it read: never re-applied elsewhere
            rebase=not plan.pinned and not plan.merge_on_read,
            rows=rows,
            span_attributes={
                "write_mode": plan.write_mode.value,
                "schema_contract": plan.schema_contract.value,
            },
        )
        self.writer.close()
        result = CommittedWrite(
            table=plan.table,
            snapshot_id=snapshot_id,
            rows_loaded=rows,
            bytes_written=sum(w.data_file.file_size_in_bytes for w in files)
            + sum(d.file_size_in_bytes for d in deletes),
            rows_discarded=discarded,
            files_written=len(files),
            delete_files_written=len(deletes),
        )
        log.info(
            "load_committed",
            table=plan.table,
            rows=result.rows_loaded,
            snapshot_id=snapshot_id,
            files=result.files_written,
            delete_files=result.delete_files_written,
            bytes=result.bytes_written,
            rows_discarded=result.rows_discarded,
            write_mode=plan.write_mode.value,
        )
        return result

    def abort(self, error: BaseException, file_sets: Sequence[FileSet]) -> None:
        if self.writer is None:  # failed before anything of its own: the sets' files go
            discard_files(file_sets, self.io or _io_of(self.catalog, self.plan))
            return
        if self.snapshot.abort(error, self.writer):
            discard_files(file_sets, self.io)


def _io_of(catalog: Catalog, plan: LoadPlan) -> FileIO | None:
    try:
        return catalog.load_table(split_table_name(plan.table)).io
    except NoSuchTableError:
        return load_file_io(catalog.properties, plan.location)
    except Exception:
        return None


def settle(
    catalog: Catalog,
    plan: LoadPlan,
    file_sets: Sequence[FileSet],
    *,
    state: dict[str, Any] | None = None,
    table: Table | None = _UNSET,
    max_in_flight: int = 2,
    records: bool = False,
) -> CommittedWrite:
    """Commit a plan's file sets and state in one snapshot (see :func:`commit_load`).

    Args:
        catalog: The Iceberg catalog.
        plan: The load's plan.
        file_sets: Every part's file set.
        state: The load's new state.
        table: The table as the one-process path loaded it (omitted: loaded here).
        max_in_flight: Data files rewritten concurrently (merge, drifted parts).
        records: Whether the load keeps abandoned-files records (distributed loads).

    Returns:
        What was committed.

    Raises:
        DestinationWriteError: COMMIT_CONFLICT when a pinned plan's table has moved.
    """
    committer = _Settle(catalog, plan, max_in_flight=max_in_flight)
    try:
        if table is _UNSET:
            try:
                table = catalog.load_table(split_table_name(plan.table))
            except NoSuchTableError:
                table = None
            check_based_on(plan.base, plan.table, table)
        if table is not None and plan.pinned and not plan.table_exists:
            check_based_on(plan.base, plan.table, table)
        result = committer.commit(file_sets, state, table, records=records)
    except BaseException as error:
        committer.abort(error, file_sets)
        raise
    if records and committer.io is not None:
        parts = [s.part for s in file_sets] + [COMMITTER_PART]
        delete_records(committer.io, [record_path(plan.location, plan.load_id, p) for p in parts])
    return result
