"""The contract suite run against the airbyte plugin, wired to an in-memory fake Airbyte.

The fake (``floe_ingestion_airbyte.testing.FakeAirbyte``) serves Airbyte's public API through
``httpx.MockTransport`` with a fake clock, so nothing touches the network or waits. The
connection id is given as a secret in every config: the plugin must then keep it out of
results, errors and logs, which is what the leak rule checks.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from floe_core import CatalogConfig, IngestionConfig
from floe_ingestion_airbyte import AirbyteIngestionPlugin
from floe_ingestion_airbyte.testing import FakeAirbyte
from floe_testing import IngestionPluginContract

GOOD = "5f0c8a52-7c1e-4d8b-9a3e-1b2c3d4e5f60"
FAILING = "a1b2c3d4-0000-4000-8000-00000000f0a1"
MISSING = "deadbeef-0000-4000-8000-000000000404"


def _config(connection_id: str) -> IngestionConfig:
    return IngestionConfig(
        name="orders",
        source_type="airbyte_connection",
        destination_table="bronze.orders",
        secrets={"connection_id": SecretStr(connection_id)},
    )


class TestAirbytePlugin(IngestionPluginContract):
    expected_entry_point = "airbyte"

    @pytest.fixture
    def fake(self) -> FakeAirbyte:
        fake = FakeAirbyte()
        # from Airbyte public API spec, JobResponse examples: running → succeeded, 1000 rows
        fake.add_connection(GOOD, script=["pending", "running", "succeeded"])
        # a sync that fails with nothing synced while the connection stays active
        fake.add_connection(FAILING, script=["running", {"status": "failed", "rowsSynced": 0}])
        return fake

    @pytest.fixture
    def plugin(self, fake: FakeAirbyte, embedded_catalog: CatalogConfig) -> AirbyteIngestionPlugin:
        return AirbyteIngestionPlugin(
            fake.config(),
            catalog=embedded_catalog,
            transport=fake.transport,
            sleep=fake.clock.sleep,
            clock=fake.clock,
        )

    @pytest.fixture
    def valid_config(self) -> IngestionConfig:
        return _config(GOOD)

    @pytest.fixture
    def invalid_config(self) -> IngestionConfig:
        return _config(MISSING)  # Airbyte answers 404 resource-not-found

    @pytest.fixture
    def failing_config(self) -> IngestionConfig:
        return _config(FAILING)
