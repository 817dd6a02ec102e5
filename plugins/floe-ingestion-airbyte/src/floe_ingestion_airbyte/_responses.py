"""How an answer of Airbyte's API reads: its problem document, its kind of body, the error it means.

:func:`error_for` is the one mapping of a non-2xx answer to the taxonomy (see
:mod:`floe_ingestion_airbyte._client` for the table); the client calls it for every request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import ValidationError

from floe_core.errors import (
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SyncError,
)
from floe_core.http_status import error_for_status
from floe_ingestion_airbyte.model import Problem

__all__ = [
    "BASE_URL_HINT",
    "context_of",
    "error_for",
    "excerpt",
    "kind_of_body",
    "looks_like_html",
    "problem_of",
]

EXCERPT = 300
"""Characters of a body kept in an error's details."""
BASE_URL_HINT = (
    "check base_url: Airbyte Cloud is https://api.airbyte.com/v1, "
    "self-managed is http://HOST:8000/api/public/v1"
)


def context_of(response: httpx.Response, redact: Callable[[str], str]) -> dict[str, Any]:
    """The details every error about ``response`` carries (the body excerpt redacted)."""
    return {
        "status_code": response.status_code,
        "method": response.request.method,
        "path": response.request.url.path,
        "body_excerpt": redact(excerpt(response.text)),
    }


def error_for(response: httpx.Response, redact: Callable[[str], str]) -> IngestionError:
    """The taxonomy error a non-2xx answer means (Airbyte's readings first, then the core table).

    Args:
        response: The answer.
        redact: Masks secrets in text taken from the answer.

    Returns:
        The error, its details holding status, method, path, problem and a redacted excerpt.
    """
    status = response.status_code
    details = context_of(response, redact)
    problem = problem_of(response)
    where = f"{response.request.method} {response.request.url.path}"
    if problem is not None:
        details.update(problem=problem.kind, problem_type=problem.type)
        details["problem_text"] = redact(excerpt(problem.text))
    said = details.get("problem_text") or details["body_excerpt"]
    tail = f": {said}" if said else ", with an empty body"
    if problem is None and looks_like_html(response) and status < 500 and status != 429:
        return PipelineConfigurationError(
            f"{where} answered {status} with an HTML page, not Airbyte's API; {BASE_URL_HINT}",
            code=ErrorCode.INVALID_CONFIG,
            details=details,
        )
    if status == 409:  # Airbyte's problem kind says more than the status does
        if problem is not None and problem.kind == "try-again-later":
            return SyncError(
                f"{where}: Airbyte says try again later (409){tail}",
                code=ErrorCode.SYNC_ALREADY_RUNNING,
                details=details,
            )
        return SyncError(
            f"{where}: state conflict (409){tail}",
            code=ErrorCode.SYNC_FAILED,
            category=ErrorCategory.PERMANENT,
            details=details,
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        message = f"{where} was redirected ({status}) to {location}; {BASE_URL_HINT}"
    elif status == 401:
        message = f"Airbyte rejected the credentials ({where} → 401){tail}"
    elif status == 403:
        message = f"the credentials may not do {where} (403){tail}"
    elif status == 404:
        message = f"{where}: not found (404){tail}"
    elif status == 429:
        message = f"Airbyte is rate limiting {where} (429){tail}"
    elif status == 408 or status >= 500:
        message = f"Airbyte failed {where} ({status}){tail}"
    else:
        message = f"Airbyte refused {where} ({status}){tail}"
    return error_for_status(status, message, headers=response.headers, details=details)


def problem_of(response: httpx.Response) -> Problem | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    try:
        problem = Problem.model_validate(body)
    except ValidationError:
        return None
    if problem.title is None and problem.type is None and problem.message is None:
        return None
    return problem


def looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.text.lstrip()[:1] == "<"


def kind_of_body(response: httpx.Response) -> str:
    if looks_like_html(response):
        return "an HTML page"
    if not response.content:
        return "an empty body"
    return f"a {response.headers.get('content-type', 'non-JSON')} body"


def excerpt(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"
