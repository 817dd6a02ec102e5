"""``floe maintain``: table maintenance for the tables a floe.yaml loads.

Registered in the ``floe.commands`` entry-point group (``pyproject.toml``), so ``floe`` gains
the command without floe-core importing floe-iceberg. For each source (``--source`` to pick),
its table (or every table of the namespace for ``namespace.*``) is compacted, its snapshots
expired and its orphan files removed (:func:`floe_iceberg.maintenance.maintain_table`), with
the manifest's ``maintenance:`` settings and the source's overrides. Then each namespace is
checked for files outside every table (a killed first load); they are reported, and removed
when ``--namespace-location`` names the namespace's folder.

Exit codes as ``floe ingest``: 0 every table maintained; 1 a table failed (a commit conflict,
storage); 2 a configuration error. Results go to standard output (``--json`` for JSON), logs
to standard error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["maintain"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _print(rows: Sequence[dict[str, Any]], strays: Sequence[dict[str, Any]], dry: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    title = "floe maintain (dry run: nothing changed)" if dry else "floe maintain"
    table = Table(title=title)
    for column in ("source", "table", "files", "bytes", "expired", "orphans", "time", "status"):
        table.add_column(column)
    for row in rows:
        result = row.get("result") or {}
        status = row["status"] if row["error"] is None else f"failed {row['error']['code']}"
        table.add_row(
            row["source"],
            row["table"],
            f"{result.get('files_before', 0)} → {result.get('files_after', 0)}",
            f"{_size(result.get('bytes_before', 0))} → {_size(result.get('bytes_after', 0))}",
            str(result.get("snapshots_expired", 0)),
            f"{result.get('orphan_files', 0)} ({_size(result.get('orphan_bytes', 0))})",
            f"{result.get('duration_seconds', 0):.1f}s",
            status,
        )
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
    console.print(table)
    for row in rows:
        if row["error"] is not None:
            console.print(f"{row['table']}: {row['error']['message']}", markup=False)
    for stray in strays:
        verb = "removed" if stray["removed"] else "found (pass --namespace-location to remove)"
        line = f"stray files {verb}: {stray['prefix']}: {stray['files']} files, "
        console.print(line + _size(stray["bytes"]), markup=False)


def _load(floe_yaml: Path, manifest_path: Path | None, log_level: str | None) -> tuple[Any, Any]:
    from floe_core.log import configure_logging
    from floe_core.manifest import DEFAULT_MANIFEST_FILE, PlatformManifest
    from floe_core.project import FloeProject

    project = FloeProject.load(floe_yaml)
    if manifest_path is None and Path(DEFAULT_MANIFEST_FILE).is_file():
        manifest_path = Path(DEFAULT_MANIFEST_FILE)
    manifest = (
        PlatformManifest.load(manifest_path, project_dir=project.directory)
        if manifest_path is not None
        else PlatformManifest.default()
    )
    logs = manifest.observability.logs
    chosen = "format" in logs.model_fields_set or not sys.stderr.isatty()
    configure_logging(
        logs.format if chosen else "console",
        log_level or logs.level,
        stream=sys.stderr,
        capture_stdlib=True,
    )
    return project, manifest


def _fail(error: Any, as_json: bool) -> None:
    from floe_core import ErrorCategory

    if as_json:
        click.echo(json.dumps({"error": error.to_detail().model_dump(mode="json")}, indent=2))
    click.echo(f"error [{error.code}] {error.message}", err=True)
    sys.exit(EXIT_CONFIG if error.category is ErrorCategory.CONFIGURATION else EXIT_FAILED)


@click.command("maintain")
@click.argument("floe_yaml", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Platform manifest (default: ./platform-manifest.yaml if present).",
)
@click.option("--source", "sources", multiple=True, help="Maintain only this source (repeatable).")
@click.option("--dry-run", is_flag=True, help="Report what would be done; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--namespace-location",
    help="A namespace's folder: remove the stray files found under it (a killed first load).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Override observability.logs.level.",
)
def maintain(
    floe_yaml: Path,
    manifest_path: Path | None,
    sources: Sequence[str],
    dry_run: bool,
    as_json: bool,
    namespace_location: str | None,
    log_level: str | None,
) -> None:
    """Compact, expire snapshots and remove orphan files for the tables of FLOE_YAML."""
    from pyiceberg.exceptions import NoSuchTableError

    from floe_core import ErrorCategory, IngestionError
    from floe_core.maintenance import source_settings
    from floe_iceberg.catalog import load_catalog
    from floe_iceberg.maintenance import (
        destination_tables,
        find_stray_files,
        maintain_table,
        maintenance_error,
    )

    try:
        project, manifest = _load(floe_yaml, manifest_path, log_level)
        chosen = project.select(sources or None)
        settings = {
            source.name: source_settings(
                manifest.maintenance, source.maintenance, file=project.file, index=index
            )
            for index, source in chosen
        }
        catalog = load_catalog(manifest.catalog_config())
        lineage = None
        if manifest.observability.lineage.enabled:
            from floe_core.lineage import LineageEmitter

            lineage = LineageEmitter.from_config(
                manifest.observability.lineage, manifest.catalog_config()
            )
    except IngestionError as exc:
        _fail(exc, as_json)
    except Exception as exc:
        _fail(maintenance_error(exc), as_json)
    rows: list[dict[str, Any]] = []
    windows: dict[str, float] = {}
    for _, source in chosen:
        for table in destination_tables(catalog, source.destination.table):
            row: dict[str, Any] = {"source": source.name, "table": table, "status": "ok"}
            row["error"] = row["result"] = None
            try:
                done = maintain_table(
                    catalog, table, settings[source.name], dry_run=dry_run, lineage=lineage
                )
                row["result"] = done.to_dict()
                namespace = table.rpartition(".")[0]
                window = settings[source.name].orphan_window_days
                windows[namespace] = max(window, windows.get(namespace, window))
            except NoSuchTableError:
                row["status"] = "skipped: no such table"
            except Exception as exc:
                row["error"] = maintenance_error(exc).to_detail().model_dump(mode="json")
            rows.append(row)
    strays: list[dict[str, Any]] = []
    for namespace, window in sorted(windows.items()):
        try:
            found = find_stray_files(
                catalog,
                namespace,
                orphan_window_days=window,
                namespace_location=namespace_location,
                dry_run=dry_run,
            )
        except Exception as exc:
            error = maintenance_error(exc).to_detail().model_dump(mode="json")
            rows.append({"source": "-", "table": f"{namespace}.*", "status": "strays"})
            rows[-1].update(error=error, result=None)
            continue
        strays += [vars(s) for s in found]
    if lineage is not None:
        lineage.close()
    if as_json:
        click.echo(json.dumps({"tables": rows, "strays": strays}, indent=2, default=str))
    else:
        _print(rows, strays, dry_run)
    categories = {r["error"]["category"] for r in rows if r["error"] is not None}
    if ErrorCategory.CONFIGURATION.value in categories:
        sys.exit(EXIT_CONFIG)
    sys.exit(EXIT_FAILED if categories else EXIT_OK)
