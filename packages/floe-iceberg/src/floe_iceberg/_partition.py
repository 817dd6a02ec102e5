"""Partition specs from ``partition_by``: build one for a new table, evolve an existing one.

``partition_by`` entries are parsed by floe-core (:func:`floe_core.ingestion.
parse_partition_field`); here they meet the table's schema: the column must exist and the
transform must fit its type (``day`` of a string does not), else the load fails as a
CONFIGURATION error naming ``partition_by`` before anything is written. A table is created with
its spec by the first load's commit; when ``partition_by`` changes, the spec evolves (fields
added and removed, Iceberg partition evolution) in the same transaction as the next load's data,
and existing files keep the spec they were written with. An empty ``partition_by`` leaves an
existing table's spec as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Transaction
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
from floe_core.ingestion import PartitionField as Wanted
from floe_core.ingestion import parse_partition_field

__all__ = ["evolve_spec", "new_table_spec"]

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
