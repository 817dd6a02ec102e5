"""``rest_api``: dlt's declarative REST API source, built from the plain YAML mapping.

Building the dlt source (:mod:`floe_ingestion_dlt.sources._rest_config`) makes no request, so
``create_pipeline`` builds it once to let dlt validate the whole configuration. Each resource
lands in its own table; a resource's own ``primary_key`` hint is kept, but the source cannot
promise a key, so ``write_mode: merge`` needs ``primary_key``. Errors:
:mod:`~floe_ingestion_dlt.sources._rest_errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_ingestion_dlt._config import DltPluginConfig, SourceModel
from floe_ingestion_dlt._source import Extract, destination_for
from floe_ingestion_dlt.sources._base import Built, SourceType
from floe_ingestion_dlt.sources._rest_config import rest_source
from floe_ingestion_dlt.sources._rest_errors import rest_errors

__all__ = ["REST_API", "RestApiSourceConfig"]


class RestApiSourceConfig(SourceModel):
    """``source_type: rest_api``: dlt's REST API source configuration, as plain YAML.

    ``client`` and ``resources`` follow dlt's ``RESTAPIConfig`` exactly; dlt validates their
    inner structure (paginators, auth, endpoints) when the pipeline is created.
    """

    client: dict[str, Any] = Field(description="base_url, headers, auth, paginator.")
    resources: list[str | dict[str, Any]] = Field(min_length=1, description="The endpoints.")
    resource_defaults: dict[str, Any] | None = Field(default=None)
    request_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Timeout of each HTTP request (connect and read). Each request is tried "
        "once; floe's runner retries the load by its retry policy.",
    )

    @field_validator("client")
    @classmethod
    def _base_url_is_http(cls, client: dict[str, Any]) -> dict[str, Any]:
        base_url = client.get("base_url")
        if "base_url" in client and not (
            isinstance(base_url, str) and base_url.startswith(("http://", "https://"))
        ):
            # the value is not echoed: it may come from a secret ref
            raise ValueError(
                "client.base_url must start with http:// or https:// "
                "(e.g. 'https://api.example.com/v1/')"
            )
        return client


def build_rest_extracts(
    config: IngestionConfig, source: RestApiSourceConfig, plugin: DltPluginConfig
) -> Built:
    """Build one extract per REST resource.

    Args:
        config: The source.
        source: Its validated rest_api config.
        plugin: The plugin settings (unused: dlt pages the API).

    Returns:
        The extracts.

    Raises:
        PipelineConfigurationError: ``namespace.table`` for several resources.
    """
    dlt_source = rest_source(config, source)
    resources = [r for r in dlt_source.resources.values() if r.selected]
    extracts = []
    for resource in resources:
        key = config.primary_key or _hinted_key(resource)
        resource.add_map(_objects_only(config, resource.name))
        extracts.append(
            Extract(
                name=resource.name,
                resource=resource,
                table=destination_for(config, resource.name, len(resources)),
                primary_key=key,
            )
        )
    return Built(extracts)


def _objects_only(config: IngestionConfig, resource: str) -> Any:
    """A map step rejecting rows that are not JSON objects (a data_selector at a scalar)."""

    def check(item: Any) -> Any:
        if not isinstance(item, Mapping):
            raise PipelineConfigurationError(
                f"source {config.name!r} (rest_api): resource {resource!r} yielded a "
                f"{type(item).__name__}, not a JSON object; point the endpoint's data_selector "
                "at the list of records in the response (e.g. data_selector: items)",
                source=config.name,
                details={"field": "data_selector", "resource": resource},
            )
        return item

    return check


def _hinted_key(resource: Any) -> tuple[str, ...]:
    key = resource.compute_table_schema().get("columns", {})
    return tuple(name for name, column in key.items() if column.get("primary_key"))


def _check(config: IngestionConfig, source: RestApiSourceConfig) -> None:
    """Let dlt validate the whole configuration, and check the destination; no request."""
    build_rest_extracts(config, source, DltPluginConfig())


REST_API = SourceType(
    name="rest_api",
    model=RestApiSourceConfig,
    check=_check,
    build=build_rest_extracts,
    errors=rest_errors,
    supports_window=True,
)
"""``source_type: rest_api``."""
