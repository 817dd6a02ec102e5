"""The floe ingestion error taxonomy.

Every failure a plugin reports is an :class:`IngestionError` (or its frozen, serialisable twin
:class:`ErrorDetail`). Plugins translate the exceptions of their dependencies (dlt, SQLAlchemy,
pyiceberg, httpx, ...) into this tree at one boundary, ``raise ... from exc``, so callers never
see a dependency's exception types.

Exception tree::

    IngestionError                      base: code, category, retryable, retry_after_seconds, ...
     ├── PipelineConfigurationError     CONFIGURATION  you configured it wrong; never retried
     │    └── PluginError               CONFIGURATION  plugin missing, broken or incompatible
     ├── SourceConnectionError          TRANSIENT      source unreachable (or PERMANENT: auth)
     ├── DestinationWriteError          TRANSIENT      catalog/storage/commit failed (or PERMANENT)
     ├── SchemaContractViolation        PERMANENT      data breaks the table's schema contract
     ├── PartialLoadError               PARTIAL        some rows landed, some were rejected
     └── SyncError                      any            an external engine's job ended badly

Categories say what the caller should do:

- ``TRANSIENT``: try again later; the same input may succeed (network, 5xx, 429, commit conflict).
- ``PERMANENT``: trying again will fail the same way until something outside the config changes
  (bad credentials, data that breaks a frozen contract, corrupt metadata).
- ``PARTIAL``: part of the data landed; ``failed_records`` says how much did not, when known.
- ``CONFIGURATION``: the configuration is wrong; the message names the field and the fix.

Codes (:class:`ErrorCode`) are stable identifiers for dashboards and alerts; each has a default
category, which a raise site may override when the evidence says otherwise::

    code                      category      meaning
    INVALID_CONFIG            CONFIGURATION a field is missing, malformed or contradictory
    SECRET_NOT_FOUND          CONFIGURATION a secret ref names no env var or file
    PLUGIN_NOT_FOUND          CONFIGURATION no installed plugin has that name
    PLUGIN_LOAD_FAILED        CONFIGURATION the plugin's entry point failed to import
    PLUGIN_INCOMPATIBLE       CONFIGURATION wrong class, floe_api_version or duplicate name
    SOURCE_NOT_FOUND          CONFIGURATION table, endpoint, file or connection does not exist
    DESTINATION_CONFIG_ERROR  CONFIGURATION catalog or storage config unusable
    AUTH_FAILED               PERMANENT     credentials rejected
    PERMISSION_DENIED         PERMANENT     authenticated but not allowed
    RATE_LIMITED              TRANSIENT     429 or equivalent; see retry_after_seconds
    SOURCE_UNAVAILABLE        TRANSIENT     refused, DNS, timeout, 5xx
    SOURCE_READ_FAILED        PERMANENT     the source answered but reading failed
    DESTINATION_UNAVAILABLE   TRANSIENT     catalog or storage unreachable
    COMMIT_CONFLICT           TRANSIENT     a concurrent commit won; re-run the load
    DESTINATION_WRITE_FAILED  PERMANENT     the catalog or storage refused the write
    SCHEMA_CONTRACT_VIOLATION PERMANENT     data breaks a frozen schema
    SCHEMA_CORRUPTION         PERMANENT     table metadata or types irreconcilable
    PARTIAL_LOAD              PARTIAL       an embedded load rejected some rows
    PARTIAL_SYNC              PARTIAL       an external sync failed after moving some rows
    SYNC_FAILED               TRANSIENT     an external sync failed with nothing moved
    SYNC_CANCELLED            PERMANENT     someone else cancelled the sync
    SYNC_TIMEOUT              TRANSIENT     the sync did not finish within the timeout
    SYNC_ALREADY_RUNNING      TRANSIENT     another sync holds the connection
    INTERNAL_ERROR            PERMANENT     an unexpected failure inside a plugin

Each code is raised as exactly one exception class (:func:`error_class`); building a subclass
with a code of another class is a ``TypeError``, so ``except SourceConnectionError`` sees every
AUTH_FAILED and no other class does. The base :class:`IngestionError` takes any code (it is
what :meth:`IngestionError.from_detail` rebuilds)::

    class                       codes
    PipelineConfigurationError  INVALID_CONFIG, SECRET_NOT_FOUND, SOURCE_NOT_FOUND,
                                DESTINATION_CONFIG_ERROR
    PluginError                 PLUGIN_NOT_FOUND, PLUGIN_LOAD_FAILED, PLUGIN_INCOMPATIBLE
    SourceConnectionError       AUTH_FAILED, PERMISSION_DENIED (a source's or the catalog's),
                                RATE_LIMITED, SOURCE_UNAVAILABLE, SOURCE_READ_FAILED
    DestinationWriteError       DESTINATION_UNAVAILABLE, COMMIT_CONFLICT,
                                DESTINATION_WRITE_FAILED, SCHEMA_CORRUPTION
    SchemaContractViolation     SCHEMA_CONTRACT_VIOLATION
    PartialLoadError            PARTIAL_LOAD, PARTIAL_SYNC
    SyncError                   SYNC_FAILED, SYNC_CANCELLED, SYNC_TIMEOUT, SYNC_ALREADY_RUNNING
    IngestionError              INTERNAL_ERROR
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DestinationWriteError",
    "ErrorCategory",
    "ErrorCode",
    "ErrorDetail",
    "IngestionError",
    "PartialLoadError",
    "PipelineConfigurationError",
    "PluginError",
    "SchemaContractViolation",
    "SourceConnectionError",
    "SyncError",
    "default_category",
    "error_class",
]


class ErrorCategory(StrEnum):
    """What a caller should do about an error."""

    TRANSIENT = "TRANSIENT"
    PERMANENT = "PERMANENT"
    PARTIAL = "PARTIAL"
    CONFIGURATION = "CONFIGURATION"


class ErrorCode(StrEnum):
    """Stable error codes; the module docstring says what each means."""

    INVALID_CONFIG = "INVALID_CONFIG"
    SECRET_NOT_FOUND = "SECRET_NOT_FOUND"
    PLUGIN_NOT_FOUND = "PLUGIN_NOT_FOUND"
    PLUGIN_LOAD_FAILED = "PLUGIN_LOAD_FAILED"
    PLUGIN_INCOMPATIBLE = "PLUGIN_INCOMPATIBLE"
    SOURCE_NOT_FOUND = "SOURCE_NOT_FOUND"
    DESTINATION_CONFIG_ERROR = "DESTINATION_CONFIG_ERROR"
    AUTH_FAILED = "AUTH_FAILED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RATE_LIMITED = "RATE_LIMITED"
    SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
    SOURCE_READ_FAILED = "SOURCE_READ_FAILED"
    DESTINATION_UNAVAILABLE = "DESTINATION_UNAVAILABLE"
    COMMIT_CONFLICT = "COMMIT_CONFLICT"
    DESTINATION_WRITE_FAILED = "DESTINATION_WRITE_FAILED"
    SCHEMA_CONTRACT_VIOLATION = "SCHEMA_CONTRACT_VIOLATION"
    SCHEMA_CORRUPTION = "SCHEMA_CORRUPTION"
    PARTIAL_LOAD = "PARTIAL_LOAD"
    PARTIAL_SYNC = "PARTIAL_SYNC"
    SYNC_FAILED = "SYNC_FAILED"
    SYNC_CANCELLED = "SYNC_CANCELLED"
    SYNC_TIMEOUT = "SYNC_TIMEOUT"
    SYNC_ALREADY_RUNNING = "SYNC_ALREADY_RUNNING"
    INTERNAL_ERROR = "INTERNAL_ERROR"


_DEFAULT_CATEGORY: dict[ErrorCode, ErrorCategory] = {
    ErrorCode.INVALID_CONFIG: ErrorCategory.CONFIGURATION,
    ErrorCode.SECRET_NOT_FOUND: ErrorCategory.CONFIGURATION,
    ErrorCode.PLUGIN_NOT_FOUND: ErrorCategory.CONFIGURATION,
    ErrorCode.PLUGIN_LOAD_FAILED: ErrorCategory.CONFIGURATION,
    ErrorCode.PLUGIN_INCOMPATIBLE: ErrorCategory.CONFIGURATION,
    ErrorCode.SOURCE_NOT_FOUND: ErrorCategory.CONFIGURATION,
    ErrorCode.DESTINATION_CONFIG_ERROR: ErrorCategory.CONFIGURATION,
    ErrorCode.AUTH_FAILED: ErrorCategory.PERMANENT,
    ErrorCode.PERMISSION_DENIED: ErrorCategory.PERMANENT,
    ErrorCode.RATE_LIMITED: ErrorCategory.TRANSIENT,
    ErrorCode.SOURCE_UNAVAILABLE: ErrorCategory.TRANSIENT,
    ErrorCode.SOURCE_READ_FAILED: ErrorCategory.PERMANENT,
    ErrorCode.DESTINATION_UNAVAILABLE: ErrorCategory.TRANSIENT,
    ErrorCode.COMMIT_CONFLICT: ErrorCategory.TRANSIENT,
    ErrorCode.DESTINATION_WRITE_FAILED: ErrorCategory.PERMANENT,
    ErrorCode.SCHEMA_CONTRACT_VIOLATION: ErrorCategory.PERMANENT,
    ErrorCode.SCHEMA_CORRUPTION: ErrorCategory.PERMANENT,
    ErrorCode.PARTIAL_LOAD: ErrorCategory.PARTIAL,
    ErrorCode.PARTIAL_SYNC: ErrorCategory.PARTIAL,
    ErrorCode.SYNC_FAILED: ErrorCategory.TRANSIENT,
    ErrorCode.SYNC_CANCELLED: ErrorCategory.PERMANENT,
    ErrorCode.SYNC_TIMEOUT: ErrorCategory.TRANSIENT,
    ErrorCode.SYNC_ALREADY_RUNNING: ErrorCategory.TRANSIENT,
    ErrorCode.INTERNAL_ERROR: ErrorCategory.PERMANENT,
}


def default_category(code: ErrorCode) -> ErrorCategory:
    """Return the category an error code has unless its raise site says otherwise.

    Args:
        code: The error code.

    Returns:
        The code's default category.
    """
    return _DEFAULT_CATEGORY[code]


class ErrorDetail(BaseModel):
    """A structured, serialisable error as carried by ``IngestionResult.errors``.

    It never holds a secret: raise sites put status codes, short body excerpts, job ids and
    field paths in ``details``, never tokens, passwords or connection strings with credentials.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ErrorCode
    category: ErrorCategory
    message: str
    source: str | None = Field(default=None, description="The source (pipeline) name, if known.")
    retryable: bool
    retry_after_seconds: float | None = Field(default=None, ge=0)
    failed_records: int | None = Field(
        default=None, ge=0, description="Rows that did not land; None when unknown."
    )
    details: dict[str, Any] = Field(default_factory=dict)
    error_type: str | None = Field(
        default=None,
        description="The IngestionError subclass that was raised, e.g. SourceConnectionError "
        "(span attribute error.type); None when unknown.",
    )


