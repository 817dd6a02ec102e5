"""The error boundary: each dependency's failure lands in the right category, secrets masked."""

from __future__ import annotations

import json

import pytest
import requests
from pyiceberg import exceptions as ice

from floe_core import ErrorCategory, ErrorCode, IngestionError, SourceConnectionError
from floe_ingestion_dlt._errors import redact, translate
from floe_ingestion_dlt.sources import REST_API, SQL_DATABASE

P, T, C = ErrorCategory.PERMANENT, ErrorCategory.TRANSIENT, ErrorCategory.CONFIGURATION
READ_FAILED = ErrorCode.SOURCE_READ_FAILED


def test_redact_masks_dsn_passwords_pairs_and_bearer_tokens() -> None:
    text = redact(
        "postgresql+psycopg2://user:s3cr%40t@db:5432/x password=hunter2 "
        "Authorization: Bearer abc.def-123 api_key=K3Y&x=1"
    )
    for secret in ("s3cr%40t", "hunter2", "abc.def-123", "K3Y"):
        assert secret not in text
    assert "postgresql+psycopg2://**********@db:5432/x" in text


def _http_error(status: int, headers: dict[str, str] | None = None) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.url = "http://127.0.0.1:9/v1/items?token=SECRET"
    response.headers.update(headers or {})
    response._content = b'{"error": "x"}'
    return requests.HTTPError(f"{status} error", response=response)


@pytest.mark.parametrize(
    ("status", "category", "code"),
    [
        (401, P, ErrorCode.AUTH_FAILED),
        (403, P, ErrorCode.PERMISSION_DENIED),
        (404, C, ErrorCode.SOURCE_NOT_FOUND),
        (429, T, ErrorCode.RATE_LIMITED),
        (503, T, ErrorCode.SOURCE_UNAVAILABLE),
        (422, P, ErrorCode.SOURCE_READ_FAILED),
    ],
)
def test_http_statuses(status: int, category: ErrorCategory, code: ErrorCode) -> None:
    error = translate(
        _http_error(status, {"Retry-After": "7"}),
        side="source",
        source="api",
        source_errors=REST_API.errors,
    )
    assert (error.category, error.code) == (category, code)
    assert error.details["status_code"] == status
    assert error.details["url"] == "http://127.0.0.1:9/v1/items"
    assert "SECRET" not in str(error.to_detail())
    if status in (429, 503):
        assert error.retry_after_seconds == 7.0 and error.retryable


def test_http_connection_error_is_transient() -> None:
    error = translate(
        requests.ConnectionError("refused"), side="source", source_errors=REST_API.errors
    )
    assert (error.category, error.code) == (T, ErrorCode.SOURCE_UNAVAILABLE)


def test_dlt_wrapper_is_unwrapped() -> None:
    from dlt.extract.exceptions import ResourceExtractionError

    try:
        try:
            raise _http_error(401)
        except requests.HTTPError as inner:
            raise ResourceExtractionError("items", None, "gen", "boom") from inner
    except ResourceExtractionError as outer:
        error = translate(outer, side="source", source_errors=REST_API.errors)
    assert error.code is ErrorCode.AUTH_FAILED


def test_sqlalchemy_errors_from_real_connections(tmp_path: object) -> None:
    import sqlalchemy as sa
    from dlt_test_helpers import closed_port

    engine = sa.create_engine(f"postgresql+psycopg2://u:pw@127.0.0.1:{closed_port()}/d")
    with pytest.raises(sa.exc.OperationalError) as refused:
        engine.connect()
    error = translate(refused.value, side="source", source_errors=SQL_DATABASE.errors)
    assert (error.category, error.code) == (T, ErrorCode.SOURCE_UNAVAILABLE)
    assert "pw@" not in error.message

    lite = sa.create_engine("sqlite://")
    with pytest.raises(sa.exc.OperationalError) as missing, lite.connect() as conn:
        conn.execute(sa.text("SELECT * FROM nope"))
    error = translate(missing.value, side="source", source_errors=SQL_DATABASE.errors)
    assert (error.category, error.code) == (C, ErrorCode.SOURCE_NOT_FOUND)


