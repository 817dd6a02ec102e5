"""What a failure talking to the catalog or storage means (the destination side).

The table is the "destination side" part of :mod:`floe_ingestion_dlt._errors`'s docstring:
pyiceberg's exceptions by class, transport errors of the catalog and storage clients
(requests' errors are OSErrors), pyarrow rejecting the data, and SQLAlchemy errors of a SQL
catalog. Optional clients (botocore, aiohttp, httpx) count only when installed.
"""

from __future__ import annotations

from functools import cache

from floe_core import (
    DestinationWriteError,
    ErrorCategory,
    ErrorCode,
    PipelineConfigurationError,
    SourceConnectionError,
)
from floe_ingestion_dlt._errors import ErrorTable, Handler, optional_classes, raise_as

__all__ = ["destination_table"]

_conflict = raise_as(
    DestinationWriteError,
    "a concurrent commit won: {short}; retry the load",
    ErrorCode.COMMIT_CONFLICT,
)
_no_answer = raise_as(
    DestinationWriteError, "the catalog did not answer: {short}", ErrorCode.DESTINATION_UNAVAILABLE
)
_rejected_credentials = raise_as(
    SourceConnectionError,  # AUTH_FAILED is always this class (floe_core.errors.error_class)
    "the catalog rejected the credentials: {short}",
    ErrorCode.AUTH_FAILED,
    category=ErrorCategory.PERMANENT,
)
_refused = raise_as(
    PipelineConfigurationError,
    "the catalog refused the destination: {short}",
    ErrorCode.DESTINATION_CONFIG_ERROR,
)
_inconsistent = raise_as(
    DestinationWriteError,
    "the table's schema or metadata is inconsistent: {short}",
    ErrorCode.SCHEMA_CORRUPTION,
    category=ErrorCategory.PERMANENT,
)
_rate_limited = raise_as(
    DestinationWriteError,
    "the catalog is rate limiting: {short}",
    ErrorCode.DESTINATION_UNAVAILABLE,
)
_unreachable = raise_as(
    DestinationWriteError,
    "catalog or storage unreachable: {name}: {short}",
    ErrorCode.DESTINATION_UNAVAILABLE,
)
_unwritable = raise_as(DestinationWriteError, "the data could not be written: {short}")
_sql_catalog_down = raise_as(
    DestinationWriteError,
    "the SQL catalog is unavailable: {short}",
    ErrorCode.DESTINATION_UNAVAILABLE,
)

_TRANSPORT = (
    "httpx.TransportError",
    "urllib3.exceptions.TimeoutError",
    "urllib3.exceptions.NewConnectionError",
    "botocore.exceptions.ConnectionError",
    "botocore.exceptions.HTTPClientError",
    "aiohttp.ClientConnectionError",
)
"""Connection failures of the clients a catalog or object store may use, when installed."""


@cache
def destination_table() -> ErrorTable:
    """The destination side's exception classes (imported on first use).

    Returns:
        Exception classes and their handlers.
    """
    import pyarrow.lib as pa
    import sqlalchemy.exc as sa
    from pyiceberg import exceptions as ice

    by_handler: dict[Handler, tuple[type[BaseException], ...]] = {
        _conflict: (
            ice.CommitFailedException,
            ice.ValidationException,
            ice.TableAlreadyExistsError,
            ice.NamespaceAlreadyExistsError,
        ),
        _no_answer: (ice.CommitStateUnknownException, ice.ServiceUnavailableError, ice.ServerError),
        _rejected_credentials: (
            ice.OAuthError,
            ice.UnauthorizedError,
            ice.ForbiddenError,
            ice.AuthorizationExpiredError,
        ),
        _refused: (
            ice.NoSuchNamespaceError,
            ice.NoSuchTableError,
            ice.BadRequestError,
            ice.NoSuchIdentifierError,
            ice.NotInstalledError,
        ),
        _inconsistent: (ice.ValidationError, ice.ResolveError),
        _rate_limited: (ice.TooManyRequestsError,),
        _unreachable: (OSError, *optional_classes(*_TRANSPORT)),
        _unwritable: (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError),
        _sql_catalog_down: (sa.OperationalError, sa.InterfaceError),
    }
    return {cls: handler for handler, classes in by_handler.items() for cls in classes}
