"""The plugin contract: :class:`PluginMetadata` and :class:`IngestionPlugin`.

A plugin is a class registered under the ``floe.ingestion`` entry-point group. The abstract
surface is what every plugin truly must do: :meth:`~PluginMetadata.health_check`,
:meth:`~IngestionPlugin.list_available_sources`, :meth:`~IngestionPlugin.create_pipeline`,
:meth:`~IngestionPlugin.run` and :meth:`~IngestionPlugin.get_destination_config`, plus the class
attributes ``name`` and ``floe_api_version``. Conveniences are concrete: ``version`` (the
distribution's), ``is_external`` (False), :meth:`~PluginMetadata.get_config_schema` (no settings),
:meth:`~IngestionPlugin.source_supplies_primary_key` (False), :meth:`IngestionPlugin.ingest`, the
startup/shutdown hooks, the context manager and the distributed-load methods of
:class:`~floe_core.parts.DistributedLoading` (not supported).

Lifecycle: ``plugin = Plugin(config, catalog=...)`` → ``startup()`` → ``create_pipeline(cfg)``
→ ``run(pipeline)`` → ``shutdown()``. ``create_pipeline`` raises
:class:`~floe_core.errors.PipelineConfigurationError` for bad config; ``run`` never raises: every
outcome, failures included, comes back as an :class:`~floe_core.ingestion.IngestionResult` whose
``errors`` carry the taxonomy.
"""

from __future__ import annotations

import importlib.metadata
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from floe_core.catalog import CatalogConfig
from floe_core.config_errors import validation_problems
from floe_core.errors import (
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
)
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.parts import DistributedLoading

__all__ = [
    "CONFIG_FIELD",
    "FLOE_API_VERSION",
    "HealthState",
    "HealthStatus",
    "IngestionPipeline",
    "IngestionPlugin",
    "NoConfig",
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


class _DistributionVersion:
    """The default ``version``: the version of the distribution that ships the plugin class.

    Found through the ``floe.ingestion`` entry point naming the class, else the distribution
    that provides the class's top-level package; ``"unknown"`` when neither is installed.
    """

    _cache: ClassVar[dict[type, str]] = {}

    def __get__(self, obj: object, owner: type | None = None) -> str:
        cls = owner if owner is not None else type(obj)
        if cls not in self._cache:
            self._cache[cls] = _distribution_version(cls)
        return self._cache[cls]


def _distribution_version(cls: type) -> str:
    target = f"{cls.__module__}:{cls.__qualname__}"
    for ep in importlib.metadata.entry_points(group=PluginType.INGESTION.value):
        dist = getattr(ep, "dist", None)
        if ep.value.replace(" ", "") == target and dist is not None:
            return str(dist.version)
    top = cls.__module__.split(".")[0]
    for name in importlib.metadata.packages_distributions().get(top, []):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a race
            continue
    return "unknown"


class _ClassReadableProperty(property):
    """A metadata property of an older plugin, readable on the class as well.

    Plugins written before metadata became class attributes declare ``name`` (etc.) as a
    property returning a constant; on the class it is evaluated on a bare instance (no
    ``__init__``), which is why such a property must not touch instance state.
    """

    def __get__(self, obj: Any, owner: type[Any] | None = None) -> Any:
        if obj is None and owner is not None and self.fget is not None:
            return self.fget(object.__new__(owner))  # a bare instance: no __init__
        return super().__get__(obj, owner)


_METADATA = ("name", "version", "floe_api_version", "is_external")


class PluginMetadata(ABC):
    """What every floe plugin, of any type, declares and how it is started and stopped.

    Metadata are class attributes, readable without creating the plugin::

        class MyPlugin(IngestionPlugin):
            name = "mine"                     # required; equals the entry-point name
            floe_api_version = "1.0"          # required; the plugin API it was written for
            is_external = False               # default False (True: drives an outside engine)
            # version: defaults to the installed distribution's version

    A plugin that declares them as properties (the style before floe API 1.0 settled) keeps
    working: such a property is readable on the class too, evaluated without ``__init__``.
    """

    name: ClassVar[str]
    """The plugin's name; equals its entry-point name (``dlt``, ``airbyte``)."""

    floe_api_version: ClassVar[str]
    """The floe plugin API version (``MAJOR.MINOR``) the plugin was written against."""

    if TYPE_CHECKING:
        version: ClassVar[str]
    else:
        version = _DistributionVersion()
    """The plugin's own version; by default its distribution's (``importlib.metadata``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attribute in _METADATA:
            value = cls.__dict__.get(attribute)
            if isinstance(value, property) and not isinstance(value, _ClassReadableProperty):
                setattr(
                    cls,
                    attribute,
                    _ClassReadableProperty(value.fget, value.fset, value.fdel, value.__doc__),
                )

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

    def get_config_schema(self) -> type[BaseModel]:
        """Return the pydantic model of the plugin's ``plugins.<type>.config`` section.

        A plugin with settings overrides this; the default accepts an empty section only.

        Returns:
            The model class; its JSON schema documents every field.
        """
        return NoConfig


class NoConfig(BaseModel):
    """The config of a plugin without settings: an empty section (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class IngestionPipeline:
    """A validated, ready-to-run load. Plugins subclass it to carry what they built."""

    config: IngestionConfig


class IngestionPlugin(PluginMetadata, DistributedLoading):
    """Loads data from a source into Bronze Iceberg tables.

    Optionally, in parts run by separate processes (:class:`~floe_core.parts.DistributedLoading`:
    ``supports_parts``, ``plan_parts``, ``run_part``, ``commit_parts``, ``abandon_parts``).

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
            problems = validation_problems(exc, schema, prefix=CONFIG_FIELD)
            raise PipelineConfigurationError(
                f"invalid config for plugin {self.name!r}: " + "; ".join(map(str, problems)),
                code=ErrorCode.INVALID_CONFIG,
                details={"problems": [{"field": p.field, "message": p.message} for p in problems]},
            ) from None
        self.catalog = catalog if catalog is not None else CatalogConfig.embedded()

    is_external: ClassVar[bool] = False
    """True when the plugin drives an engine it does not run (Airbyte); False when embedded."""

    def source_supplies_primary_key(self, source_type: str) -> bool:
        """Say whether a source type brings its own merge key (a database table's primary key).

        A ``merge`` without ``primary_key`` is a CONFIGURATION error naming
        ``ingestion.sources[i].destination.primary_key`` unless this returns True for the
        source's type; the plugin then finds the key itself (and reports a table without one).

        Args:
            source_type: One of :meth:`list_available_sources`.

        Returns:
            False by default: every source needs ``primary_key`` to merge.
        """
        return False

    def supports_window(self, source_type: str) -> bool:
        """Say whether the plugin can load a time window of a source type (``partitions``).

        A source with ``partitions`` (or a config with a ``window``) is a CONFIGURATION error
        naming ``ingestion.sources[i].partitions`` unless this returns True for its type. A
        plugin that returns True loads only the rows whose ``window.column`` lies in
        [``window.start``, ``window.end``) and replaces only that slice of the table.

        Args:
            source_type: One of :meth:`list_available_sources`.

        Returns:
            False by default: no source type can be loaded by window.
        """
        return False

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
