"""``sql_database`` connections: the URL and its driver, checks without connecting, engines.

An engine tracks the connections dlt checks out, so :func:`release` can close even those a
suspended resource still holds (see there).
"""

from __future__ import annotations

import weakref
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_core import ErrorCode, IngestionConfig, PipelineConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

    from floe_ingestion_dlt.sources.sql_database import SqlDatabaseSourceConfig

__all__ = ["check_sql_config", "engine_for", "release", "sql_url", "sqlite_file"]

_CONNECT_TIMEOUT_SECONDS = 15


def _driver(name: str) -> str:
    backend, _, driver = name.partition("+")
    if driver:
        return name
    if backend in ("postgresql", "postgres"):
        return "postgresql+psycopg" if find_spec("psycopg") else "postgresql+psycopg2"
    if backend in ("mysql", "mariadb"):
        return f"{backend}+mysqldb" if find_spec("MySQLdb") else f"{backend}+pymysql"
    return name


def sql_url(source: SqlDatabaseSourceConfig, name: str) -> URL:
    """Build the SQLAlchemy URL, choosing an installed driver when none is named.

    Args:
        source: The validated source config.
        name: The source name, for messages.

    Returns:
        The URL (it may hold a password: never log it unmasked).

    Raises:
        PipelineConfigurationError: The URL or credentials mapping is malformed.
    """
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    try:
        if source.connection_string is not None:
            url = make_url(source.connection_string)
        else:
            creds = dict(source.credentials or {})
            unknown = set(creds) - {
                "drivername",
                "host",
                "port",
                "username",
                "password",
                "database",
                "query",
            }
            if unknown or "drivername" not in creds:
                raise ValueError(
                    f"credentials needs 'drivername' and takes only drivername, host, port, "
                    f"username, password, database, query (unknown: {sorted(unknown)})"
                )
            if creds.get("port") is not None:
                creds["port"] = int(creds["port"])
            url = URL.create(**creds)
    except (ArgumentError, ValueError, TypeError) as exc:
        field = "connection_string" if source.connection_string is not None else "credentials"
        message = str(exc) if field == "credentials" else "not a valid SQLAlchemy URL"
        raise PipelineConfigurationError(
            f"source {name!r} (sql_database): {field}: {message}; expected e.g. "
            "'postgresql://user@host:5432/db' with the password in a secret ref",
            source=name,
            details={"field": field},
        ) from None
    return url.set(drivername=_driver(url.drivername))


def check_sql_config(config: IngestionConfig, source: SqlDatabaseSourceConfig) -> None:
    """Check what can be checked without connecting.

    Args:
        config: The source.
        source: Its validated sql_database config.

    Raises:
        PipelineConfigurationError: The URL is malformed, its driver is not installed, or the
            destination cannot hold the selected tables.
    """
    url = sql_url(source, config.name)
    field = "connection_string" if source.connection_string is not None else "credentials"
    try:
        dialect = url.get_dialect()
    except Exception:
        raise PipelineConfigurationError(
            f"source {config.name!r} (sql_database): no SQLAlchemy driver for "
            f"{url.drivername!r}; install it (e.g. floe-ingestion-dlt[postgres] or [mysql])",
            source=config.name,
            details={"field": field, "drivername": url.drivername},
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        package = (exc.name or str(exc)).split(".")[0]
        extra = {"postgresql": "[postgres]", "mysql": "[mysql]", "mariadb": "[mysql]"}.get(
            url.get_backend_name()
        )
        hint = f" (or floe-ingestion-dlt{extra})" if extra else ""
        raise PipelineConfigurationError(
            f"source {config.name!r} (sql_database): the database driver for "
            f"{url.drivername!r} is not installed: install the Python package {package!r}"
            f"{hint}, or name an installed driver in the URL (e.g. 'postgresql+psycopg://')",
            source=config.name,
            details={"field": field, "drivername": url.drivername, "package": package},
        ) from None
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise PipelineConfigurationError(
            f"source {config.name!r} (sql_database): SQLite database file not found: "
            f"{str(path)!r}; check the path in {field} (SQLite sources are opened read-only, "
            "so a wrong path is never created)",
            code=ErrorCode.SOURCE_NOT_FOUND,
            source=config.name,
            details={"field": field, "path": str(path)},
        )
    if config.table is not None and (source.tables is None or len(source.tables) > 1):
        what = "all tables" if source.tables is None else f"{len(source.tables)} tables"
        raise PipelineConfigurationError(
            f"source {config.name!r}: destination_table {config.destination_table!r} names one "
            f"table but 'tables' selects {what}; list exactly one table, or use "
            f"'{config.namespace}.*' for one Iceberg table per SQL table",
            source=config.name,
            details={"field": "destination_table"},
        )


def sqlite_file(url: URL) -> Path | None:
    """Return the database file of a SQLite URL, or None (another database, memory, a URI).

    Args:
        url: A SQLAlchemy URL.

    Returns:
        The file's path.
    """
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query.get("uri"):
        return None  # a URI the user wrote: its own mode applies
    return Path(database)


def engine_for(url: URL, connect_timeout: int = _CONNECT_TIMEOUT_SECONDS) -> Engine:
    """Create the engine of a source: connect timeout, SQLite files read-only, tracked.

    Args:
        url: From :func:`sql_url`.
        connect_timeout: Seconds to connect (PostgreSQL, MySQL/MariaDB).

    Returns:
        The engine (release it with :func:`release`).
    """
    import sqlite3

    from sqlalchemy import create_engine

    connect_args: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    backend = url.get_backend_name()
    path = sqlite_file(url)
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = connect_timeout
    elif path is not None:
        # read-only: a mistyped path fails instead of creating an empty database
        uri = f"{path.resolve().as_uri()}?mode=ro"
        kwargs["creator"] = lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _track_checkouts(engine)
    return engine


_HELD: weakref.WeakKeyDictionary[Engine, set[Any]] = weakref.WeakKeyDictionary()
"""Per engine, the pool records of the connections checked out now."""


def _track_checkouts(engine: Engine) -> None:
    """Remember the connections dlt has checked out, for :func:`release`."""
    from sqlalchemy import event

    held: set[Any] = set()
    _HELD[engine] = held
    event.listen(engine, "checkout", lambda _conn, record, _proxy: held.add(record))
    event.listen(engine, "checkin", lambda _conn, record: held.discard(record))


def release(engine: Engine) -> None:
    """Close every connection of ``engine``, also those a suspended dlt resource still holds.

    A load that fails mid-stream leaves dlt's resource generator suspended inside its
    server-side cursor (``stream_results``), so its connection is still checked out, in an open
    transaction that holds locks on the source table; ``Engine.dispose()`` closes only idle
    connections. Invalidating the checked-out ones closes them, and the server rolls back.

    Args:
        engine: An engine made by :func:`engine_for`.
    """
    for record in list(_HELD.get(engine, ())):
        record.invalidate()
    engine.dispose()
