"""The source types of the dlt plugin: one registry, one line per source type.

Each module exports one :class:`SourceType` (its name, config model, checks, extracts and error
classes); :class:`~floe_ingestion_dlt.DltIngestionPlugin` dispatches through :data:`REGISTRY`
and names no source type itself. Importing this package imports neither dlt nor a driver.
"""

from __future__ import annotations

import difflib
from typing import Any

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_ingestion_dlt.sources._base import Built, SourceType
from floe_ingestion_dlt.sources.filesystem import FILESYSTEM, FilesystemSourceConfig
from floe_ingestion_dlt.sources.rest_api import REST_API, RestApiSourceConfig
from floe_ingestion_dlt.sources.sql_database import SQL_DATABASE, SqlDatabaseSourceConfig

__all__ = [
    "FILESYSTEM",
    "REGISTRY",
    "REST_API",
    "SOURCE_TYPES",
    "SQL_DATABASE",
    "Built",
    "FilesystemSourceConfig",
    "RestApiSourceConfig",
    "SourceType",
    "SqlDatabaseSourceConfig",
    "source_type_of",
]

REGISTRY: dict[str, SourceType[Any]] = {
    FILESYSTEM.name: FILESYSTEM,
    REST_API.name: REST_API,
    SQL_DATABASE.name: SQL_DATABASE,
}
"""``source_type`` → its :class:`SourceType`. Adding a source type adds one line here."""

SOURCE_TYPES: tuple[str, ...] = tuple(sorted(REGISTRY))
"""The source types this plugin ships (``list_available_sources()`` reads :data:`REGISTRY`)."""


def source_type_of(config: IngestionConfig) -> SourceType[Any]:
    """Return the registered source type of ``config.source_type``.

    Args:
        config: The source.

    Returns:
        Its :class:`SourceType`.

    Raises:
        PipelineConfigurationError: The type is not registered; the message lists the
            registered ones, with a "did you mean" when one is close.
    """
    found = REGISTRY.get(config.source_type)
    if found is not None:
        return found
    names = sorted(REGISTRY)
    close = difflib.get_close_matches(config.source_type, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise PipelineConfigurationError(
        f"source {config.name!r}: source_type {config.source_type!r} is not implemented by "
        f"the dlt plugin{hint}; use one of {', '.join(names)}",
        source=config.name,
        details={"field": "source_type", "allowed": names},
    )
