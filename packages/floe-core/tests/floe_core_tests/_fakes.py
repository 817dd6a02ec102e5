"""In-process plugins for the floe-core tests.

``FakePlugin`` is scripted through each source's ``source_config``:

- ``rows``: rows "loaded" on success (default 3), into ``destination_table``.
- ``fail``: a list of error codes, one per attempt, before the load succeeds; an entry may be a
  mapping ``{code, retry_after, category, retryable}`` to override the defaults.
- ``invalid``: when true, ``create_pipeline`` raises a PipelineConfigurationError.
- ``no_column``: ``check_source`` (``floe validate`` unless ``--offline``) raises a
  PipelineConfigurationError naming ``incremental.cursor_field``.

``get_destination_config`` rejects a catalog whose ``properties`` say ``fake.reject``:
``message`` (a CONFIGURATION error), ``field`` (one naming ``catalog.warehouse``) or ``bug``
(a RuntimeError).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel, ConfigDict

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    ErrorDetail,
    HealthState,
    HealthStatus,
    IngestionConfig,
    IngestionPipeline,
    IngestionPlugin,
    IngestionResult,
    PipelineConfigurationError,
    SourceConnectionError,
    TableResult,
    default_category,
)
from floe_core.cli import main
from floe_core.registry import PluginRegistry


class FakeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    greeting: str = "hello"
    fail_startup: bool = False


class FakePlugin(IngestionPlugin):
    """A scripted in-memory plugin."""

    name = "fake"  # type: ignore[assignment]
    version = "0.0.1"  # type: ignore[assignment]
    floe_api_version = "1.0"  # type: ignore[assignment]
    is_external = False  # type: ignore[assignment]

    calls: ClassVar[list[str]] = []
    attempts: ClassVar[dict[str, int]] = {}
    seen_catalogs: ClassVar[list[CatalogConfig]] = []
    seen_secrets: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def reset(cls) -> None:
        cls.calls.clear()
        cls.attempts.clear()
        cls.seen_catalogs.clear()
        cls.seen_secrets.clear()

    def get_config_schema(self) -> type[BaseModel]:
        return FakeConfig

    def health_check(self, timeout: float | None = None) -> HealthStatus:
        return HealthStatus(HealthState.HEALTHY, f"ok within {timeout}")

    def startup(self) -> None:
        FakePlugin.calls.append("startup")
        FakePlugin.seen_catalogs.append(self.catalog)
        if getattr(self.config, "fail_startup", False):
            raise SourceConnectionError("engine unreachable at 127.0.0.1:1")

    def shutdown(self) -> None:
        FakePlugin.calls.append("shutdown")

    def list_available_sources(self) -> list[str]:
        return ["memory", "sql_database"]

    def create_pipeline(self, config: IngestionConfig) -> IngestionPipeline:
        FakePlugin.calls.append(f"create:{config.name}")
        if config.source_type not in self.list_available_sources():
            raise PipelineConfigurationError(
                f"source_type {config.source_type!r} is not one of memory, sql_database",
                source=config.name,
            )
        if config.source_config.get("explode_create"):
            raise RuntimeError("create_pipeline bug")
        if config.source_config.get("invalid"):
            raise PipelineConfigurationError(
                "source config field 'invalid' must not be true", source=config.name
            )
        return IngestionPipeline(config)

    def check_source(self, pipeline: IngestionPipeline, timeout: float) -> None:
        config = pipeline.config
        FakePlugin.calls.append(f"check:{config.name}:{timeout}")
        if config.source_config.get("no_column"):
            raise PipelineConfigurationError(
                f"cursor column {config.source_config['no_column']!r} is not in the source",
                source=config.name,
                details={"field": "incremental.cursor_field"},
            )

    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        config = pipeline.config
        attempt = FakePlugin.attempts.get(config.name, 0)
        FakePlugin.attempts[config.name] = attempt + 1
        FakePlugin.calls.append(f"run:{config.name}")
        FakePlugin.seen_secrets[config.name] = config.source_config_with_secrets()
        if config.source_config.get("explode"):
            raise RuntimeError("plugin bug")
        if config.source_config.get("interrupt"):
            raise KeyboardInterrupt
        script = list(config.source_config.get("fail", []))
        if attempt < len(script):
            step = script[attempt]
            step = step if isinstance(step, dict) else {"code": step}
            code = ErrorCode(step["code"])
            category = ErrorCategory(step.get("category", default_category(code)))
            return IngestionResult(
                source=config.name,
                success=False,
                duration_seconds=0.01,
                rows_loaded=int(step.get("rows", 0)),
                errors=[
                    ErrorDetail(
                        code=code,
                        category=category,
                        message=f"scripted failure {code} on attempt {attempt + 1}",
                        source=config.name,
                        retryable=step.get("retryable", category is ErrorCategory.TRANSIENT),
                        retry_after_seconds=step.get("retry_after"),
                        failed_records=step.get("failed_records"),
                    )
                ],
            )
        rows = int(config.source_config.get("rows", 3))
        table = config.destination_table.replace("*", "items")
        return IngestionResult(
            source=config.name,
            success=True,
            rows_loaded=rows,
            bytes_written=rows * 100,
            tables=[TableResult(table=table, rows_loaded=rows, bytes_written=rows * 100)],
            duration_seconds=0.01,
        )

    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        FakePlugin.calls.append("destination")
        if catalog_config.properties.get("fake.reject") == "message":
            raise PipelineConfigurationError(
                "the fake plugin cannot write to this catalog",
                code=ErrorCode.DESTINATION_CONFIG_ERROR,
            )
        if catalog_config.properties.get("fake.reject") == "field":
            raise PipelineConfigurationError(
                "catalog.warehouse must be a folder for the fake plugin",
                code=ErrorCode.DESTINATION_CONFIG_ERROR,
                details={"field": "catalog.warehouse"},
            )
        if catalog_config.properties.get("fake.reject") == "bug":
            raise RuntimeError("destination bug")
        return {"catalog": catalog_config.name}


class PropertyPlugin(FakePlugin):
    """Declares name and API version as properties returning constants."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return "prop"

    @property
    def floe_api_version(self) -> str:  # type: ignore[override]
        return "1.0"


