"""Required columns and identifier fields: what a source declares NOT NULL, and the merge key.

- **On create**, a column the source declares NOT NULL (:attr:`TableWrite.required_columns
  <floe_iceberg.TableWrite.required_columns>`) becomes a ``required`` Iceberg field, if the first
  batch has no null in it; with ``merge``, so do the primary-key columns (a null key fails the
  load anyway), and they become the table's ``identifier-field-ids`` when Iceberg allows it
  (primitive, not float/double).
- **Later loads** keep required fields required (a schema union with an all-optional batch
  schema would relax them). A null, or a missing column, in a field floe made required (listed
  in the table property :data:`REQUIRED_PROPERTY`) that is not an identifier field makes it
  ``optional`` in the load's own commit under ``evolve``: the source dropped its NOT NULL
  (Iceberg allows required → optional; the table never becomes stricter again). Under the
  other contracts, and for required fields of a table floe did not create, the load fails as
  before (SCHEMA_CONTRACT_VIOLATION, table unchanged).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence

import pyarrow as pa
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.types import DoubleType, FloatType, NestedField, PrimitiveType

from floe_iceberg._types import iceberg_schema_of

__all__ = [
    "REQUIRED_PROPERTY",
    "creation_schema",
    "keep_required",
    "relaxable",
    "required_property",
    "to_relax",
]

REQUIRED_PROPERTY = "floe.source-required-columns"
"""Table property: the JSON list of the columns floe created required from source hints."""


def creation_schema(
    batch: pa.RecordBatch, required: Collection[str], identifier: Sequence[str]
) -> Schema:
    """Return the Iceberg schema a table gets from its first (normalised) batch.

    Args:
        batch: The first batch, normalised and coerced.
        required: Columns the source declares NOT NULL.
        identifier: The merge key (empty unless merging).

    Returns:
        The schema with those columns ``required`` (when the batch has no null in them) and
        the key as identifier fields (when every key column may be one).
    """
    schema = assign_fresh_schema_ids(iceberg_schema_of(batch.schema))
    wanted = set(required) | set(identifier)
    fields: list[NestedField] = []
    for field in schema.fields:
        strict = field.name in wanted and batch.column(field.name).null_count == 0
        fields.append(
            NestedField(
                field_id=field.field_id,
                name=field.name,
                field_type=field.field_type,
                required=strict or field.required,
                doc=field.doc,
            )
        )
    by_name = {f.name: f for f in fields}
    keys = [by_name.get(name) for name in identifier]
    eligible = bool(keys) and all(
        f is not None
        and f.required
        and isinstance(f.field_type, PrimitiveType)
        and not isinstance(f.field_type, FloatType | DoubleType)
        for f in keys
    )
    ids = [f.field_id for f in keys if f is not None] if eligible else []
    return Schema(*fields, identifier_field_ids=ids)


def required_property(schema: Schema) -> dict[str, str]:
    """Return the table property recording which fields floe created required.

    Args:
        schema: From :func:`creation_schema`.

    Returns:
        ``{REQUIRED_PROPERTY: <JSON list>}``, empty when no field is required.
    """
    names = [f.name for f in schema.fields if f.required]
    return {REQUIRED_PROPERTY: json.dumps(names)} if names else {}


def keep_required(batch_schema: pa.Schema, table: Schema) -> pa.Schema:
    """Mark the batch's columns that are required in the table as non-nullable.

    ``union_by_name`` makes a required column optional when the incoming one is optional;
    every normalised batch column is. Called after :func:`to_relax` has relaxed the columns
    that do hold nulls.

    Args:
        batch_schema: The normalised batch schema.
        table: The table's current schema.

    Returns:
        The schema to union with the table.
    """
    required = {f.name for f in table.fields if f.required}
    if not required.intersection(batch_schema.names):
        return batch_schema
    return pa.schema(
        [f.with_nullable(False) if f.name in required else f for f in batch_schema],
        metadata=batch_schema.metadata,
    )


def relaxable(table: Schema, properties: Mapping[str, str]) -> list[str]:
    """Return the fields floe made required that a null may relax (not identifier fields).

    Args:
        table: The table's current schema.
        properties: The table's properties (:data:`REQUIRED_PROPERTY`).

    Returns:
        Their names, in table order.
    """
    try:
        ours = set(json.loads(properties.get(REQUIRED_PROPERTY, "[]")))
    except ValueError:
        ours = set()
    identifiers = set(table.identifier_field_ids)
    return [
        f.name
        for f in table.fields
        if f.required and f.name in ours and f.field_id not in identifiers
    ]


def to_relax(batch: pa.RecordBatch, table: Schema, properties: Mapping[str, str]) -> list[str]:
    """Return the columns floe made required that this batch has a null in (or lacks).

    Identifier fields are never relaxed (Iceberg requires them; a null merge key fails).

    Args:
        batch: The normalised batch.
        table: The table's current schema.
        properties: The table's properties (:data:`REQUIRED_PROPERTY`).

    Returns:
        Their names, in table order.
    """
    present = set(batch.schema.names)
    return [
        name
        for name in relaxable(table, properties)
        if name not in present or batch.column(name).null_count
    ]