class IngestionError(Exception):
    """Base of every error floe ingestion raises.

    Context is keyword-only. ``category`` defaults to the code's category and ``retryable`` to
    ``category is TRANSIENT``. ``error_type`` is the class name (kept across
    :meth:`to_detail` / :meth:`from_detail`).
    """

    default_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        category: ErrorCategory | None = None,
        source: str | None = None,
        retryable: bool | None = None,
        retry_after_seconds: float | None = None,
        failed_records: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.category = category if category is not None else default_category(self.code)
        self.source = source
        self.retryable = (
            retryable if retryable is not None else self.category is ErrorCategory.TRANSIENT
        )
        self.retry_after_seconds = retry_after_seconds
        self.failed_records = failed_records
        self.details: dict[str, Any] = dict(details or {})
        self.error_type = type(self).__name__
        _check_class(type(self), self.code)

    def to_detail(self) -> ErrorDetail:
        """Return this error as a frozen :class:`ErrorDetail`."""
        return ErrorDetail(
            code=self.code,
            category=self.category,
            message=self.message,
            source=self.source,
            retryable=self.retryable,
            retry_after_seconds=self.retry_after_seconds,
            failed_records=self.failed_records,
            details=self.details,
            error_type=self.error_type,
        )

    @classmethod
    def from_detail(cls, detail: ErrorDetail) -> IngestionError:
        """Rebuild an exception from an :class:`ErrorDetail`.

        Args:
            detail: The structured error.

        Returns:
            An ``IngestionError`` carrying the same fields; its ``error_type`` stays the class
            originally raised (when the detail records it), so spans and a second
            :meth:`to_detail` still name it.
        """
        error = cls(
            detail.message,
            code=detail.code,
            category=detail.category,
            source=detail.source,
            retryable=detail.retryable,
            retry_after_seconds=detail.retry_after_seconds,
            failed_records=detail.failed_records,
            details=detail.details,
        )
        if detail.error_type:
            error.error_type = detail.error_type
        return error

    def __str__(self) -> str:
        return f"[{self.category}/{self.code}] {self.message}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!s}, category={self.category!s}, message={self.message!r})"


