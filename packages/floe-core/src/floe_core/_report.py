"""How the ``floe`` command shows results: progress lines, the ingest summary, JSON rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from floe_core.errors import IngestionError
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.runner import SourceEvent

__all__ = ["checked_json", "progress", "summary"]


def progress(console: Console) -> Callable[[SourceEvent], None]:
    """Return the ``on_event`` callback that prints ``→``/``↻``/``✓``/``✗`` lines to ``console``."""

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


def summary(console: Console, results: Sequence[IngestionResult]) -> None:
    """Print the ingest table, then one grep-able line per error."""
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


def checked_json(config: IngestionConfig, error: IngestionError | None) -> dict[str, Any]:
    """Return one ``floe validate --json`` row."""
    return {
        "source": config.name,
        "source_type": config.source_type,
        "destination_table": config.destination_table,
        "valid": error is None,
        "error": error.to_detail().model_dump(mode="json") if error is not None else None,
    }
