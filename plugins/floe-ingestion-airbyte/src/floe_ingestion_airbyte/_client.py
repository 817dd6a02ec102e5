"""The HTTP client for Airbyte's public API, and the one place httpx failures become taxonomy.

Every request goes through :meth:`AirbyteClient._request`, which turns httpx exceptions and
non-2xx answers into :mod:`floe_core.errors` (``raise ... from exc``), so nothing above this
module sees an httpx type. Statuses map through floe-core's one table
(:mod:`floe_core.http_status`); Airbyte-specific readings come first::

    409 try-again-later             SyncError                  SYNC_ALREADY_RUNNING TRANSIENT
    409 state-conflict, locked, …   SyncError                  SYNC_FAILED          PERMANENT
    HTML / non-JSON answers         PipelineConfigurationError INVALID_CONFIG (wrong base_url)
    404 from /applications/token    PipelineConfigurationError INVALID_CONFIG (wrong base_url)
    401 (after one token refresh), 403, 404, 408, 429, 5xx, 3xx, other 4xx: the core table
    timeouts, connection refused    SourceConnectionError      SOURCE_UNAVAILABLE   TRANSIENT

Error details keep the status code, method, path, problem type and a short, redacted body
excerpt; never a token or secret. 429, 5xx, 408, timeouts and connection errors are retried
(``max_retries``) with exponential backoff or the announced ``Retry-After``. ``POST /jobs`` is
retried only when the request cannot have reached Airbyte (connection refused, 429), and
``DELETE /jobs/{jobId}`` (the best-effort cancel after a timeout) is never retried. Given a
``deadline``, retries never sleep past it: each wait is capped by the time left, an announced
wait longer than that gives up at once, and the error then says ``details["deadline_reached"]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception

from floe_core.config_errors import format_validation_error
from floe_core.errors import (
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SourceConnectionError,
)
from floe_core.log import get_logger
from floe_core.redact import redact_text
from floe_ingestion_airbyte._auth import ApplicationTokenAuth, StaticBearerAuth, resolve_credentials
from floe_ingestion_airbyte._responses import (
    BASE_URL_HINT,
    context_of,
    error_for,
    kind_of_body,
)
from floe_ingestion_airbyte._retrying import Budget, backoff_delay, log_retry
from floe_ingestion_airbyte.config import AirbyteConfig, AuthMode
from floe_ingestion_airbyte.model import (
    ConnectionResponse,
    JobResponse,
    JobsResponse,
    TokenResponse,
)

__all__ = ["AirbyteClient"]

log = get_logger(__name__)

_M = TypeVar("_M", bound=BaseModel)
_RETRYABLE_CODES = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.SOURCE_UNAVAILABLE})


class AirbyteClient:
    """A small synchronous client for the endpoints the plugin needs.

    Args:
        config: The plugin configuration.
        transport: An httpx transport (``httpx.MockTransport`` in tests); default: real network.
        sleep: Called to wait between retries; tests pass a fake that never waits.
        clock: Monotonic clock for token expiry and request deadlines.

    Raises:
        PipelineConfigurationError: A credential's secret reference cannot be resolved.
    """

    def __init__(
        self,
        config: AirbyteConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._sleep = sleep
        self._clock = clock
        credentials = resolve_credentials(config)
        self._secrets = [v for k, v in credentials.items() if k != "username" and v]
        self._token_auth: ApplicationTokenAuth | None = None
        auth: httpx.Auth | None = None
        mode = config.auth_mode
        if mode is AuthMode.CLIENT_CREDENTIALS:
            self._token_auth = ApplicationTokenAuth(
                f"{config.base_url}/applications/token",
                credentials["client_id"],
                credentials["client_secret"],
                handle_token_response=self._handle_token_response,
                clock=clock,
                margin=config.token_refresh_margin_seconds,
            )
            auth = self._token_auth
        elif mode is AuthMode.BEARER:
            auth = StaticBearerAuth(credentials["token"])
        elif mode is AuthMode.BASIC:
            auth = httpx.BasicAuth(credentials["username"], credentials["password"])
        self._http = httpx.Client(
            base_url=config.base_url,
            auth=auth,
            transport=transport,
            timeout=config.request_timeout_seconds,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "floe-ingestion-airbyte"},
        )

    def close(self) -> None:
        """Close the connection pool. Idempotent."""
        self._http.close()

    @property
    def token_refreshes(self) -> int:
        """How many application tokens were fetched (0 for other auth modes)."""
        return self._token_auth.refreshes if self._token_auth is not None else 0

    # -- endpoints ----------------------------------------------------------------------------

    def get_connection(
        self, connection_id: str, *, deadline: float | None = None
    ) -> ConnectionResponse:
        """``GET /connections/{connectionId}``.

        Args:
            connection_id: The connection's UUID.
            deadline: ``clock()`` value no retry sleeps past; None: only ``max_retries`` bounds.

        Returns:
            The connection.

        Raises:
            IngestionError: The request failed (404 is CONFIGURATION SOURCE_NOT_FOUND).
        """
        body = self._request("GET", f"/connections/{connection_id}", deadline=deadline)
        return self._parse(ConnectionResponse, body, "GET /connections/{connectionId}")

    def start_sync(self, connection_id: str, *, deadline: float | None = None) -> JobResponse:
        """``POST /jobs {connectionId, jobType: sync}``.

        Args:
            connection_id: The connection to sync.
            deadline: ``clock()`` value no retry sleeps past (the sync's deadline).

        Returns:
            The new job.

        Raises:
            IngestionError: The request failed; a running sync is SYNC_ALREADY_RUNNING.
                ``details["deadline_reached"]`` is True when retrying stopped at ``deadline``.
        """
        body = self._request(
            "POST",
            "/jobs",
            json={"connectionId": connection_id, "jobType": "sync"},
            idempotent=False,
            deadline=deadline,
        )
        return self._parse(JobResponse, body, "POST /jobs")

    def get_job(self, job_id: int, *, retry: bool = True) -> JobResponse:
        """``GET /jobs/{jobId}``.

        Args:
            job_id: The job.
            retry: Retry transient failures here; the poll loop passes False and backs off
                itself, so each poll is one request.

        Returns:
            The job.

        Raises:
            IngestionError: The request failed.
        """
        body = self._request("GET", f"/jobs/{job_id}", retries=None if retry else 0)
        return self._parse(JobResponse, body, "GET /jobs/{jobId}")

    def cancel_job(self, job_id: int) -> JobResponse:
        """``DELETE /jobs/{jobId}``, sent once and never retried.

        Cancelling is best effort and happens when the sync's deadline has already passed, so
        there is no time to back off: a failure goes straight back to the caller.

        Args:
            job_id: The job to cancel.

        Returns:
            The job as Airbyte reports it after the cancel.

        Raises:
            IngestionError: The request failed; a job that already ended is a 409
                state-conflict (``details["problem"] == "state-conflict"``).
        """
        body = self._request("DELETE", f"/jobs/{job_id}", retries=0)
        return self._parse(JobResponse, body, "DELETE /jobs/{jobId}")

    def list_jobs(
        self,
        connection_id: str,
        *,
        status: str | None = None,
        limit: int = 20,
        deadline: float | None = None,
    ) -> list[JobResponse]:
        """``GET /jobs?connectionId=..&jobType=sync[&status=..]``, newest first.

        Args:
            connection_id: The connection.
            status: Only jobs with this status.
            limit: Page size (Airbyte allows 1..100).
            deadline: ``clock()`` value no retry sleeps past (the sync's deadline).

        Returns:
            The jobs on the first page.

        Raises:
            IngestionError: The request failed.
        """
        params: dict[str, str | int] = {
            "connectionId": connection_id,
            "jobType": "sync",
            "limit": limit,
            "orderBy": "createdAt|DESC",
        }
        if status is not None:
            params["status"] = status
        body = self._request("GET", "/jobs", params=params, deadline=deadline)
        return self._parse(JobsResponse, body, "GET /jobs").data

    def check(self, timeout: float) -> None:
        """One authenticated request, no retries: the API answers and the credentials work.

        Args:
            timeout: Seconds the request may take.

        Raises:
            IngestionError: It did not.
        """
        self._request("GET", "/connections", params={"limit": 1}, retries=0, timeout=timeout)

    # -- the translation boundary -------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        idempotent: bool = True,
        retries: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> Any:
        attempts = (self._config.max_retries if retries is None else retries) + 1
        budget = Budget(deadline, self._clock)

        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, IngestionError) or exc.code not in _RETRYABLE_CODES:
                return False
            if exc.retry_after_seconds is not None:
                # An announced wait longer than we may sleep goes back to the caller.
                if exc.retry_after_seconds > budget.remaining():
                    budget.reached = True
                    return False
                return exc.retry_after_seconds <= self._config.max_backoff_seconds
            return (
                idempotent
                or exc.code is ErrorCode.RATE_LIMITED
                or exc.details.get("connect_failed", False)
            )

        def wait(state: RetryCallState) -> float:
            return min(self._backoff(state), budget.remaining())

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= attempts or budget.spent()

        retrying = Retrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception(retryable),
            sleep=self._sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return retrying(self._send, method, path, json=json, params=params, timeout=timeout)
        except IngestionError as exc:
            if budget.reached:
                exc.details["deadline_reached"] = True
            raise

    def _backoff(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, IngestionError) and exc.retry_after_seconds is not None:
            return min(exc.retry_after_seconds, self._config.max_backoff_seconds)
        return backoff_delay(state.attempt_number, self._config.max_backoff_seconds)

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, str | int] | None,
        timeout: float | None,
    ) -> Any:
        where = f"{method} {path}"
        try:
            response = self._http.request(
                method,
                path,
                json=json,
                params=params,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except IngestionError:
            raise  # the token handler already translated it
        except httpx.TimeoutException as exc:
            raise SourceConnectionError(
                f"Airbyte did not answer {where} within the timeout ({type(exc).__name__})",
                details={"method": method, "path": path, "base_url": self._config.base_url},
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise PipelineConfigurationError(
                f"base_url {self._config.base_url!r} is not usable: {exc}; {BASE_URL_HINT}",
                code=ErrorCode.INVALID_CONFIG,
            ) from exc
        except httpx.ConnectError as exc:
            raise SourceConnectionError(
                f"cannot connect to Airbyte at {self._config.base_url} ({where}): {exc}",
                details={"method": method, "path": path, "connect_failed": True},
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceConnectionError(
                f"{where} failed: {type(exc).__name__}: {exc}",
                details={"method": method, "path": path},
            ) from exc
        if not response.is_success:
            raise error_for(response, self._redact)
        return self._json(response)

    def _handle_token_response(self, response: httpx.Response) -> tuple[str, float | None]:
        if response.status_code in (401, 403):
            error = error_for(response, self._redact)
            raise SourceConnectionError(
                "Airbyte rejected the application credentials (client_id/client_secret) at "
                f"POST /applications/token: {error.details.get('problem_text') or error.message}",
                code=ErrorCode.AUTH_FAILED,
                category=ErrorCategory.PERMANENT,
                details=error.details,
            )
        if response.status_code == 404:
            error = error_for(response, self._redact)
            if error.code is ErrorCode.SOURCE_NOT_FOUND:
                # The token endpoint itself is missing: the base URL or its API path is wrong.
                raise PipelineConfigurationError(
                    f"POST {response.request.url.path} answered 404: there is no token endpoint "
                    f"there, so base_url {self._config.base_url!r} or its API path looks wrong; "
                    f"{BASE_URL_HINT}",
                    code=ErrorCode.INVALID_CONFIG,
                    details=error.details,
                )
            raise error
        if not response.is_success:
            raise error_for(response, self._redact)
        token = self._parse(TokenResponse, self._json(response), "POST /applications/token")
        return token.access_token.get_secret_value(), token.expires_in

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise PipelineConfigurationError(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code} with {kind_of_body(response)}, not Airbyte's JSON API; "
                f"{BASE_URL_HINT}",
                code=ErrorCode.INVALID_CONFIG,
                details=context_of(response, self._redact),
            ) from None

    def _parse(self, model: type[_M], body: Any, where: str) -> _M:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise SourceConnectionError(
                f"{where} answered JSON this client does not understand ({model.__name__}): "
                + format_validation_error(exc, model, limit=3),
                code=ErrorCode.SOURCE_READ_FAILED,
                details={"where": where},
            ) from None

    def _redact(self, text: str) -> str:
        secrets: Iterable[str] = self._secrets
        if self._token_auth is not None and self._token_auth.current_token:
            secrets = [*secrets, self._token_auth.current_token]
        # however short: a 3-character password is still a password
        return redact_text(text, secrets)