class PipelineConfigurationError(IngestionError):
    """The configuration is wrong. Always CONFIGURATION and never retried."""

    default_code = ErrorCode.INVALID_CONFIG

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        source: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message,
            code=code,
            category=ErrorCategory.CONFIGURATION,
            source=source,
            retryable=False,
            details=details,
        )


class PluginError(PipelineConfigurationError):
    """A plugin could not be found, loaded, or is incompatible with this floe-core."""

    default_code = ErrorCode.PLUGIN_NOT_FOUND


class SourceConnectionError(IngestionError):
    """The source could not be reached, or refused the credentials."""

    default_code = ErrorCode.SOURCE_UNAVAILABLE


class DestinationWriteError(IngestionError):
    """Writing to the Iceberg catalog or storage failed; the table is left as it was."""

    default_code = ErrorCode.DESTINATION_WRITE_FAILED


class SchemaContractViolation(IngestionError):
    """Incoming data breaks the table's schema contract (for example a new column on ``freeze``)."""

    default_code = ErrorCode.SCHEMA_CONTRACT_VIOLATION


class PartialLoadError(IngestionError):
    """Some rows landed and some did not; ``failed_records`` says how many, when known."""

    default_code = ErrorCode.PARTIAL_LOAD


class SyncError(IngestionError):
    """An external engine's job (an Airbyte sync) failed, was cancelled or timed out."""

    default_code = ErrorCode.SYNC_FAILED


