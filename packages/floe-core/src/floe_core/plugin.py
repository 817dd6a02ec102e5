"""The plugin contract: :class:`PluginMetadata` and :class:`IngestionPlugin`.

A plugin is a class registered under the ``floe.ingestion`` entry-point group. The abstract
surface is what every plugin truly must do; conveniences (:meth:`IngestionPlugin.ingest`, the
context manager) are concrete and built on it.

Lifecycle: ``plugin = Plugin(config, catalog=...)`` → ``startup()`` → ``create_pipeline(cfg)``
→ ``run(pipeline)`` → ``shutdown()``. ``create_pipeline`` raises
:class:`~floe_core.errors.PipelineConfigurationError` for bad config; ``run`` never raises: every
outcome, failures included, comes back as an :class:`~floe_core.ingestion.IngestionResult` whose
``errors`` carry the taxonomy.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from pydantic import BaseModel, ValidationError

from floe_core._validation import problems_from
from floe_core.catalog import CatalogConfig
from floe_core.errors import (
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
)
from floe_core.ingestion import IngestionConfig, IngestionResult

__all__ = [
    "CONFIG_FIELD",
    "FLOE_API_VERSION",
    "HealthState",
    "HealthStatus",
    "IngestionPipeline",
    "IngestionPlugin",
    "PluginMetadata",
    "PluginType",
]

FLOE_API_VERSION = "1.0"
"""The plugin API this floe-core speaks. A plugin is compatible when its major matches and its
minor is not newer."""


CONFIG_FIELD = ("plugins", "ingestion", "config")
"""Where a plugin's config sits in platform-manifest.yaml; error field paths start here."""


class PluginType(StrEnum):
    """The platform's plugin groups; each value is its entry-point group."""

    INGESTION = "floe.ingestion"


