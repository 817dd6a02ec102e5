"""The one boundary where dlt, SQL, HTTP, filesystem and pyiceberg failures become floe errors.

Exceptions are mapped by **class**, the way httpx maps httpcore's: a table maps exception
classes to handlers, and the first class of the exception's MRO found in the table decides (the
most specific wins). The plugin-wide tables are below; each source type adds the classes of its
own dependencies (its ``errors`` table, e.g. :mod:`floe_ingestion_dlt.sources._sql_errors`), so
a heuristic of one source type never judges another's failure. Dependency classes are imported
when an error is translated, never at import time.

Which side failed decides the meaning of an ambiguous exception (an ``OSError`` reading a source
file is not a storage outage), so :func:`translate` takes the side: ``"source"`` for building and
iterating dlt resources, ``"destination"`` for the catalog and the commit. Wrappers (dlt's
``PipelineStepFailed``/``ResourceExtractionError``, SQLAlchemy's ``DBAPIError``) are unwrapped
through ``.exception``, ``.orig``, ``__cause__`` and (unless ``__suppress_context__``)
``__context__`` until a link whose class is in the table is found. A message is built from the
most specific link reached through explicit causes (a ``StopIteration`` the error happened to be
raised while handling is never "the" error)::

    every source (this module)                   category       code
    ------------------------------------------------------------------------------------------
    floe IngestionError                          (passed through unchanged)
    dlt IncrementalCursorPathMissing,
      IncrementalCursorPathHasValueNone          CONFIGURATION  INVALID_CONFIG
    dlt DictValidationException                  CONFIGURATION  INVALID_CONFIG
    pyarrow ArrowInvalid, ArrowTypeError,
      ArrowNotImplementedError                   PERMANENT      SOURCE_READ_FAILED
    FileNotFoundError                            CONFIGURATION  SOURCE_NOT_FOUND
    PermissionError                              PERMANENT      PERMISSION_DENIED
    ConnectionError, TimeoutError (builtins)     TRANSIENT      SOURCE_UNAVAILABLE

    sql_database (sources/_sql_errors.py): SQLAlchemy, DBAPI (sqlite3, psycopg2, psycopg,
    pymysql, MySQLdb) errors; connectorx's plain RuntimeError and pyo3 PanicException
    ------------------------------------------------------------------------------------------
    auth rejected (password, role, 1045)         PERMANENT      AUTH_FAILED
    refused, unknown host, timeout               TRANSIENT      SOURCE_UNAVAILABLE
    missing table or schema (NoSuchTableError)   CONFIGURATION  SOURCE_NOT_FOUND
    missing database                             CONFIGURATION  SOURCE_NOT_FOUND
    other SQLAlchemy / DBAPI error               PERMANENT      SOURCE_READ_FAILED
    connectorx column it cannot read; panic      PERMANENT      SOURCE_READ_FAILED

    rest_api (sources/rest_api.py): requests.RequestException, httpx.HTTPError,
    urllib3 HTTPError (:func:`_http`), json.JSONDecodeError
    ------------------------------------------------------------------------------------------
    HTTP 401 / 403                               PERMANENT      AUTH_FAILED / PERMISSION_DENIED
    HTTP 404                                     CONFIGURATION  SOURCE_NOT_FOUND
    HTTP 429 (retry_after_seconds)               TRANSIENT      RATE_LIMITED
    HTTP 5xx; ConnectionError, Timeout,
      ChunkedEncodingError                       TRANSIENT      SOURCE_UNAVAILABLE
    other HTTP 4xx                               PERMANENT      SOURCE_READ_FAILED
    InvalidSchema, MissingSchema, InvalidURL,
      InvalidHeader (a malformed request)        CONFIGURATION  INVALID_CONFIG
    a 200 whose body is not JSON (InvalidJSONError,
      json.JSONDecodeError)                      PERMANENT      SOURCE_READ_FAILED
    other requests error without a response      PERMANENT      SOURCE_READ_FAILED

    filesystem: no classes of its own (its readers raise floe errors naming the file)

    destination side (_destination_errors.py)
    ------------------------------------------------------------------------------------------
    CommitFailedException, ValidationException,
      TableAlreadyExists (concurrent commit)     TRANSIENT      COMMIT_CONFLICT
    CommitStateUnknown, ServiceUnavailable,
      ServerError, TooManyRequests; OSError
      (requests errors too), httpx TransportError,
      botocore/aiohttp/urllib3 connection errors,
      SQLAlchemy Operational/InterfaceError      TRANSIENT      DESTINATION_UNAVAILABLE
    OAuthError, Unauthorized, Forbidden,
      AuthorizationExpired                       PERMANENT      AUTH_FAILED
    NoSuchNamespace, NoSuchTable, BadRequest,
      NoSuchIdentifier, NotInstalled             CONFIGURATION  DESTINATION_CONFIG_ERROR
    pyiceberg ValidationError, ResolveError      PERMANENT      SCHEMA_CORRUPTION
    pyarrow ArrowInvalid/NotImplemented/Type     PERMANENT      DESTINATION_WRITE_FAILED

    anything else                                PERMANENT      INTERNAL_ERROR (with the type)

Messages never carry a password, token or header value: :func:`redact` masks ``user:pw@`` in
URLs, ``password=`` pairs and bearer tokens, and HTTP errors report the status and URL path only.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any, Literal

from floe_core import (
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SourceConnectionError,
)
from floe_core.redact import redact_text

__all__ = [
    "ErrorTable",
    "Handler",
    "Side",
    "handler_for",
    "optional_classes",
    "raise_as",
    "redact",
    "short",
    "translate",
]

Side = Literal["source", "destination"]

Handler = Callable[[BaseException, str | None], IngestionError | None]
"""``(exception, pipeline name) -> floe error``, or None: not recognised, try the next link."""

ErrorTable = Mapping[type[BaseException], Handler]
"""Exception classes and their handlers; :func:`handler_for` picks the most specific."""

_PROVIDED_VALUE = re.compile(r"\.?\s*Provided value .*$", re.DOTALL)


def redact(text: str) -> str:
    """Mask credentials in free text: ``user:pw@`` in URLs, ``password=...``, bearer tokens.

    Args:
        text: A message that may quote a DSN or a header.

    Returns:
        The text with secret values replaced by ``floe_core.redact.MASK``.
    """
    return redact_text(text)


def _links(exc: BaseException) -> Iterator[tuple[BaseException, bool]]:
    """Yield each link of the chain with whether it was reached through explicit causes only."""
    seen: set[int] = set()
    current: BaseException | None = exc
    explicit = True
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current, explicit
        nxt = getattr(current, "exception", None)
        if not isinstance(nxt, BaseException):
            nxt = getattr(current, "orig", None)
        if not isinstance(nxt, BaseException):
            nxt = current.__cause__
        if nxt is None and not current.__suppress_context__:
            nxt = current.__context__
            explicit = False
        current = nxt


_NOISE = (StopIteration, StopAsyncIteration, GeneratorExit)


@cache
def _dlt_exception() -> type[BaseException] | None:
    try:
        from dlt.common.exceptions import DltException
    except ImportError:  # a broken install: its ImportError is translated, not re-raised
        return None
    return DltException


def _most_specific(exc: BaseException) -> BaseException:
    """The deepest meaningful link: not a dlt wrapper, not a StopIteration being handled."""
    links = list(_links(exc))
    wrapper = _dlt_exception() or _NOISE
    meaningful = [
        link for link, _ in links if not isinstance(link, _NOISE) and not isinstance(link, wrapper)
    ]
    explicit = [link for link, via_cause in links if via_cause and link in meaningful]
    if explicit:
        return explicit[-1]
    if meaningful:
        return meaningful[-1]
    return links[-1][0]


def short(exc: BaseException) -> str:
    """The first line of an exception's message, redacted, without dlt's echoed value.

    Args:
        exc: Any exception.

    Returns:
        At most 300 characters, safe to show.
    """
    # dlt's validation messages echo the offending value ("Provided value `...`"): drop it
    text = _PROVIDED_VALUE.sub("", str(exc)).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return redact(first)[:300]


def optional_classes(*paths: str) -> list[type[BaseException]]:
    """Import the exception classes of optional dependencies that are installed.

    Args:
        *paths: ``"module.Class"`` paths, e.g. ``"psycopg2.Error"``.

    Returns:
        The classes whose module imports (a missing extra is simply absent).
    """
    found: list[type[BaseException]] = []
    for path in paths:
        module, _, name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        found.append(cls)
    return found


def handler_for(exc: BaseException, table: ErrorTable) -> Handler | None:
    """Return the handler of the most specific class of ``exc`` in ``table``.

    Args:
        exc: The exception.
        table: Exception classes and their handlers.

    Returns:
        The handler of the first class of ``type(exc).__mro__`` in ``table``, or None.
    """
    for cls in type(exc).__mro__:
        handler = table.get(cls)
        if handler is not None:
            return handler
    return None


def raise_as(
    kind: type[IngestionError],
    message: str,
    code: ErrorCode | None = None,
    *,
    category: ErrorCategory | None = None,
    **details: Any,
) -> Handler:
    """Build a handler that always answers one error.

    Args:
        kind: The floe error class.
        message: Its message; ``{short}`` and ``{name}`` are the exception's message (first
            line, redacted) and class name.
        code: The error code (default: the class's).
        category: A category other than the code's default.
        **details: Details added to ``error_type``.

    Returns:
        The handler.
    """

    def handle(exc: BaseException, source: str | None) -> IngestionError:
        name = type(exc).__name__
        text = message.format(short=short(exc), name=name)
        extra: dict[str, Any] = {
            "details": {"error_type": name, **details},
            "code": code,
            "source": source,
        }
        if category is not None:  # PipelineConfigurationError is always CONFIGURATION
            extra["category"] = category
        return kind(text, **extra)

    return handle


def _cursor_field(exc: BaseException, source: str | None) -> IngestionError:
    return PipelineConfigurationError(
        f"incremental cursor_field problem: {short(exc)}; set incremental.cursor_field to "
        "a column present (and not null) in every row",
        source=source,
        details={"field": "incremental.cursor_field", "error_type": type(exc).__name__},
    )


def _invalid_config(exc: BaseException, source: str | None) -> IngestionError:
    return PipelineConfigurationError(f"invalid source configuration: {short(exc)}", source=source)


_unreadable = raise_as(
    SourceConnectionError,
    "the source data cannot be read as Arrow: {short}",
    ErrorCode.SOURCE_READ_FAILED,
)


def _file_not_found(exc: BaseException, source: str | None) -> IngestionError:
    return PipelineConfigurationError(
        f"source file or folder not found: {short(exc)}",
        code=ErrorCode.SOURCE_NOT_FOUND,
        source=source,
    )


def _permission(exc: BaseException, source: str | None) -> IngestionError:
    return SourceConnectionError(
        f"permission denied reading the source: {short(exc)}",
        code=ErrorCode.PERMISSION_DENIED,
        source=source,
    )


def _unreachable(exc: BaseException, source: str | None) -> IngestionError:
    return SourceConnectionError(f"cannot reach the source: {short(exc)}", source=source)


@cache
def _source_table() -> ErrorTable:
    """What any source's failure means, whatever its type (the module docstring's first part)."""
    import pyarrow.lib as pa
    from dlt.common.exceptions import DictValidationException
    from dlt.extract.incremental import exceptions as incremental

    return {
        incremental.IncrementalCursorPathMissing: _cursor_field,
        incremental.IncrementalCursorPathHasValueNone: _cursor_field,
        DictValidationException: _invalid_config,
        pa.ArrowInvalid: _unreadable,
        pa.ArrowTypeError: _unreadable,
        pa.ArrowNotImplementedError: _unreadable,
        FileNotFoundError: _file_not_found,
        PermissionError: _permission,
        ConnectionError: _unreachable,
        TimeoutError: _unreachable,
    }


def _destination_table() -> ErrorTable:
    from floe_ingestion_dlt._destination_errors import destination_table

    return destination_table()


def _table(side: Side, source_errors: Callable[[], ErrorTable] | None) -> ErrorTable:
    """The side's table, a source type's classes over the plugin-wide ones."""
    if side == "destination":
        parts = [_destination_table]
    else:
        parts = [_source_table, *([source_errors] if source_errors is not None else [])]
    table: dict[type[BaseException], Handler] = {}
    for part in parts:
        try:
            table.update(part())
        except ImportError:  # a broken dependency: its classes are unknown, its error internal
            continue
    return table


def translate(
    exc: BaseException,
    *,
    side: Side,
    source: str | None = None,
    source_errors: Callable[[], ErrorTable] | None = None,
) -> IngestionError:
    """Translate any exception into floe's taxonomy.

    Args:
        exc: What was raised.
        side: ``"source"`` while building/iterating resources, ``"destination"`` while talking
            to the catalog and committing.
        source: The pipeline name, put on the error.
        source_errors: On the source side, the source type's ``errors`` (called only when
            something is to be translated): its own classes, merged over the plugin-wide ones.

    Returns:
        An :class:`~floe_core.IngestionError` (chain it with ``from exc`` when raising).
    """
    chain = [link for link, _explicit in _links(exc)]
    for item in chain:
        if isinstance(item, IngestionError):
            if item.source is None:
                item.source = source
            return item
    table = _table(side, source_errors)
    for item in chain:
        handler = handler_for(item, table)
        found = handler(item, source) if handler is not None else None
        if found is not None:
            return found
    root = _most_specific(exc)
    return IngestionError(
        f"unexpected {type(root).__name__} while "
        f"{'reading the source' if side == 'source' else 'writing'}: {short(root)}",
        code=ErrorCode.INTERNAL_ERROR,
        source=source,
        details={"error_type": f"{type(root).__module__}.{type(root).__name__}"},
    )
