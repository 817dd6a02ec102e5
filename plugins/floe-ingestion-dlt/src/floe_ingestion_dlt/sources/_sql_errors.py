"""What the ``sql_database`` source's dependency errors mean (its part of the error table).

SQLAlchemy and DBAPI driver errors (sqlite3, psycopg2, psycopg, pymysql, MySQLdb) are judged by
their class and then their text, since drivers report a refused login, an unknown database and a
missing table with the same class (``OperationalError``)::

    missing database (3D000 text, 1049)          CONFIGURATION  SOURCE_NOT_FOUND
    missing table or schema (NoSuchTableError)   CONFIGURATION  SOURCE_NOT_FOUND
    auth rejected (password, role, 1045)         PERMANENT      AUTH_FAILED
    refused, unknown host, timeout               TRANSIENT      SOURCE_UNAVAILABLE
    any other                                    PERMANENT      SOURCE_READ_FAILED

connectorx raises a plain ``RuntimeError`` (the same texts, or a column it cannot read:
PERMANENT ``SOURCE_READ_FAILED`` with the hint ``backend: pyarrow``) and, for a type it does not
implement, pyo3's ``PanicException``. These rules belong to ``sql_database`` only: a
``RuntimeError`` from any other source type is not a database failure.
"""

from __future__ import annotations

import re
import sqlite3
from functools import cache

from floe_core import (
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    SourceConnectionError,
)
from floe_ingestion_dlt._errors import ErrorTable, Handler, optional_classes, short

__all__ = ["sql_errors"]

_AUTH = re.compile(
    r"(?i)password authentication failed|authentication failed|access denied|"
    r"role \"?[^\s\"]+\"? does not exist|no password supplied|\(1045,|\b28P01\b|\b28000\b"
)
_UNAVAILABLE = re.compile(
    r"(?i)connection refused|could not translate host name|name or service not known|"
    r"temporary failure in name resolution|nodename nor servname|timed out|timeout|"
    r"can't connect|could not connect|lost connection|server closed the connection|"
    r"connection reset|network is unreachable|no route to host|\(2003,|\(2013,|\(2006,|"
    r"too many connections|the database system is starting up"
)
_CX_READ = re.compile(
    r"error deserializing column|cannot convert between the Rust type|cx writer failed|"
    r"not implemented|too many dimensions"
)
_NO_DATABASE = re.compile(
    r"(?i)database [\"'`]?[^\s\"'`]+[\"'`]? does not exist|unknown database|\(1049,"
)
_NOT_FOUND = re.compile(
    r"(?i)(relation|table|schema|database) [\"'`]?[^\s\"'`]+[\"'`]? does(?:n't| not) exist|"
    r"no such table|unknown database|could not reflect|\(1146,|\(1049,|undefinedtable"
)


_DRIVERS = ("psycopg2.Error", "psycopg.Error", "pymysql.err.Error", "MySQLdb.Error")
"""DBAPI base classes of the drivers an install may have (sqlite3's is always there)."""

_PANIC = ("pyo3_runtime", "PanicException")
"""pyo3's PanicException: the one class matched by name. pyo3 creates it inside the extension
and registers no ``pyo3_runtime`` module, so it cannot be imported before a panic happened."""


def _by_text(exc: BaseException, source: str | None, *, no_table: bool) -> IngestionError | None:
    """Judge a database error by its text (``no_table``: its class says the table is missing)."""
    text = str(exc)
    details = {"error_type": type(exc).__name__}
    if _NO_DATABASE.search(text):
        return PipelineConfigurationError(
            f"source database not found: {short(exc)}; check the database name in "
            "connection_string (or credentials.database)",
            code=ErrorCode.SOURCE_NOT_FOUND,
            source=source,
            details={**details, "field": "connection_string"},
        )
    if no_table or _NOT_FOUND.search(text):
        return PipelineConfigurationError(
            f"source table not found: {short(exc)}; check 'tables' and 'schema'",
            code=ErrorCode.SOURCE_NOT_FOUND,
            source=source,
            details=details,
        )
    if _AUTH.search(text):
        return SourceConnectionError(
            f"the database rejected the credentials: {short(exc)}",
            code=ErrorCode.AUTH_FAILED,
            source=source,
            details=details,
        )
    if _UNAVAILABLE.search(text):
        return SourceConnectionError(
            f"cannot reach the database: {short(exc)}", source=source, details=details
        )
    return None


def _database(exc: BaseException, source: str | None) -> IngestionError:
    return _by_text(exc, source, no_table=False) or SourceConnectionError(
        f"reading from the database failed: {short(exc)}",
        code=ErrorCode.SOURCE_READ_FAILED,
        source=source,
        details={"error_type": type(exc).__name__},
    )


def _no_such_table(exc: BaseException, source: str | None) -> IngestionError | None:
    return _by_text(exc, source, no_table=True)


def _unreadable_column(exc: BaseException, source: str | None) -> IngestionError:
    return SourceConnectionError(
        f"connectorx cannot read a column of this table ({short(exc)}); set backend: pyarrow "
        "for this source",
        code=ErrorCode.SOURCE_READ_FAILED,
        source=source,
        details={"error_type": type(exc).__name__, "hint": "set backend: pyarrow"},
    )


def _connectorx(exc: BaseException, source: str | None) -> IngestionError | None:
    """Errors of connectorx: a plain ``RuntimeError`` (subclasses are other libraries')."""
    if type(exc) is not RuntimeError:
        return None
    found = _by_text(exc, source, no_table=False)
    if found is None and _CX_READ.search(str(exc)):
        found = _unreadable_column(exc, source)
    return found


def _panic(exc: BaseException, source: str | None) -> IngestionError | None:
    """A Rust panic in connectorx (pyo3 ``PanicException``): a type it cannot read."""
    if (type(exc).__module__, type(exc).__name__) != _PANIC:
        return None
    return _unreadable_column(exc, source)


@cache
def sql_errors() -> ErrorTable:
    """The ``sql_database`` source type's exception classes (imported when called).

    Returns:
        SQLAlchemy and DBAPI errors, connectorx's ``RuntimeError``, and a ``BaseException``
        entry that recognises only pyo3's ``PanicException`` (see ``_PANIC``).
    """
    import sqlalchemy.exc as sa

    drivers: list[type[BaseException]] = [sqlite3.Error, *optional_classes(*_DRIVERS)]
    table: dict[type[BaseException], Handler] = dict.fromkeys(drivers, _database)
    table[sa.SQLAlchemyError] = _database
    table[sa.NoSuchTableError] = _no_such_table
    table[RuntimeError] = _connectorx
    table[BaseException] = _panic  # the last class of every MRO: reached only when no other
    return table
