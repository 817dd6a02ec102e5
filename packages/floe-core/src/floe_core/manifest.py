"""``platform-manifest.yaml``: which plugin, which catalog and storage, retries, observability.

The file is owned by the platform team; data teams write ``floe.yaml`` (:mod:`floe_core.project`).
Every section is optional; with no manifest at all floe uses the ``dlt`` plugin and the embedded
catalog (:meth:`~floe_core.catalog.CatalogConfig.embedded`, ``./warehouse``).

Secret-valued fields (``catalog.credential``, ``catalog.token``, ``storage.access_key_id``,
``storage.secret_access_key``) take a plain string (usually ``${VAR}``) or a secret reference
``{secret_ref: "env:NAME"}`` / ``{secret_ref: "file:NAME"}``, resolved while loading into a
:class:`~pydantic.SecretStr`. ``file:`` names a file in ``secrets_dir`` (or ``FLOE_SECRETS_DIR``);
a relative ``secrets_dir`` is relative to the manifest's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from floe_core._loader import (
    ConfigFileError,
    Problem,
    interpolate,
    read_yaml,
    validate_file,
)
from floe_core._scalar import YamlFloat, YamlInt
from floe_core._secret_field import Secret
from floe_core._validation import yaml_kind
from floe_core.catalog import CatalogConfig, StorageConfig
from floe_core.errors import ErrorCategory
from floe_core.maintenance import MaintenanceConfig
from floe_core.observability import (
    LineageConfig,
    LogsConfig,
    MetricsConfig,
    ObservabilityConfig,
    TracesConfig,
)
from floe_core.secret import default_secrets_dir

__all__ = [
    "DEFAULT_MANIFEST_FILE",
    "CatalogSection",
    "IngestionPluginSection",
    "LineageConfig",
    "LogsConfig",
    "MetricsConfig",
    "ObservabilityConfig",
    "PlatformManifest",
    "PluginsSection",
    "RetryConfig",
    "StorageSection",
    "TracesConfig",
]

DEFAULT_MANIFEST_FILE = "platform-manifest.yaml"
"""The manifest the CLI uses when present in the working directory and none is given."""

_STRICT = ConfigDict(extra="forbid", frozen=True)
_RETRYABLE = {c.value for c in ErrorCategory} - {ErrorCategory.CONFIGURATION.value}


class RetryConfig(BaseModel):
    """How the runner retries a failed load (see :mod:`floe_core.retry`)."""

    model_config = _STRICT

    max_attempts: YamlInt = Field(
        default=3, ge=1, le=100, description="Attempts including the first."
    )
    initial_delay_seconds: YamlFloat = Field(default=1.0, ge=0)
    max_delay_seconds: YamlFloat = Field(default=60.0, ge=0)
    backoff_multiplier: YamlFloat = Field(default=2.0, ge=1)
    retryable_categories: tuple[ErrorCategory, ...] = Field(
        default=(ErrorCategory.TRANSIENT,),
        description="TRANSIENT, PERMANENT and/or PARTIAL (any case); never CONFIGURATION.",
    )

    @field_validator("retryable_categories", mode="before")
    @classmethod
    def _categories(cls, value: Any) -> Any:
        """Accept any case, as ``logs.level`` does; reject CONFIGURATION and unknown names."""
        if not isinstance(value, list | tuple):
            return value  # pydantic says "must be a list"
        categories: list[ErrorCategory] = []
        for index, item in enumerate(value):
            name = item.strip().upper() if isinstance(item, str) else None
            if name == ErrorCategory.CONFIGURATION:
                message = "CONFIGURATION failures are never retried"
            elif name not in _RETRYABLE:
                shown = "a " + yaml_kind(item) if name is None else repr(item)
                message = f"{shown} is not an error category"
            else:
                categories.append(ErrorCategory(name))
                continue
            raise PydanticCustomError(
                "retry_category",
                "{message}; use TRANSIENT, PERMANENT or PARTIAL",
                {"message": message, "field": (index,)},
            )
        return tuple(categories)

    @model_validator(mode="after")
    def _cap_not_below_start(self) -> Self:
        if self.max_delay_seconds < self.initial_delay_seconds:
            raise PydanticCustomError(
                "retry_cap",
                "max_delay_seconds must not be less than initial_delay_seconds",
                {"field": ("max_delay_seconds",)},
            )
        return self


class IngestionPluginSection(BaseModel):
    """``plugins.ingestion``: the plugin to use and its settings."""

    model_config = _STRICT

    type: str = Field(default="dlt", min_length=1, description="The plugin's entry-point name.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Validated by the plugin's get_config_schema()."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)


class PluginsSection(BaseModel):
    """``plugins``: one section per plugin type."""

    model_config = _STRICT

    ingestion: IngestionPluginSection = Field(default_factory=IngestionPluginSection)


class CatalogSection(CatalogConfig):
    """``catalog``: a :class:`~floe_core.catalog.CatalogConfig` whose secrets may be refs."""

    credential: Secret = None
    token: Secret = None

    @field_validator("properties", mode="before")
    @classmethod
    def _scalars_as_strings(cls, value: Any) -> Any:
        """Pyiceberg properties are strings; accept YAML's true/1/1.5 as 'true'/'1'/'1.5'."""
        if not isinstance(value, dict):
            return value
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            if isinstance(v, bool | int | float)
            else v
            for k, v in value.items()
        }

    def to_catalog_config(self) -> CatalogConfig:
        """Return a plain :class:`~floe_core.catalog.CatalogConfig` with the same values."""
        return CatalogConfig.model_validate(dict(self))


