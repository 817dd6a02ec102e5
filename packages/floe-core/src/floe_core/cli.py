"""The ``floe`` command: ``ingest``, ``validate``, ``plugins``, ``sources``, ``health``.

Installed packages add subcommands through the ``floe.commands`` entry-point group
(floe-iceberg adds ``maintain``); core imports none of them by name.

Exit codes: 0 everything succeeded; 1 a runtime failure (a load failed, a plugin is unhealthy,
``floe plugins`` found one that does not load);
2 a configuration error (a bad file, a missing secret, an unknown plugin, or a source whose
failure is CONFIGURATION). Progress and logs go to standard error, results to standard output.

Without ``--manifest``, ``./platform-manifest.yaml`` is used when present, else the default
(dlt plugin, embedded catalog in ``./warehouse``). Inside the manifest, ``${FLOE_PROJECT_DIR}``
is the folder of the floe.yaml given.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from floe_core.errors import ErrorCategory, ErrorCode, IngestionError, PluginError
from floe_core.ingestion import IngestionResult
from floe_core.log import configure_logging
from floe_core.maintenance import source_settings
from floe_core.manifest import DEFAULT_MANIFEST_FILE, PlatformManifest
from floe_core.plugin import HealthState
from floe_core.project import FloeProject
from floe_core.registry import PluginRegistry
from floe_core.runner import Runner, SourceEvent

__all__ = ["COMMANDS_GROUP", "main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

COMMANDS_GROUP = "floe.commands"
"""Entry-point group of subcommands other packages add to ``floe`` (a ``click.Command`` each;
floe-iceberg adds ``maintain``). A name ``floe`` itself defines is never replaced."""


def _out() -> Console:
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _fail(error: IngestionError, *, as_json: bool = False) -> NoReturn:
    """Report an error raised before or instead of a load and exit with its code."""
    code = EXIT_CONFIG if error.category is ErrorCategory.CONFIGURATION else EXIT_FAILED
    if as_json:
        click.echo(json.dumps({"error": error.to_detail().model_dump(mode="json")}, indent=2))
    _err().print(f"[bold red]error[/] \\[{error.code}] {escape(error.message)}")
    sys.exit(code)


def _unexpected(exc: Exception) -> IngestionError:
    """Wrap a failure that escaped floe's taxonomy (a bug) so the CLI still reports it."""
    return IngestionError(f"unexpected {type(exc).__name__}: {exc}")


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
    # People at a terminal get readable logs unless the manifest asks for a format.
    chosen = "format" in logs.model_fields_set or not sys.stderr.isatty()
    configure_logging(
        logs.format if chosen else "console",
        log_level or logs.level,
        stream=sys.stderr,
        capture_stdlib=True,
    )
    return project, manifest


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
_log_option = click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Override observability.logs.level.",
)


class _Commands(click.Group):
    """floe's own commands plus those installed packages register in :data:`COMMANDS_GROUP`.

    An installed command is imported only when it is run (or ``--help`` lists it).
    """

    def _installed(self) -> dict[str, importlib.metadata.EntryPoint]:
        found = importlib.metadata.entry_points(group=COMMANDS_GROUP)
        return {ep.name: ep for ep in found if ep.name not in self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._installed()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        entry = self._installed().get(cmd_name) if command is None else None
        if entry is None:
            return command
        distribution = entry.dist.name if entry.dist is not None else "?"
        try:
            loaded = entry.load()
        except Exception as exc:
            error = PluginError(
                f"the command {cmd_name!r} ({entry.value}, from {distribution}) does not load: "
                f"{type(exc).__name__}: {exc}; reinstall {distribution}",
                code=ErrorCode.PLUGIN_LOAD_FAILED,
            )
            _fail(error)
        if not isinstance(loaded, click.Command):
            _fail(
                PluginError(
                    f"the command {cmd_name!r} ({entry.value}, from {distribution}) is a "
                    f"{type(loaded).__name__}, not a click command",
                    code=ErrorCode.PLUGIN_INCOMPATIBLE,
                )
            )
        return loaded


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="floe-core", prog_name="floe")
def main() -> None:
    """Floe ingestion: load data from outside systems into Bronze Iceberg tables."""


