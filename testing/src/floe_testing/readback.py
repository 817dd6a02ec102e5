"""Read back what a plugin wrote to Iceberg: the helpers the contract and the tests share.

A test of a plugin that writes Iceberg asserts on the rows in the table, not on what the
plugin says it wrote::

    result, table = run_and_read(plugin, config)
    assert result.success
    assert sorted(table.column("id").to_pylist()) == [1, 2]

Each helper opens the catalog afresh (:func:`floe_iceberg.load_catalog`), so it sees what any
process committed, as a new reader would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from floe_core import CatalogConfig, IngestionConfig, IngestionPlugin, IngestionResult

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table

__all__ = ["current_snapshot_id", "load_table", "read_table", "run_and_read", "snapshot_ids"]


def load_table(catalog: CatalogConfig, table: str) -> Table | None:
    """Open one Iceberg table.

    Args:
        catalog: The catalog the table lives in.
        table: ``namespace.table``.

    Returns:
        The pyiceberg table, or None when the catalog has no such table.
    """
    from pyiceberg.exceptions import NoSuchTableError

    from floe_iceberg import load_catalog

    try:
        return load_catalog(catalog).load_table(table)
    except NoSuchTableError:
        return None


def read_table(catalog: CatalogConfig, table: str) -> pa.Table:
    """Return every row of an Iceberg table as of its current snapshot.

    Args:
        catalog: The catalog the table lives in.
        table: ``namespace.table``.

    Returns:
        The rows (in file order; sort before comparing).

    Raises:
        LookupError: The catalog has no such table.
    """
    loaded = load_table(catalog, table)
    if loaded is None:
        raise LookupError(f"catalog {catalog.name!r} has no table {table!r}")
    return loaded.scan().to_arrow()


def snapshot_ids(catalog: CatalogConfig, table: str) -> list[int]:
    """Return the ids of every snapshot a table has, oldest first; [] when it does not exist.

    Args:
        catalog: The catalog the table lives in.
        table: ``namespace.table``.

    Returns:
        The snapshot ids; the last one is the current snapshot (no branches are used here).
    """
    loaded = load_table(catalog, table)
    if loaded is None:
        return []
    return [snapshot.snapshot_id for snapshot in loaded.metadata.snapshots]


def current_snapshot_id(catalog: CatalogConfig, table: str) -> int | None:
    """Return a table's current snapshot id.

    Args:
        catalog: The catalog the table lives in.
        table: ``namespace.table``.

    Returns:
        The id, or None when the table does not exist or has no snapshot yet.
    """
    loaded = load_table(catalog, table)
    if loaded is None:
        return None
    snapshot_id: int | None = loaded.metadata.current_snapshot_id
    return snapshot_id


def run_and_read(
    plugin: IngestionPlugin, config: IngestionConfig, *, table: str | None = None
) -> tuple[IngestionResult, pa.Table]:
    """Load ``config`` through ``plugin`` once, then read the destination table back.

    Args:
        plugin: The plugin; it writes to ``plugin.catalog``, which is read back.
        config: The source; ``create_pipeline`` errors propagate.
        table: The table to read, when not ``config.destination_table`` (a ``namespace.*``
            destination names one table per resource).

    Returns:
        The result, and the table's rows (an empty table without columns when the load created
        no table).
    """
    import pyarrow as pa

    result = plugin.run(plugin.create_pipeline(config))
    name = table or config.destination_table
    loaded = load_table(plugin.catalog, name)
    return result, pa.table({}) if loaded is None else loaded.scan().to_arrow()
