"""floe-ingestion-dlt: the embedded default plugin; dlt sources landing in Apache Iceberg.

Importing this package is cheap: dlt and pyiceberg are imported only when a pipeline is created
or run. The source types are registered in :data:`floe_ingestion_dlt.sources.REGISTRY`.
"""

from floe_ingestion_dlt._config import DltPluginConfig
from floe_ingestion_dlt.plugin import DltIngestionPlugin, DltPipeline
from floe_ingestion_dlt.sources import (
    REGISTRY,
    SOURCE_TYPES,
    FilesystemSourceConfig,
    RestApiSourceConfig,
    SourceType,
    SqlDatabaseSourceConfig,
)

__all__ = [
    "REGISTRY",
    "SOURCE_TYPES",
    "DltIngestionPlugin",
    "DltPipeline",
    "DltPluginConfig",
    "FilesystemSourceConfig",
    "RestApiSourceConfig",
    "SourceType",
    "SqlDatabaseSourceConfig",
]
