"""The contract suite run against the dlt plugin, installed through its real entry point."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from floe_core import CatalogConfig, IngestionConfig
from floe_ingestion_dlt import DltIngestionPlugin
from floe_testing import IngestionPluginContract

PASSWORD = "dlt-contract-pw-5e1b77"  # a distinctive fake secret, for the leak rule


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestDltPlugin(IngestionPluginContract):
    expected_entry_point = "dlt"

    @pytest.fixture
    def plugin(self, embedded_catalog: CatalogConfig) -> DltIngestionPlugin:
        return DltIngestionPlugin({"batch_rows": 1000}, catalog=embedded_catalog)

    @pytest.fixture
    def iceberg_catalog(self, embedded_catalog: CatalogConfig) -> CatalogConfig:
        return embedded_catalog

    @pytest.fixture
    def valid_config(self, tmp_path: Path) -> IngestionConfig:
        db = tmp_path / "shop.db"
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC(10, 2))")
            conn.executemany("INSERT INTO orders VALUES (?, ?)", [(1, "9.99"), (2, "0.01")])
        return IngestionConfig(
            name="orders",
            source_type="sql_database",
            source_config={"connection_string": f"sqlite:///{db}", "tables": ["orders"]},
            destination_table="bronze.orders",
            incremental={"cursor_field": "id"},
        )

    @pytest.fixture
    def invalid_config(self) -> IngestionConfig:
        return IngestionConfig(
            name="orders",
            source_type="sql_database",
            source_config={"credentials": {"drivername": "postgresql"}, "tabels": ["orders"]},
            destination_table="bronze.orders",
            secrets={"credentials.password": SecretStr(PASSWORD)},
        )

    @pytest.fixture
    def failing_config(self) -> IngestionConfig:
        return IngestionConfig(
            name="orders",
            source_type="sql_database",
            source_config={
                "credentials": {
                    "drivername": "postgresql",
                    "host": "127.0.0.1",
                    "port": _closed_port(),
                    "username": "floe",
                    "database": "shop",
                },
                "tables": ["orders"],
            },
            destination_table="bronze.orders",
            secret_refs={"credentials.password": "env:FLOE_CONTRACT_PG_PASSWORD"},
            secrets={"credentials.password": SecretStr(PASSWORD)},
        )
