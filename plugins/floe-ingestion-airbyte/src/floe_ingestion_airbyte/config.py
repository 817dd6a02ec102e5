"""The plugin's own configuration (``plugins.ingestion.config`` when ``type: airbyte``).

Exactly one way to authenticate, or none for a self-managed Airbyte with auth disabled:

- ``client_id`` + ``client_secret``: an Airbyte application; the plugin trades them for a bearer
  token at ``POST {base_url}/applications/token`` and refreshes it before it expires.
- ``token``: a static bearer token (you refresh it yourself).
- ``username`` + ``password``: HTTP basic auth, for old self-managed installs.

Secret values may be given inline (they are masked everywhere) or, better, as references in
``secret_refs`` (``{client_secret: env:AIRBYTE_CLIENT_SECRET}``), resolved only when the client
is built; one or the other for each field, never both, and never an empty value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from floe_core.secret import SecretRef

__all__ = [
    "AIRBYTE_CLOUD_URL",
    "AirbyteConfig",
    "AuthMode",
    "CredentialField",
    "RunningSyncPolicy",
]

AIRBYTE_CLOUD_URL = "https://api.airbyte.com/v1"
"""Airbyte Cloud's public API. Self-managed: ``http://HOST:8000/api/public/v1``."""

CredentialField = Literal["client_id", "client_secret", "token", "username", "password"]
"""The fields whose value may come from a secret reference."""

_PAIRS: dict[str, tuple[CredentialField, ...]] = {
    "client_credentials": ("client_id", "client_secret"),
    "bearer": ("token",),
    "basic": ("username", "password"),
}


class AuthMode(StrEnum):
    """How the plugin authenticates to Airbyte."""

    CLIENT_CREDENTIALS = "client_credentials"
    BEARER = "bearer"
    BASIC = "basic"
    NONE = "none"


class RunningSyncPolicy(StrEnum):
    """What ``run`` does when Airbyte says a sync of the connection is already running."""

    ATTACH = "attach"
    FAIL = "fail"


class AirbyteConfig(BaseModel):
    """How to reach an existing Airbyte and how to drive its syncs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(
        default=AIRBYTE_CLOUD_URL,
        description=(
            "Airbyte's public API base URL: https://api.airbyte.com/v1 for Airbyte Cloud, "
            "http://HOST:8000/api/public/v1 for self-managed."
        ),
    )
    client_id: str | None = Field(
        default=None, description="Application client id (client-credentials auth)."
    )
    client_secret: SecretStr | None = Field(
        default=None, description="Application client secret (client-credentials auth)."
    )
    token: SecretStr | None = Field(default=None, description="A static bearer token.")
    username: str | None = Field(
        default=None, description="Basic-auth user (old self-managed installs)."
    )
    password: SecretStr | None = Field(default=None, description="Basic-auth password.")
    secret_refs: dict[CredentialField, SecretRef] = Field(
        default_factory=dict,
        description=(
            "Credential fields read from a secret reference instead of inline, "
            "e.g. {client_secret: 'env:AIRBYTE_CLIENT_SECRET'}."
        ),
    )
    request_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of each HTTP request to Airbyte."
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        description=(
            "Retries of one request (or consecutive failed polls) on 429, 5xx, timeouts and "
            "connection errors before giving up."
        ),
    )
    max_backoff_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait between retries, also caps an announced Retry-After.",
    )
    poll_interval_seconds: float = Field(
        default=10.0, gt=0, description="Wait between two job status requests."
    )
    sync_timeout_seconds: float = Field(
        default=6 * 3600.0,
        gt=0,
        description=(
            "How long run() may take: starting the sync (its retries included) and waiting "
            "for it to end, queueing included (a job may sit queued for hours)."
        ),
    )
    cancel_on_timeout: bool = Field(
        default=True,
        description="Cancel the sync this run started when it times out (best effort).",
    )
    on_running_sync: RunningSyncPolicy = Field(
        default=RunningSyncPolicy.ATTACH,
        description=(
            "When a sync of the connection is already running: 'attach' waits for that job "
            "and reports its outcome; 'fail' reports TRANSIENT SYNC_ALREADY_RUNNING."
        ),
    )
    token_refresh_margin_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Refresh an application token this long before it expires.",
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                "base_url must start with http:// or https:// "
                f"(Cloud: {AIRBYTE_CLOUD_URL}; self-managed: http://HOST:8000/api/public/v1)"
            )
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError(
                "base_url must not carry credentials (user:password@host); "
                "use username/password or secret_refs"
            )
        return value

    @field_validator("client_id", "client_secret", "token", "username", "password")
    @classmethod
    def _not_empty(cls, value: str | SecretStr | None, info: ValidationInfo) -> object:
        if value is None:
            return value
        text = value if isinstance(value, str) else value.get_secret_value()
        if not text.strip():
            raise ValueError(
                f"{info.field_name} is empty: give its value, or leave {info.field_name} out "
                f"(or read it from a secret with secret_refs.{info.field_name})"
            )
        return value

    @model_validator(mode="after")
    def _inline_or_ref(self) -> Self:
        refs = self.secret_refs
        both = [n for n in _credential_names() if getattr(self, n) is not None and n in refs]
        if both:
            raise ValueError(
                "; ".join(
                    f"{n} is given both inline and in secret_refs ({refs[n].describe()}): "
                    f"give only one (remove the inline {n} or secret_refs.{n})"
                    for n in both
                )
            )
        return self

    @model_validator(mode="after")
    def _one_auth_mode(self) -> Self:
        given = {name for name in _credential_names() if self._has(name)}
        modes = [mode for mode, fields in _PAIRS.items() if given & set(fields)]
        if len(modes) > 1:
            raise ValueError(
                "give one way to authenticate, not several: "
                + " / ".join(f"{m} ({', '.join(_PAIRS[m])})" for m in modes)
            )
        if modes:
            missing = [f for f in _PAIRS[modes[0]] if f not in given]
            if missing:
                present = [f for f in _PAIRS[modes[0]] if f in given]
                raise ValueError(
                    f"{modes[0]} auth is half-given: {', '.join(present)} is set but "
                    f"{', '.join(missing)} is missing (set it inline or in secret_refs)"
                )
        return self

    def _has(self, name: CredentialField) -> bool:
        return getattr(self, name) is not None or name in self.secret_refs

    @property
    def auth_mode(self) -> AuthMode:
        """The authentication the configuration selects."""
        for mode, fields in _PAIRS.items():
            if self._has(fields[0]):
                return AuthMode(mode)
        return AuthMode.NONE


def _credential_names() -> tuple[CredentialField, ...]:
    return ("client_id", "client_secret", "token", "username", "password")
