"""The contract suite run against the reference plugin, floe_testing.ReferencePlugin.

The reference plugin is not installed through an entry point, so the ``_declared`` fixture
declares one in a throw-away ``.dist-info`` on ``sys.path``: the discovery rules then run for
real (importlib.metadata and PluginRegistry), not skipped. It writes real Iceberg tables into
the embedded catalog, which ``iceberg_catalog`` hands to the read-back rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from floe_core import CatalogConfig, IngestionConfig
from floe_testing import IngestionPluginContract, ReferencePlugin, write_distribution
from floe_testing.readback import run_and_read, snapshot_ids

TOKEN = "reference-token-7f3a9c"  # a distinctive fake secret, for the leak rule
PEOPLE = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}]


class TestReferencePlugin(IngestionPluginContract):
    expected_entry_point = "reference"

    @pytest.fixture(autouse=True)
    def _declared(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        site = tmp_path / "site"
        write_distribution(
            site,
            "floe-reference-example",
            {"floe.ingestion": {"reference": "floe_testing.reference:ReferencePlugin"}},
            version="0.1.0",
        )
        monkeypatch.syspath_prepend(site)

    @pytest.fixture
    def plugin(self, embedded_catalog: CatalogConfig) -> ReferencePlugin:
        return ReferencePlugin({"max_rows": 100}, catalog=embedded_catalog)

    @pytest.fixture
    def iceberg_catalog(self, embedded_catalog: CatalogConfig) -> CatalogConfig:
        return embedded_catalog

    @pytest.fixture
    def valid_config(self) -> IngestionConfig:
        return IngestionConfig(
            name="people",
            source_type="static",
            source_config={"rows": PEOPLE},
            destination_table="bronze.people",
            incremental={"cursor_field": "id"},
            secrets={"token": SecretStr(TOKEN)},
        )

    @pytest.fixture
    def invalid_config(self) -> IngestionConfig:
        return IngestionConfig(
            name="people",
            source_type="static",
            source_config={"rows": "not a list of rows"},
            destination_table="bronze.people",
            secrets={"token": SecretStr(TOKEN)},
        )

    @pytest.fixture
    def failing_config(self) -> IngestionConfig:
        return IngestionConfig(
            name="people",
            source_type="static",
            source_config={"rows": [{"id": 1}, {"id": 2}], "fail_after": 1},
            destination_table="bronze.people",
            secrets={"token": SecretStr(TOKEN)},
        )


def test_the_reference_plugin_commits_its_rows_to_iceberg(
    embedded_catalog: CatalogConfig,
) -> None:
    config = IngestionConfig(
        name="people",
        source_type="static",
        source_config={"rows": PEOPLE},
        destination_table="bronze.people",
    )
    with ReferencePlugin(catalog=embedded_catalog) as plugin:
        result, table = run_and_read(plugin, config)
    assert result.success
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == PEOPLE
    assert [t.snapshot_id for t in result.tables] == snapshot_ids(embedded_catalog, "bronze.people")