_ERROR_CLASS: dict[ErrorCode, type[IngestionError]] = {
    ErrorCode.INVALID_CONFIG: PipelineConfigurationError,
    ErrorCode.SECRET_NOT_FOUND: PipelineConfigurationError,
    ErrorCode.SOURCE_NOT_FOUND: PipelineConfigurationError,
    ErrorCode.DESTINATION_CONFIG_ERROR: PipelineConfigurationError,
    ErrorCode.PLUGIN_NOT_FOUND: PluginError,
    ErrorCode.PLUGIN_LOAD_FAILED: PluginError,
    ErrorCode.PLUGIN_INCOMPATIBLE: PluginError,
    ErrorCode.AUTH_FAILED: SourceConnectionError,
    ErrorCode.PERMISSION_DENIED: SourceConnectionError,
    ErrorCode.RATE_LIMITED: SourceConnectionError,
    ErrorCode.SOURCE_UNAVAILABLE: SourceConnectionError,
    ErrorCode.SOURCE_READ_FAILED: SourceConnectionError,
    ErrorCode.DESTINATION_UNAVAILABLE: DestinationWriteError,
    ErrorCode.COMMIT_CONFLICT: DestinationWriteError,
    ErrorCode.DESTINATION_WRITE_FAILED: DestinationWriteError,
    ErrorCode.SCHEMA_CORRUPTION: DestinationWriteError,
    ErrorCode.SCHEMA_CONTRACT_VIOLATION: SchemaContractViolation,
    ErrorCode.PARTIAL_LOAD: PartialLoadError,
    ErrorCode.PARTIAL_SYNC: PartialLoadError,
    ErrorCode.SYNC_FAILED: SyncError,
    ErrorCode.SYNC_CANCELLED: SyncError,
    ErrorCode.SYNC_TIMEOUT: SyncError,
    ErrorCode.SYNC_ALREADY_RUNNING: SyncError,
    ErrorCode.INTERNAL_ERROR: IngestionError,
}
_OWNERS = frozenset(_ERROR_CLASS.values())


def error_class(code: ErrorCode) -> type[IngestionError]:
    """Return the one exception class a code is raised as.

    Args:
        code: The error code.

    Returns:
        The class (the module docstring's table).
    """
    return _ERROR_CLASS[code]


def _check_class(cls: type[IngestionError], code: ErrorCode) -> None:
    """Reject a subclass built with a code that belongs to another class."""
    if cls is IngestionError:
        return
    owner = next(c for c in cls.__mro__ if c in _OWNERS)  # IngestionError at the latest
    expected = _ERROR_CLASS[code]
    if owner is not expected:
        raise TypeError(
            f"{cls.__name__} cannot carry code {code}: {code} is raised as "
            f"{expected.__name__} (floe_core.errors.error_class); use that class or another code"
        )
