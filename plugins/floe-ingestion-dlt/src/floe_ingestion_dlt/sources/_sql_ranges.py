"""Splitting a table for a parallel load: ranges of a column, a NULL part, merged cursors.

``parallel: {column: id, partitions: 8}`` splits the table into ranges of ``column`` (even
ranges between its min and max; ``split: quantiles`` asks the server for the boundaries with
``NTILE``, for skewed keys); rows with NULL in the column are a part of their own (none for a
NOT NULL column, such as a primary key: that part would cost a worker a reflection, a
connection and a query for no row), and the first and last ranges are open-ended, so every row
is in exactly one part. ``partitions: auto`` (and
an omitted ``column``) uses the single numeric primary key and one part per worker. The loads
of the parts are in :mod:`._sql_parallel`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from floe_core import ErrorCode, PipelineConfigurationError

__all__ = ["ParallelConfig", "PartRange", "merge_states", "part_ranges"]


class ParallelConfig(BaseModel):
    """``parallel:`` on a ``sql_database`` source: read each table in parts, commit once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = Field(
        default=None,
        description="Column whose ranges make the parts; omitted: the single numeric primary key.",
    )
    partitions: Annotated[int, Field(ge=1, le=4096)] | Literal["auto"] = Field(
        default="auto",
        description="Number of ranges (plus one part for NULLs); 'auto': one per worker.",
    )
    split: Literal["even", "quantiles"] = Field(
        default="even",
        description="'even': equal ranges between min and max; 'quantiles': the server's "
        "NTILE boundaries (skewed keys).",
    )

    def count(self, workers: int) -> int:
        """Return the number of ranges for ``workers`` worker processes."""
        if self.partitions == "auto":
            return max(1, workers)
        return self.partitions


@dataclass(frozen=True)
class PartRange:
    """One part of a table: ``low <= column < high`` (None: open), or the NULLs of ``column``."""

    column: str
    low: Any = None
    high: Any = None
    nulls: bool = False

    def clause(self, table: Any) -> Any:
        """Return the SQLAlchemy filter of this part on ``table``."""
        import sqlalchemy as sa

        column = table.c[self.column]
        if self.nulls:
            return column.is_(None)
        parts = [column.is_not(None)]
        if self.low is not None:
            parts.append(column >= self.low)
        if self.high is not None:
            parts.append(column < self.high)
        return sa.and_(*parts)


def _even(low: Any, high: Any, n: int, where: str) -> list[Any]:
    if isinstance(low, bool) or n <= 1 or low == high:
        return []
    if isinstance(low, int):
        step = (high - low + 1) / n
        return sorted({low + int(step * i) for i in range(1, n)} - {low})
    if isinstance(low, (float, Decimal)):
        return [low + (high - low) * type(low)(i) / type(low)(n) for i in range(1, n)]
    if isinstance(low, datetime | date):
        return sorted({low + (high - low) * i / n for i in range(1, n)} - {low})
    raise PipelineConfigurationError(
        f"{where}: parallel.column holds {type(low).__name__} values, which have no even "
        "ranges; use a numeric, date or timestamp column, or split: quantiles",
        code=ErrorCode.INVALID_CONFIG,
        details={"field": "parallel.column"},
    )


def part_ranges(
    engine: Any, table: str, schema: str | None, column: str, n: int, split: str
) -> list[PartRange]:
    """Split a table into ``n`` ranges of ``column`` and a part for its NULLs (if it may hold any).

    Args:
        engine: The source's SQLAlchemy engine.
        table: The database table.
        schema: Its database schema.
        column: The split column.
        n: Number of ranges.
        split: ``even`` or ``quantiles``.

    Returns:
        The parts; together they hold every row exactly once.

    Raises:
        PipelineConfigurationError: The column is not in the table, or has no even ranges.
    """
    import sqlalchemy as sa

    reflected = sa.Table(table, sa.MetaData(), autoload_with=engine, schema=schema)
    where = f"table {table!r}"
    if column not in reflected.c:
        raise PipelineConfigurationError(
            f"{where}: parallel.column {column!r} is not a column; columns are "
            + ", ".join(reflected.c.keys()),
            code=ErrorCode.INVALID_CONFIG,
            details={"field": "parallel.column", "table": table},
        )
    col = reflected.c[column]
    with engine.connect() as conn:
        if split == "quantiles" and n > 1:
            tiles = (
                sa.select(col.label("v"), sa.func.ntile(n).over(order_by=col).label("b"))
                .where(col.is_not(None))
                .subquery()
            )
            query = sa.select(sa.func.min(tiles.c.v)).group_by(tiles.c.b)
            starts = sorted({row[0] for row in conn.execute(query)})
            bounds = starts[1:]
        else:
            low, high = conn.execute(sa.select(sa.func.min(col), sa.func.max(col))).one()
            bounds = [] if low is None else _even(low, high, n, where)
    edges: list[Any] = [None, *bounds, None]
    parts = [PartRange(column, edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    if not col.nullable:  # NOT NULL as the database declares it: no row for a NULL part
        return parts
    return [*parts, PartRange(column, nulls=True)]


def merge_states(states: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Combine the parts' committed dlt states: each cursor is the maximum over all parts.

    The part holding the maximum supplies the cursor entry; the ``unique_hashes`` (rows equal
    to the cursor, which the next load skips) of every part at that maximum are united.

    Args:
        states: Each part's :meth:`ResourceState.committed` (None for a part without one).

    Returns:
        The state to commit, or None when no part had one.
    """
    from dlt.common.json import json as typed

    from floe_ingestion_dlt._state import STATE_FORMAT

    parsed = [typed.typed_loads(s["state"]) for s in states if s and s.get("state")]
    if not parsed:
        return None
    merged = copy.deepcopy(parsed[0])
    cursors: dict[str, str | None] = {}
    for name, resource in merged.get("resources", {}).items():
        for path in list(resource.get("incremental", {})):
            entries = [
                p["resources"][name]["incremental"][path]
                for p in parsed
                if path in p.get("resources", {}).get(name, {}).get("incremental", {})
            ]
            valued = [e for e in entries if e.get("last_value") is not None]
            if not valued:
                continue
            best = max(e["last_value"] for e in valued)
            top = [e for e in valued if e["last_value"] == best]
            hashes = sorted({h for e in top for h in e.get("unique_hashes", [])})
            resource["incremental"][path] = {**top[0], "unique_hashes": hashes}
            cursors[str(path)] = str(best)
    return {"format": STATE_FORMAT, "state": typed.typed_dumps(merged), "cursors": cursors}
