"""Read back what a plugin wrote to Iceberg: the helpers the contract and the tests share.

A test of a plugin that writes Iceberg asserts on the rows in the table, not on what the
plugin says it wrote::

    result, table = run_and_read(plugin, config)
    assert result.success
    assert sorted(table.column("id").to_pylist()) == [1, 2]

Each helper opens the catalog afresh (:func:`floe_iceberg.load_catalog`), so it sees what any
process committed, as a new reader would.

:func:`read_with_duckdb` reads a table a second way, through DuckDB's ``iceberg`` extension, so a
test can check that another engine sees the same rows (position deletes applied, evolved
schemas, partitions). The extension comes from PyPI (``duckdb-extension-iceberg`` and
``duckdb-extension-avro``, in the root dev group, each pinned to the DuckDB version it was built
for) and is loaded from the installed package's file: nothing is downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from floe_core import CatalogConfig, IngestionConfig, IngestionPlugin, IngestionResult

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyiceberg.table import Table

__all__ = [
    "current_snapshot_id",
    "duckdb_connection",
    "load_table",
    "read_table",
    "read_with_duckdb",
    "run_and_read",
    "snapshot_ids",
]

_DUCKDB_EXTENSIONS = (("duckdb_extension_avro", "avro"), ("duckdb_extension_iceberg", "iceberg"))
"""The PyPI packages holding the extension files iceberg_scan needs (manifests are Avro)."""


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


def _extension_file(package: str, name: str, version: str) -> Path:
    """Return the ``<name>.duckdb_extension`` file a PyPI extension package ships for ``version``.

    Raises:
        RuntimeError: The package is not installed, or ships no file for this DuckDB version.
    """
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"DuckDB extension package {package!r} is not installed: install the root dev group "
            f"(uv sync --all-packages), which pins it to the DuckDB version it was built for"
        ) from exc
    path = Path(str(root)) / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
    if not path.is_file():
        shipped = sorted(p.name for p in (Path(str(root)) / "extensions").glob("v*"))
        raise RuntimeError(
            f"{package} ships no {name} extension for DuckDB {version} (it has {shipped}): "
            f"pin duckdb to the extension's version"
        )
    return path


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB with the iceberg extension loaded from PyPI packages, offline.

    Autoinstall and autoload of known extensions are off, so a missing extension fails here
    instead of reaching for the network; the session time zone is UTC, so ``timestamptz``
    columns come back in UTC whatever the machine's zone.

    Returns:
        The connection; close it when done.

    Raises:
        RuntimeError: duckdb or an extension package is missing, or built for another version.
    """
    try:
        import duckdb
    except ModuleNotFoundError as exc:
        raise RuntimeError("duckdb is not installed: install the root dev group") from exc

    connection = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    )
    try:
        for package, name in _DUCKDB_EXTENSIONS:
            path = _extension_file(package, name, duckdb.__version__)
            connection.execute(f"LOAD '{path}'")
        connection.execute("SET TimeZone = 'UTC'")
    except BaseException:
        connection.close()
        raise
    return connection


def read_with_duckdb(table: Table) -> pa.Table:
    """Return every row of an Iceberg table as DuckDB's ``iceberg_scan`` reads it.

    DuckDB reads the table's current metadata file directly (no catalog), applying position
    deletes and mapping older files onto the current schema by field id.

    Args:
        table: The pyiceberg table; its ``metadata_location`` is read. Local warehouses only
            (DuckDB would need its httpfs extension and the catalog's keys for object stores).

    Returns:
        The rows in DuckDB's order (sort before comparing), in DuckDB's Arrow types: ``string``
        rather than pyiceberg's ``large_string``, ``binary`` rather than ``large_binary``, UTC
        timestamps as ``tz="UTC"``, and every field nullable.

    Raises:
        RuntimeError: DuckDB or its iceberg extension is missing (see :func:`duckdb_connection`).
        ValueError: The table lives in an object store.
    """
    location = str(table.metadata_location)
    if location.startswith("file://"):
        location = location.removeprefix("file://")
    elif "://" in location:
        raise ValueError(f"read_with_duckdb reads local tables only, not {location!r}")
    connection = duckdb_connection()
    try:
        quoted = location.replace("'", "''")
        result: pa.Table = connection.execute(
            f"SELECT * FROM iceberg_scan('{quoted}')"
        ).to_arrow_table()
        return result
    finally:
        connection.close()
