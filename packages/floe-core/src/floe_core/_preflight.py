"""Checks of floe.yaml against the manifest's catalog, made before anything is loaded.

``floe validate`` and ``floe ingest`` run the same checks, so what ingest would reject as
configuration, validate reports first:

- :func:`check_catalog_driver`: an ``sql`` catalog whose SQLAlchemy driver is not installed
  (``postgresql://`` needs ``psycopg``) names ``catalog.uri`` and the ``pip install`` to run;
- :func:`check_table_depth`: the SQL catalog has no nested namespaces, so ``a.b.c`` is refused
  for the source's ``destination.table``;
- :func:`userinfo_warnings`: a URL whose user info holds an unencoded ``@`` (warnings only:
  such a URL may still parse, just not as meant).

:func:`read_only_catalog` is what ``floe health`` hands the plugin: the SQL catalog's SQLite
file and local warehouse folder are created by whoever opens the catalog first
(``floe_iceberg.load_catalog``), so a check must not open ones that do not exist yet.
"""

from __future__ import annotations

import importlib.util
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from floe_core._validation import Problem, format_loc
from floe_core.catalog import CatalogConfig
from floe_core.errors import ErrorCode, PipelineConfigurationError
from floe_core.ingestion import IngestionConfig
from floe_core.manifest import PlatformManifest
from floe_core.project import FloeProject

__all__ = [
    "check_catalog_driver",
    "check_table_depth",
    "read_only_catalog",
    "userinfo_warnings",
]

_DRIVERS: dict[str, tuple[str, str | None]] = {
    "psycopg": ("psycopg", "psycopg[binary]"),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "pg8000": ("pg8000", "pg8000"),
    "asyncpg": ("asyncpg", "asyncpg"),
    "mysqldb": ("MySQLdb", "mysqlclient"),
    "pymysql": ("pymysql", "pymysql"),
    "mysqlconnector": ("mysql.connector", "mysql-connector-python"),
    "mariadbconnector": ("mariadb", "mariadb"),
    "pysqlite": ("sqlite3", None),
    "pyodbc": ("pyodbc", "pyodbc"),
    "oracledb": ("oracledb", "oracledb"),
    "cx_oracle": ("cx_Oracle", "cx-Oracle"),
}
"""SQLAlchemy driver name → (the module it imports, the distribution that provides it)."""

