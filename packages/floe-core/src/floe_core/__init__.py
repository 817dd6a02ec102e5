"""floe-core: the contract, taxonomy, registry and runner shared by every floe ingestion plugin."""

from floe_core._loader import ConfigFileError
from floe_core.catalog import DEFAULT_WAREHOUSE_DIR, CatalogConfig, StorageConfig
from floe_core.errors import (
    DestinationWriteError,
    ErrorCategory,
    ErrorCode,
    ErrorDetail,
    IngestionError,
    PartialLoadError,
    PipelineConfigurationError,
    PluginError,
    SchemaContractViolation,
    SourceConnectionError,
    SyncError,
    default_category,
)
from floe_core.ingestion import (
    IncrementalConfig,
    IngestionConfig,
    IngestionResult,
    SchemaContract,
    TableResult,
    WriteMode,
)
from floe_core.manifest import PlatformManifest, RetryConfig
from floe_core.plugin import (
    FLOE_API_VERSION,
    HealthState,
    HealthStatus,
    IngestionPipeline,
    IngestionPlugin,
    PluginMetadata,
    PluginType,
)
from floe_core.project import FloeProject
from floe_core.registry import PluginEntry, PluginRegistry
from floe_core.retry import RetryPolicy
from floe_core.secret import SecretRef

__all__ = [
    "DEFAULT_WAREHOUSE_DIR",
    "FLOE_API_VERSION",
    "CatalogConfig",
    "ConfigFileError",
    "DestinationWriteError",
    "ErrorCategory",
    "ErrorCode",
    "ErrorDetail",
    "FloeProject",
    "HealthState",
    "HealthStatus",
    "IncrementalConfig",
    "IngestionConfig",
    "IngestionError",
    "IngestionPipeline",
    "IngestionPlugin",
    "IngestionResult",
    "PartialLoadError",
    "PipelineConfigurationError",
    "PlatformManifest",
    "PluginEntry",
    "PluginError",
    "PluginMetadata",
    "PluginRegistry",
    "PluginType",
    "RetryConfig",
    "RetryPolicy",
    "SchemaContract",
    "SchemaContractViolation",
    "SecretRef",
    "SourceConnectionError",
    "StorageConfig",
    "SyncError",
    "TableResult",
    "WriteMode",
    "default_category",
]

__version__ = "0.1.0"
