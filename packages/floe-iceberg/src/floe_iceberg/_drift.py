"""Types that drift: coercing a batch column to its table column's type, and variant columns.

The rules are in :mod:`floe_iceberg.schema`; the value-by-value conversions in
:mod:`._coerce`. :class:`TableTypes` belongs to one load: it keeps the Arrow types of the
table schema the load writes against, so they are computed once per schema, not per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.schema import Schema

from floe_core import DestinationWriteError, ErrorCode
from floe_iceberg._coerce import coerce_column, kind_of
from floe_iceberg._constants import TIMESTAMPTZ
from floe_iceberg._contract import promotion
from floe_iceberg._types import iceberg_schema_of, target_arrow_schema

__all__ = ["TableTypes", "coerce_types"]


class TableTypes:
    """The Arrow column types of a table schema, recomputed only when the schema changes.

    One instance per load (``write_table`` call): loads running at once never share it.
    """

    def __init__(self) -> None:
        self._schema: Schema | None = None
        self._types: dict[str, pa.DataType] = {}

    def of(self, schema: Schema | None) -> dict[str, pa.DataType]:
        """Return the Arrow type of each column of ``schema``.

        Args:
            schema: The table's current Iceberg schema, or None before the table exists.

        Returns:
            Column name to Arrow type (empty for None).
        """
        if schema is None:
            return {}
        if schema is not self._schema:
            self._types = {f.name: f.type for f in target_arrow_schema(schema)}
            self._schema = schema
        return self._types


def _variant_name(name: str, arrow_type: pa.DataType) -> str:
    return f"{name}__v_{kind_of(arrow_type)}"  # the name dlt gives a variant column


def _sample(column: pa.Array, mask: pa.Array) -> str:
    value = column.filter(mask)[0].as_py()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def coerce_types(
    batch: pa.RecordBatch,
    table_types: Mapping[str, pa.DataType],
    *,
    table: str,
    keys: Sequence[str] = (),
) -> pa.RecordBatch:
    """Coerce drifted column types to the table's, moving what does not fit to variant columns.

    Runs before :func:`plan_contract`; the variant columns it adds are new columns for the
    contract (see the module docstring). A column whose type equals the table's costs one type
    comparison; a drifted column is cast with Arrow, value by value only when that fails.

    Args:
        batch: A batch from :func:`normalize_batch`.
        table_types: The table's Arrow column types (:meth:`TableTypes.of`); empty before
            the table exists.
        table: The table name, for messages.
        keys: Merge-key columns: their values must coerce (they never become variants).

    Returns:
        The batch with coerced columns and any variant columns appended.

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION when a key value does not coerce, or a
            variant column's name is already a column of the batch.
    """
    known = table_types
    if all(known.get(f.name) == f.type for f in batch.schema) and not any(
        f.metadata for f in batch.schema
    ):
        return batch  # the common case: nothing drifted, nothing to detect
    names = list(batch.schema.names)
    columns = list(batch.columns)
    fields = [pa.field(f.name, f.type, nullable=True) for f in batch.schema]
    variants: list[tuple[pa.Field, pa.Array]] = []
    for index, (name, column) in enumerate(zip(names, columns, strict=True)):
        table_type = known.get(name)
        if table_type is None:
            if batch.schema.field(name).metadata:  # DETECTED_TIMESTAMP: all ISO timestamps
                columns[index] = pc.cast(column, TIMESTAMPTZ)
                fields[index] = pa.field(name, TIMESTAMPTZ, nullable=True)
            continue
        if table_type == column.type or _drift_kind(table_type, column.type) != "coerce":
            continue  # same type, or a promotion / struct change the contract handles
        coerced, failed = coerce_column(column, table_type)
        columns[index] = coerced
        fields[index] = pa.field(name, table_type, nullable=True)
        if failed is None or not pc.any(failed).as_py():
            continue
        count = pc.sum(failed).as_py()
        if name in keys:
            raise DestinationWriteError(
                f"table {table!r}: {count} value(s) of merge key {name!r} (e.g. "
                f"{_sample(column, failed)}, {kind_of(column.type)}) do not convert to the "
                f"key's type {table_type}; a key cannot move to a variant column. Fix the "
                "values in the source, or load into a new table",
                code=ErrorCode.SCHEMA_CORRUPTION,
                failed_records=count,
                details={"table": table, "column": name, "table_type": str(table_type)},
            )
        variant = _variant_name(name, column.type)
        if variant in names:
            raise DestinationWriteError(
                f"table {table!r}: column {name!r} needs the variant column {variant!r} for "
                f"values that do not convert to {table_type}, but the data already has a "
                "column of that name; rename it in the source",
                code=ErrorCode.SCHEMA_CORRUPTION,
                details={"table": table, "column": variant},
            )
        nulls = pa.nulls(len(column), type=column.type)
        variants.append(
            (pa.field(variant, column.type, nullable=True), pc.if_else(failed, column, nulls))
        )
    for variant_field, values in variants:
        fields.append(variant_field)
        columns.append(values)
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


def _drift_kind(table_type: pa.DataType, batch_type: pa.DataType) -> str:
    """Return ``coerce`` when a drifted column goes through coercion, else ``contract``."""
    nested = (pa.types.is_struct, pa.types.is_large_list, pa.types.is_map)
    if any(check(table_type) or check(batch_type) for check in nested):
        return "contract"
    old = iceberg_schema_of(pa.schema([pa.field("c", table_type)])).fields[0].field_type
    new = iceberg_schema_of(pa.schema([pa.field("c", batch_type)])).fields[0].field_type
    return "coerce" if promotion(old, new) == "incompatible" else "contract"
