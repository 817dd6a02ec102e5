"""The quickstart through dagster.materialize: tables land, metadata is what pyiceberg reads."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_test_helpers import checks, make_project, materialized

from floe_dagster import ASSET_KEY_PROPERTY, RUN_ID_PROPERTY, build_definitions


def test_quickstart_lands_with_metadata_from_iceberg_then_loads_nothing_new(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "shop")
    defs = build_definitions(project.floe_yaml, project.manifest)
    assets = list(defs.assets or [])
    with dg.instance_for_test() as instance:
        first = dg.materialize(assets, instance=instance, raise_on_error=False)
        assert first.success
        meta = materialized(first)
        assert sorted(meta) == ["ingestion__customers__customers", "ingestion__orders__orders"]

        catalog = project.catalog()
        orders = catalog.load_table("bronze.orders")
        snapshot = orders.current_snapshot()
        data = orders.scan().to_arrow()
        m = meta["ingestion__orders__orders"]
        assert m["dagster/row_count"] == data.num_rows == 2000
        assert m["dagster/table_name"] == "bronze.orders"
        assert m["floe/snapshot_id"] == str(snapshot.snapshot_id)
        summary = snapshot.summary.additional_properties
        assert m["floe/data_files_added"] == int(summary["added-data-files"]) >= 1
        assert m["floe/table_location"] == orders.location()
        assert m["floe/bytes_written"] > 0
        assert m["floe/attempts"] == 1
        cursor = max(data.column("updated_at").to_pylist())
        assert m["floe/cursor"] == str(cursor)
        columns = [(c.name, c.type) for c in m["dagster/column_schema"].columns]
        assert columns == [(f.name, str(f.field_type)) for f in orders.schema().fields]
        # the writer recorded the Dagster run and asset in the snapshot summary
        assert summary[RUN_ID_PROPERTY] == first.run_id
        assert summary[ASSET_KEY_PROPERTY] == "ingestion__orders__orders"
        customers = catalog.load_table("bronze.customers")
        assert customers.scan().to_arrow().num_rows == 200
        assert meta["ingestion__customers__customers"]["dagster/row_count"] == 200
        assert checks(first) == {
            "ingestion__orders__orders:rows_landed": True,
            "ingestion__orders__orders:no_rejected_rows": True,
            "ingestion__customers__customers:rows_landed": True,
            "ingestion__customers__customers:no_rejected_rows": True,
            "ingestion__customers__customers:primary_key_unique": True,
        }

        second = dg.materialize(assets, instance=instance, raise_on_error=False)
        assert second.success
        again = materialized(second)
        assert again["ingestion__orders__orders"]["dagster/row_count"] == 0
        assert again["ingestion__orders__orders"]["floe/data_files_added"] == 0
        assert again["ingestion__orders__orders"]["floe/cursor"] == str(cursor)
        assert again["ingestion__customers__customers"]["dagster/row_count"] == 0
        # "no new rows" is what the cursor says, so the check passes
        assert all(checks(second).values()), checks(second)
        assert project.rows("bronze.orders").num_rows == 2000
        assert catalog.load_table("bronze.orders").current_snapshot().snapshot_id == (
            snapshot.snapshot_id
        )


def test_an_empty_load_without_a_cursor_fails_the_rows_check(tmp_path: Path) -> None:
    import sqlite3

    project = make_project(
        tmp_path / "shop",
        [
            {
                "name": "empty",
                "type": "sql_database",
                "config": {
                    "connection_string": "sqlite:///${FLOE_PROJECT_DIR}/shop.db",
                    "tables": ["vacant"],
                },
                "destination": {"table": "bronze.vacant", "write_disposition": "replace"},
            }
        ],
    )
    with sqlite3.connect(project.folder / "shop.db") as db:
        db.execute("CREATE TABLE vacant (id INTEGER PRIMARY KEY, name TEXT)")
    defs = build_definitions(project.floe_yaml, project.manifest)
    result = dg.materialize(list(defs.assets or []), raise_on_error=False)
    assert result.success
    assert materialized(result)["ingestion__empty__vacant"]["dagster/row_count"] == 0
    assert checks(result)["ingestion__empty__vacant:rows_landed"] is False
