"""A testing aid: an in-memory fake of Airbyte's public API, served by ``httpx.MockTransport``.

Not used at run time. The payload shapes follow Airbyte's public API reference (``JobResponse``,
``ConnectionResponse``, ``PublicAccessTokenResponse`` and the problem bodies ``invalid-api-key``,
``resource-not-found``, ``try-again-later``, ``state-conflict``, ``locked``). Time is a
:class:`FakeClock` whose ``sleep`` advances it, so nothing ever waits::

    fake = FakeAirbyte()
    connection_id = fake.add_connection(script=["pending", "running", "succeeded"])
    plugin = fake.plugin()
    result = plugin.ingest(IngestionConfig(..., source_config={"connection_id": connection_id}))

Each job follows its *script*: ``POST /jobs`` answers with the first state and every
``GET /jobs/{jobId}`` advances one state (staying on the last). A state is a status string or a
dict of ``JobResponse`` fields. :meth:`FakeAirbyte.inject` queues raw responses (429, 500, HTML)
for matching requests, ahead of the normal behaviour.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from floe_ingestion_airbyte._fakes import (
    FakeClock,
    FakeConnection,
    FakeJob,
    State,
    job_state,
    problem,
)
from floe_ingestion_airbyte.plugin import AirbyteIngestionPlugin

__all__ = [
    "FAKE_BASE_URL",
    "FAKE_CLIENT_ID",
    "FAKE_CLIENT_SECRET",
    "FakeAirbyte",
    "FakeClock",
    "FakeJob",
    "problem",
]

FAKE_BASE_URL = "http://127.0.0.1:8000/api/public/v1"
"""The fake's base URL (a self-managed shape; MockTransport never opens a socket)."""
FAKE_CLIENT_ID = "0da998a2-0d7b-49c7-bb6e-9f7eb9cc68a0"
FAKE_CLIENT_SECRET = "fake-client-secret-not-a-real-one"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class _Injection:
    method: str
    pattern: re.Pattern[str]
    replies: list[Reply] = field(default_factory=list)


