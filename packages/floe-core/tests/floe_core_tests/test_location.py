from __future__ import annotations

import pytest

from floe_core import ErrorCode, PipelineConfigurationError, SourceConnectionError
from floe_core._location import point_at, yaml_field


@pytest.mark.parametrize(
    ("field", "path"),
    [
        (None, "ingestion.sources[2]"),
        ("tables", "ingestion.sources[2].config.tables"),
        ("credentials.host", "ingestion.sources[2].config.credentials.host"),
        ("endpoints.0.path", "ingestion.sources[2].config.endpoints[0].path"),
        ("source_config.tables", "ingestion.sources[2].config.tables"),
        ("source_type", "ingestion.sources[2].type"),
        ("destination_table", "ingestion.sources[2].destination.table"),
        ("write_mode", "ingestion.sources[2].destination.write_disposition"),
        ("primary_key", "ingestion.sources[2].destination.primary_key"),
        ("incremental.cursor_field", "ingestion.sources[2].incremental.cursor_field"),
    ],
)
def test_yaml_field(field: str | None, path: str) -> None:
    assert yaml_field(2, field) == path


def test_point_at_prefixes_once_and_keeps_the_plugin_field() -> None:
    error = PipelineConfigurationError("unknown field 'tabels'", details={"fields": ["tabels"]})
    point_at(error, "floe.yaml", 0)
    point_at(error, "floe.yaml", 0)
    assert error.message == "floe.yaml: ingestion.sources[0].config.tabels: unknown field 'tabels'"
    assert str(error) == f"[CONFIGURATION/{ErrorCode.INVALID_CONFIG}] {error.message}"
    assert error.details == {
        "fields": ["tabels"],
        "file": "floe.yaml",
        "field_path": "ingestion.sources[0].config.tabels",
    }


def test_point_at_leaves_runtime_errors_alone() -> None:
    error = SourceConnectionError("refused", details={"field": "host"})
    assert point_at(error, "floe.yaml", 0).message == "refused"