class StorageSection(StorageConfig):
    """``storage``: a :class:`~floe_core.catalog.StorageConfig` whose keys may be refs."""

    access_key_id: Secret = None
    secret_access_key: Secret = None

    @model_validator(mode="after")
    def _s3_path_is_a_url(self) -> Self:
        if self.type == "s3" and self.path and not self.path.startswith(("s3://", "s3a://")):
            raise PydanticCustomError(
                "s3_path",
                "for type s3, path is the data location as an s3:// URL (s3://bucket/prefix)",
                {"field": ("path",)},
            )
        return self


def _secrets_dir(value: Any, file: Path) -> Path | None:
    """Return ``secrets_dir`` as an absolute folder (relative to the manifest's folder).

    It is needed before validation (to resolve ``file:`` refs while loading), so it is checked
    here rather than by the model.

    Raises:
        ConfigFileError: It is given but is not a non-empty string.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        got = "an empty string" if isinstance(value, str) else f"a {yaml_kind(value)}"
        raise ConfigFileError.of(
            file,
            [Problem("secrets_dir", f"must be a folder path (a string), not {got}")],
        )
    return (file.parent / value).absolute()


class PlatformManifest(BaseModel):
    """The platform manifest. Build it with :meth:`load` or :meth:`default`."""

    model_config = _STRICT

    plugins: PluginsSection = Field(default_factory=PluginsSection)
    catalog: CatalogSection | None = None
    storage: StorageSection | None = None
    secrets_dir: Path | None = None
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    maintenance: MaintenanceConfig = Field(
        default_factory=MaintenanceConfig, description="Table maintenance (``floe maintain``)."
    )
    _file: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _s3_storage_has_a_path(self) -> Self:
        storage, catalog = self.storage, self.catalog
        if storage is None or storage.type != "s3" or storage.path:
            return self
        if catalog is not None and (
            catalog.type == "rest" or (catalog.warehouse or "").startswith(("s3://", "s3a://"))
        ):
            return self  # the catalog knows where data goes
        raise PydanticCustomError(
            "s3_path_missing",
            "storage type 's3' needs path, the data location as an s3:// URL "
            "(s3://bucket/prefix); without it data would go to the local ./warehouse folder",
            {"field": ("storage", "path")},
        )

    @property
    def file(self) -> Path | None:
        """The file this manifest was loaded from; None for the default."""
        return self._file

    def error(self, field: str, message: str) -> ConfigFileError:
        """Build a ConfigFileError about ``field`` of this manifest.

        Args:
            field: The field path, e.g. ``plugins.ingestion.type``.
            message: What is wrong and what would be valid.

        Returns:
            The error, naming this manifest's file (or the default manifest).
        """
        file = self.file or "(default platform manifest)"
        return ConfigFileError.of(file, [Problem(field, message)])

    @classmethod
    def default(cls) -> PlatformManifest:
        """The manifest used when there is no file: dlt plugin, embedded catalog."""
        return cls()

    @classmethod
    def load(
        cls,
        path: Path | str,
        *,
        environ: Mapping[str, str] | None = None,
        project_dir: Path | str | None = None,
    ) -> PlatformManifest:
        """Read, interpolate, validate and resolve secrets in a manifest file.

        Args:
            path: The file.
            environ: Environment for ``${VAR}`` and ``env:`` refs; defaults to ``os.environ``.
            project_dir: The value of ``${FLOE_PROJECT_DIR}``; defaults to the manifest's folder.

        Returns:
            The manifest.

        Raises:
            ConfigFileError: Anything wrong with the file, naming the field path.
        """
        file = Path(path)
        env = dict(os.environ if environ is None else environ)
        folder = Path(project_dir) if project_dir is not None else file.parent
        raw = read_yaml(file, what="platform manifest")
        data = interpolate(
            raw, file=file, environ=env, builtins={"FLOE_PROJECT_DIR": str(folder.absolute())}
        )
        secrets_dir = _secrets_dir(data.get("secrets_dir"), file)
        if secrets_dir is not None:
            data["secrets_dir"] = str(secrets_dir)
        context = {"environ": env, "secrets_dir": secrets_dir or default_secrets_dir()}
        manifest = validate_file(cls, data, file=file, context=context)
        manifest._file = file
        return manifest

    def catalog_config(self) -> CatalogConfig:
        """Return the catalog plugins write to, with ``storage`` folded into it.

        The rule (what the dlt plugin reads):

        - no ``catalog``: the embedded SQL catalog (``./warehouse``, or ``storage.path`` when
          storage is ``local``);
        - ``storage.path`` becomes the ``warehouse`` of a ``sql`` catalog that has none (a local
          folder made absolute, or an ``s3://`` URL); a ``rest`` catalog's ``warehouse`` is its
          warehouse *name* and is left alone;
        - ``storage.type: s3`` becomes pyiceberg FileIO properties ``s3.endpoint``,
          ``s3.region``, ``s3.access-key-id``, ``s3.secret-access-key``,
          ``s3.path-style-access``; keys already in ``catalog.properties`` win.

        Returns:
            The catalog config (secrets stay :class:`~pydantic.SecretStr` except the S3 keys,
            which pyiceberg properties carry as plain strings).
        """
        storage = self.storage
        if self.catalog is not None:
            catalog = self.catalog.to_catalog_config()
        elif storage is not None and storage.type == "local" and storage.path:
            return CatalogConfig.embedded(storage.path)
        else:
            catalog = CatalogConfig.embedded()
            if storage is not None and storage.path:
                catalog = catalog.model_copy(update={"warehouse": storage.path})
        if storage is None:
            return catalog
        if storage.path and catalog.type == "sql" and catalog.warehouse is None:
            path = storage.path if storage.type == "s3" else str(Path(storage.path).absolute())
            catalog = catalog.model_copy(update={"warehouse": path})
        if storage.type == "local":
            return catalog
        properties = {**storage.iceberg_properties(), **catalog.properties}
        return catalog.model_copy(update={"properties": properties})
