"""floe-ingestion-dlt: the embedded default plugin; dlt sources landing in Apache Iceberg.

Importing this package is cheap: dlt and pyiceberg are imported only when a pipeline is created
or run.
"""

from floe_ingestion_dlt._config import (
    SOURCE_TYPES,
    DltPluginConfig,
    FilesystemSourceConfig,
    RestApiSourceConfig,
    SqlDatabaseSourceConfig,
)
from floe_ingestion_dlt.plugin import DltIngestionPlugin, DltPipeline

__all__ = [
    "SOURCE_TYPES",
    "DltIngestionPlugin",
    "DltPipeline",
    "DltPluginConfig",
    "FilesystemSourceConfig",
    "RestApiSourceConfig",
    "SqlDatabaseSourceConfig",
]
