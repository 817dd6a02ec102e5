"""Fixtures for the Iceberg engine tests: every catalog the write path must work with.

The embedded catalog and SeaweedFS (REST + S3) come from ``floe_testing.fixtures``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from floe_core import CatalogConfig
from floe_iceberg import load_catalog


@pytest.fixture
def sql_catalog_config(tmp_path: Path) -> CatalogConfig:
    """The embedded default (SQLite catalog + local warehouse) in a temp folder."""
    return CatalogConfig.embedded(tmp_path / "warehouse")


@pytest.fixture(params=["sql", pytest.param("seaweedfs", marks=pytest.mark.seaweedfs)])
def catalog_config(request: pytest.FixtureRequest) -> CatalogConfig:
    """Every catalog the write path must work with."""
    name = "sql_catalog_config" if request.param == "sql" else "seaweedfs_catalog_config"
    config: CatalogConfig = request.getfixturevalue(name)
    return config


@pytest.fixture
def catalog(catalog_config: CatalogConfig) -> Catalog:
    """An open catalog for ``catalog_config``."""
    return load_catalog(catalog_config)


@pytest.fixture
def sql_catalog(sql_catalog_config: CatalogConfig) -> Catalog:
    """An open embedded catalog."""
    return load_catalog(sql_catalog_config)


@pytest.fixture
def table_name() -> str:
    """A table name no other test (or engineer) uses."""
    return f"floe_{uuid.uuid4().hex[:8]}.t_{uuid.uuid4().hex[:8]}"