class FakeAirbyte:
    """An in-memory Airbyte public API.

    Args:
        clock: The clock tokens expire by (and the plugin polls by); a new one by default.
        client_id: The application client id it accepts.
        client_secret: The application client secret it accepts.
        static_token: A bearer token accepted as is (for ``token`` auth), if any.
        basic: ``(username, password)`` accepted for basic auth, if any.
        token_lifetime: ``expires_in`` of issued tokens (Cloud: 180 s; self-managed: 900 s).
        base_url: The base URL it answers under.
    """

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        client_id: str = FAKE_CLIENT_ID,
        client_secret: str = FAKE_CLIENT_SECRET,
        static_token: str | None = None,
        basic: tuple[str, str] | None = None,
        token_lifetime: float = 180.0,
        base_url: str = FAKE_BASE_URL,
    ) -> None:
        self.clock = clock if clock is not None else FakeClock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.static_token = static_token
        self.basic = basic
        self.token_lifetime = token_lifetime
        self.base_url = base_url.rstrip("/")
        self._prefix = httpx.URL(self.base_url).path.rstrip("/")
        self.connections: dict[str, FakeConnection] = {}
        self.jobs: dict[int, FakeJob] = {}
        self.tokens: dict[str, float] = {}
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []
        self._injections: list[_Injection] = []
        self._job_ids = itertools.count(1234)
        self._token_ids = itertools.count(1)

    # -- set-up -------------------------------------------------------------------------------

    def add_connection(
        self,
        connection_id: str | None = None,
        *,
        name: str = "Postgres To Iceberg",
        status: str = "active",
        status_reason: str | None = None,
        script: Sequence[State] = ("pending", "running", "succeeded"),
        rows: int = 1000,
        bytes_synced: int = 20480,
        status_after_failure: str | None = None,
    ) -> str:
        """Add a connection whose syncs follow ``script``.

        Args:
            connection_id: Its UUID; a fresh one by default.
            name: Its name.
            status: ``active``, ``inactive``, ``deprecated`` or ``locked``.
            status_reason: Airbyte's ``statusReason``.
            script: The states each sync walks through (first one answered by ``POST /jobs``).
            rows: ``rowsSynced`` of a ``succeeded`` state given as a plain string.
            bytes_synced: ``bytesSynced`` of a ``succeeded`` state given as a plain string.
            status_after_failure: The connection's status once a sync failed (Airbyte disables
                connections after repeated failures), if it changes.

        Returns:
            The connection id.
        """
        connection_id = connection_id or str(uuid.uuid4())
        self.connections[connection_id] = FakeConnection(
            connection_id=connection_id,
            name=name,
            status=status,
            status_reason=status_reason,
            script=[job_state(s, rows=rows, bytes_synced=bytes_synced) for s in script],
            status_after_failure=status_after_failure,
        )
        return connection_id

    def add_job(self, connection_id: str, script: Sequence[State] = ("running",)) -> FakeJob:
        """Add a job someone else started (for example the schedule).

        Args:
            connection_id: The job's connection.
            script: Its states.

        Returns:
            The job.
        """
        job = FakeJob(next(self._job_ids), connection_id, [job_state(s) for s in script])
        self.jobs[job.job_id] = job
        return job

    def inject(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next matching requests with ``replies``, one each, before normal handling.

        Args:
            method: HTTP method.
            path: A regular expression matched (fully) against the path after the base URL,
                e.g. ``/jobs/[0-9]+``.
            *replies: Responses, or functions of the request returning one.
        """
        self._injections.append(_Injection(method.upper(), re.compile(path), list(replies)))

    def expire_tokens(self) -> None:
        """Forget every issued token, as if they had expired server-side."""
        self.tokens.clear()

    # -- wiring -------------------------------------------------------------------------------

    @property
    def transport(self) -> httpx.MockTransport:
        """A transport serving this fake."""
        return httpx.MockTransport(self.handle)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A plugin config for this fake: client credentials, fast polling.

        Args:
            **overrides: Fields to change (``None`` removes a field).

        Returns:
            The ``plugins.ingestion.config`` mapping.
        """
        config: dict[str, Any] = {
            "base_url": self.base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "poll_interval_seconds": 5.0,
            "sync_timeout_seconds": 600.0,
        }
        config.update(overrides)
        return {k: v for k, v in config.items() if v is not None}

    def plugin(self, **overrides: Any) -> AirbyteIngestionPlugin:
        """A plugin wired to this fake (transport, clock, sleep).

        Args:
            **overrides: Config fields to change, as for :meth:`config`.

        Returns:
            The plugin, not started.
        """
        return AirbyteIngestionPlugin(
            self.config(**overrides),
            transport=self.transport,
            sleep=self.clock.sleep,
            clock=self.clock,
        )

    def calls(self, method: str, path: str = "") -> list[httpx.Request]:
        """The requests received with ``method`` whose path (after the base URL) starts so.

        Args:
            method: HTTP method.
            path: Path prefix, e.g. ``/jobs``.

        Returns:
            The requests, in order.
        """
        return [
            r
            for r in self.requests
            if r.method == method.upper() and self._path(r).startswith(path)
        ]

    # -- the server ---------------------------------------------------------------------------

    def _path(self, request: httpx.Request) -> str:
        path = request.url.path
        return path[len(self._prefix) :] if path.startswith(self._prefix) else path

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request, recording both in :attr:`requests` and :attr:`responses`.

        Args:
            request: The request.

        Returns:
            The response.
        """
        self.requests.append(request)
        response = self._answer(request)
        self.responses.append(response)
        return response

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = self._path(request)
        for injection in self._injections:
            if (
                injection.replies
                and injection.method == request.method
                and injection.pattern.fullmatch(path)
            ):
                reply = injection.replies.pop(0)
                return reply(request) if callable(reply) else reply
        if request.method == "POST" and path == "/applications/token":
            return self._token(request)
        if path == "/health" and request.method == "GET":
            return httpx.Response(200)
        if not self._authorised(request):
            return problem("invalid-api-key", "The API key in the Authorization header is invalid.")
        return self._route(request, path)

    def _token(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            body = None  # form encoding: Airbyte answers 401
        if (
            not isinstance(body, dict)
            or body.get("client_id") != self.client_id
            or body.get("client_secret") != self.client_secret
        ):
            return problem("invalid-api-key", "The API key in the Authorization header is invalid.")
        token = f"fake-access-token-{next(self._token_ids)}"
        self.tokens[token] = self.clock() + self.token_lifetime
        return httpx.Response(
            200,
            json={"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime},
        )

    def _authorised(self, request: httpx.Request) -> bool:
        header = str(request.headers.get("authorization", ""))
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            if self.static_token is not None and value == self.static_token:
                return True
            expiry = self.tokens.get(value)
            return expiry is not None and bool(self.clock() < expiry)
        if scheme.lower() == "basic" and self.basic is not None:
            expected = base64.b64encode(":".join(self.basic).encode()).decode()
            return value == expected
        return False

    def _route(self, request: httpx.Request, path: str) -> httpx.Response:
        method = request.method
        if method == "GET" and path == "/connections":
            return httpx.Response(200, json={"data": [c.body() for c in self.connections.values()]})
        match = re.fullmatch(r"/connections/([^/]+)", path)
        if match and method == "GET":
            connection = self.connections.get(match.group(1))
            if connection is None:
                return _not_found("connection", match.group(1))
            return httpx.Response(200, json=connection.body())
        if path == "/jobs" and method == "POST":
            return self._start(request)
        if path == "/jobs" and method == "GET":
            return self._list(request)
        match = re.fullmatch(r"/jobs/(\d+)", path)
        if match:
            job = self.jobs.get(int(match.group(1)))
            if job is None:
                return _not_found("job", match.group(1))
            if method == "GET":
                job.gets += 1
                job.advance()
                self._after(job)
                return httpx.Response(200, json=job.body())
            if method == "DELETE":
                if job.status in ("succeeded", "failed", "cancelled"):
                    return problem("state-conflict", f"Job {job.job_id} has already ended.")
                job.cancelled = True
                return httpx.Response(200, json=job.body())
        return _not_found("path", path)

    def _after(self, job: FakeJob) -> None:
        connection = self.connections.get(job.connection_id)
        if connection is not None and connection.status_after_failure and job.status == "failed":
            connection.status = connection.status_after_failure

    def _start(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("jobType") not in ("sync", "reset"):
            return problem("unprocessable-entity", "The body of the request was not understood")
        connection = self.connections.get(str(body.get("connectionId")))
        if connection is None:
            return _not_found("connection", str(body.get("connectionId")))
        if connection.status != "active":
            return problem(
                "state-conflict", f"Connection {connection.connection_id} is {connection.status}."
            )
        if any(
            j.connection_id == connection.connection_id
            and j.status not in ("succeeded", "failed", "cancelled")
            for j in self.jobs.values()
        ):
            return problem(
                "try-again-later", f"A sync is already running for: {connection.connection_id}"
            )
        job = FakeJob(next(self._job_ids), connection.connection_id, list(connection.script))
        self.jobs[job.job_id] = job
        return httpx.Response(200, json=job.body())

    def _list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        jobs = [
            j
            for j in sorted(self.jobs.values(), key=lambda j: -j.job_id)
            if ("connectionId" not in params or j.connection_id == params["connectionId"])
            and ("status" not in params or j.status == params["status"])
        ]
        limit = int(params.get("limit", "20"))
        return httpx.Response(200, json={"data": [j.body() for j in jobs[:limit]]})


def _not_found(what: str, ident: str) -> httpx.Response:
    return problem("resource-not-found", f"Could not find {what} with id: {ident}")
