"""Open the platform's Iceberg catalog (pyiceberg ``sql`` or ``rest``) from a CatalogConfig.

``sql`` with no ``uri``/``warehouse`` is the embedded default: ``./warehouse/catalog.db`` (a
SQLite catalog) and the ``./warehouse`` folder for data, both created on first use.
``warehouse`` may be a folder, a ``file://`` URL or an ``s3://`` URL.

``rest`` is any Iceberg REST catalog (Polaris, Nessie, SeaweedFS, ...): ``uri`` is its base URL,
``warehouse`` the warehouse name it expects, ``credential`` an OAuth ``client_id:secret`` (or
``token`` a bearer token), ``scope`` the OAuth scope. Storage settings go in ``properties``
(``s3.endpoint``, ``s3.access-key-id``, ``s3.secret-access-key``, ``s3.region``,
``s3.path-style-access``) or come from a :class:`floe_core.StorageConfig`.

The catalog assigns table locations; this module never sets one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyiceberg.catalog import Catalog

from floe_core import CatalogConfig, ErrorCode, PipelineConfigurationError, StorageConfig
from floe_core.redact import is_secret_name, redact_text

__all__ = ["destination_settings", "load_catalog"]

_RESERVED = {"uri", "warehouse", "credential", "token", "scope", "type"}
_SQLALCHEMY_URL = re.compile(r"^[a-z][a-z0-9+]*://", re.IGNORECASE)


def _config_error(message: str, field: str) -> PipelineConfigurationError:
    return PipelineConfigurationError(
        message, code=ErrorCode.DESTINATION_CONFIG_ERROR, details={"field": field}
    )


def _is_secret(key: str) -> bool:
    return is_secret_name(key)


def _local_folder(warehouse: str) -> Path | None:
    """Return the local folder a warehouse names, or None when it is remote."""
    parsed = urlparse(warehouse)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        return None
    return Path(warehouse)  # a plain folder (a one-letter "scheme" is a Windows drive)


def _sql_paths(config: CatalogConfig) -> tuple[str, str]:
    """Return the (SQLAlchemy URL, warehouse location) of an ``sql`` catalog."""
    warehouse = config.warehouse
    if warehouse is None:
        folder = Path("warehouse").absolute()
        location = str(folder)
    else:
        local = _local_folder(warehouse)
        if local is not None:
            folder = local.absolute()
            location = str(folder)
        elif warehouse.startswith(("s3://", "s3a://", "s3n://", "gs://", "abfs://", "abfss://")):
            folder = Path("warehouse").absolute()
            location = warehouse.rstrip("/")
        else:
            raise _config_error(
                f"catalog.warehouse {warehouse!r}: use a folder path, a file:// URL or an "
                "s3:// URL",
                "catalog.warehouse",
            )
    uri = config.uri if config.uri is not None else f"sqlite:///{folder / 'catalog.db'}"
    if not _SQLALCHEMY_URL.match(uri):
        raise _config_error(
            f"catalog.uri for type 'sql' must be a SQLAlchemy URL such as "
            f"'sqlite:///{folder / 'catalog.db'}' or 'postgresql+psycopg2://host/db'",
            "catalog.uri",
        )
    return uri, location


def _prepare_local(uri: str, location: str) -> None:
    if uri.startswith("sqlite:///"):
        db_path = uri.removeprefix("sqlite:///").split("?", 1)[0]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    if "://" not in location:
        Path(location).mkdir(parents=True, exist_ok=True)


def _open_sql_catalog(factory: Any, name: str, props: dict[str, str]) -> Catalog:
    """Open an SQL catalog; safe when another process creates the same fresh catalog at once.

    pyiceberg creates its two catalog tables on first use without ``IF NOT EXISTS`` semantics
    across processes: of two processes opening a fresh SQLite catalog at the same moment, one
    may fail with ``table iceberg_tables already exists``. The tables then exist, so opening
    again succeeds.
    """
    from sqlalchemy.exc import OperationalError

    for attempt in range(3):
        try:
            catalog: Catalog = factory(name, **props)
            return catalog
        except OperationalError as exc:
            if "already exists" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _check_properties(config: CatalogConfig) -> None:
    clash = sorted(_RESERVED & set(config.properties))
    if clash:
        raise _config_error(
            f"catalog.properties sets {', '.join(clash)}; use the catalog field(s) of the same "
            "name instead",
            f"catalog.properties.{clash[0]}",
        )


def _catalog_properties(
    config: CatalogConfig, storage: StorageConfig | None
) -> tuple[str, dict[str, str]]:
    _check_properties(config)
    props = {**(storage.iceberg_properties() if storage else {}), **config.properties}
    if config.type == "sql":
        if config.credential is not None or config.token is not None:
            raise _config_error(
                "catalog.credential / catalog.token are for type 'rest'; an 'sql' catalog "
                "authenticates through its uri",
                "catalog.credential" if config.credential is not None else "catalog.token",
            )
        uri, location = _sql_paths(config)
        props.update({"uri": uri, "warehouse": location})
        return "sql", props
    uri = config.uri or ""
    if not uri.startswith(("http://", "https://")):
        raise _config_error(
            f"catalog.uri {uri!r} for type 'rest' must be the catalog's http(s):// base URL",
            "catalog.uri",
        )
    props["uri"] = uri.rstrip("/")
    if config.warehouse:
        props["warehouse"] = config.warehouse
    if config.credential is not None:
        credential = config.credential.get_secret_value()
        if ":" not in credential:
            raise _config_error(
                "catalog.credential must be 'client_id:client_secret' (OAuth2 client "
                "credentials); for a bearer token use catalog.token",
                "catalog.credential",
            )
        props["credential"] = credential
    if config.token is not None:
        props["token"] = config.token.get_secret_value()
    if config.scope:
        props["scope"] = config.scope
    return "rest", props


def load_catalog(config: CatalogConfig, *, storage: StorageConfig | None = None) -> Catalog:
    """Open the pyiceberg catalog ``config`` describes.

    Args:
        config: The platform's catalog.
        storage: Optional object-storage settings, merged under ``config.properties``
            (which win) as ``s3.*`` properties.

    Returns:
        A pyiceberg ``SqlCatalog`` or ``RestCatalog``.

    Raises:
        PipelineConfigurationError: DESTINATION_CONFIG_ERROR naming the field and the fix.

    A REST catalog is contacted while opening (config and OAuth token endpoints): pyiceberg's
    ``UnauthorizedError``, ``OAuthError``, ``ForbiddenError``, ``ServerError``,
    ``RESTError`` and ``requests`` connection errors propagate for the error boundary.
    """
    kind, props = _catalog_properties(config, storage)
    if kind == "sql":
        try:
            from pyiceberg.catalog.sql import SqlCatalog
        except ImportError as exc:  # pragma: no cover - a broken install
            raise _config_error(
                "the sql catalog needs SQLAlchemy: pip install 'pyiceberg[sql-sqlite]'",
                "catalog.type",
            ) from exc
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        _prepare_local(props["uri"], props["warehouse"])
        try:
            return _open_sql_catalog(SqlCatalog, config.name, props)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise _config_error(
                f"catalog.uri is not a usable SQLAlchemy URL ({type(exc).__name__}); install the "
                "driver it names or fix the URL",
                "catalog.uri",
            ) from None
    from pyiceberg.catalog.rest import RestCatalog

    return RestCatalog(config.name, **props)


def _redact_url(uri: str) -> str:
    return redact_text(uri)


def destination_settings(
    config: CatalogConfig, *, storage: StorageConfig | None = None
) -> dict[str, Any]:
    """Return the destination settings the plugin uses for a catalog, without secrets.

    Args:
        config: The platform's catalog.
        storage: Optional object-storage settings (as for :func:`load_catalog`).

    Returns:
        A JSON-serialisable mapping: catalog type/name/uri/warehouse, the auth method, the
        non-secret properties, table format and write modes.

    Raises:
        PipelineConfigurationError: DESTINATION_CONFIG_ERROR when the config is unusable.
    """
    kind, props = _catalog_properties(config, storage)
    if config.credential is not None:
        auth = "oauth2_client_credentials"
    elif config.token is not None:
        auth = "bearer_token"
    else:
        auth = "none"
    public = {
        k: v
        for k, v in sorted(props.items())
        if k not in {"uri", "warehouse", "credential", "token", "scope"} and not _is_secret(k)
    }
    return {
        "destination": "iceberg",
        "catalog_type": kind,
        "catalog_name": config.name,
        "uri": _redact_url(props["uri"]),
        "warehouse": props.get("warehouse"),
        "auth": auth,
        "scope": config.scope,
        "properties": public,
        "table_format": "iceberg",
        "file_format": "parquet",
        "write_modes": ["append", "replace", "merge"],
        "schema_contracts": ["evolve", "freeze", "discard_value", "discard_row"],
        "commit": "one atomic Iceberg snapshot per table per load",
        "state": "snapshot summary property floe.state.<state_key>",
    }
