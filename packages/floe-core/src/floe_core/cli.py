"""The ``floe`` command: ``ingest``, ``validate``, ``plugins``, ``sources``, ``health``.

Installed packages add subcommands through the ``floe.commands`` entry-point group
(floe-iceberg adds ``maintain``); core imports none of them by name.

Exit codes: 0 everything succeeded; 1 a runtime failure (a load failed, a plugin is unhealthy,
``floe plugins`` found one that does not load);
2 a configuration error (a bad file, a missing secret, an unknown plugin, or a source whose
failure is CONFIGURATION). Results go to standard output (``--json``: one JSON document);
errors, warnings, logs and progress to standard error, one format per stream: the ``→``/``✓``
progress lines only on a terminal (elsewhere the ``source_started``/``source_finished`` log
events say the same), and Python ``warnings`` as log records. At a terminal the logs are
readable text at WARNING (``--log-level info`` shows more); elsewhere they follow
``observability.logs`` (JSON at INFO by default).

Without ``--manifest``, ``./platform-manifest.yaml`` is used when present, else the default
(dlt plugin, embedded catalog in ``./warehouse``). Inside the manifest, ``${FLOE_PROJECT_DIR}``
is the folder of the floe.yaml given. Every secret value resolved while a command runs
(``secret_refs``, ``${VAR}`` in secret-looking fields) is masked in all it prints: its output,
logs and the ``warnings`` of any plugin.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import click
from rich.markup import escape
from rich.table import Table

from floe_core._cli_commands import COMMANDS_GROUP, InstalledCommands
from floe_core._cli_output import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    echo_json,
    err_console,
    fail,
    out_console,
    unexpected,
)
from floe_core._exporter import Exporters
from floe_core._masked_io import masked_output
from floe_core._preflight import userinfo_warnings
from floe_core._report import checked_json, progress, summary
from floe_core._validation import Problem
from floe_core.errors import ErrorCategory, IngestionError
from floe_core.ingestion import IngestionResult
from floe_core.log import configure_logging
from floe_core.maintenance import source_settings
from floe_core.manifest import DEFAULT_MANIFEST_FILE, PlatformManifest
from floe_core.plugin import HealthState
from floe_core.project import FloeProject
from floe_core.registry import PluginRegistry
from floe_core.runner import Runner

__all__ = ["COMMANDS_GROUP", "main"]


def _terminal() -> bool:
    """Whether a person watches standard error (tests patch this)."""
    return sys.stderr.isatty()


def _load(
    floe_yaml: Path | None, manifest_path: Path | None, log_level: str | None
) -> tuple[FloeProject | None, PlatformManifest]:
    project = FloeProject.load(floe_yaml) if floe_yaml is not None else None
    if manifest_path is None and Path(DEFAULT_MANIFEST_FILE).is_file():
        manifest_path = Path(DEFAULT_MANIFEST_FILE)
    project_dir = project.directory if project is not None else None
    manifest = (
        PlatformManifest.load(manifest_path, project_dir=project_dir)
        if manifest_path is not None
        else PlatformManifest.default()
    )
    logs = manifest.observability.logs
    terminal = _terminal()
    # People at a terminal get readable logs unless the manifest asks for a format, and only
    # warnings unless they ask for more: progress and the summary say what happened.
    level = log_level or (_quieter(logs.level, "WARNING") if terminal else logs.level)
    configure_logging(_log_format(manifest), level, stream=sys.stderr, capture_stdlib=True)
    logging.captureWarnings(False)  # re-arm: someone may have swapped showwarning since
    logging.captureWarnings(True)  # warnings.warn(...) becomes a log record, same format
    return project, manifest


def _log_format(manifest: PlatformManifest) -> Literal["json", "console"]:
    """The manifest's log format if it sets one, else console at a terminal, JSON elsewhere."""
    logs = manifest.observability.logs
    chosen = "format" in logs.model_fields_set or not _terminal()
    return logs.format if chosen else "console"


def _quieter(level: str, floor: str) -> str:
    names = logging.getLevelNamesMapping()
    return level if names[level.upper()] >= names[floor] else floor


def _registry() -> PluginRegistry:
    """The registry from the click context (tests inject one), else the installed plugins."""
    obj = click.get_current_context().obj
    registry = obj.get("registry") if isinstance(obj, dict) else None
    return registry if isinstance(registry, PluginRegistry) else PluginRegistry()


