"""The shipped quickstart loads offline, and a second run loads 0 new rows."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

from floe_core import CatalogConfig
from floe_core.project import FloeProject
from floe_ingestion_dlt import DltIngestionPlugin

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart"


def test_quickstart_loads_then_loads_nothing_new(tmp_path: Path) -> None:
    project_dir = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, project_dir, ignore=shutil.ignore_patterns("warehouse"))
    catalog = CatalogConfig.embedded(tmp_path / "warehouse")
    configs = FloeProject.load(project_dir / "floe.yaml").to_ingestion_configs()
    assert [c.name for c in configs] == ["orders", "customers"]
    plugin = DltIngestionPlugin(catalog=catalog)

    first = {c.name: plugin.run(plugin.create_pipeline(c)) for c in configs}
    assert all(r.success for r in first.values()), {n: r.errors for n, r in first.items()}
    assert {n: r.rows_loaded for n, r in first.items()} == {"orders": 2000, "customers": 200}

    second = {c.name: plugin.run(plugin.create_pipeline(c)) for c in configs}
    assert {n: (r.success, r.rows_loaded) for n, r in second.items()} == {
        "orders": (True, 0),
        "customers": (True, 0),
    }

    from floe_iceberg import load_catalog

    orders = load_catalog(catalog).load_table("bronze.orders").scan().to_arrow()
    assert orders.num_rows == 2000
    assert sum(orders.column("amount").to_pylist(), Decimal(0)) == Decimal("998718.95")


def test_shop_db_is_small_and_reproducible(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_shop_db", QUICKSTART / "make_shop_db.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(tmp_path / "shop.db")
    shipped = QUICKSTART / "shop.db"
    assert shipped.stat().st_size < 400_000
    assert (tmp_path / "shop.db").read_bytes() == shipped.read_bytes()
