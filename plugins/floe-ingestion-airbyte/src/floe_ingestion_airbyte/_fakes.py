"""The data of the Airbyte fake: its clock, jobs, connections and problem bodies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["FakeClock", "FakeConnection", "FakeJob", "State", "job_state", "problem"]

_START_TIME = "2023-03-25T01:30:50Z"
_ENDED_AT = "2023-03-25T01:40:50Z"
_PROBLEMS: dict[str, tuple[int, str, str]] = {
    # kind: (status, type, title) from Airbyte's problems.yaml
    "invalid-api-key": (
        401,
        "https://reference.airbyte.com/reference/errors#invalid-api-key",
        "invalid-api-key",
    ),
    "forbidden": (403, "https://reference.airbyte.com/reference/errors#forbidden", "forbidden"),
    "resource-not-found": (
        404,
        "https://reference.airbyte.com/reference/errors#resource-not-found",
        "resource-not-found",
    ),
    "try-again-later": (
        409,
        "https://reference.airbyte.com/reference/errors#try-again-later",
        "try-again-later",
    ),
    "state-conflict": (
        409,
        "https://reference.airbyte.com/reference/errors#409-state-conflict",
        "state-conflict",
    ),
    "locked": (409, "error:connection/locked", "Connection is locked"),
    "unprocessable-entity": (
        422,
        "https://reference.airbyte.com/reference/errors#unprocessable-entity",
        "unprocessable-entity",
    ),
    "unexpected-problem": (
        500,
        "https://reference.airbyte.com/reference/errors",
        "unexpected-problem",
    ),
}

State = str | Mapping[str, Any]


def problem(kind: str, detail: str, *, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """Build a problem response as Airbyte sends it.

    Args:
        kind: ``invalid-api-key``, ``forbidden``, ``resource-not-found``, ``try-again-later``,
            ``state-conflict``, ``locked``, ``unprocessable-entity`` or ``unexpected-problem``.
        detail: The human detail.
        headers: Extra headers.

    Returns:
        The response.
    """
    status, type_, title = _PROBLEMS[kind]
    body = {"status": status, "type": type_, "title": title, "detail": detail}
    return httpx.Response(
        status,
        json=body,
        headers={"content-type": "application/problem+json", **(headers or {})},
    )


class FakeClock:
    """A monotonic clock that only moves when :meth:`sleep` is called (or :meth:`advance`)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """Return the current fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and move time forward instead of waiting."""
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        self.now += seconds


@dataclass
class FakeJob:
    """A job in the fake, walking through its script one ``GET`` at a time."""

    job_id: int
    connection_id: str
    script: list[dict[str, Any]]
    position: int = 0
    cancelled: bool = False
    gets: int = 0

    @property
    def state(self) -> dict[str, Any]:
        """The job's current fields."""
        if self.cancelled:
            return {**self.script[self.position], "status": "cancelled"}
        return self.script[self.position]

    @property
    def status(self) -> str:
        """The current status."""
        return str(self.state["status"])

    def advance(self) -> None:
        """Move to the next state of the script, staying on the last one."""
        if not self.cancelled:
            self.position = min(self.position + 1, len(self.script) - 1)

    def body(self) -> dict[str, Any]:
        """The ``JobResponse`` JSON."""
        return {
            "jobId": self.job_id,
            "jobType": "sync",
            "startTime": _START_TIME,
            "connectionId": self.connection_id,
            **self.state,
        }


@dataclass
class FakeConnection:
    connection_id: str
    name: str
    status: str
    script: list[dict[str, Any]]
    status_reason: str | None = None
    status_after_failure: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "connectionId": self.connection_id,
            "name": self.name,
            "sourceId": "9924bcd0-99be-453d-ba47-c2c9766f7da5",
            "destinationId": "744cc0ed-7f05-4949-9e60-2a814f90c035",
            "workspaceId": "18dccc91-0ab1-4f72-9ed7-0b8fc27c5826",
            "status": self.status,
            "schedule": {"scheduleType": "manual"},
            "configurations": {"streams": [{"name": "orders", "syncMode": "incremental_append"}]},
            "createdAt": 1687450500000,
            "tags": [],
        }
        if self.status_reason:
            body["statusReason"] = self.status_reason
        return body


def job_state(state: State, *, rows: int = 1000, bytes_synced: int = 20480) -> dict[str, Any]:
    if not isinstance(state, str):
        return dict(state)
    if state == "succeeded":
        return {
            "status": state,
            "lastUpdatedAt": _ENDED_AT,
            "duration": "PT10M",
            "rowsSynced": rows,
            "bytesSynced": bytes_synced,
        }
    if state in ("failed", "cancelled"):
        return {"status": state, "lastUpdatedAt": _ENDED_AT, "duration": "PT10M"}
    return {"status": state}