class FuturePlugin(FakePlugin):
    """Written against a newer minor API."""

    floe_api_version = "1.9"


class NextMajorPlugin(FakePlugin):
    """Written against API 2."""

    floe_api_version = "2.0"


class OldMajorPlugin(FakePlugin):
    """Written against API 0."""

    floe_api_version = "0.3"


class GarbageVersionPlugin(FakePlugin):
    """Declares an API version that is not MAJOR.MINOR."""

    floe_api_version = "latest"


class StatefulNamePlugin(FakePlugin):
    """A name property that needs __init__ to have run."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._name  # type: ignore[no-any-return]


class ExplodingInitPlugin(FakePlugin):
    """Its constructor fails unexpectedly."""

    name = "exploding"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("constructor exploded")


class HalfPlugin(IngestionPlugin):
    """Forgets run and create_pipeline."""

    name = "half"  # type: ignore[assignment]
    version = "0"  # type: ignore[assignment]
    floe_api_version = "1.0"  # type: ignore[assignment]
    is_external = False  # type: ignore[assignment]

    def get_config_schema(self) -> type[BaseModel]:
        return FakeConfig

    def health_check(self, timeout: float | None = None) -> HealthStatus:
        return HealthStatus(HealthState.HEALTHY)

    def list_available_sources(self) -> list[str]:
        return []

    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        return {}


class NotAPlugin:
    """Has the right shape but the wrong base."""

    name = "fake"


NOT_A_CLASS = "fake"


class LeakyPlugin(FakePlugin):
    """Logs the resolved password through structlog, stdlib logging and ``warnings``."""

    name = "leaky"

    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        import logging
        import sys
        import warnings

        import structlog

        config = pipeline.config.source_config_with_secrets()
        password = str(config["password"])
        structlog.get_logger("leaky").warning("connecting", pw=f"pw is {password}")
        logging.getLogger("leaky.stdlib").warning("connecting with %s", password)
        warnings.warn(f"pw={password}", UserWarning, stacklevel=1)
        warnings.warn(f"dsn={config['dsn']}", UserWarning, stacklevel=1)
        others = [str(config.get("api_token")), self.catalog.properties.get("fake.token")]
        print(f"tokens {others}", file=sys.stderr)
        return super().run(pipeline, **kwargs)


class MinimalPlugin(IngestionPlugin):
    """Only what every plugin must write: two class attributes and the abstract methods."""

    name = "minimal"
    floe_api_version = "1.0"

    def health_check(self, timeout: float | None = None) -> HealthStatus:
        return HealthStatus(HealthState.HEALTHY)

    def list_available_sources(self) -> list[str]:
        return ["nothing"]

    def create_pipeline(self, config: IngestionConfig) -> IngestionPipeline:
        return IngestionPipeline(config)

    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        return IngestionResult(source=pipeline.config.name, success=True)

    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        return {}


class LegacyPropertyPlugin(MinimalPlugin):
    """Written in the older style: every metadata item a property returning a constant."""

    @property  # type: ignore[misc]
    def name(self) -> str:  # type: ignore[override]
        return "legacy"

    @property  # type: ignore[misc]
    def version(self) -> str:  # type: ignore[override]
        return "3.2.1"

    @property  # type: ignore[misc]
    def floe_api_version(self) -> str:  # type: ignore[override]
        return "1.0"

    @property  # type: ignore[misc]
    def is_external(self) -> bool:  # type: ignore[override]
        return True


class NamelessPlugin(IngestionPlugin):
    """Declares everything but its name."""

    floe_api_version = "1.0"
    health_check = MinimalPlugin.health_check
    list_available_sources = MinimalPlugin.list_available_sources
    create_pipeline = MinimalPlugin.create_pipeline
    run = MinimalPlugin.run
    get_destination_config = MinimalPlugin.get_destination_config


class KeyedFakePlugin(FakePlugin):
    """Says its ``sql_database`` sources bring their own merge key."""

    def source_supplies_primary_key(self, source_type: str) -> bool:
        return source_type == "sql_database"


QUIET_MANIFEST = (
    "plugins: {ingestion: {type: fake, retry: {max_attempts: 1}}}\n"
    "observability: {logs: {format: json, level: WARNING}}\n"
)
"""A manifest choosing the fake plugin, one attempt per load, warnings only."""


def fake_registry(plugin: type[IngestionPlugin] = FakePlugin) -> PluginRegistry:
    """A registry holding only ``plugin``, registered as ``fake``."""
    registry = PluginRegistry(entry_points=[])
    registry.register("fake", plugin)
    return registry


def run_project(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    project: str,
    *args: str,
    plugin: type[IngestionPlugin] = FakePlugin,
    manifest: str = QUIET_MANIFEST,
) -> Result:
    """Write floe.yaml and the manifest in ``folder``; run ``floe <args> floe.yaml`` there."""
    monkeypatch.chdir(folder)
    (folder / "platform-manifest.yaml").write_text(manifest)
    (folder / "floe.yaml").write_text(textwrap.dedent(project))
    return CliRunner().invoke(main, [*args, "floe.yaml"], obj={"registry": fake_registry(plugin)})
