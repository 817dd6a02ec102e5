"""Read what the quickstart loaded: pyiceberg always, DuckDB when its iceberg extension is there.

    uv run python examples/quickstart/read_warehouse.py [WAREHOUSE_DIR]

WAREHOUSE_DIR defaults to ./warehouse (where ``floe ingest`` writes by default). The DuckDB part
uses the extension packages from PyPI (no download from duckdb.org needed); the workspace's dev
group has them, and outside it:

    uv run --with duckdb==1.5.5 --with duckdb-extension-iceberg==1.5.5 \
        --with duckdb-extension-avro==1.5.5 python examples/quickstart/read_warehouse.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyiceberg.catalog.sql import SqlCatalog


def main(warehouse: Path) -> None:
    catalog = SqlCatalog(
        "floe", uri=f"sqlite:///{warehouse / 'catalog.db'}", warehouse=warehouse.as_uri()
    )
    for table_name in ("bronze.orders", "bronze.customers"):
        table = catalog.load_table(table_name)
        rows = table.scan().to_arrow()
        snapshot = table.current_snapshot()
        print(f"{table_name}: {rows.num_rows} rows, snapshot {snapshot and snapshot.snapshot_id}")
        print(table.schema())
    orders = catalog.load_table("bronze.orders")
    paid = orders.scan(row_filter="status == 'paid'", selected_fields=("id", "amount")).to_arrow()
    print(f"paid orders: {paid.num_rows}, total {sum(paid.column('amount').to_pylist())}")
    duckdb_query(orders.metadata_location)


def duckdb_query(metadata_location: str) -> None:
    """Query the table's current metadata file with DuckDB's iceberg extension, if installed."""
    try:
        import duckdb
        import duckdb_extension_avro  # type: ignore[import-not-found]
        import duckdb_extension_iceberg  # type: ignore[import-not-found]
    except ImportError:
        print("DuckDB: run with the extension packages to query with DuckDB (see the docstring)")
        return
    con = duckdb.connect()
    for module, name in ((duckdb_extension_avro, "avro"), (duckdb_extension_iceberg, "iceberg")):
        path = next(Path(module.__file__).parent.glob(f"extensions/*/{name}.duckdb_extension"))
        con.execute(f"LOAD '{path}'")
    query = (
        "SELECT status, count(*) AS orders, sum(amount) AS revenue "
        f"FROM iceberg_scan('{metadata_location}') GROUP BY status ORDER BY status"
    )
    for row in con.execute(query).fetchall():
        print("DuckDB:", row)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "warehouse").absolute())