def test_auth_messages_from_drivers() -> None:
    import sqlalchemy as sa

    for text in (
        'connection to server failed: FATAL:  password authentication failed for user "x"',
        "(1045, \"Access denied for user 'root'@'127.0.0.1' (using password: YES)\")",
    ):
        exc = sa.exc.OperationalError("SELECT 1", {}, Exception(text))
        error = translate(exc, side="source", source_errors=SQL_DATABASE.errors)
        assert (error.category, error.code) == (P, ErrorCode.AUTH_FAILED)


@pytest.mark.parametrize(
    ("exc", "category", "code"),
    [
        (ice.CommitFailedException("conflict"), T, ErrorCode.COMMIT_CONFLICT),
        (ice.ValidationException("conflicting files"), T, ErrorCode.COMMIT_CONFLICT),
        (ice.TableAlreadyExistsError("t"), T, ErrorCode.COMMIT_CONFLICT),
        (ice.CommitStateUnknownException("?"), T, ErrorCode.DESTINATION_UNAVAILABLE),
        (ice.AuthorizationExpiredError("exp"), P, ErrorCode.AUTH_FAILED),
        (ice.ServiceUnavailableError("503"), T, ErrorCode.DESTINATION_UNAVAILABLE),
        (ice.OAuthError("bad"), P, ErrorCode.AUTH_FAILED),
        (ice.UnauthorizedError("no"), P, ErrorCode.AUTH_FAILED),
        (ice.ForbiddenError("no"), P, ErrorCode.AUTH_FAILED),
        (ice.NoSuchNamespaceError("ns"), C, ErrorCode.DESTINATION_CONFIG_ERROR),
        (ice.NoSuchTableError("t"), C, ErrorCode.DESTINATION_CONFIG_ERROR),
        (ice.BadRequestError("b"), C, ErrorCode.DESTINATION_CONFIG_ERROR),
        (ice.ValidationError("v"), P, ErrorCode.SCHEMA_CORRUPTION),
        (ice.ResolveError("r"), P, ErrorCode.SCHEMA_CORRUPTION),
        (OSError("s3 down"), T, ErrorCode.DESTINATION_UNAVAILABLE),
        (requests.ConnectionError("catalog down"), T, ErrorCode.DESTINATION_UNAVAILABLE),
        (requests.Timeout("catalog slow"), T, ErrorCode.DESTINATION_UNAVAILABLE),
        (__import__("pyarrow").ArrowInvalid("bad key"), P, ErrorCode.DESTINATION_WRITE_FAILED),
    ],
)
def test_destination_side(exc: Exception, category: ErrorCategory, code: ErrorCode) -> None:
    error = translate(exc, side="destination", source="s")
    assert (error.category, error.code) == (category, code)
    assert error.source == "s"


def test_floe_errors_pass_through_and_unknowns_are_internal() -> None:
    ours = SourceConnectionError("x", code=ErrorCode.RATE_LIMITED)
    try:
        raise RuntimeError("wrapped") from ours
    except RuntimeError as exc:
        assert translate(exc, side="destination") is ours
    error = translate(KeyError("k"), side="source")
    assert isinstance(error, IngestionError)
    assert (error.category, error.code) == (P, ErrorCode.INTERNAL_ERROR)
    assert error.details["error_type"] == "builtins.KeyError"


def _raised_in_generator(exc: BaseException) -> BaseException:
    """Raise ``exc`` while a StopIteration is being handled, wrapped as dlt does."""
    from dlt.extract.exceptions import ResourceExtractionError

    try:
        try:
            try:
                next(iter([]))
            except StopIteration:
                raise exc  # noqa: B904 - the implicit __context__ is the point
        except BaseException as inner:
            raise ResourceExtractionError("files", None, "gen", "boom") from inner
    except ResourceExtractionError as outer:
        return outer


def test_chain_reaches_the_arrow_error_not_the_stop_iteration_it_was_raised_in() -> None:
    import pyarrow as pa

    outer = _raised_in_generator(pa.ArrowInvalid("CSV parse error: Expected 3 columns, got 4"))
    error = translate(outer, side="source", source="files")
    assert (error.category, error.code) == (P, ErrorCode.SOURCE_READ_FAILED)
    assert "Expected 3 columns, got 4" in error.message
    assert "StopIteration" not in error.message


