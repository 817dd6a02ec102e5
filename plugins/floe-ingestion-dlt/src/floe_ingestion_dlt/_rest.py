"""``rest_api``: dlt's declarative REST API source, built from the plain YAML mapping.

floe's ``incremental.cursor_field`` becomes each endpoint's ``incremental`` block
(``cursor_path`` + ``initial_value``): dlt then filters rows client-side and keeps the cursor. An
endpoint that already declares its own ``incremental`` block (with ``start_param`` to filter on
the server) or an ``{type: incremental}`` query param keeps it unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_ingestion_dlt._config import RestApiSourceConfig
from floe_ingestion_dlt._source import Extract, destination_for

__all__ = ["build_rest_extracts", "rest_source"]


def _has_own_incremental(endpoint: dict[str, Any]) -> bool:
    if endpoint.get("incremental"):
        return True
    params = endpoint.get("params") or {}
    return any(isinstance(v, dict) and v.get("type") == "incremental" for v in params.values())


def _dlt_config(config: IngestionConfig, source: RestApiSourceConfig) -> dict[str, Any]:
    resources: list[Any] = []
    defaults = copy.deepcopy(source.resource_defaults) if source.resource_defaults else None
    default_endpoint = (defaults or {}).get("endpoint")
    defaults_incremental = isinstance(default_endpoint, dict) and _has_own_incremental(
        default_endpoint
    )
    for resource in copy.deepcopy(source.resources):
        if config.incremental is not None and not defaults_incremental:
            if isinstance(resource, str):
                resource = {"name": resource, "endpoint": {"path": resource}}
            endpoint = resource.get("endpoint")
            if endpoint is None or isinstance(endpoint, str):
                endpoint = {"path": endpoint or resource.get("name")}
                resource["endpoint"] = endpoint
            if not _has_own_incremental(endpoint):
                endpoint["incremental"] = {
                    "cursor_path": config.incremental.cursor_field,
                    "initial_value": config.incremental.initial_value,
                }
        resources.append(resource)
    out: dict[str, Any] = {"client": copy.deepcopy(source.client), "resources": resources}
    if defaults is not None:
        out["resource_defaults"] = defaults
    return out


def rest_source(config: IngestionConfig, source: RestApiSourceConfig) -> Any:
    """Build dlt's REST API source (no request is made).

    Args:
        config: The source.
        source: Its validated rest_api config (secrets in place).

    Returns:
        The ``DltSource``.

    Raises:
        PipelineConfigurationError: dlt rejects the configuration (field and reason named).
    """
    from dlt.common.exceptions import DictValidationException
    from dlt.sources.rest_api import rest_api_source

    try:
        return rest_api_source(
            _dlt_config(config, source),  # type: ignore[arg-type]
            name=config.name.replace("-", "_"),
        )
    except DictValidationException as exc:
        raise PipelineConfigurationError(
            f"source {config.name!r} (rest_api): {_mask(str(exc))}",
            source=config.name,
            details={"field": str(getattr(exc, "path", "") or "")},
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise PipelineConfigurationError(
            f"source {config.name!r} (rest_api): invalid configuration: {_mask(str(exc))}",
            source=config.name,
        ) from None


def _mask(text: str) -> str:
    # dlt's messages may echo parts of the config; keep them short and never echo auth values.
    return text.splitlines()[0][:300] if text else text


def build_rest_extracts(config: IngestionConfig, source: RestApiSourceConfig) -> list[Extract]:
    """Build one extract per REST resource.

    Args:
        config: The source.
        source: Its validated rest_api config.

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
        extracts.append(
            Extract(
                name=resource.name,
                resource=resource,
                table=destination_for(config, resource.name, len(resources)),
                primary_key=key,
            )
        )
    if config.write_mode == "merge":
        missing = [e.name for e in extracts if not e.primary_key]
        if missing:
            raise PipelineConfigurationError(
                f"source {config.name!r}: write_mode 'merge' needs primary_key (resources "
                f"{missing} have none)",
                source=config.name,
                details={"field": "primary_key"},
            )
    return extracts


def _hinted_key(resource: Any) -> tuple[str, ...]:
    key = resource.compute_table_schema().get("columns", {})
    return tuple(name for name, column in key.items() if column.get("primary_key"))
