"""Helpers shared by the dlt plugin tests (imported by name: the tests folder is on sys.path)."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa

from floe_core import IngestionConfig


def silent_port(stop: threading.Event) -> int:
    """A loopback port that accepts connections and never answers (until ``stop`` is set)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []

    def hold() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except TimeoutError:
                continue
        for conn in held:
            conn.close()
        server.close()

    threading.Thread(target=hold, daemon=True).start()
    return int(server.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BACKENDS = pytest.mark.parametrize("backend", ["pyarrow", "connectorx"])
"""Run a SQL test once per ``sql_database`` backend."""


def sql_engine(dsn: str) -> sa.Engine:
    """A SQLAlchemy engine on a test database, with the driver the plugin would use."""
    from floe_ingestion_dlt.sources._sql_connect import _driver

    url = sa.engine.make_url(dsn)
    return sa.create_engine(url.set(drivername=_driver(url.drivername)))


def make_sqlite(path: Path, rows: int, *, start: int = 0) -> Path:
    """Create (or extend) ``orders``: id, amount numeric(12,2), updated_at (+1 min per id), note."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, amount NUMERIC(12, 2), "
            "updated_at TIMESTAMP NOT NULL, note TEXT)"
        )
        conn.executemany(
            "INSERT INTO orders (id, amount, updated_at, note) VALUES (?, ?, ?, ?)",
            [
                (i, f"{i}.25", str(datetime(2024, 1, 1) + timedelta(minutes=i)), f"n{i}")
                for i in range(start, start + rows)
            ],
        )
    return path


# --- a REST API served on 127.0.0.1 -------------------------------------------------------

JSON_LINK = {"type": "json_link", "next_url_path": "next"}
"""The paginator of :class:`Api`: the next page's URL is the body's ``next``."""


def rest_config(
    base_url: str,
    *,
    paginator: dict[str, Any] | None = JSON_LINK,
    auth: dict[str, Any] | None = None,
    endpoint: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    **fields: Any,
) -> IngestionConfig:
    """A ``rest_api`` source reading :class:`Api`'s ``/items`` into ``bronze.items``.

    Args:
        base_url: The API's base URL (``api.base_url``).
        paginator: ``client.paginator``; None for none (one page).
        auth: ``client.auth``, e.g. ``{"type": "bearer"}`` (its token given as a secret).
        endpoint: Extra keys of the ``items`` endpoint (``incremental``, ``params``, ...).
        source: Extra top-level ``source_config`` keys (``request_timeout_seconds``, ...).
        **fields: Other ``IngestionConfig`` fields (``incremental``, ``secrets``, ...).

    Returns:
        The config, named ``api`` unless ``name`` is given.
    """
    client: dict[str, Any] = {"base_url": base_url}
    if auth is not None:
        client["auth"] = auth
    if paginator is not None:
        client["paginator"] = paginator
    items = {"path": "items", "data_selector": "items", **(endpoint or {})}
    return IngestionConfig(
        name=fields.pop("name", "api"),
        source_type="rest_api",
        source_config={
            "client": client,
            "resources": [{"name": "items", "endpoint": items}],
            **(source or {}),
        },
        destination_table=fields.pop("destination_table", "bronze.items"),
        **fields,
    )


@dataclass
class Api:
    """A paginated JSON API: GET /items?page=N returns {items, next}; records requests."""

    base_url: str
    items: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 3
    requests: list[str] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    statuses: list[int] = field(default_factory=list)
    """Statuses for the next requests, one each (then ``status``), e.g. ``[503]``: fail once."""
    body: bytes | None = None
    """A raw 200 body for /items instead of the JSON page (e.g. HTML)."""


def handler_for(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            api.requests.append(self.path)
            if api.token is not None and self.headers.get("Authorization") != f"Bearer {api.token}":
                self._send(401, {"error": "unauthorized"})
                return
            status = api.statuses.pop(0) if api.statuses else api.status
            if status != 200:
                self._send(status, {"error": "nope"}, api.headers)
                return
            url = urlparse(self.path)
            if url.path != "/items":
                self._send(404, {"error": "no such endpoint"})
                return
            if api.body is not None:
                self._send(200, api.body)
                return
            query = parse_qs(url.query)
            page = int(query.get("page", ["1"])[0])
            since = query.get("since", [None])[0]
            until = query.get("until", [None])[0]
            items = [
                i
                for i in api.items
                if (since is None or i["updated_at"] >= since)
                and (until is None or i["updated_at"] < until)
            ]
            chunk = items[(page - 1) * api.page_size : page * api.page_size]
            more = page * api.page_size < len(items)
            nxt = f"{api.base_url}/items?page={page + 1}" if more else None
            if since is not None and nxt is not None:
                nxt += f"&since={since}"
            if until is not None and nxt is not None:
                nxt += f"&until={until}"
            self._send(200, {"items": chunk, "next": nxt})

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
