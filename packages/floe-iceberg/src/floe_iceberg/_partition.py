"""Partition specs from ``partition_by`` and sort orders from ``sort_by``.

A new table gets its spec at creation; an existing one evolves to it.

``partition_by`` entries are parsed by floe-core (:func:`floe_core.ingestion.
parse_partition_field`); here they meet the table's schema: the column must exist and the
transform must fit its type (``day`` of a string does not), else the load fails as a
CONFIGURATION error naming ``partition_by`` before anything is written. A table is created with
its spec by the first load's commit; when ``partition_by`` changes, the spec evolves (fields
added and removed, Iceberg partition evolution) in the same transaction as the next load's data,
and existing files keep the spec they were written with. An empty ``partition_by`` leaves an
existing table's spec as it is.

``sort_by`` becomes the table's default sort order, staged in the load's transaction when it
differs, and :func:`sort_rows` orders each data file's rows by it before the file is written
(files are sorted within themselves, which tightens their min/max statistics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Transaction
from pyiceberg.table.sorting import NullOrder, SortDirection
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)

from floe_core import ErrorCode, PipelineConfigurationError
from floe_core.layout import PartitionField as Wanted
from floe_core.layout import parse_partition_field, parse_sort_field

__all__ = ["apply_sort_order", "evolve_spec", "new_table_spec", "sort_rows"]

_FIRST_FIELD_ID = 1000  # Iceberg's first partition field id


def _transform(wanted: Wanted) -> Transform[Any, Any]:
    width = wanted.width
    transforms: dict[str, Transform[Any, Any]] = {
        "identity": IdentityTransform(),
        "year": YearTransform(),
        "month": MonthTransform(),
        "day": DayTransform(),
        "hour": HourTransform(),
    }
    if wanted.transform == "bucket":
        assert width is not None
        return BucketTransform(num_buckets=width)
    if wanted.transform == "truncate":
        assert width is not None
        return TruncateTransform(width=width)
    return transforms[wanted.transform]


def _name(wanted: Wanted) -> str:
    if wanted.transform == "identity":
        return wanted.column
    if wanted.transform == "bucket":
        return f"{wanted.column}_bucket_{wanted.width}"
    if wanted.transform == "truncate":
        return f"{wanted.column}_trunc_{wanted.width}"
    return f"{wanted.column}_{wanted.transform}"


def _resolve(
    schema: Schema, partition_by: Sequence[str], table: str
) -> list[tuple[Wanted, int, Transform[Any, Any]]]:
    resolved = []
    for text in partition_by:
        wanted = parse_partition_field(text)
        field = next((f for f in schema.fields if f.name == wanted.column), None)
        if field is None:
            raise PipelineConfigurationError(
                f"table {table!r}: partition_by {wanted.text!r} names column "
                f"{wanted.column!r}, which the table does not have "
                f"(columns: {', '.join(f.name for f in schema.fields)})",
                code=ErrorCode.INVALID_CONFIG,
                details={"table": table, "fields": ["partition_by"]},
            )
        transform = _transform(wanted)
        if not transform.can_transform(field.field_type):
            raise PipelineConfigurationError(
                f"table {table!r}: partition_by {wanted.text!r} does not fit column "
                f"{wanted.column!r} of type {field.field_type}",
                code=ErrorCode.INVALID_CONFIG,
                details={"table": table, "fields": ["partition_by"]},
            )
        resolved.append((wanted, field.field_id, transform))
    return resolved


def new_table_spec(schema: Schema, partition_by: Sequence[str], table: str) -> PartitionSpec:
    """Return the partition spec a new table gets.

    Args:
        schema: The new table's schema (with field ids).
        partition_by: The ``partition_by`` entries.
        table: ``namespace.table``, for messages.

    Returns:
        The spec (unpartitioned when ``partition_by`` is empty).

    Raises:
        PipelineConfigurationError: INVALID_CONFIG for a missing column or a transform that
            does not fit the column's type.
    """
    fields = [
        PartitionField(
            source_id=source_id,
            field_id=_FIRST_FIELD_ID + i,
            transform=transform,
            name=_name(wanted),
        )
        for i, (wanted, source_id, transform) in enumerate(_resolve(schema, partition_by, table))
    ]
    return PartitionSpec(*fields, spec_id=0)


def evolve_spec(tx: Transaction, partition_by: Sequence[str], table: str) -> bool:
    """Stage the partition evolution that makes the table's spec match ``partition_by``.

    Args:
        tx: The load's transaction on an existing table.
        partition_by: The ``partition_by`` entries; empty leaves the spec as it is.
        table: ``namespace.table``, for messages.

    Returns:
        True when the spec changed (the transaction's metadata has a new default spec).

    Raises:
        PipelineConfigurationError: INVALID_CONFIG, as :func:`new_table_spec`.
    """
    if not partition_by:
        return False
    metadata = tx.table_metadata
    wanted = _resolve(metadata.schema(), partition_by, table)
    current = metadata.spec()
    have = {(f.source_id, str(f.transform)): f for f in current.fields}
    want = {(source_id, str(t)): (w, t) for w, source_id, t in wanted}
    if set(have) == set(want):
        return False
    with tx.update_spec() as update:
        for key, field in have.items():
            if key not in want:
                update.remove_field(field.name)
        for key, (w, transform) in want.items():
            if key not in have:
                update.add_field(w.column, transform, _name(w))
    return True


def _check_columns(schema: Schema, sort_by: Sequence[str], table: str) -> None:
    names = {f.name for f in schema.fields}
    for text in sort_by:
        column = parse_sort_field(text).column
        if column not in names:
            raise PipelineConfigurationError(
                f"table {table!r}: sort_by {text!r} names column {column!r}, which the table "
                f"does not have (columns: {', '.join(sorted(names))})",
                code=ErrorCode.INVALID_CONFIG,
                details={"table": table, "fields": ["sort_by"]},
            )


def apply_sort_order(tx: Transaction, sort_by: Sequence[str], table: str) -> bool:
    """Stage ``sort_by`` as the table's default sort order when it is not already.

    Args:
        tx: The load's transaction (a new table's too).
        sort_by: The ``sort_by`` entries; empty leaves the sort order as it is.
        table: ``namespace.table``, for messages.

    Returns:
        True when the sort order changed.

    Raises:
        PipelineConfigurationError: INVALID_CONFIG for a column the table does not have.
    """
    if not sort_by:
        return False
    metadata = tx.table_metadata
    schema = metadata.schema()
    _check_columns(schema, sort_by, table)
    wanted = [parse_sort_field(text) for text in sort_by]
    by_name = {f.name: f.field_id for f in schema.fields}
    current = [
        (f.source_id, f.direction, f.null_order, str(f.transform))
        for f in metadata.sort_order().fields
    ]
    target = [
        (
            by_name[w.column],
            SortDirection.DESC if w.descending else SortDirection.ASC,
            NullOrder.NULLS_FIRST if w.nulls_first else NullOrder.NULLS_LAST,
            "identity",
        )
        for w in wanted
    ]
    if current == target:
        return False
    with tx.update_sort_order() as update:
        for w in wanted:
            null_order = NullOrder.NULLS_FIRST if w.nulls_first else NullOrder.NULLS_LAST
            if w.descending:
                update.desc(w.column, IdentityTransform(), null_order)
            else:
                update.asc(w.column, IdentityTransform(), null_order)
    return True


def sort_rows(rows: pa.Table, sort_by: Sequence[str]) -> pa.Table:
    """Return ``rows`` ordered by ``sort_by`` (nulls placed per field).

    Args:
        rows: One data file's rows.
        sort_by: The ``sort_by`` entries (empty: the rows as they are).

    Returns:
        The sorted rows.
    """
    if not sort_by or rows.num_rows < 2:
        return rows
    keys: list[tuple[str, str]] = []
    helpers: dict[str, pa.Array] = {}
    for i, text in enumerate(sort_by):
        w = parse_sort_field(text)
        column = rows.column(w.column)
        if column.null_count:
            name = f"__floe_null_{i}"
            helpers[name] = pc.is_null(column)
            keys.append((name, "descending" if w.nulls_first else "ascending"))
        keys.append((w.column, "descending" if w.descending else "ascending"))
    keyed = rows
    for name, values in helpers.items():
        keyed = keyed.append_column(name, values)
    order = pc.sort_indices(keyed, sort_keys=keys)
    return rows.take(order)
