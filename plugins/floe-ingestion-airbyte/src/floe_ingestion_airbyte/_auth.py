"""httpx auth flows for Airbyte: application tokens (cached, refreshed) and static bearer tokens.

:class:`ApplicationTokenAuth` trades a client id and secret for a bearer token at
``POST {base}/applications/token`` (a JSON body; form encoding gets 401s), caches it, fetches a
new one ``margin`` seconds before it expires, and on a 401 refreshes once and resends the
request. A second 401 is returned to the caller, which reports AUTH_FAILED. A token announced
with ``expires_in`` 0 or less is treated as already expired (used for the request that fetched
it, replaced before the next); one without ``expires_in`` is kept until a 401.
:func:`resolve_credentials` reads the credential values, inline or from ``secret_refs``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import httpx

from floe_core.errors import ErrorCode, PipelineConfigurationError
from floe_ingestion_airbyte.config import AirbyteConfig, CredentialField

__all__ = ["ApplicationTokenAuth", "StaticBearerAuth", "TokenHandler", "resolve_credentials"]

TokenHandler = Callable[[httpx.Response], tuple[str, float | None]]
"""Turns the token endpoint's response into ``(access_token, expires_in)`` or raises."""


class StaticBearerAuth(httpx.Auth):
    """Send a fixed ``Authorization: Bearer`` token."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the header and send the request.

        Args:
            request: The outgoing request.

        Yields:
            The request, once.
        """
        request.headers["Authorization"] = self._header
        yield request


class ApplicationTokenAuth(httpx.Auth):
    """Client-credentials auth with a cached, proactively refreshed application token.

    Args:
        token_url: Absolute URL of ``/applications/token``.
        client_id: The application's client id.
        client_secret: The application's client secret.
        handle_token_response: Parses the token response or raises the taxonomy error.
        clock: Monotonic clock, injectable for tests.
        margin: Refresh this many seconds before the token expires.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        handle_token_response: TokenHandler,
        clock: Callable[[], float],
        margin: float,
    ) -> None:
        self._token_url = token_url
        self._body = {
            "client_id": client_id,
            "client_secret": client_secret,
            "grant-type": "client_credentials",
        }
        self._handle = handle_token_response
        self._clock = clock
        self._margin = margin
        self._token: str | None = None
        self._expires_at: float | None = None
        self.refreshes = 0
        """How many tokens were fetched (for logs and tests)."""

    @property
    def current_token(self) -> str | None:
        """The cached token, so error excerpts can redact it."""
        return self._token

    def _fresh(self) -> bool:
        if self._token is None:
            return False
        return self._expires_at is None or self._clock() < self._expires_at

    def _token_request(self, like: httpx.Request) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._token_url,
            json=self._body,
            headers={"Accept": "application/json"},
            extensions={"timeout": like.extensions["timeout"]}
            if "timeout" in like.extensions
            else {},
        )

    def _refresh(self, like: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._token = None
        asked_at = self._clock()
        response = yield self._token_request(like)
        token, expires_in = self._handle(response)
        self._token = token
        if expires_in is None:
            self._expires_at = None  # no lifetime announced: keep it until Airbyte answers 401
        elif expires_in <= 0:
            self._expires_at = asked_at  # born expired: use it once, fetch anew next time
        else:
            # refresh `margin` early, but never so early that a short-lived token is never used
            early = min(self._margin, expires_in / 2)
            self._expires_at = asked_at + expires_in - early
        self.refreshes += 1

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach a valid token; on a 401 refresh it once and resend.

        Args:
            request: The outgoing request.

        Yields:
            The token request when one is needed, then the request (twice after a 401).
        """
        if not self._fresh():
            yield from self._refresh(request)
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            yield from self._refresh(request)
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


def resolve_credentials(config: AirbyteConfig) -> dict[CredentialField, str]:
    """Return the credential values, inline or from ``secret_refs``.

    Args:
        config: The plugin configuration.

    Returns:
        Field name to plain value; only the fields that are set.

    Raises:
        PipelineConfigurationError: SECRET_NOT_FOUND when a reference cannot be resolved or
            its value is empty.
    """
    values: dict[CredentialField, str] = {}
    for name in ("client_id", "client_secret", "token", "username", "password"):
        ref = config.secret_refs.get(name)
        if ref is not None:
            value = ref.resolve().get_secret_value()
            if not value.strip():
                raise PipelineConfigurationError(
                    f"secret_refs.{name} ({ref.describe()}) is empty: put the {name} value "
                    "there, or point the reference at the secret that holds it",
                    code=ErrorCode.SECRET_NOT_FOUND,
                    details={"field": name, "secret_ref": ref.describe()},
                )
            values[name] = value
            continue
        inline = getattr(config, name)
        if inline is None:
            continue
        values[name] = inline if isinstance(inline, str) else inline.get_secret_value()
    return values
