"""Shared by the Dagster tests: a project over the quickstart's shop.db in a temp folder."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import yaml

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    ErrorDetail,
    IngestionPipeline,
    IngestionPlugin,
    IngestionResult,
    PlatformManifest,
    PluginRegistry,
    Runner,
)
from floe_ingestion_dlt import DltIngestionPlugin

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "dagster"

SHOP_SOURCES: list[dict[str, Any]] = [
    {
        "name": "orders",
        "type": "sql_database",
        "description": "Shop orders.",
        "config": {
            "connection_string": "sqlite:///${FLOE_PROJECT_DIR}/shop.db",
            "tables": ["orders"],
        },
        "destination": {"table": "bronze.orders", "write_disposition": "append"},
        "incremental": {"cursor_field": "updated_at"},
        "schedule": "0 6 * * *",
    },
    {
        "name": "customers",
        "type": "sql_database",
        "config": {
            "connection_string": "sqlite:///${FLOE_PROJECT_DIR}/shop.db",
            "tables": ["customers"],
        },
        "destination": {"table": "bronze.customers", "write_disposition": "merge"},
        "incremental": {"cursor_field": "updated_at"},
    },
]


def shop_sources(namespace: str = "bronze") -> list[dict[str, Any]]:
    """The shop sources, landing in ``namespace``."""
    sources = [dict(s) for s in SHOP_SOURCES]
    for source in sources:
        table = source["destination"]["table"].split(".")[1]
        source["destination"] = {**source["destination"], "table": f"{namespace}.{table}"}
    return sources


def catalog_section(config: CatalogConfig) -> dict[str, Any]:
    """A manifest ``catalog`` section for ``config``, secrets in plain text (test servers)."""
    data = config.model_dump(mode="json", exclude_none=True)
    data["properties"] = dict(config.properties)  # the dump masks secret-looking values
    for key in ("credential", "token"):
        value = getattr(config, key)
        if value is not None:
            data[key] = value.get_secret_value()
    return data


@dataclass
class Project:
    """A floe.yaml, a platform manifest and a defs.py in one folder."""

    folder: Path
    floe_yaml: Path
    manifest: Path

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse"

    def catalog(self) -> Any:
        from floe_iceberg import load_catalog

        return load_catalog(PlatformManifest.load(self.manifest).catalog_config())

    def rows(self, table: str) -> Any:
        return self.catalog().load_table(table).scan().to_arrow()


def make_project(
    folder: Path,
    sources: list[dict[str, Any]] | None = None,
    *,
    manifest: dict[str, Any] | None = None,
    plugin: str = "dlt",
) -> Project:
    """Write floe.yaml (the shop sources by default), a manifest and a defs.py."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(QUICKSTART / "shop.db", folder / "shop.db")
    floe_yaml = folder / "floe.yaml"
    floe_yaml.write_text(yaml.safe_dump({"ingestion": {"sources": sources or SHOP_SOURCES}}))
    data = manifest or {"storage": {"type": "local", "path": str(folder / "warehouse")}}
    data.setdefault("plugins", {}).setdefault("ingestion", {}).setdefault("type", plugin)
    data["plugins"]["ingestion"].setdefault(
        "retry", {"max_attempts": 3, "initial_delay_seconds": 0.05, "max_delay_seconds": 1}
    )
    data.setdefault("observability", {"logs": {"format": "console", "level": "WARNING"}})
    path = folder / "platform-manifest.yaml"
    path.write_text(yaml.safe_dump(data))
    (folder / "defs.py").write_text(
        textwrap.dedent(
            f"""
            from floe_dagster import build_definitions

            defs = build_definitions({str(floe_yaml)!r}, {str(path)!r})


            def ingestion_job():
                return defs.resolve_job_def("ingestion")


            def orders_job():
                return defs.resolve_job_def("ingestion__orders_job")
            """
        )
    )
    return Project(folder, floe_yaml, path)


def materialized(result: dg.ExecuteInProcessResult | dg.ExecutionResult) -> dict[str, Any]:
    """The metadata of each asset's last materialization in a run, by asset key string."""
    out: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def checks(result: dg.ExecuteInProcessResult | dg.ExecutionResult) -> dict[str, bool]:
    """Each asset check's outcome in a run, as ``asset:check``."""
    out: dict[str, bool] = {}
    for event in result.get_asset_check_evaluations():
        out[f"{event.asset_key.to_user_string()}:{event.check_name}"] = event.passed
    return out


def events(result: dg.ExecuteInProcessResult | dg.ExecutionResult, kind: str) -> list[Any]:
    return [e for e in result.all_events if e.event_type_value == kind]


class FlakyDlt(DltIngestionPlugin):
    """The dlt plugin, failing the first attempts of a source as scripted in ``SCRIPT``."""

    SCRIPT: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    RUNS: ClassVar[dict[str, int]] = {}

    @property
    def name(self) -> str:
        return "flaky"

    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        config = pipeline.config
        attempt = FlakyDlt.RUNS.get(config.name, 0)
        FlakyDlt.RUNS[config.name] = attempt + 1
        script = FlakyDlt.SCRIPT.get(config.name, [])
        if attempt < len(script):
            step = script[attempt]
            code = ErrorCode(step["code"])
            return IngestionPlugin.failure(
                config,
                _error(code, step, attempt),
            )
        return super().run(pipeline, **kwargs)


def _error(code: ErrorCode, step: dict[str, Any], attempt: int) -> Any:
    from floe_core import IngestionError

    return IngestionError.from_detail(
        ErrorDetail(
            code=code,
            category=ErrorCategory(step.get("category", "TRANSIENT")),
            message=step.get("message", f"scripted {code} on attempt {attempt + 1}"),
            retryable=step.get("retryable", True),
            retry_after_seconds=step.get("retry_after"),
            failed_records=step.get("failed_records"),
        )
    )


def flaky_runner(project: Project) -> Runner:
    registry = PluginRegistry()
    registry.register("flaky", FlakyDlt)
    return Runner(PlatformManifest.load(project.manifest), registry)
