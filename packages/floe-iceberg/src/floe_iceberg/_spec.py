"""What a load writes (:class:`TableWrite`) and what it committed (:class:`CommittedWrite`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from floe_core import LoadWindow, MergeStrategy, SchemaContract, WriteMode
from floe_iceberg.state import StateRead

__all__ = ["CommittedWrite", "TableWrite"]


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
        required_columns: Columns the source declares NOT NULL: ``required`` fields when the
            load creates the table (with ``merge`` the primary key is required too and becomes
            the identifier fields). A later null relaxes such a column to optional under
            ``evolve`` and fails the load under the other contracts (``_required``).
        replace_window: Replace only the rows whose column lies in this window (the rows of
            other windows stay, :mod:`._window`) instead of what ``write_mode`` says; one
            overwrite snapshot, like ``replace``.
        partition_by: Iceberg partition transforms (``day(ts)``, ``bucket(16, id)``, a column
            name, ...): the spec a new table gets, and the one an existing table evolves to in
            the load's commit (empty leaves an existing table's spec alone). Append and
            replace only.
        sort_by: The table's sort order (``ts desc``, ``id asc nulls last``, ...), set or
            changed in the load's commit; each data file is written sorted by it.
        merge_strategy: How ``merge`` replaces existing rows: ``copy_on_write`` rewrites the
            files holding incoming keys; ``merge_on_read`` writes position delete files for
            them instead (:mod:`._mor`).
    """

    table: str
    write_mode: WriteMode
    primary_key: tuple[str, ...] = ()
    schema_contract: SchemaContract = SchemaContract.EVOLVE
    state_key: str | None = None
    based_on: StateRead | None = None
    snapshot_properties: Mapping[str, str] = field(default_factory=dict)
    required_columns: tuple[str, ...] = ()
    replace_window: LoadWindow | None = None
    partition_by: tuple[str, ...] = ()
    sort_by: tuple[str, ...] = ()
    merge_strategy: MergeStrategy = MergeStrategy.COPY_ON_WRITE


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
        delete_files_written: Position delete files written (``merge_on_read``).
    """

    table: str
    snapshot_id: int | None
    rows_loaded: int
    bytes_written: int
    rows_discarded: int = 0
    files_written: int = 0
    delete_files_written: int = 0
