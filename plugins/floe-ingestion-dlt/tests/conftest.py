"""Fixtures for the dlt plugin tests: a local REST API, SQLite files and the shared databases."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from dlt_test_helpers import Api, handler_for, silent_port, sql_engine


@pytest.fixture
def api() -> Iterator[Api]:
    """Serve an :class:`Api` on a free loopback port for the test's duration."""
    holder = Api(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(holder))
    holder.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """``http://127.0.0.1:<port>/``: accepts connections and never answers."""
    stop = threading.Event()
    try:
        yield f"http://127.0.0.1:{silent_port(stop)}/"
    finally:
        stop.set()


# --- shared PostgreSQL / MariaDB ------------------------------------------------------------


def _server_or_skip(env: str, default: str, what: str) -> str:
    import sqlalchemy as sa

    from floe_ingestion_dlt.sources._sql_connect import _driver

    dsn = os.environ.get(env, default)
    url = sa.engine.make_url(dsn)
    url = url.set(drivername=_driver(url.drivername))
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        reason = (
            f"{what} not reachable at {url.render_as_string(hide_password=True)} "
            f"({type(exc).__name__}); start it or set {env} to enable these tests"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return dsn


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The test PostgreSQL DSN; skips (fails on CI) when the server is absent."""
    return _server_or_skip(
        "FLOE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test", "PostgreSQL"
    )


@pytest.fixture(scope="session")
def mysql_dsn() -> str:
    """The test MariaDB/MySQL DSN; skips (fails on CI) when the server is absent."""
    return _server_or_skip("FLOE_TEST_MYSQL_DSN", "mysql://root@127.0.0.1:3306/test", "MariaDB")


@pytest.fixture
def unique() -> str:
    """A short unique suffix for table/schema names in the shared databases."""
    return "floe_dlt_" + uuid.uuid4().hex[:10]


@pytest.fixture
def pg_schema(postgres_dsn: str, unique: str) -> Iterator[str]:
    """A PostgreSQL schema of the test's own, dropped (with its tables) after it."""
    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {unique}")
    try:
        yield unique
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")  # a held lock fails, not hangs
            conn.exec_driver_sql(f"DROP SCHEMA {unique} CASCADE")
        engine.dispose()


@pytest.fixture
def maria_table(mysql_dsn: str, unique: str) -> Iterator[str]:
    """A MariaDB table name of the test's own, dropped after it."""
    engine = sql_engine(mysql_dsn)
    try:
        yield unique
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {unique}")
        engine.dispose()