@main.command()
@click.argument("floe_yaml", type=_PATH)
@_manifest_option
@click.option("--source", "sources", multiple=True, help="Run only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_log_option
def ingest(
    floe_yaml: Path,
    manifest_path: Path | None,
    sources: Sequence[str],
    as_json: bool,
    log_level: str | None,
) -> None:
    """Load the sources of FLOE_YAML into Iceberg."""
    try:
        project, manifest = _load(floe_yaml, manifest_path, log_level)
        assert project is not None
        runner = Runner(manifest, _registry())
        results = runner.run_sources(project, only=sources or None, on_event=_progress(_err()))
    except IngestionError as exc:
        _fail(exc, as_json=as_json)
    except Exception as exc:
        _fail(_unexpected(exc), as_json=as_json)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    else:
        _summary(_out(), results)
    sys.exit(_exit_code(results))


def _exit_code(results: Sequence[IngestionResult]) -> int:
    categories = {e.category for r in results if not r.success for e in r.errors}
    if ErrorCategory.CONFIGURATION in categories:
        return EXIT_CONFIG
    return EXIT_OK if all(r.success for r in results) else EXIT_FAILED


def _progress(console: Console) -> Callable[[SourceEvent], None]:
    def show(event: SourceEvent) -> None:
        if event.kind == "started":
            console.print(f"→ {event.source}: loading …")
        elif event.kind == "retrying" and event.result is not None:
            first = event.result.errors[0]
            console.print(
                f"↻ {event.source}: attempt {event.attempt} failed ({first.code}); "
                f"retrying in {event.delay_seconds or 0:.1f}s"
            )
        elif event.result is not None:
            result = event.result
            if result.success:
                console.print(
                    f"✓ {event.source}: {result.rows_loaded:,} rows in "
                    f"{result.duration_seconds:.1f}s"
                )
            else:
                code = result.errors[0].code if result.errors else "FAILED"
                console.print(f"✗ {event.source}: {code}")

    return show


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _summary(console: Console, results: Sequence[IngestionResult]) -> None:
    table = Table(title="floe ingest")
    for column in ("source", "table(s)", "rows", "bytes", "duration", "attempts", "status"):
        justify: Any = "right" if column in ("rows", "bytes", "duration", "attempts") else "left"
        table.add_column(column, justify=justify)
    table.add_column("error code")
    for r in results:
        status = "[green]ok[/]" if r.success else "[red]failed[/]"
        table.add_row(
            r.source,
            ", ".join(t.table for t in r.tables) or "-",
            f"{r.rows_loaded:,}",
            _size(r.bytes_written),
            f"{r.duration_seconds:.1f}s",
            str(r.attempts),
            status,
            ", ".join(sorted({str(e.code) for e in r.errors})) or "-",
        )
    console.print(table)
    for r in results:
        for e in r.errors:
            line = f"{r.source}: [{e.category}/{e.code}] {e.message}"
            console.print(line, markup=False, soft_wrap=True)  # one line per error, for grep


@main.command()
@click.argument("floe_yaml", type=_PATH)
@_manifest_option
@click.option("--source", "sources", multiple=True, help="Check only this source (repeatable).")
@_log_option
def validate(
    floe_yaml: Path, manifest_path: Path | None, sources: Sequence[str], log_level: str | None
) -> None:
    """Check FLOE_YAML and the manifest, and each source with the plugin (loads nothing)."""
    console = _out()
    try:
        project, manifest = _load(floe_yaml, manifest_path, log_level)
        assert project is not None
        for index, source in project.select(sources or None):  # floe maintain's settings
            source_settings(
                manifest.maintenance, source.maintenance, file=project.file, index=index
            )
        checked = Runner(manifest, _registry()).validate(project, only=sources or None)
    except IngestionError as exc:
        _fail(exc)
    except Exception as exc:
        _fail(_unexpected(exc))
    worst = EXIT_OK
    for config, error in checked:
        if error is None:
            console.print(f"✓ {config.name}: {config.source_type} → {config.destination_table}")
            continue
        console.print(
            f"✗ {config.name}: [{error.code}] {error.message}", markup=False, soft_wrap=True
        )
        code = EXIT_CONFIG if error.category is ErrorCategory.CONFIGURATION else EXIT_FAILED
        worst = max(worst, code)
    sys.exit(worst)


@main.command()
def plugins() -> None:
    """List the installed ingestion plugins (exit 1 when one of them fails to load)."""
    registry = _registry()
    table = Table(title="floe ingestion plugins")
    for column in ("name", "version", "distribution", "kind", "status"):
        table.add_column(column)
    broken: list[IngestionError] = []
    for entry in registry.entries():
        try:
            info = registry.describe(entry.name)
        except IngestionError as exc:
            broken.append(exc)
            version = entry.version or "?"
            table.add_row(entry.name, version, entry.distribution, "?", f"[red]{exc.code}[/]")
            continue
        kind = "?" if info.is_external is None else "external" if info.is_external else "embedded"
        table.add_row(entry.name, info.version or "?", entry.distribution, kind, "[green]ok[/]")
    _out().print(table)
    for failure in broken:
        _err().print(f"[bold red]error[/] \\[{failure.code}] {escape(failure.message)}")
    sys.exit(EXIT_FAILED if broken else EXIT_OK)


@main.command()
@_manifest_option
def sources(manifest_path: Path | None) -> None:
    """List the source types each installed plugin implements."""
    try:
        _, manifest = _load(None, manifest_path, None)
    except IngestionError as exc:
        _fail(exc)
    registry = _registry()
    table = Table(title="floe source types")
    table.add_column("plugin")
    table.add_column("source types")
    for name in registry.names():
        try:
            types_ = _source_types(registry, manifest, name)
            table.add_row(name, ", ".join(types_))
        except Exception as exc:
            code = getattr(exc, "code", type(exc).__name__)
            table.add_row(name, f"[red]{code}[/]: {escape(str(getattr(exc, 'message', exc)))}")
    _out().print(table)


def _source_types(registry: PluginRegistry, manifest: PlatformManifest, name: str) -> list[str]:
    section = manifest.plugins.ingestion
    config = section.config if section.type == name else None
    try:
        plugin = registry.create(name, config, catalog=manifest.catalog_config())
    except IngestionError:
        cls = registry.get(name)  # config needed for an instance: ask a bare one
        plugin = object.__new__(cls)
    return sorted(plugin.list_available_sources())


@main.command()
@_manifest_option
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds.")
def health(manifest_path: Path | None, timeout: float) -> None:
    """Check that the manifest's plugin can reach what it needs."""
    try:
        _, manifest = _load(None, manifest_path, None)
        runner = Runner(manifest, _registry())
        with runner.create_plugin() as plugin:
            status = plugin.health_check(timeout)
    except IngestionError as exc:
        _fail(exc)
    except Exception as exc:
        _fail(_unexpected(exc))
    colour = {"healthy": "green", "degraded": "yellow"}.get(status.state.value, "red")
    _out().print(f"{plugin.name}: [{colour}]{status.state.value}[/] {escape(status.message)}")
    for key, value in status.details.items():
        _out().print(f"  {key}: {value}", markup=False)
    sys.exit(EXIT_FAILED if status.state is HealthState.UNHEALTHY else EXIT_OK)
