"""What the ``rest_api`` source's dependency errors mean: requests (and httpx, urllib3) failures.

The table (``rest_api`` part of :mod:`floe_ingestion_dlt._errors`'s docstring): a response with a
status is judged by its status (:func:`_http`); one without by the requests class
(:func:`_http_without_status`, most specific class wins). Messages report the status and the
URL path only, never a header, token or query string.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from floe_core import (
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SourceConnectionError,
)
from floe_core.http_status import error_for_status
from floe_core.redact import redact_text
from floe_ingestion_dlt._errors import (
    ErrorTable,
    Handler,
    handler_for,
    optional_classes,
    raise_as,
    redact,
)

__all__ = ["rest_errors"]


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""


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


_not_json = raise_as(
    SourceConnectionError,
    "the API answered with a body that is not JSON: {short}; check the endpoint path (an HTML "
    "page or an error text is not data)",
    ErrorCode.SOURCE_READ_FAILED,
)
_bad_request = raise_as(
    PipelineConfigurationError,
    "the request cannot be made: {name}: {short}; check client.base_url (http:// or https://), "
    "the endpoint paths and the headers",
    field="client",
)
_api_unreachable = raise_as(SourceConnectionError, "cannot reach the API: {name}: {short}")
_request_failed = raise_as(
    SourceConnectionError, "the HTTP request failed: {name}: {short}", ErrorCode.SOURCE_READ_FAILED
)


@cache
def _requests_table() -> ErrorTable:
    import json

    from requests import exceptions as rq

    return {
        rq.InvalidJSONError: _not_json,
        json.JSONDecodeError: _not_json,
        rq.InvalidSchema: _bad_request,
        rq.MissingSchema: _bad_request,
        rq.InvalidURL: _bad_request,
        rq.InvalidHeader: _bad_request,
        rq.ConnectionError: _api_unreachable,
        rq.Timeout: _api_unreachable,
        rq.ChunkedEncodingError: _api_unreachable,
    }


def _http_without_status(exc: BaseException, source: str | None) -> IngestionError:
    handler = handler_for(exc, _requests_table()) or _request_failed
    found = handler(exc, source)
    assert found is not None
    return found


def _request_error(exc: BaseException, source: str | None) -> IngestionError | None:
    # _http still checks the module (its body is kept for the status table moving to
    # floe-core); a requests class subclassed elsewhere is judged without the status then.
    return _http(exc, source) or _http_without_status(exc, source)


@cache
def rest_errors() -> ErrorTable:
    """The ``rest_api`` source type's exception classes (imported when called).

    Returns:
        requests, httpx and urllib3 errors → :func:`_http`; a non-JSON body → not JSON.
    """
    import json

    import requests

    table: dict[type[BaseException], Handler] = dict.fromkeys(
        optional_classes("httpx.HTTPError", "urllib3.exceptions.HTTPError"), _request_error
    )
    table[requests.RequestException] = _request_error
    table[json.JSONDecodeError] = _http_without_status
    return table