class HealthState(StrEnum):
    """A plugin's health."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class HealthStatus:
    """The answer of :meth:`PluginMetadata.health_check`."""

    state: HealthState
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


class PluginMetadata(ABC):
    """What every floe plugin, of any type, declares and how it is started and stopped."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The plugin's name; equals its entry-point name (``dlt``, ``airbyte``)."""

    @property
    @abstractmethod
    def version(self) -> str:
        """The plugin's own version (semver)."""

    @property
    @abstractmethod
    def floe_api_version(self) -> str:
        """The floe plugin API version (``MAJOR.MINOR``) the plugin was written against."""

    @property
    def description(self) -> str:
        """One line saying what the plugin does (defaults to the class docstring's first line)."""
        doc = type(self).__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def startup(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Acquire what the plugin holds (clients, connections). Idempotent."""

    def shutdown(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Release what :meth:`startup` acquired. Idempotent; safe without startup."""

    @abstractmethod
    def health_check(self, timeout: float | None = None) -> HealthStatus:
        """Check that the plugin can do its work right now.

        Args:
            timeout: Seconds the check may take at most; None for the plugin's default.

        Returns:
            The plugin's health. Never raises: a failure is ``UNHEALTHY`` with a message.
        """

    @abstractmethod
    def get_config_schema(self) -> type[BaseModel]:
        """Return the pydantic model of the plugin's ``plugins.<type>.config`` section.

        Returns:
            The model class; its JSON schema documents every field.
        """


@dataclass
class IngestionPipeline:
    """A validated, ready-to-run load. Plugins subclass it to carry what they built."""

    config: IngestionConfig


class IngestionPlugin(PluginMetadata):
    """Loads data from a source into Bronze Iceberg tables.

    Args:
        config: The plugin's own configuration (``plugins.ingestion.config``), validated
            against :meth:`get_config_schema`.
        catalog: The Iceberg catalog the platform writes to. Defaults to the embedded one.

    Raises:
        PipelineConfigurationError: ``config`` does not match the plugin's schema.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | BaseModel | None = None,
        *,
        catalog: CatalogConfig | None = None,
    ) -> None:
        schema = self.get_config_schema()
        try:
            if isinstance(config, schema):
                self.config: BaseModel = config
            elif isinstance(config, BaseModel):
                self.config = schema.model_validate(config.model_dump())
            else:
                self.config = schema.model_validate(dict(config or {}))
        except ValidationError as exc:
            problems = problems_from(schema, exc, CONFIG_FIELD)
            raise PipelineConfigurationError(
                f"invalid config for plugin {self.name!r}: " + "; ".join(map(str, problems)),
                code=ErrorCode.INVALID_CONFIG,
                details={"problems": [{"field": p.field, "message": p.message} for p in problems]},
            ) from None
        self.catalog = catalog if catalog is not None else CatalogConfig.embedded()

    @property
    @abstractmethod
    def is_external(self) -> bool:
        """True when the plugin drives an engine it does not run (Airbyte); False when embedded."""

    @abstractmethod
    def list_available_sources(self) -> list[str]:
        """Return the ``source_type`` values this plugin really implements.

        Returns:
            Source type names, e.g. ``["filesystem", "rest_api", "sql_database"]``.
        """

    @abstractmethod
    def create_pipeline(self, config: IngestionConfig) -> IngestionPipeline:
        """Validate a source's configuration and build what :meth:`run` will execute.

        Args:
            config: The source to load.

        Returns:
            A pipeline for :meth:`run`.

        Raises:
            PipelineConfigurationError: The source config is invalid (names the field and fix),
                or the source type is not one of :meth:`list_available_sources`.
        """

    def check_source(self, pipeline: IngestionPipeline, timeout: float) -> None:
        """Check a pipeline against its live source, reading no data (``floe validate``).

        What :meth:`create_pipeline` cannot know without connecting: that the tables exist,
        that the incremental cursor and the primary key are columns. The default checks
        nothing; ``floe validate --offline`` skips this call.

        Args:
            pipeline: What :meth:`create_pipeline` returned.
            timeout: Seconds the check may take to connect (a short deadline).

        Raises:
            PipelineConfigurationError: The source does not match the config; names the
                field (``details["field"]``) like :meth:`create_pipeline`.
            IngestionError: The source cannot be reached or refuses the credentials
                (TRANSIENT / PERMANENT, as a load would report it).
        """

    @abstractmethod
    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        """Execute one load.

        Args:
            pipeline: What :meth:`create_pipeline` returned.
            **kwargs: Plugin-specific run options.

        Returns:
            The outcome. Failures are ``success=False`` with categorised ``errors``; this method
            never raises, so no dependency's exception escapes it.
        """

    @abstractmethod
    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        """Return the destination settings the plugin uses (or asks an admin to set) for a catalog.

        Args:
            catalog_config: The platform's catalog.

        Returns:
            A JSON-serialisable mapping with no secret values.

        Raises:
            PipelineConfigurationError: DESTINATION_CONFIG_ERROR when the plugin cannot use it.
        """

    def ingest(self, config: IngestionConfig, **kwargs: Any) -> IngestionResult:
        """Create a pipeline and run it once, reporting a bad config as a failed result.

        Args:
            config: The source to load.
            **kwargs: Passed to :meth:`run`.

        Returns:
            The outcome of the load.
        """
        started = time.monotonic()
        try:
            pipeline = self.create_pipeline(config)
        except IngestionError as exc:
            return self.failure(config, exc, started=started)
        return self.run(pipeline, **kwargs)

    @staticmethod
    def failure(
        config: IngestionConfig, error: IngestionError, *, started: float | None = None
    ) -> IngestionResult:
        """Build the failed result for ``error``.

        Args:
            config: The source that failed.
            error: What went wrong.
            started: ``time.monotonic()`` when the load began, for the duration.

        Returns:
            ``success=False`` with the error, its source set to the pipeline name.
        """
        if error.source is None:
            error.source = config.name
        duration = time.monotonic() - started if started is not None else 0.0
        return IngestionResult(
            source=config.name,
            success=False,
            duration_seconds=duration,
            errors=[error.to_detail()],
        )

    def __enter__(self) -> Self:
        self.startup()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
