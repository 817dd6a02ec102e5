"""Airbyte public API responses, parsed leniently.

Statuses are kept as the raw string Airbyte sent; :attr:`JobResponse.known_status` maps it onto
:class:`JobStatus`, with anything new becoming ``UNKNOWN`` instead of a parse error (Airbyte
added ``queued`` in 2026 and broke clients whose enums were strict). Unknown fields are ignored.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "ConnectionResponse",
    "ConnectionStatus",
    "JobResponse",
    "JobStatus",
    "JobsResponse",
    "Problem",
    "TokenResponse",
    "parse_iso_duration",
]

_LENIENT = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class JobStatus(StrEnum):
    """A job's status. Terminal: ``succeeded``, ``failed``, ``cancelled``; others keep polling."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    INCOMPLETE = "incomplete"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str) -> JobStatus:
        """Map a raw status onto the enum; a value this client does not know is ``UNKNOWN``.

        Args:
            value: The status string Airbyte sent.

        Returns:
            The matching member, or ``UNKNOWN``.
        """
        try:
            return cls(value.strip().lower())
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """True for the statuses a job never leaves."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class ConnectionStatus(StrEnum):
    """A connection's status; only ``active`` connections sync."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DEPRECATED = "deprecated"
    LOCKED = "locked"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str | None) -> ConnectionStatus:
        """Map a raw status onto the enum; unknown or missing values are ``UNKNOWN``.

        Args:
            value: The status string Airbyte sent, if any.

        Returns:
            The matching member, or ``UNKNOWN``.
        """
        try:
            return cls((value or "").strip().lower())
        except ValueError:
            return cls.UNKNOWN


class JobResponse(BaseModel):
    """``JobResponse``: one job, as returned by ``POST /jobs``, ``GET``/``DELETE /jobs/{id}``."""

    model_config = _LENIENT

    job_id: int = Field(validation_alias=AliasChoices("jobId", "id"))
    status: str = Field(description="The raw status; see known_status.")
    job_type: str | None = Field(default=None, validation_alias="jobType")
    start_time: str | None = Field(default=None, validation_alias="startTime")
    connection_id: str | None = Field(default=None, validation_alias="connectionId")
    last_updated_at: str | None = Field(default=None, validation_alias="lastUpdatedAt")
    duration: str | None = Field(default=None, description="ISO 8601, e.g. PT8H6M12S.")
    bytes_synced: int | None = Field(default=None, validation_alias="bytesSynced")
    rows_synced: int | None = Field(default=None, validation_alias="rowsSynced")

    @property
    def known_status(self) -> JobStatus:
        """The status as an enum member (``UNKNOWN`` for values this client does not know)."""
        return JobStatus.parse(self.status)

    @property
    def is_terminal(self) -> bool:
        """True when the job has ended (succeeded, failed or cancelled)."""
        return self.known_status.is_terminal

    @property
    def duration_seconds(self) -> float | None:
        """Airbyte's own duration in seconds, when it sent one that parses."""
        return parse_iso_duration(self.duration) if self.duration else None


class JobsResponse(BaseModel):
    """``JobsResponse``: a page of jobs from ``GET /jobs``."""

    model_config = _LENIENT

    data: list[JobResponse] = Field(default_factory=list)
    next: str | None = None


class ConnectionResponse(BaseModel):
    """``ConnectionResponse``: the fields of ``GET /connections/{id}`` the plugin uses."""

    model_config = _LENIENT

    connection_id: str = Field(validation_alias="connectionId")
    name: str | None = None
    status: str | None = None
    status_reason: str | None = Field(default=None, validation_alias="statusReason")
    source_id: str | None = Field(default=None, validation_alias="sourceId")
    destination_id: str | None = Field(default=None, validation_alias="destinationId")
    workspace_id: str | None = Field(default=None, validation_alias="workspaceId")

    @property
    def known_status(self) -> ConnectionStatus:
        """The status as an enum member."""
        return ConnectionStatus.parse(self.status)


class TokenResponse(BaseModel):
    """``PublicAccessTokenResponse`` from ``POST /applications/token``."""

    model_config = _LENIENT

    access_token: SecretStr
    token_type: str | None = None
    expires_in: float | None = Field(default=None, description="Lifetime in seconds.")


class Problem(BaseModel):
    """An RFC 9457 problem body: ``{status, type, title, detail}``; every field optional."""

    model_config = _LENIENT

    status: int | None = None
    type: str | None = None
    title: str | None = None
    detail: str | None = None
    message: str | None = Field(default=None, description="Load shedders send {message} only.")

    @property
    def kind(self) -> str:
        """The problem's short name (``try-again-later``), from its title or type fragment."""
        if self.title and " " not in self.title.strip():
            return self.title.strip().lower()
        if self.type:
            fragment = self.type.rsplit("#", 1)[-1].rsplit("/", 1)[-1].lower()
            return re.sub(r"^\d+-", "", fragment)  # "#409-state-conflict"
        return (self.title or "").strip().lower()

    @property
    def text(self) -> str:
        """A one-line human description."""
        parts = [p for p in (self.title, self.detail or self.message) if p]
        return ": ".join(parts)


_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_iso_duration(value: str) -> float | None:
    """Parse an ISO 8601 duration of days, hours, minutes and seconds (``PT8H6M12S``).

    Args:
        value: The duration text.

    Returns:
        Seconds, or None when the text is not such a duration.
    """
    match = _DURATION.match(value.strip())
    if match is None or value.strip() in ("P", "PT"):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return (
        parts.get("days", 0.0) * 86400
        + parts.get("hours", 0.0) * 3600
        + parts.get("minutes", 0.0) * 60
        + parts.get("seconds", 0.0)
    )
