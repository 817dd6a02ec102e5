from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from floe_core.catalog import CatalogConfig
from floe_core.errors import ErrorCategory, ErrorCode, PipelineConfigurationError
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.plugin import HealthState, HealthStatus, IngestionPipeline, IngestionPlugin


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str
    timeout_seconds: float = 10.0


class _Plugin(IngestionPlugin):
    """Loads nothing, for constructor tests."""

    name = "tiny"  # type: ignore[assignment]
    version = "1.0.0"  # type: ignore[assignment]
    floe_api_version = "1.0"  # type: ignore[assignment]
    is_external = False  # type: ignore[assignment]

    def health_check(self, timeout: float | None = None) -> HealthStatus:
        return HealthStatus(HealthState.HEALTHY)

    def get_config_schema(self) -> type[BaseModel]:
        return _Config

    def list_available_sources(self) -> list[str]:
        return ["none"]

    def create_pipeline(self, config: IngestionConfig) -> IngestionPipeline:
        return IngestionPipeline(config)

    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        return IngestionResult(source=pipeline.config.name, success=True)

    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        return {}


def test_config_is_validated_with_the_plugin_schema() -> None:
    plugin = _Plugin({"base_url": "http://127.0.0.1:1"})
    assert plugin.config == _Config(base_url="http://127.0.0.1:1")
    assert plugin.catalog.type == "sql"


def test_bad_config_names_the_manifest_field_and_the_fix() -> None:
    with pytest.raises(PipelineConfigurationError) as info:
        _Plugin({"base_ur": "http://127.0.0.1:1", "timeout_seconds": "soon"})
    error = info.value
    assert error.category is ErrorCategory.CONFIGURATION
    assert error.code is ErrorCode.INVALID_CONFIG
    fields = {p["field"]: p["message"] for p in error.details["problems"]}
    assert "did you mean 'base_url'?" in fields["plugins.ingestion.config.base_ur"]
    assert fields["plugins.ingestion.config.base_url"] == "required field is missing"
    assert fields["plugins.ingestion.config.timeout_seconds"].startswith("must be a number")
    assert "soon" not in error.message, "a bad value may be a secret; only its kind is shown"


def test_ingest_reports_a_bad_source_as_a_failed_result() -> None:
    class _Strict(_Plugin):
        def create_pipeline(self, config: IngestionConfig) -> IngestionPipeline:
            raise PipelineConfigurationError("source_config.table: required", source=config.name)

    config = IngestionConfig(name="s", source_type="none", destination_table="ns.t")
    result = _Strict({"base_url": "x"}).ingest(config)
    assert not result.success
    assert result.errors[0].category is ErrorCategory.CONFIGURATION
    assert result.errors[0].source == "s"


def test_context_manager_starts_and_stops() -> None:
    calls: list[str] = []

    class _Tracked(_Plugin):
        def startup(self) -> None:
            calls.append("startup")

        def shutdown(self) -> None:
            calls.append("shutdown")

    with _Tracked({"base_url": "x"}):
        calls.append("body")
    assert calls == ["startup", "body", "shutdown"]
