"""Replacing one time window of a table: drop or rewrite only the files holding its rows.

A windowed load (``TableWrite.replace_window``: a column and [start, end)) replaces exactly the
rows of the table whose column lies in the window. Existing files are pruned with a pyiceberg
row filter on the column (``start <= column < end``, by each file's min/max); each remaining
file is read back with the complementary filter: a file that keeps every row stays, a file that
keeps none is dropped whole, any other is rewritten with only the rows outside the window.
Everything lands in the load's single overwrite snapshot, so rows of other windows are
untouched and re-running a window is idempotent.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from typing import Any

from pyiceberg.expressions import (
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    Or,
)
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile
from pyiceberg.table import DataScan, FileScanTask
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.types import DateType, TimestampType, TimestamptzType

from floe_core import ErrorCode, LoadWindow, PipelineConfigurationError
from floe_iceberg._files import FileWriter, WrittenFile

__all__ = ["check_window_column", "inside", "outside", "plan_window_replace"]


def _bound(metadata: TableMetadata, window: LoadWindow, value: datetime) -> Any:
    """The literal to compare the column with: a date for a date column, else the instant."""
    field = metadata.schema().find_field(window.column)
    return value.date() if isinstance(field.field_type, DateType) else value


def check_window_column(metadata: TableMetadata, window: LoadWindow, *, table: str) -> None:
    """Refuse a window on a column the table does not have, or one that holds no time.

    Args:
        metadata: The transaction's table metadata.
        window: The load's window.
        table: The table name, for messages.

    Raises:
        PipelineConfigurationError: INVALID_CONFIG naming the ``partitions`` column.
    """
    field = next((f for f in metadata.schema().fields if f.name == window.column), None)
    if field is None or not isinstance(
        field.field_type, DateType | TimestampType | TimestamptzType
    ):
        what = "is not a column of" if field is None else f"is {field.field_type}, not a time, in"
        raise PipelineConfigurationError(
            f"partitions column {window.column!r} {what} table {table!r}; name a timestamp or "
            "date column of the source",
            code=ErrorCode.INVALID_CONFIG,
            details={"field": "window", "table": table},
        )


def inside(metadata: TableMetadata, window: LoadWindow) -> BooleanExpression:
    """Return the row filter ``start <= column < end``.

    Args:
        metadata: The table metadata (the column's type picks the literal).
        window: The window.

    Returns:
        The pyiceberg expression.
    """
    return And(
        GreaterThanOrEqual(term=window.column, value=_bound(metadata, window, window.start)),
        LessThan(term=window.column, value=_bound(metadata, window, window.end)),
    )


def outside(metadata: TableMetadata, window: LoadWindow) -> BooleanExpression:
    """Return the row filter of the rows a window replace keeps (null column included).

    Args:
        metadata: The table metadata.
        window: The window.

    Returns:
        ``column < start or column >= end or column is null``.
    """
    return Or(
        Or(
            LessThan(term=window.column, value=_bound(metadata, window, window.start)),
            GreaterThanOrEqual(term=window.column, value=_bound(metadata, window, window.end)),
        ),
        IsNull(term=window.column),
    )


def plan_window_replace(
    writer: FileWriter, metadata: TableMetadata, io: FileIO, window: LoadWindow, *, table: str
) -> tuple[list[DataFile], list[WrittenFile]]:
    """Find the existing files to drop whole and to rewrite without the window's rows.

    Args:
        writer: The load's file writer (rewritten files go through it).
        metadata: The transaction's table metadata (current schema and snapshot).
        io: The table's FileIO.
        window: The slice the load replaces.
        table: The table name, for messages.

    Returns:
        ``(removed, rewrites)``: files to delete from the table and their replacements.

    Raises:
        PipelineConfigurationError: The window's column is not a time column of the table.
    """
    check_window_column(metadata, window, table=table)
    if metadata.current_snapshot() is None:
        return [], []
    scan = DataScan(table_metadata=metadata, io=io, row_filter=inside(metadata, window))
    keep = outside(metadata, window)
    removed: list[DataFile] = []
    pending: list[Future[WrittenFile]] = []
    for task in scan.plan_files():
        kept = ArrowScan(
            table_metadata=metadata, io=io, projected_schema=metadata.schema(), row_filter=keep
        ).to_table([FileScanTask(task.file)])
        if kept.num_rows == task.file.record_count:
            continue  # no row of the window in this file
        removed.append(task.file)
        if kept.num_rows:
            pending.append(writer.submit(metadata, kept.to_batches()))
    return removed, [f.result() for f in pending]
