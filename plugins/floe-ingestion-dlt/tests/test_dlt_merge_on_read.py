"""floe.yaml ``merge_strategy: merge_on_read`` through the dlt plugin: two incremental merges."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from dlt_test_helpers import make_sqlite

from floe_core import CatalogConfig, MergeStrategy
from floe_core.project import FloeProject
from floe_iceberg import load_catalog
from floe_ingestion_dlt import DltIngestionPlugin

FLOE_YAML = """\
ingestion:
  sources:
    - name: orders
      type: sql_database
      config:
        connection_string: "sqlite:///{db}"
        tables: [orders]
      destination:
        table: bronze.orders
        write_disposition: merge
        merge_strategy: merge_on_read
        partition_by: [day(updated_at)]
      incremental: {{cursor_field: updated_at}}
"""


def test_two_merge_on_read_loads_upsert_with_delete_files(tmp_path: Path) -> None:
    db = make_sqlite(tmp_path / "shop.db", 3000)
    project = tmp_path / "floe.yaml"
    project.write_text(FLOE_YAML.format(db=db))
    (config,) = FloeProject.load(project).to_ingestion_configs()
    assert config.merge_strategy is MergeStrategy.MERGE_ON_READ
    catalog = CatalogConfig.embedded(tmp_path / "warehouse")
    plugin = DltIngestionPlugin(catalog=catalog)

    first = plugin.run(plugin.create_pipeline(config))
    assert first.success, first.errors
    assert first.rows_loaded == 3000
    with sqlite3.connect(db) as conn:  # move two rows on (a later updated_at: another day)
        conn.execute(
            "UPDATE orders SET amount = 0.5, note = NULL, updated_at = '2024-02-01 00:00:00' "
            "WHERE id IN (7, 2999)"
        )
    make_sqlite(db, 2, start=3000)
    second = plugin.run(plugin.create_pipeline(config))
    assert second.success, second.errors

    table = load_catalog(catalog).load_table("bronze.orders")
    rows = {r["id"]: r for r in table.scan().to_arrow().to_pylist()}
    assert len(rows) == 3002
    assert rows[7]["amount"] == Decimal("0.50") and rows[7]["note"] is None
    assert rows[2999]["amount"] == Decimal("0.50") and rows[3001]["note"] == "n3001"
    assert rows[8]["amount"] == Decimal("8.25")
    deletes = table.inspect.delete_files()
    assert deletes.num_rows >= 1
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert "deleted-data-files" not in snapshot.summary.additional_properties  # none rewritten
