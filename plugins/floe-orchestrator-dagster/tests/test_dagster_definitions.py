"""build_definitions: keys, groups, kinds, table names, checks, pools, schedules, subsets."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster_test_helpers import make_project, materialized

from floe_core import ConfigFileError, FloeProject, PipelineConfigurationError
from floe_dagster import FloeTranslator, build_definitions, build_source_definitions

SHOP = "sqlite:///${FLOE_PROJECT_DIR}/shop.db"


def test_each_source_is_assets_with_floe_keys_kinds_checks_pools_and_schedules(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "p")
    defs = build_definitions(project.floe_yaml, project.manifest)
    dg.Definitions.validate_loadable(defs)  # what a code location checks: unique names, ...
    graph = defs.resolve_asset_graph()
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert keys == ["ingestion__customers__customers", "ingestion__orders__orders"]
    orders = graph.get(dg.AssetKey("ingestion__orders__orders"))
    assert orders.group_name == "ingestion"
    assert orders.kinds == {"dlt", "iceberg"}
    assert orders.description == "Shop orders."
    assert orders.metadata["dagster/table_name"] == "bronze.orders"
    assert (
        orders.assets_def.op.pool == "floe_sqlite_shop"
    )  # database scheme and name: one limit per DB
    customers = graph.get(dg.AssetKey("ingestion__customers__customers"))
    assert customers.assets_def.op.pool == "floe_sqlite_shop"
    check_names = sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys)
    assert check_names == [
        "ingestion__customers__customers:no_rejected_rows",
        "ingestion__customers__customers:primary_key_unique",
        "ingestion__customers__customers:rows_landed",
        "ingestion__orders__orders:no_rejected_rows",
        "ingestion__orders__orders:rows_landed",
    ]
    schedule = defs.resolve_schedule_def("ingestion__orders_schedule")
    assert schedule.cron_schedule == "0 6 * * *"
    job = defs.resolve_job_def("ingestion__orders_job")
    assert [k.to_user_string() for k in job.asset_layer.selected_asset_keys] == [
        "ingestion__orders__orders"
    ]
    assert {s.name for s in defs.schedules or []} == {"ingestion__orders_schedule"}
    assert defs.resolve_job_def("ingestion")


def test_pools_derive_from_the_source_system_or_floe_yaml(tmp_path: Path) -> None:
    sources = [
        {
            "name": "pg_a",
            "type": "sql_database",
            "config": {
                "connection_string": "postgresql://u@db.example.com:5432/shop",
                "tables": ["a"],
            },
            "destination": {"table": "bronze.a"},
        },
        {
            "name": "pg_b",
            "type": "sql_database",
            "config": {
                "credentials": {
                    "drivername": "postgresql+psycopg2",
                    "host": "db.example.com",
                    "port": 5432,
                    "database": "shop",
                    "username": "u",
                },
                "tables": ["b"],
            },
            "destination": {"table": "bronze.b"},
        },
        {
            "name": "api",
            "type": "rest_api",
            "config": {"client": {"base_url": "https://api.example.com/v1/"}, "resources": ["x"]},
            "destination": {"table": "bronze.x"},
        },
        {
            "name": "mine",
            "type": "sql_database",
            "pool": "warehouse-db",
            "config": {"connection_string": SHOP, "tables": ["orders"]},
            "destination": {"table": "bronze.orders"},
        },
    ]
    project = make_project(tmp_path / "p", sources)
    pools = {
        s.source: s.pool for s in build_source_definitions(project.floe_yaml, project.manifest)
    }
    assert pools == {
        "pg_a": "floe_postgresql_db_example_com_5432_shop",
        "pg_b": "floe_postgresql_db_example_com_5432_shop",
        "api": "floe_http_api_example_com",
        "mine": "warehouse-db",
    }


def test_a_multi_table_source_is_one_multi_asset_that_loads_only_the_selection(
    tmp_path: Path,
) -> None:
    sources = [
        {
            "name": "shop",
            "type": "sql_database",
            "config": {"connection_string": SHOP, "tables": ["orders", "customers"]},
            "destination": {"table": "raw.*"},
        }
    ]
    project = make_project(tmp_path / "p", sources)
    (source,) = build_source_definitions(project.floe_yaml, project.manifest)
    assert [a.key.to_user_string() for a in source.assets] == [
        "ingestion__shop__orders",
        "ingestion__shop__customers",
    ]
    assert [a.table for a in source.assets] == ["raw.orders", "raw.customers"]
    assert source.definition.can_subset
    result = dg.materialize(
        [source.definition], selection=["ingestion__shop__customers"], raise_on_error=False
    )
    assert result.success
    assert list(materialized(result)) == ["ingestion__shop__customers"]
    catalog = project.catalog()
    assert catalog.load_table("raw.customers").scan().to_arrow().num_rows == 200
    assert not catalog.table_exists("raw.orders")


def test_a_multi_table_source_must_list_its_tables(tmp_path: Path) -> None:
    sources = [
        {
            "name": "all",
            "type": "sql_database",
            "config": {"connection_string": SHOP},
            "destination": {"table": "raw.*"},
        }
    ]
    project = make_project(tmp_path / "p", sources)
    with pytest.raises(PipelineConfigurationError, match=r"config\.tables"):
        build_definitions(project.floe_yaml, project.manifest)


def test_translator_subset_keeps_only_the_selected_rest_resources(tmp_path: Path) -> None:
    sources = [
        {
            "name": "api",
            "type": "rest_api",
            "config": {
                "client": {"base_url": "https://api.example.com/"},
                "resources": ["users", {"name": "posts", "endpoint": {"path": "posts"}}],
            },
            "destination": {"table": "raw.*"},
        }
    ]
    project = make_project(tmp_path / "p", sources)
    config = FloeProject.load(project.floe_yaml).sources[0].to_ingestion_config()
    translator = FloeTranslator()
    assets = translator.assets(config)
    assert [a.resource for a in assets] == ["users", "posts"]
    narrowed = translator.subset(config, [assets[1]])
    assert narrowed.source_config["resources"] == [{"name": "posts", "endpoint": {"path": "posts"}}]
    assert translator.subset(config, assets) is config


def test_a_bad_cron_schedule_is_rejected_with_the_field(tmp_path: Path) -> None:
    sources = [
        {
            "name": "orders",
            "type": "sql_database",
            "config": {"connection_string": SHOP, "tables": ["orders"]},
            "destination": {"table": "bronze.orders"},
            "schedule": "0 6 * *",
        }
    ]
    project = make_project(tmp_path / "p", sources)
    with pytest.raises(ConfigFileError, match=r"sources\[0\]\.schedule: .* has 4 field"):
        build_definitions(project.floe_yaml, project.manifest)