def test_unknown_error_is_named_after_the_most_specific_link() -> None:
    error = translate(_raised_in_generator(KeyError("missing_key")), side="source")
    assert (error.category, error.code) == (P, ErrorCode.INTERNAL_ERROR)
    assert error.message.startswith("unexpected KeyError")
    assert "missing_key" in error.message
    assert error.details["error_type"] == "builtins.KeyError"


def test_context_is_followed_unless_suppressed() -> None:
    try:
        try:
            raise requests.ConnectionError("refused")
        except requests.ConnectionError:
            raise ValueError("while handling")  # noqa: B904
    except ValueError as exc:
        followed = translate(exc, side="source", source_errors=REST_API.errors)
    assert (followed.category, followed.code) == (T, ErrorCode.SOURCE_UNAVAILABLE)
    try:
        try:
            raise requests.ConnectionError("refused")
        except requests.ConnectionError:
            raise ValueError("unrelated") from None
    except ValueError as exc:
        suppressed = translate(exc, side="source", source_errors=REST_API.errors)
    assert suppressed.code is ErrorCode.INTERNAL_ERROR
    assert "unrelated" in suppressed.message


@pytest.mark.parametrize(
    ("exc", "category", "code"),
    [
        (requests.ConnectionError("refused"), T, ErrorCode.SOURCE_UNAVAILABLE),
        (requests.ConnectTimeout("slow"), T, ErrorCode.SOURCE_UNAVAILABLE),
        (requests.ReadTimeout("slow"), T, ErrorCode.SOURCE_UNAVAILABLE),
        (requests.exceptions.ChunkedEncodingError("cut"), T, ErrorCode.SOURCE_UNAVAILABLE),
        (requests.exceptions.InvalidSchema("no adapter"), C, ErrorCode.INVALID_CONFIG),
        (requests.exceptions.MissingSchema("no scheme"), C, ErrorCode.INVALID_CONFIG),
        (requests.exceptions.InvalidURL("bad url"), C, ErrorCode.INVALID_CONFIG),
        (requests.exceptions.InvalidHeader("bad header"), C, ErrorCode.INVALID_CONFIG),
        (requests.exceptions.JSONDecodeError("Expecting value", "<p>", 0), P, READ_FAILED),
        (json.JSONDecodeError("Expecting value", "x", 0), P, READ_FAILED),
        (requests.TooManyRedirects("loop"), P, ErrorCode.SOURCE_READ_FAILED),
    ],
)
def test_requests_errors_without_status(
    exc: Exception, category: ErrorCategory, code: ErrorCode
) -> None:
    error = translate(exc, side="source", source="api", source_errors=REST_API.errors)
    assert (error.category, error.code) == (category, code)
    assert error.retryable is (category is T)


@pytest.mark.parametrize(
    "exc",
    [
        __import__("pyarrow").ArrowInvalid("Rescaling Decimal value would cause data loss"),
        __import__("pyarrow").ArrowTypeError("Expected bytes, got a 'int' object"),
    ],
)
def test_source_side_arrow_errors_are_permanent_read_failures(exc: Exception) -> None:
    error = translate(exc, side="source", source="s")
    assert (error.category, error.code) == (P, ErrorCode.SOURCE_READ_FAILED)
    assert str(exc) in error.message


@pytest.mark.parametrize(
    "text",
    [
        'connection to server failed: FATAL:  database "shopp" does not exist',
        "(1049, \"Unknown database 'shopp'\")",
    ],
)
def test_missing_database_hints_at_the_database_name(text: str) -> None:
    import sqlalchemy as sa

    error = translate(
        sa.exc.OperationalError("connect", {}, Exception(text)),
        side="source",
        source_errors=SQL_DATABASE.errors,
    )
    assert (error.category, error.code) == (C, ErrorCode.SOURCE_NOT_FOUND)
    assert "check the database name in connection_string" in error.message
    assert "'tables'" not in error.message


def test_dlt_validation_message_never_echoes_the_provided_value() -> None:
    from dlt.common.exceptions import DictValidationException

    exc = DictValidationException(
        "field `auth` expects one of ... Provided value `SUPERSECRET123` with type `str`",
        "./client",
        field="auth",
    )
    error = translate(exc, side="source")
    assert error.category is C
    assert "SUPERSECRET123" not in str(error.to_detail())