_PATH = click.Path(path_type=Path, dir_okay=False)
_manifest_option = click.option(
    "--manifest",
    "manifest_path",
    type=_PATH,
    help=f"Platform manifest (default: ./{DEFAULT_MANIFEST_FILE} if present).",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON document."
)
_log_option = click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Override observability.logs.level.",
)


@click.group(cls=InstalledCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="floe-core", prog_name="floe")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Floe ingestion: load data from outside systems into Bronze Iceberg tables."""
    ctx.with_resource(masked_output())


@main.command()
@click.argument("floe_yaml", type=_PATH)
@_manifest_option
@click.option("--source", "sources", multiple=True, help="Run only this source (repeatable).")
@_json_option
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Load up to N sources at once; a source with 'parallel' reads its parts in N "
    "worker processes and commits once.",
)
@_log_option
def ingest(
    floe_yaml: Path,
    manifest_path: Path | None,
    sources: Sequence[str],
    as_json: bool,
    workers: int | None,
    log_level: str | None,
) -> None:
    """Load the sources of FLOE_YAML into Iceberg."""
    exporters: Exporters | None = None
    try:
        project, manifest = _load(floe_yaml, manifest_path, log_level)
        assert project is not None
        exporters = Exporters.from_config(manifest.observability)
        metrics = exporters.metrics() if exporters is not None else None
        runner = Runner(manifest, _registry(), metrics=metrics)
        # progress lines only where they do not mix with JSON: a terminal showing text logs
        show = _terminal() and _log_format(manifest) == "console" and not as_json
        on_event = progress(err_console()) if show else None
        results = runner.run_sources(
            project, only=sources or None, on_event=on_event, workers=workers
        )
    except IngestionError as exc:
        fail(exc, as_json=as_json)
    except Exception as exc:
        fail(unexpected(exc), as_json=as_json)
    finally:
        if exporters is not None:
            exporters.shutdown()  # the last export and the Pushgateway push
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    else:
        summary(out_console(), results)
    sys.exit(_exit_code(results))


def _exit_code(results: Sequence[IngestionResult]) -> int:
    categories = {e.category for r in results if not r.success for e in r.errors}
    if ErrorCategory.CONFIGURATION in categories:
        return EXIT_CONFIG
    return EXIT_OK if all(r.success for r in results) else EXIT_FAILED


@main.command()
@click.argument("floe_yaml", type=_PATH)
@_manifest_option
@click.option("--source", "sources", multiple=True, help="Check only this source (repeatable).")
@click.option(
    "--offline",
    is_flag=True,
    help="Do not connect to the sources (skip reflecting their tables and columns).",
)
@_json_option
@_log_option
def validate(
    floe_yaml: Path,
    manifest_path: Path | None,
    sources: Sequence[str],
    offline: bool,
    as_json: bool,
    log_level: str | None,
) -> None:
    """Check FLOE_YAML and the manifest, and each source with the plugin (loads nothing)."""
    try:
        project, manifest = _load(floe_yaml, manifest_path, log_level)
        assert project is not None
        for index, source in project.select(sources or None):  # floe maintain's settings
            source_settings(
                manifest.maintenance, source.maintenance, file=project.file, index=index
            )
        warnings = userinfo_warnings(project, manifest)
        if not as_json:
            _warn(warnings)
        runner = Runner(manifest, _registry())
        checked = runner.validate(project, only=sources or None, offline=offline)
    except IngestionError as exc:
        fail(exc, as_json=as_json)
    except Exception as exc:
        fail(unexpected(exc), as_json=as_json)
    worst = EXIT_OK
    for _, error in checked:
        if error is not None:
            code = EXIT_CONFIG if error.category is ErrorCategory.CONFIGURATION else EXIT_FAILED
            worst = max(worst, code)
    if as_json:
        echo_json(
            {
                "valid": worst == EXIT_OK,
                "sources": [checked_json(config, error) for config, error in checked],
                "warnings": [{"field": w.field, "message": w.message} for w in warnings],
            }
        )
        sys.exit(worst)
    for config, error in checked:
        if error is None:
            click.echo(f"✓ {config.name}: {config.source_type} → {config.destination_table}")
        else:
            click.echo(f"✗ {config.name}: [{error.code}] {error.message}", err=True)
    sys.exit(worst)


def _warn(warnings: Sequence[Problem]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@_json_option
def plugins(as_json: bool) -> None:
    """List the installed ingestion plugins (exit 1 when one of them fails to load)."""
    registry = _registry()
    rows: list[dict[str, Any]] = []
    broken: list[IngestionError] = []
    for entry in registry.entries():
        row: dict[str, Any] = {
            "name": entry.name,
            "version": entry.version,
            "distribution": entry.distribution,
            "kind": None,
            "status": "ok",
            "error": None,
        }
        try:
            info = registry.describe(entry.name)
        except IngestionError as exc:
            broken.append(exc)
            row.update(status=str(exc.code), error=exc.to_detail().model_dump(mode="json"))
        else:
            row["version"] = info.version or entry.version
            if info.is_external is not None:
                row["kind"] = "external" if info.is_external else "embedded"
        rows.append(row)
    if as_json:
        echo_json(rows)
    else:
        table = Table(title="floe ingestion plugins")
        for column in ("name", "version", "distribution", "kind", "status"):
            table.add_column(column)
        for row in rows:
            status = "[green]ok[/]" if row["error"] is None else f"[red]{row['status']}[/]"
            table.add_row(
                row["name"], row["version"] or "?", row["distribution"], row["kind"] or "?", status
            )
        out_console().print(table)
    for failure in broken:
        err_console().print(f"[bold red]error[/] \\[{failure.code}] {escape(failure.message)}")
    sys.exit(EXIT_FAILED if broken else EXIT_OK)


@main.command()
@_manifest_option
@_json_option
def sources(manifest_path: Path | None, as_json: bool) -> None:
    """List the source types each installed plugin implements."""
    try:
        _, manifest = _load(None, manifest_path, None)
    except IngestionError as exc:
        fail(exc, as_json=as_json)
    registry = _registry()
    rows: list[dict[str, Any]] = []
    for name in registry.names():
        try:
            rows.append({"plugin": name, "source_types": _source_types(registry, manifest, name)})
        except Exception as exc:
            code = str(getattr(exc, "code", type(exc).__name__))
            message = str(getattr(exc, "message", exc))
            rows.append({"plugin": name, "error": {"code": code, "message": message}})
    if as_json:
        echo_json(rows)
        return
    table = Table(title="floe source types")
    table.add_column("plugin")
    table.add_column("source types")
    for row in rows:
        if "error" in row:
            error = row["error"]
            table.add_row(row["plugin"], f"[red]{error['code']}[/]: {escape(error['message'])}")
        else:
            table.add_row(row["plugin"], ", ".join(row["source_types"]))
    out_console().print(table)


def _source_types(registry: PluginRegistry, manifest: PlatformManifest, name: str) -> list[str]:
    section = manifest.plugins.ingestion
    config = section.config if section.type == name else None
    plugin = registry.create(name, config, catalog=manifest.catalog_config())
    return sorted(plugin.list_available_sources())


@main.command()
@_manifest_option
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds.")
@_json_option
def health(manifest_path: Path | None, timeout: float, as_json: bool) -> None:
    """Check that the manifest's plugin can reach what it needs (creates nothing)."""
    try:
        _, manifest = _load(None, manifest_path, None)
        runner = Runner(manifest, _registry())
        with runner.create_plugin(read_only=True) as plugin:
            status = plugin.health_check(timeout)
    except IngestionError as exc:
        fail(exc, as_json=as_json)
    except Exception as exc:
        fail(unexpected(exc), as_json=as_json)
    details = dict(status.details)
    missing = runner.catalog_not_created()
    if missing:
        details["catalog_not_created"] = f"{', '.join(missing)} (the first floe ingest creates it)"
    code = EXIT_FAILED if status.state is HealthState.UNHEALTHY else EXIT_OK
    if as_json:
        echo_json(
            {
                "plugin": plugin.name,
                "state": status.state.value,
                "message": status.message,
                "details": details,
            }
        )
        sys.exit(code)
    colour = {"healthy": "green", "degraded": "yellow"}.get(status.state.value, "red")
    out_console().print(
        f"{plugin.name}: [{colour}]{status.state.value}[/] {escape(status.message)}"
    )
    for key, value in details.items():
        out_console().print(f"  {key}: {value}", markup=False)
    sys.exit(code)
