"""What the Iceberg table says after a load: snapshot, files added, location, schema, cursor, keys.

The results a plugin returns carry counts and snapshot ids; everything else the asset metadata
shows is read back from the table itself (pyiceberg, through
:func:`floe_iceberg.load_catalog`), so it is true for any plugin that writes the catalog.
The cursor is the ``cursors`` entry of the load state a plugin commits in the snapshot summary
(``floe.state.<key>``, the key ending with the source name), as the dlt plugin does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

__all__ = ["TableFacts", "duplicate_keys", "read_facts", "snapshot_of_run"]


@dataclass(frozen=True)
class TableFacts:
    """A table as of its current snapshot.

    Attributes:
        table: ``namespace.table``.
        location: The table's location (a folder or an ``s3://`` URL).
        snapshot_id: The current snapshot, or None for a table without one.
        summary: That snapshot's summary properties.
        columns: ``(name, type, required)`` of each top-level column.
        identifier_columns: The schema's identifier (key) columns.
        cursors: The load state's cursor values by cursor path, as text.
    """

    table: str
    location: str
    snapshot_id: int | None
    summary: dict[str, str] = field(default_factory=dict)
    columns: list[tuple[str, str, bool]] = field(default_factory=list)
    identifier_columns: list[str] = field(default_factory=list)
    cursors: dict[str, str | None] = field(default_factory=dict)


def _cursors(catalog: Catalog, loaded: Table, table: str, source: str) -> dict[str, str | None]:
    from floe_iceberg import read_state
    from floe_iceberg.state import STATE_PREFIX

    keys: list[str] = []
    for snapshot in loaded.metadata.snapshots:
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        for prop in props:
            key = prop.removeprefix(STATE_PREFIX)
            if prop.startswith(STATE_PREFIX) and key.rsplit(".", 1)[-1] == source:
                keys.append(key)
    for key in dict.fromkeys(reversed(keys)):
        state = read_state(catalog, table, key)  # as of the current snapshot
        cursors = (state or {}).get("cursors")
        if isinstance(cursors, dict):
            return {str(k): None if v is None else str(v) for k, v in cursors.items()}
    return {}


def read_facts(
    catalog: Catalog, table: str, source: str, snapshot_id: int | None = None
) -> TableFacts | None:
    """Read a table's facts, or None when it does not exist.

    Args:
        catalog: The pyiceberg catalog.
        table: ``namespace.table``.
        source: The source name (whose load state holds the cursor).
        snapshot_id: The snapshot whose summary to report (the one the load committed);
            the current one when None or unknown (another run may have committed since).

    Returns:
        The facts.
    """
    from pyiceberg.exceptions import NoSuchTableError

    try:
        loaded = catalog.load_table(table)
    except NoSuchTableError:
        return None
    schema = loaded.schema()
    snapshot = loaded.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    snapshot = snapshot or loaded.current_snapshot()
    summary: dict[str, Any] = (
        dict(snapshot.summary.additional_properties) if snapshot and snapshot.summary else {}
    )
    if snapshot is not None and snapshot.summary is not None:
        summary["operation"] = str(snapshot.summary.operation.value)
    return TableFacts(
        table=table,
        location=loaded.location(),
        snapshot_id=snapshot.snapshot_id if snapshot else None,
        summary={k: str(v) for k, v in summary.items()},
        columns=[(f.name, str(f.field_type), f.required) for f in schema.fields],
        identifier_columns=list(schema.identifier_field_names()),
        cursors=_cursors(catalog, loaded, table, source),
    )


def duplicate_keys(catalog: Catalog, table: str, keys: list[str]) -> tuple[int, int]:
    """Count rows and duplicated key values, reading only the key columns.

    Args:
        catalog: The pyiceberg catalog.
        table: ``namespace.table``.
        keys: The key columns.

    Returns:
        ``(rows, keys that occur more than once)``.
    """
    import pyarrow.compute as pc

    data = catalog.load_table(table).scan(selected_fields=tuple(keys)).to_arrow()
    if data.num_rows == 0:
        return 0, 0
    counts = data.group_by(keys).aggregate([([], "count_all")])
    return data.num_rows, int(pc.sum(pc.greater(counts["count_all"], 1)).as_py() or 0)


def snapshot_of_run(
    catalog: Catalog, table: str, properties: dict[str, str]
) -> tuple[int, dict[str, str]] | None:
    """Find the snapshot whose summary carries all of ``properties`` (an earlier attempt's).

    Args:
        catalog: The pyiceberg catalog.
        table: ``namespace.table``.
        properties: E.g. the Dagster run id and asset key the load recorded.

    Returns:
        ``(snapshot id, summary)`` of the newest such snapshot, or None.
    """
    from pyiceberg.exceptions import NoSuchTableError

    try:
        loaded = catalog.load_table(table)
    except NoSuchTableError:
        return None
    for snapshot in reversed(loaded.metadata.snapshots):
        summary = dict(snapshot.summary.additional_properties) if snapshot.summary else {}
        if all(summary.get(k) == v for k, v in properties.items()):
            return snapshot.snapshot_id, {k: str(v) for k, v in summary.items()}
    return None
