"""Fixtures shared by the plugin contract tests in this folder (generic: no plugin imports)."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe_core import CatalogConfig


@pytest.fixture
def embedded_catalog(tmp_path: Path) -> CatalogConfig:
    """A fresh embedded Iceberg catalog (SQLite + local warehouse) under the test's tmp dir."""
    return CatalogConfig.embedded(tmp_path / "warehouse")
