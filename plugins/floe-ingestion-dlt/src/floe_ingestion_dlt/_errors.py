"""The one boundary where dlt, SQL, HTTP, filesystem and pyiceberg failures become floe errors.

Which side failed decides the meaning of an ambiguous exception (an ``OSError`` reading a source
file is not a storage outage), so :func:`translate` takes the side: ``"source"`` for building and
iterating dlt resources, ``"destination"`` for the catalog and the commit. Wrappers (dlt's
``PipelineStepFailed``/``ResourceExtractionError``, SQLAlchemy's ``DBAPIError``) are unwrapped
through ``.exception``, ``.orig``, ``__cause__`` and (unless ``__suppress_context__``)
``__context__`` until something recognisable is found. A message is built from the most
specific link reached through explicit causes (a ``StopIteration`` the error happened to be
raised while handling is never "the" error)::

    source side                                  category       code
    ------------------------------------------------------------------------------------------
    floe IngestionError                          (passed through unchanged)
    SQL auth rejected (password, role, 1045)     PERMANENT      AUTH_FAILED
    SQL refused, unknown host, timeout           TRANSIENT      SOURCE_UNAVAILABLE
    SQL missing table or schema                  CONFIGURATION  SOURCE_NOT_FOUND
    SQL missing database                         CONFIGURATION  SOURCE_NOT_FOUND
    other SQL error                              PERMANENT      SOURCE_READ_FAILED
    connectorx panic (pyo3 PanicException)       PERMANENT      SOURCE_READ_FAILED
    pyarrow ArrowInvalid / ArrowTypeError        PERMANENT      SOURCE_READ_FAILED
    HTTP 401 / 403                               PERMANENT      AUTH_FAILED / PERMISSION_DENIED
    HTTP 404                                     CONFIGURATION  SOURCE_NOT_FOUND
    HTTP 429 (retry_after_seconds)               TRANSIENT      RATE_LIMITED
    HTTP 5xx; ConnectionError, Timeout,
      ChunkedEncodingError                       TRANSIENT      SOURCE_UNAVAILABLE
    other HTTP 4xx                               PERMANENT      SOURCE_READ_FAILED
    InvalidSchema, MissingSchema, InvalidURL,
      InvalidHeader (a malformed request)        CONFIGURATION  INVALID_CONFIG
    a 200 whose body is not JSON                 PERMANENT      SOURCE_READ_FAILED
    other requests error without a response      PERMANENT      SOURCE_READ_FAILED
    FileNotFoundError                            CONFIGURATION  SOURCE_NOT_FOUND
    incremental cursor missing in the data       CONFIGURATION  INVALID_CONFIG

    destination side
    ------------------------------------------------------------------------------------------
    CommitFailedException, ValidationException,
      TableAlreadyExists (concurrent commit)     TRANSIENT      COMMIT_CONFLICT
    CommitStateUnknown, 503, 5xx, OSError,
      connection errors to catalog or S3         TRANSIENT      DESTINATION_UNAVAILABLE
    OAuthError, Unauthorized, Forbidden          PERMANENT      AUTH_FAILED
    NoSuchNamespace, NoSuchTable, BadRequest     CONFIGURATION  DESTINATION_CONFIG_ERROR
    pyiceberg ValidationError, ResolveError      PERMANENT      SCHEMA_CORRUPTION
    pyarrow ArrowInvalid/NotImplemented/Type     PERMANENT      DESTINATION_WRITE_FAILED

    anything else                                PERMANENT      INTERNAL_ERROR (with the type)

Messages never carry a password, token or header value: :func:`redact` masks ``user:pw@`` in
URLs, ``password=`` pairs and bearer tokens, and HTTP errors report the status and URL path only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from floe_core import (
    DestinationWriteError,
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SourceConnectionError,
)
from floe_core.http_status import error_for_status
from floe_core.redact import redact_text

__all__ = ["Side", "redact", "translate"]

Side = Literal["source", "destination"]


_PROVIDED_VALUE = re.compile(r"\.?\s*Provided value .*$", re.DOTALL)

_AUTH = re.compile(
    r"(?i)password authentication failed|authentication failed|access denied|"
    r"role \"?[^\s\"]+\"? does not exist|no password supplied|\(1045,|\b28P01\b|\b28000\b"
)
_UNAVAILABLE = re.compile(
    r"(?i)connection refused|could not translate host name|name or service not known|"
    r"temporary failure in name resolution|nodename nor servname|timed out|timeout|"
    r"can't connect|could not connect|lost connection|server closed the connection|"
    r"connection reset|network is unreachable|no route to host|\(2003,|\(2013,|\(2006,|"
    r"too many connections|the database system is starting up"
)
_CX_READ = re.compile(
    r"error deserializing column|cannot convert between the Rust type|cx writer failed|"
    r"not implemented|too many dimensions"
)
_NO_DATABASE = re.compile(
    r"(?i)database [\"'`]?[^\s\"'`]+[\"'`]? does not exist|unknown database|\(1049,"
)
_NOT_FOUND = re.compile(
    r"(?i)(relation|table|schema|database) [\"'`]?[^\s\"'`]+[\"'`]? does(?:n't| not) exist|"
    r"no such table|unknown database|could not reflect|\(1146,|\(1049,|undefinedtable"
)


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


def _chain(exc: BaseException) -> Iterator[BaseException]:
    for link, _explicit in _links(exc):
        yield link


_NOISE = (StopIteration, StopAsyncIteration, GeneratorExit)


def _most_specific(exc: BaseException) -> BaseException:
    """The deepest meaningful link: not a dlt wrapper, not a StopIteration being handled."""
    links = list(_links(exc))
    meaningful = [
        link
        for link, _ in links
        if not isinstance(link, _NOISE) and not _module(link).startswith("dlt.")
    ]
    explicit = [link for link, via_cause in links if via_cause and link in meaningful]
    if explicit:
        return explicit[-1]
    if meaningful:
        return meaningful[-1]
    return links[-1][0]


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""


def _short(exc: BaseException) -> str:
    # dlt's validation messages echo the offending value ("Provided value `...`"): drop it
    text = _PROVIDED_VALUE.sub("", str(exc)).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return redact(first)[:300]


def _http(exc: BaseException, source: str | None) -> IngestionError | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    module = _module(exc)
    is_http = module.startswith(("requests", "httpx", "urllib3"))
    if not is_http:
        return None
    if isinstance(status, int):
        url = getattr(response, "url", None) or getattr(getattr(exc, "request", None), "url", "")
        path = str(url).split("?", 1)[0]
        path = redact_text(path)
        body = ""
        try:
            body = redact(str(getattr(response, "text", "") or ""))[:200]
        except Exception:
            body = ""
        details: dict[str, Any] = {"status_code": status, "url": path}
        if body:
            details["body_excerpt"] = body
        where = f"HTTP {status} from {path}"
        wording = {
            401: "credentials rejected; check the auth secret",
            403: "permission denied for these credentials",
            404: "not found; check base_url and the endpoint path",
            429: "rate limited",
        }
        said = wording.get(status) or ("server error" if status >= 500 else "request rejected")
        return error_for_status(
            status,
            f"{where}: {said}",
            headers=getattr(response, "headers", None),
            source=source,
            details=details,
        )
    return _http_without_status(exc, source)


_HTTP_TRANSIENT = ("ConnectionError", "Timeout", "ChunkedEncodingError")
_HTTP_CONFIG = ("InvalidSchema", "MissingSchema", "InvalidURL", "InvalidHeader")


def _http_without_status(exc: BaseException, source: str | None) -> IngestionError:
    names = {cls.__name__ for cls in type(exc).__mro__}
    details: dict[str, Any] = {"error_type": type(exc).__name__}
    if "JSONDecodeError" in names:
        return SourceConnectionError(
            f"the API answered with a body that is not JSON: {_short(exc)}; check the endpoint "
            "path (an HTML page or an error text is not data)",
            code=ErrorCode.SOURCE_READ_FAILED,
            category=ErrorCategory.PERMANENT,
            source=source,
            details=details,
        )
    if names & set(_HTTP_CONFIG):
        return PipelineConfigurationError(
            f"the request cannot be made: {type(exc).__name__}: {_short(exc)}; check "
            "client.base_url (http:// or https://), the endpoint paths and the headers",
            source=source,
            details={**details, "field": "client"},
        )
    if names & set(_HTTP_TRANSIENT):
        return SourceConnectionError(
            f"cannot reach the API: {type(exc).__name__}: {_short(exc)}",
            source=source,
            details=details,
        )
    return SourceConnectionError(
        f"the HTTP request failed: {type(exc).__name__}: {_short(exc)}",
        code=ErrorCode.SOURCE_READ_FAILED,
        category=ErrorCategory.PERMANENT,
        source=source,
        details=details,
    )


def _sql(exc: BaseException, source: str | None) -> IngestionError | None:
    module = _module(exc)
    text = str(exc)
    is_sql = module.startswith(("sqlalchemy", "psycopg", "pymysql", "MySQLdb", "sqlite3"))
    is_cx = isinstance(exc, RuntimeError) and module == "builtins"
    if not (is_sql or is_cx):
        return None
    name = type(exc).__name__
    details = {"error_type": name}
    if _NO_DATABASE.search(text):
        return PipelineConfigurationError(
            f"source database not found: {_short(exc)}; check the database name in "
            "connection_string (or credentials.database)",
            code=ErrorCode.SOURCE_NOT_FOUND,
            source=source,
            details={**details, "field": "connection_string"},
        )
    if name == "NoSuchTableError" or _NOT_FOUND.search(text):
        return PipelineConfigurationError(
            f"source table not found: {_short(exc)}; check 'tables' and 'schema'",
            code=ErrorCode.SOURCE_NOT_FOUND,
            source=source,
            details=details,
        )
    if _AUTH.search(text):
        return SourceConnectionError(
            f"the database rejected the credentials: {_short(exc)}",
            code=ErrorCode.AUTH_FAILED,
            category=ErrorCategory.PERMANENT,
            source=source,
            details=details,
        )
    if _UNAVAILABLE.search(text):
        return SourceConnectionError(
            f"cannot reach the database: {_short(exc)}", source=source, details=details
        )
    if is_cx and _CX_READ.search(text):
        return SourceConnectionError(
            f"connectorx cannot read a column of this table ({_short(exc)}); set backend: "
            "pyarrow for this source",
            code=ErrorCode.SOURCE_READ_FAILED,
            category=ErrorCategory.PERMANENT,
            source=source,
            details={**details, "hint": "set backend: pyarrow"},
        )
    if is_cx:
        return None
    return SourceConnectionError(
        f"reading from the database failed: {_short(exc)}",
        code=ErrorCode.SOURCE_READ_FAILED,
        category=ErrorCategory.PERMANENT,
        source=source,
        details=details,
    )


def _panic(exc: BaseException, source: str | None) -> IngestionError | None:
    """A Rust panic in connectorx (pyo3 ``PanicException``): a type it cannot read."""
    if type(exc).__name__ != "PanicException":
        return None
    return SourceConnectionError(
        f"connectorx cannot read a column of this table ({_short(exc)}); set backend: pyarrow "
        "for this source",
        code=ErrorCode.SOURCE_READ_FAILED,
        category=ErrorCategory.PERMANENT,
        source=source,
        details={"error_type": "PanicException", "hint": "set backend: pyarrow"},
    )


def _arrow(exc: BaseException, source: str | None) -> IngestionError | None:
    """Source data pyarrow rejects: a malformed file, NaN into a decimal, mixed types."""
    name = type(exc).__name__
    if not _module(exc).startswith("pyarrow") or name not in (
        "ArrowInvalid",
        "ArrowTypeError",
        "ArrowNotImplementedError",
    ):
        return None
    return SourceConnectionError(
        f"the source data cannot be read as Arrow: {_short(exc)}",
        code=ErrorCode.SOURCE_READ_FAILED,
        category=ErrorCategory.PERMANENT,
        source=source,
        details={"error_type": name},
    )


def _dlt(exc: BaseException, source: str | None) -> IngestionError | None:
    name = type(exc).__name__
    if name in ("IncrementalCursorPathMissing", "IncrementalCursorPathHasValueNone"):
        return PipelineConfigurationError(
            f"incremental cursor_field problem: {_short(exc)}; set incremental.cursor_field to "
            "a column present (and not null) in every row",
            source=source,
            details={"field": "incremental.cursor_field", "error_type": name},
        )
    if name == "DictValidationException":
        return PipelineConfigurationError(
            f"invalid source configuration: {_short(exc)}", source=source
        )
    return None


def _source_side(exc: BaseException, source: str | None) -> IngestionError | None:
    for handler in (_dlt, _http, _sql, _panic, _arrow):
        found = handler(exc, source)
        if found is not None:
            return found
    if "JSONDecodeError" in {cls.__name__ for cls in type(exc).__mro__}:
        return _http_without_status(exc, source)
    if isinstance(exc, FileNotFoundError):
        return PipelineConfigurationError(
            f"source file or folder not found: {_short(exc)}",
            code=ErrorCode.SOURCE_NOT_FOUND,
            source=source,
        )
    if isinstance(exc, PermissionError):
        return SourceConnectionError(
            f"permission denied reading the source: {_short(exc)}",
            code=ErrorCode.PERMISSION_DENIED,
            source=source,
        )
    if isinstance(exc, ConnectionError | TimeoutError):
        return SourceConnectionError(f"cannot reach the source: {_short(exc)}", source=source)
    return None


def _destination_side(exc: BaseException, source: str | None) -> IngestionError | None:
    name = type(exc).__name__
    module = _module(exc)
    details = {"error_type": name}
    if module.startswith("pyiceberg"):
        if name in ("CommitFailedException", "ValidationException", "TableAlreadyExistsError",
                    "NamespaceAlreadyExistsError"):  # fmt: skip
            return DestinationWriteError(
                f"a concurrent commit won: {_short(exc)}; retry the load",
                code=ErrorCode.COMMIT_CONFLICT,
                source=source,
                details=details,
            )
        if name in ("CommitStateUnknownException", "ServiceUnavailableError", "ServerError"):
            return DestinationWriteError(
                f"the catalog did not answer: {_short(exc)}",
                code=ErrorCode.DESTINATION_UNAVAILABLE,
                source=source,
                details=details,
            )
        if name in ("OAuthError", "UnauthorizedError", "ForbiddenError",
                    "AuthorizationExpiredError"):  # fmt: skip
            return SourceConnectionError(  # AUTH_FAILED is always this class
                f"the catalog rejected the credentials: {_short(exc)}",
                code=ErrorCode.AUTH_FAILED,
                category=ErrorCategory.PERMANENT,
                source=source,
                details=details,
            )
        if name in ("NoSuchNamespaceError", "NoSuchTableError", "NoSuchIcebergTableError",
                    "BadRequestError", "NoSuchIdentifierError", "NotInstalledError"):  # fmt: skip
            return PipelineConfigurationError(
                f"the catalog refused the destination: {_short(exc)}",
                code=ErrorCode.DESTINATION_CONFIG_ERROR,
                source=source,
                details=details,
            )
        if name in ("ValidationError", "ResolveError"):
            return DestinationWriteError(
                f"the table's schema or metadata is inconsistent: {_short(exc)}",
                code=ErrorCode.SCHEMA_CORRUPTION,
                category=ErrorCategory.PERMANENT,
                source=source,
                details=details,
            )
        if name == "TooManyRequestsError":
            return DestinationWriteError(
                f"the catalog is rate limiting: {_short(exc)}",
                code=ErrorCode.DESTINATION_UNAVAILABLE,
                source=source,
                details=details,
            )
    transport = module.startswith(("requests", "httpx", "urllib3", "botocore", "aiohttp"))
    if isinstance(exc, OSError | ConnectionError | TimeoutError) or (
        transport and ("Connection" in name or "Timeout" in name or "Endpoint" in name)
    ):
        return DestinationWriteError(
            f"catalog or storage unreachable: {type(exc).__name__}: {_short(exc)}",
            code=ErrorCode.DESTINATION_UNAVAILABLE,
            source=source,
            details=details,
        )
    if module.startswith("pyarrow") and name in ("ArrowInvalid", "ArrowNotImplementedError",
                                                 "ArrowTypeError"):  # fmt: skip
        return DestinationWriteError(
            f"the data could not be written: {_short(exc)}",
            source=source,
            details=details,
        )
    if module.startswith("sqlalchemy") and name in ("OperationalError", "InterfaceError"):
        return DestinationWriteError(
            f"the SQL catalog is unavailable: {_short(exc)}",
            code=ErrorCode.DESTINATION_UNAVAILABLE,
            source=source,
            details=details,
        )
    return None


def translate(exc: BaseException, *, side: Side, source: str | None = None) -> IngestionError:
    """Translate any exception into floe's taxonomy.

    Args:
        exc: What was raised.
        side: ``"source"`` while building/iterating resources, ``"destination"`` while talking
            to the catalog and committing.
        source: The pipeline name, put on the error.

    Returns:
        An :class:`~floe_core.IngestionError` (chain it with ``from exc`` when raising).
    """
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, IngestionError):
            if item.source is None:
                item.source = source
            return item
    handler = _source_side if side == "source" else _destination_side
    for item in chain:
        if _module(item).startswith("dlt.") and _dlt(item, source) is None:
            continue  # a dlt wrapper: look at what it wraps
        found = handler(item, source)
        if found is not None:
            return found
    root = _most_specific(exc)
    return IngestionError(
        f"unexpected {type(root).__name__} while "
        f"{'reading the source' if side == 'source' else 'writing'}: {_short(root)}",
        code=ErrorCode.INTERNAL_ERROR,
        source=source,
        details={"error_type": f"{type(root).__module__}.{type(root).__name__}"},
    )
