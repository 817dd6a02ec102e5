"""Where Bronze tables live: the Iceberg catalog and the storage behind it.

Secrets stay out of every rendering of these models: ``credential``, ``token`` and the S3 keys
are :class:`~pydantic.SecretStr`, and ``CatalogConfig.properties`` (plain strings, as pyiceberg
wants them) shows :data:`~floe_core.redact.MASK` for any key that looks secret
(:func:`~floe_core.redact.is_secret_name`) in
``repr``/``str`` and in ``model_dump``/``model_dump_json``. Attribute access
(``catalog.properties["s3.secret-access-key"]``) returns the real value, for the plugin that
opens the catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, model_validator
from pydantic_core import PydanticCustomError

from floe_core._scalar import YamlBool
from floe_core.redact import MASK, is_secret_name

__all__ = [
    "DEFAULT_WAREHOUSE_DIR",
    "MASK",
    "CatalogConfig",
    "StorageConfig",
    "is_secret_property",
]

DEFAULT_WAREHOUSE_DIR = "warehouse"
"""The embedded default's folder, relative to the working directory."""

is_secret_property = is_secret_name
"""Whether a catalog property holds a secret: :func:`floe_core.redact.is_secret_name`."""


def _masked(properties: dict[str, str]) -> dict[str, str]:
    return {k: MASK if is_secret_name(k) else v for k, v in properties.items()}


class StorageConfig(BaseModel):
    """The object storage data files are written to.

    ``local`` writes under ``path``; ``s3`` talks to any S3-compatible endpoint.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["local", "s3"] = "local"
    path: str | None = Field(default=None, description="local: the folder for data files.")
    endpoint: str | None = Field(default=None, description="s3: endpoint URL, e.g. MinIO.")
    region: str | None = None
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    path_style_access: YamlBool = True

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> Self:
        # Messages name no section: the file loader puts the field path in front of them.
        if (self.access_key_id is None) != (self.secret_access_key is None):
            missing = "secret_access_key" if self.secret_access_key is None else "access_key_id"
            raise PydanticCustomError(
                "s3_key_pair",
                "missing: give both access_key_id and secret_access_key, or neither",
                {"field": (missing,)},
            )
        if self.type == "local" and self.endpoint is not None:
            raise PydanticCustomError(
                "s3_only",
                "'endpoint' is for type 's3'; set type: s3 (or remove endpoint)",
                {"field": ("endpoint",)},
            )
        return self

    def iceberg_properties(self) -> dict[str, str]:
        """Return Iceberg FileIO properties (``s3.endpoint``, ``s3.access-key-id``, ...).

        The names are Iceberg's own, understood by pyiceberg and the Java FileIO alike. The
        result holds the keys in plain text: hand it to a catalog client, never to a log (in a
        :class:`CatalogConfig`'s ``properties`` they are masked in every rendering).

        Returns:
            The properties for ``s3`` storage; empty for ``local``.
        """
        if self.type != "s3":
            return {}
        props = {"s3.path-style-access": str(self.path_style_access).lower()}
        if self.endpoint:
            props["s3.endpoint"] = self.endpoint
        if self.region:
            props["s3.region"] = self.region
        if self.access_key_id is not None and self.secret_access_key is not None:
            props["s3.access-key-id"] = self.access_key_id.get_secret_value()
            props["s3.secret-access-key"] = self.secret_access_key.get_secret_value()
        return props


class CatalogConfig(BaseModel):
    """An Iceberg catalog.

    ``sql`` is pyiceberg's SQL catalog (the embedded default: a SQLite file and a local warehouse
    folder, both created on first use). ``rest`` is any Iceberg REST catalog (Polaris, Nessie,
    SeaweedFS, ...): ``uri`` is its base URL, ``warehouse`` the warehouse name it expects, and
    ``credential`` (OAuth client ``id:secret``) or ``token`` authenticates.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["sql", "rest"] = "sql"
    name: str = "floe"
    uri: str | None = Field(
        default=None,
        description="sql: SQLAlchemy URL (default: catalog.db in the warehouse); rest: base URL",
    )
    warehouse: str | None = Field(
        default=None,
        description="sql: folder or s3:// URL for data (default ./warehouse); rest: its name",
    )
    credential: SecretStr | None = None
    token: SecretStr | None = None
    scope: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rest_needs_uri(self) -> Self:
        if self.type == "rest" and not self.uri:
            raise PydanticCustomError(
                "rest_uri",
                "type 'rest' needs 'uri' (the catalog's base URL)",
                {"field": ("uri",)},
            )
        if self.credential is not None and self.token is not None:
            raise PydanticCustomError(
                "one_credential",
                "give 'credential' (OAuth client id:secret) or 'token', not both",
                {"field": ("token",)},
            )
        return self

    @field_serializer("properties")
    def _mask_secret_properties(self, properties: dict[str, str]) -> dict[str, str]:
        return _masked(properties)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _masked(value) if name == "properties" else value

    @classmethod
    def embedded(cls, root: Path | str = DEFAULT_WAREHOUSE_DIR) -> CatalogConfig:
        """The embedded default: SQLite catalog file and data folder under ``root``."""
        folder = Path(root).absolute()
        return cls(type="sql", uri=f"sqlite:///{folder / 'catalog.db'}", warehouse=str(folder))
