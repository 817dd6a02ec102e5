"""floe-ingestion-airbyte: trigger and poll syncs on an existing Airbyte through its public API.

Entry point ``floe.ingestion: airbyte``. Importing the package is cheap (httpx and pydantic);
:mod:`floe_ingestion_airbyte.testing` holds an in-memory fake Airbyte for tests.
"""

from floe_ingestion_airbyte.config import (
    AIRBYTE_CLOUD_URL,
    AirbyteConfig,
    AuthMode,
    RunningSyncPolicy,
)
from floe_ingestion_airbyte.model import (
    ConnectionResponse,
    ConnectionStatus,
    JobResponse,
    JobStatus,
)
from floe_ingestion_airbyte.plugin import SOURCE_TYPE, AirbyteIngestionPlugin, AirbytePipeline

__all__ = [
    "AIRBYTE_CLOUD_URL",
    "SOURCE_TYPE",
    "AirbyteConfig",
    "AirbyteIngestionPlugin",
    "AirbytePipeline",
    "AuthMode",
    "ConnectionResponse",
    "ConnectionStatus",
    "JobResponse",
    "JobStatus",
    "RunningSyncPolicy",
    "__version__",
]

__version__ = "0.1.0"
