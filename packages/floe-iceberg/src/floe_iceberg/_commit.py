"""The one commit of a load, and the clean-up when a load fails.

A load stages its schema changes and, when it has something to commit, one snapshot (a
fast-append, or an overwrite when files are removed) in its transaction, then commits the
transaction once. A failed load deletes what it wrote (data files, manifests, a large state's
file), except when the catalog's answer to the commit itself is unknown: the commit may have
landed, so its files are kept.

What a failed load raises, besides floe's own errors (it propagates raw: the caller's error
boundary translates it; a plugin maps it to floe's taxonomy as below)::

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

import uuid
from collections.abc import Mapping, Sequence

import structlog
from pyiceberg.exceptions import (
    CommitFailedException,
    TableAlreadyExistsError,
    ValidationException,
)
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.table import Transaction
from pyiceberg.table.metadata import TableMetadata

from floe_core.telemetry import span
from floe_iceberg._files import FileWriter, WrittenFile
from floe_iceberg._pyiceberg import (
    SnapshotProducer,
    clean_uncommitted,
    never_rebase,
    row_delta_producer,
    staged_location_provider,
)
from floe_iceberg._spec import TableWrite
from floe_iceberg.state import state_property, summary_value

__all__ = [
    "LOAD_ID_PROPERTY",
    "NOT_LANDED",
    "SnapshotCommit",
    "current_data_files",
    "snapshot_summary",
]

log = structlog.get_logger(__name__)

LOAD_ID_PROPERTY = "floe.load-id"
"""Snapshot summary property: the load (its plan's ``load_id``) that committed the snapshot."""

NOT_LANDED = (CommitFailedException, ValidationException, TableAlreadyExistsError)
"""Commit failures that guarantee nothing landed: the load's files can be deleted."""


def current_data_files(metadata: TableMetadata, io: FileIO) -> list[DataFile]:
    """Return the data files of the table's current snapshot (what ``replace`` removes).

    Args:
        metadata: The transaction's table metadata.
        io: The table's FileIO.

    Returns:
        The live data files (no delete files).
    """
    snapshot = metadata.current_snapshot()
    if snapshot is None:
        return []
    return [
        entry.data_file
        for manifest in snapshot.manifests(io)
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)
        if entry.data_file.content == DataFileContent.DATA
    ]


def snapshot_summary(
    spec: TableWrite, *, rows: int, discarded: int, carried: str | None, load_id: str | None = None
) -> dict[str, str]:
    """Return a load's snapshot summary: the caller's properties, a carried state, ``floe.*``.

    Args:
        spec: The load.
        rows: Rows the load brings.
        discarded: Rows it dropped (``discard_row``, superseded duplicate keys).
        carried: The stored state value to carry forward unchanged, if any.
        load_id: The plan's load id (a fresh one when None).

    Returns:
        The properties (a new state is added by :meth:`SnapshotCommit.commit`).
    """
    properties = dict(spec.snapshot_properties)
    if carried is not None and spec.state_key is not None:
        properties[state_property(spec.state_key)] = carried
    properties.update(
        {
            "floe.write-mode": spec.write_mode.value,
            "floe.rows-loaded": str(rows),
            "floe.rows-discarded": str(discarded),
            LOAD_ID_PROPERTY: load_id or str(uuid.uuid4()),
        }
    )
    return properties


class SnapshotCommit:
    """Commits one load's transaction once, and knows what to delete if that fails.

    Args:
        table: ``namespace.table``, for logs.
    """

    def __init__(self, table: str) -> None:
        self.table = table
        self.producer: SnapshotProducer | None = None
        self.state_file: str | None = None
        self.io: FileIO | None = None
        self.committing = False
        self.committed = False

    def commit(
        self,
        tx: Transaction,
        io: FileIO,
        *,
        files: Sequence[WrittenFile],
        removed: Sequence[DataFile],
        deletes: Sequence[DataFile] = (),
        properties: Mapping[str, str] | None,
        state: tuple[str, str] | None = None,
        rebase: bool = True,
        rows: int,
        span_attributes: Mapping[str, str],
    ) -> int | None:
        """Stage the load's snapshot (if any) and commit the transaction.

        Args:
            tx: The load's transaction (schema changes already staged).
            io: The table's FileIO.
            files: Data files to add.
            removed: Data files to delete (``replace`` and ``merge``: an overwrite).
            deletes: Position delete files to add (``merge_on_read``: an overwrite that
                writes them into a DELETES manifest, Iceberg's RowDelta).
            properties: The snapshot summary's properties, or None to commit no snapshot
                (only schema changes, or the creation of an empty table).
            state: ``(state_key, state JSON)`` to store in the summary (a large state goes
                to a file first, deleted again by :meth:`abort`).
            rebase: False to fail on a concurrent commit instead of re-applying the
                snapshot on the new head (loads with state, or based on a read version).
            rows: The rows the load brings, for the trace span.
            span_attributes: Attributes of the ``commit`` trace span.

        Returns:
            The committed snapshot id, or None when no snapshot was made.

        Raises:
            Exception: pyiceberg's commit failure, raw (see :mod:`floe_iceberg.writer`).
        """
        self.io = io
        snapshot_id: int | None = None
        with span("commit", destination_table=self.table, **span_attributes) as current:
            if properties is not None:
                summary = dict(properties)
                if state is not None:
                    state_key, text = state
                    # written before the commit; abort() deletes it if the commit does not land
                    locations = staged_location_provider(tx)
                    value, self.state_file = summary_value(text, io, locations)
                    summary[state_property(state_key)] = value
                producer: SnapshotProducer
                if deletes:
                    delta = row_delta_producer(tx, io, summary)
                    for delete_file in deletes:
                        delta.add_delete_file(delete_file)
                    producer = delta
                else:
                    update = tx.update_snapshot(snapshot_properties=summary)
                    producer = update.overwrite() if removed else update.fast_append()
                self.producer = producer
                with producer:
                    for data_file in removed:
                        producer.delete_data_file(data_file)
                    for written in files:
                        producer.append_data_file(written.data_file)
                if not rebase:
                    never_rebase(tx, producer)
                snapshot_id = producer.snapshot_id
            self.committing = True
            tx.commit_transaction()
            self.committed = True  # from here on, never delete a file of this load
            current.set_attribute("ingestion.rows_loaded", rows)
            current.set_attribute(
                "ingestion.bytes_written",
                sum(w.data_file.file_size_in_bytes for w in files)
                + sum(d.file_size_in_bytes for d in deletes),
            )
            if snapshot_id is not None:
                current.set_attribute("ingestion.snapshot_id", snapshot_id)
        return snapshot_id

    def abort(self, error: BaseException, writer: FileWriter | None) -> bool:
        """Clean up after a failure: delete the load's files unless the commit may have landed.

        Args:
            error: Why the load failed.
            writer: The load's file writer (None when no file was started).

        Returns:
            True when the load's files may be deleted (the commit did not land).
        """
        if writer is None:
            return True
        if self.committed:
            writer.close()
            return False
        if self.committing and not isinstance(error, NOT_LANDED):
            writer.close()
            log.warning(
                "commit_outcome_unknown",
                table=self.table,
                error=type(error).__name__,
                files_kept=len(writer.paths),
            )
            return False
        if self.producer is not None:
            try:
                clean_uncommitted(self.producer)  # manifests of a commit that did not land
            except Exception:
                log.warning("manifest_cleanup_failed", table=self.table)
        if self.state_file is not None and self.io is not None:
            try:
                self.io.delete(self.state_file)
            except Exception:
                log.warning("state_file_cleanup_failed", table=self.table)
        writer.discard()
        return True
