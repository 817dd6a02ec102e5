"""How the runner calls a plugin: each call's errors located in floe.yaml or made taxonomy.

A plugin breaking its contract (raising where it must return a result, returning the wrong
type) still yields an :class:`~floe_core.ingestion.IngestionResult`; a CONFIGURATION error a
plugin raises for a source names the floe.yaml file and field of that source.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from floe_core._loader import ConfigFileError, Problem
from floe_core._location import check_merge_key, check_source_type, check_window, point_at
from floe_core._preflight import check_table_depth
from floe_core.catalog import CatalogConfig
from floe_core.errors import (
    ErrorCategory,
    ErrorCode,
    IngestionError,
    PipelineConfigurationError,
    PluginError,
)
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.manifest import PlatformManifest
from floe_core.plugin import CONFIG_FIELD, IngestionPipeline, IngestionPlugin
from floe_core.project import FloeProject
from floe_core.registry import PluginRegistry

__all__ = [
    "as_error",
    "call_hook",
    "check_source_at",
    "create_pipeline_at",
    "create_plugin_at",
    "destination_config_at",
    "internal_error",
    "log_result",
    "run_once",
]


def create_plugin_at(
    registry: PluginRegistry, manifest: PlatformManifest, catalog: CatalogConfig
) -> IngestionPlugin:
    """Instantiate the manifest's plugin; its errors name the manifest file and field."""
    section = manifest.plugins.ingestion
    where = str(manifest.file or "(default platform manifest)")
    try:
        return registry.create(section.type, section.config, catalog=catalog)
    except PluginError as exc:
        raise PluginError(
            f"{where}: plugins.ingestion.type: {exc.message}",
            code=exc.code,
            details={**exc.details, "file": where, "field": "plugins.ingestion.type"},
        ) from exc
    except PipelineConfigurationError as exc:
        problems = [Problem(p["field"], p["message"]) for p in exc.details.get("problems", [])] or [
            Problem(".".join(CONFIG_FIELD), exc.message)
        ]
        raise ConfigFileError.of(where, problems, code=exc.code) from exc


def destination_config_at(
    plugin: IngestionPlugin, catalog: CatalogConfig, manifest_file: Path | str | None
) -> dict[str, Any]:
    """``get_destination_config``; a CONFIGURATION error names the manifest's catalog field."""
    try:
        return plugin.get_destination_config(catalog)
    except IngestionError as exc:
        if exc.category is not ErrorCategory.CONFIGURATION:
            raise
        field = str(exc.details.get("field") or "")
        if not field.startswith(("catalog", "storage")):
            field = "catalog"
        where = str(manifest_file or "(default platform manifest)")
        problem = Problem(field, exc.message)
        # A CONFIGURATION category on another class's code: keep the class-code rule.
        code = exc.code if isinstance(exc, PipelineConfigurationError) else None
        code = ErrorCode.DESTINATION_CONFIG_ERROR if isinstance(exc, PluginError) else code
        if exc.message.startswith(field):  # "catalog.uri for type 'sql' must be ..."
            raise ConfigFileError(
                f"{where}: {exc.message}", file=where, problems=[problem], code=code
            ) from exc
        raise ConfigFileError.of(where, [problem], code=code) from exc
    except Exception as exc:
        raise internal_error(plugin, "get_destination_config", exc) from exc


def create_pipeline_at(
    plugin: IngestionPlugin, config: IngestionConfig, project: FloeProject, catalog: CatalogConfig
) -> IngestionPipeline:
    """``create_pipeline``, its CONFIGURATION errors naming the floe.yaml file and field.

    A ``type`` the plugin does not list, and a table the catalog cannot hold, are reported
    here, without asking the plugin.
    """
    file = project.file or "floe.yaml"
    index = project.index_of(config.name)
    try:
        available = plugin.list_available_sources()
    except Exception:  # the plugin's own create_pipeline check still applies
        available = None
    if isinstance(available, list):
        wrong = check_source_type(
            config.name,
            config.source_type,
            available,
            plugin=plugin.name,
            file=file,
            index=index,
        )
        if wrong is not None:
            raise wrong
    keyless = check_merge_key(
        config, plugin.source_supplies_primary_key(config.source_type), file=file, index=index
    )
    if keyless is not None:
        raise keyless
    unwindowed = check_window(
        config,
        project.sources[index].partitions is not None,
        plugin.supports_window(config.source_type),
        plugin=plugin.name,
        file=file,
        index=index,
    )
    if unwindowed is not None:
        raise unwindowed
    try:
        check_table_depth(config, catalog)
        return plugin.create_pipeline(config)
    except IngestionError as exc:
        raise point_at(exc, file, index)  # noqa: B904 - the plugin's own error, located


def check_source_at(
    plugin: IngestionPlugin, pipeline: IngestionPipeline, project: FloeProject, timeout: float
) -> None:
    """``check_source``, its CONFIGURATION errors naming the floe.yaml file and field."""
    file = project.file or "floe.yaml"
    index = project.index_of(pipeline.config.name)
    try:
        plugin.check_source(pipeline, timeout)
    except IngestionError as exc:
        raise point_at(exc, file, index)  # noqa: B904 - the plugin's own error, located
    except Exception as exc:
        raise internal_error(plugin, "check_source", exc) from exc


def run_once(
    plugin: IngestionPlugin, pipeline: IngestionPipeline, **kwargs: Any
) -> IngestionResult:
    """One attempt; a plugin that breaks the never-raise contract still yields a result."""
    try:
        result = plugin.run(pipeline, **kwargs)
    except IngestionError as exc:
        return IngestionPlugin.failure(pipeline.config, exc)
    except Exception as exc:
        return IngestionPlugin.failure(pipeline.config, internal_error(plugin, "run", exc))
    if not isinstance(result, IngestionResult):
        error = IngestionError(
            f"plugin {plugin.name!r} run() returned {type(result).__name__}, not IngestionResult",
            code=ErrorCode.INTERNAL_ERROR,
        )
        return IngestionPlugin.failure(pipeline.config, error)
    return result


def internal_error(plugin: IngestionPlugin, method: str, exc: Exception) -> IngestionError:
    return IngestionError(
        f"plugin {plugin.name!r} {method}() raised {type(exc).__name__}: {exc}",
        code=ErrorCode.INTERNAL_ERROR,
        details={"plugin": plugin.name, "method": method},
    )


def call_hook(hook: Callable[[], None]) -> IngestionError | None:
    try:
        hook()
    except IngestionError as exc:
        return exc
    except Exception as exc:
        name = getattr(hook, "__name__", "hook")
        return IngestionError(
            f"plugin {name}() raised {type(exc).__name__}: {exc}", code=ErrorCode.INTERNAL_ERROR
        )
    return None


def as_error(result: IngestionResult) -> IngestionError:
    if result.errors:
        return IngestionError.from_detail(result.errors[0])
    return IngestionError("the load failed without reporting an error")


def log_result(log: Any, result: IngestionResult) -> None:
    fields = {
        "rows_loaded": result.rows_loaded,
        "bytes_written": result.bytes_written,
        "tables": [t.table for t in result.tables],
        "duration_seconds": round(result.duration_seconds, 3),
        "attempts": result.attempts,
    }
    if result.success:
        log.info("source_finished", **fields)
        return
    first = result.errors[0] if result.errors else None
    log.error(
        "source_failed",
        **fields,
        code=str(first.code) if first else None,
        category=str(first.category) if first else None,
        error=first.message if first else None,
        errors=len(result.errors),
    )
