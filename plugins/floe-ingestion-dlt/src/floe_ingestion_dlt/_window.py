"""A load window as a dlt incremental: ``initial_value`` = start, ``end_value`` = end.

dlt's incremental with an ``end_value`` is a bounded backfill: it filters ``start <= cursor <
end`` (``range_start="closed"``, ``range_end="open"``), pushes the bounds into the source where
it can (a WHERE on the column for ``sql_database``; the ``start_param``/``end_param`` query
parameters for ``rest_api``) and keeps no cursor state. A windowed load therefore neither reads
nor advances the source's incremental cursor: windows are independent of each other and of
unpartitioned runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from floe_core import LoadWindow

__all__ = ["iso_z", "window_incremental"]


def iso_z(value: datetime) -> str:
    """Return ``value`` as ISO-8601 UTC text ending in ``Z`` (what REST APIs commonly take).

    Args:
        value: A timezone-aware instant.

    Returns:
        e.g. ``2026-03-02T00:00:00Z``.
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_incremental(window: LoadWindow, cursor: str | None = None, **bounds: Any) -> Any:
    """Return the dlt incremental that yields exactly the rows of ``window``.

    Args:
        window: The load window.
        cursor: The cursor path (default: the window's column).
        **bounds: ``initial_value``/``end_value`` overrides (e.g. ISO text for JSON cursors).

    Returns:
        A ``dlt.sources.incremental`` over [start, end).
    """
    import dlt

    return dlt.sources.incremental(
        cursor or window.column,
        initial_value=bounds.get("initial_value", window.start),
        end_value=bounds.get("end_value", window.end),
        range_start="closed",
        range_end="open",
    )