_STDLIB_SQLITE = re.compile(r"^sqlite(\+pysqlite)?://", re.IGNORECASE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<authority>[^/?#]*)")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package ("mysql" of mysql.connector)
        return False


def check_catalog_driver(manifest: PlatformManifest, catalog: CatalogConfig) -> None:
    """Refuse an ``sql`` catalog URI whose SQLAlchemy dialect or driver is not installed.

    Imports no driver: the dialect says which module it would import, and
    :func:`importlib.util.find_spec` says whether it is there.

    Args:
        manifest: The manifest (names the file in the error).
        catalog: The catalog plugins will open (``manifest.catalog_config()``).

    Raises:
        ConfigFileError: ``catalog.uri`` names a dialect SQLAlchemy does not know, or a driver
            that is not installed (the message gives the ``pip install``).
    """
    if catalog.type != "sql" or not catalog.uri or _STDLIB_SQLITE.match(catalog.uri):
        return  # the embedded default needs only the standard library's sqlite3
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:  # no SQL catalog engine installed: the plugin reports it
        return
    try:
        url = make_url(catalog.uri)
        dialect = url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise manifest.error(
            "catalog.uri",
            f"not a SQLAlchemy URL SQLAlchemy can use ({type(exc).__name__}); write e.g. "
            "postgresql+psycopg://host/db or sqlite:////path/catalog.db",
        ) from None
    driver = str(getattr(dialect, "driver", ""))
    module, distribution = _DRIVERS.get(driver, (None, None))
    if module is None or _installed(module):
        return
    install = f"pip install '{distribution}'" if distribution else "install it"
    raise manifest.error(
        "catalog.uri",
        f"the SQLAlchemy driver {driver!r} for {url.get_backend_name()!r} URLs is not "
        f"installed (module {module!r}): {install}, or name an installed driver in the URL "
        f"({url.get_backend_name()}+<driver>://...)",
    )


def check_table_depth(config: IngestionConfig, catalog: CatalogConfig) -> None:
    """Refuse a nested namespace (``a.b.c``) when the catalog is the SQL catalog.

    pyiceberg's SQL catalog (the embedded default included) stores a namespace as one name and
    rejects hierarchical ones when the load creates it; REST catalogs may support them.

    Args:
        config: The source.
        catalog: The catalog it loads into.

    Raises:
        PipelineConfigurationError: INVALID_CONFIG about ``destination_table``.
    """
    if catalog.type != "sql" or "." not in config.namespace:
        return
    raise PipelineConfigurationError(
        f"{config.destination_table!r} has the nested namespace {config.namespace!r}, but the "
        "sql catalog (catalog.type) supports one-level namespaces only: write "
        "'namespace.table'",
        code=ErrorCode.INVALID_CONFIG,
        source=config.name,
        details={"field": "destination_table"},
    )


def _strings(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, (*loc, index))


def _userinfo_problem(loc: tuple[str | int, ...], text: str) -> Problem | None:
    match = _URL.match(text)
    if match is None or match.group("authority").count("@") < 2:
        return None
    return Problem(
        format_loc(loc),
        "this URL has more than one '@' before its host: an '@' in the user name or password "
        "must be percent-encoded as %40 (and ':' as %3A, '/' as %2F), else the host is read "
        "from the wrong place",
    )


def userinfo_warnings(project: FloeProject | None, manifest: PlatformManifest) -> list[Problem]:
    """Find URL-looking strings whose user info holds an unencoded ``@``.

    Looks at every source's ``config`` and at the manifest's plugin config, catalog, storage
    and lineage transport. The value itself is never part of a message.

    Args:
        project: The floe.yaml (None: the manifest only).
        manifest: The manifest.

    Returns:
        One problem per such string, with its field path (``ingestion.sources[0].config.url``).
    """
    candidates: list[tuple[tuple[str | int, ...], str]] = []
    if project is not None:
        for index, source in enumerate(project.sources):
            candidates += _strings(source.config, ("ingestion", "sources", index, "config"))
    candidates += _strings(manifest.plugins.ingestion.config, ("plugins", "ingestion", "config"))
    if manifest.catalog is not None:
        candidates += _strings(manifest.catalog.uri, ("catalog", "uri"))
        candidates += _strings(dict(manifest.catalog.properties), ("catalog", "properties"))
    if manifest.storage is not None:
        candidates += _strings(manifest.storage.endpoint, ("storage", "endpoint"))
    candidates += _strings(
        manifest.observability.lineage.transport, ("observability", "lineage", "transport")
    )
    problems = (_userinfo_problem(loc, text) for loc, text in candidates)
    return [p for p in problems if p is not None]


def _sqlite_file(uri: str | None) -> Path | None:
    if not uri or not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if not path or path == ":memory:" else Path(path)


def _local_warehouse(warehouse: str | None) -> Path | None:
    if warehouse is None:
        return None
    parts = urlsplit(warehouse)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(warehouse) if len(parts.scheme) <= 1 else None


def read_only_catalog(catalog: CatalogConfig) -> tuple[CatalogConfig, list[str]]:
    """Return a catalog that opening creates nothing for, and what does not exist yet.

    For an ``sql`` catalog whose SQLite file does not exist the URI becomes
    ``sqlite:///:memory:`` (an empty catalog: it answers, and lists no namespaces); a local
    warehouse folder that does not exist becomes the system's temporary folder, which does.
    Other catalogs are returned unchanged.

    Args:
        catalog: The platform catalog.

    Returns:
        The catalog to check with, and the paths (SQLite file, warehouse folder) that are
        missing, which the first ``floe ingest`` creates.
    """
    if catalog.type != "sql":
        return catalog, []
    missing: list[str] = []
    update: dict[str, Any] = {}
    database = _sqlite_file(catalog.uri)
    if database is not None and not database.exists():
        missing.append(str(database))
        update["uri"] = "sqlite:///:memory:"
    folder = _local_warehouse(catalog.warehouse)
    if folder is not None and not folder.exists():
        missing.append(str(folder))
        update["warehouse"] = tempfile.gettempdir()
    return (catalog.model_copy(update=update) if update else catalog), missing
