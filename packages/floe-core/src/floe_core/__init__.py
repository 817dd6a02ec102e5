"""floe-core: the contract, taxonomy, registry and runner shared by every floe ingestion plugin.

The runner, logging and lineage names (:class:`Runner`, :class:`SourceEvent`,
:class:`IngestionMetrics`, :class:`LineageEmitter`, :func:`configure_logging`,
:func:`get_logger`) are imported on first use, so a plugin importing ``floe_core`` does not pay
for structlog, OpenTelemetry metrics or openlineage-python.
"""

import importlib
from typing import TYPE_CHECKING, Any

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
    error_class,
)
from floe_core.ingestion import (
    IncrementalConfig,
    IngestionConfig,
    IngestionResult,
    LoadWindow,
    MergeStrategy,
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
from floe_core.redact import RedactingFilter, is_secret_name, mask_values, redact_text
from floe_core.registry import PluginEntry, PluginInfo, PluginRegistry
from floe_core.retry import RetryPolicy
from floe_core.secret import SecretRef

if TYPE_CHECKING:
    from floe_core.lineage import LineageEmitter
    from floe_core.log import configure_logging, get_logger
    from floe_core.metric import IngestionMetrics
    from floe_core.runner import Runner, SourceEvent

_LAZY = {
    "IngestionMetrics": "floe_core.metric",
    "LineageEmitter": "floe_core.lineage",
    "Runner": "floe_core.runner",
    "SourceEvent": "floe_core.runner",
    "configure_logging": "floe_core.log",
    "get_logger": "floe_core.log",
}

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
    "IngestionMetrics",
    "IngestionPipeline",
    "IngestionPlugin",
    "IngestionResult",
    "LineageEmitter",
    "LoadWindow",
    "MergeStrategy",
    "PartialLoadError",
    "PipelineConfigurationError",
    "PlatformManifest",
    "PluginEntry",
    "PluginError",
    "PluginInfo",
    "PluginMetadata",
    "PluginRegistry",
    "PluginType",
    "RedactingFilter",
    "RetryConfig",
    "RetryPolicy",
    "Runner",
    "SchemaContract",
    "SchemaContractViolation",
    "SecretRef",
    "SourceConnectionError",
    "SourceEvent",
    "StorageConfig",
    "SyncError",
    "TableResult",
    "WriteMode",
    "configure_logging",
    "default_category",
    "error_class",
    "get_logger",
    "is_secret_name",
    "mask_values",
    "redact_text",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'floe_core' has no attribute {name!r}")
