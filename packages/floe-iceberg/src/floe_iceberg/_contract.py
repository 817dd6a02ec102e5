"""Schema contracts: what a batch's columns may do to the table's (``SchemaContract``).

The rules are in :mod:`floe_iceberg.schema`; this module plans them (:func:`plan_contract`),
applies ``discard_*`` (:func:`discard`) and casts a batch to the table (:func:`conform`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StructType,
)

from floe_core import (
    DestinationWriteError,
    ErrorCode,
    SchemaContract,
    SchemaContractViolation,
)
from floe_iceberg._types import cast_column, iceberg_schema_of

__all__ = [
    "ContractPlan",
    "conform",
    "discard",
    "key_columns_missing",
    "plan_contract",
    "promotion",
]


def promotion(old: IcebergType, new: IcebergType) -> str:
    """Classify writing ``new`` values into a column of type ``old``.

    Args:
        old: The table column's type.
        new: The batch column's type.

    Returns:
        ``same``, ``castable`` (old is wider: cast the incoming values), ``promote`` (the
        column must widen, a safe Iceberg promotion) or ``incompatible``.
    """
    if old == new:
        return "same"
    if isinstance(old, LongType) and isinstance(new, IntegerType):
        return "castable"
    if isinstance(old, IntegerType) and isinstance(new, LongType):
        return "promote"
    if isinstance(old, DoubleType) and isinstance(new, FloatType):
        return "castable"
    if isinstance(old, FloatType) and isinstance(new, DoubleType):
        return "promote"
    if isinstance(old, DecimalType) and isinstance(new, DecimalType) and old.scale == new.scale:
        return "castable" if new.precision <= old.precision else "promote"
    if old.is_struct and new.is_struct:
        return "castable"  # nested differences are resolved by name when conforming
    if not old.is_primitive and type(old) is type(new):
        return "castable"
    return "incompatible"


def _new_nested(old: IcebergType, new: IcebergType, path: str) -> list[str]:
    """Return dotted paths of struct fields ``new`` has and ``old`` lacks (at any depth)."""
    if isinstance(old, StructType) and isinstance(new, StructType):
        known = {f.name: f for f in old.fields}
        found: list[str] = []
        for child in new.fields:
            if child.name not in known:
                found.append(f"{path}.{child.name}")
            else:
                found += _new_nested(
                    known[child.name].field_type, child.field_type, f"{path}.{child.name}"
                )
        return found
    if isinstance(old, ListType) and isinstance(new, ListType):
        return _new_nested(old.element_type, new.element_type, f"{path}.element")
    if isinstance(old, MapType) and isinstance(new, MapType):
        return _new_nested(old.value_type, new.value_type, f"{path}.value")
    return []


@dataclass
class ContractPlan:
    """What a batch needs before it can be written under the table's contract.

    Attributes:
        new_columns: Columns the table lacks (in batch order).
        promotions: Existing columns that must widen or gain struct fields (``evolve`` only).
        evolve: True when the table schema must change (new columns or promotions).
        drop: Columns to remove from the batch (``discard_value`` / ``discard_row``).
        discard_rows_with: Columns whose non-null values make a row be dropped.
    """

    new_columns: list[str] = field(default_factory=list)
    promotions: list[str] = field(default_factory=list)
    evolve: bool = False
    drop: list[str] = field(default_factory=list)
    discard_rows_with: list[str] = field(default_factory=list)


def plan_contract(
    table_schema: Schema,
    batch_schema: pa.Schema,
    contract: SchemaContract,
    *,
    table: str,
    contract_applies: bool = True,
) -> ContractPlan:
    """Compare a normalised batch with the table and decide what the contract allows.

    Args:
        table_schema: The table's current Iceberg schema.
        batch_schema: The normalised batch's Arrow schema.
        contract: The table's schema contract.
        table: The table name, for messages.
        contract_applies: False while the table is being created by this load (the first
            load defines the schema: every contract evolves then).

    Returns:
        The plan.

    Raises:
        SchemaContractViolation: ``freeze`` and a new column (SCHEMA_CONTRACT_VIOLATION).
        DestinationWriteError: SCHEMA_CORRUPTION for a type change that is not a safe
            promotion, or a new column that differs from an existing one only by case.
    """
    incoming = iceberg_schema_of(batch_schema)
    plan = ContractPlan()
    existing = {f.name: f for f in table_schema.fields}
    effective = contract if contract_applies else SchemaContract.EVOLVE
    for new_field in incoming.fields:
        old: NestedField | None = existing.get(new_field.name)
        if old is None:
            clash = [n for n in existing if n.casefold() == new_field.name.casefold()]
            if clash:
                raise DestinationWriteError(
                    f"table {table!r}: the data's column {new_field.name!r} differs from the "
                    f"table's {clash[0]!r} only by case, which Spark and Trino cannot tell "
                    "apart; rename it in the source to match",
                    code=ErrorCode.SCHEMA_CORRUPTION,
                    details={"table": table, "column": new_field.name},
                )
            plan.new_columns.append(new_field.name)
            continue
        kind = promotion(old.field_type, new_field.field_type)
        if kind == "promote" and effective is not SchemaContract.EVOLVE:
            kind = "castable"  # values are cast down safely; an overflow fails loudly later
        if kind == "incompatible":
            raise DestinationWriteError(
                f"table {table!r}, column {new_field.name!r}: the data has type "
                f"{new_field.field_type} but the table has {old.field_type}; that is not a safe "
                "promotion (int->long, float->double, wider decimal). Cast the column in the "
                "source, or load into a new table",
                code=ErrorCode.SCHEMA_CORRUPTION,
                details={
                    "table": table,
                    "column": new_field.name,
                    "table_type": str(old.field_type),
                    "data_type": str(new_field.field_type),
                },
            )
        if kind == "promote":
            plan.promotions.append(new_field.name)
        nested = _new_nested(old.field_type, new_field.field_type, old.name)
        if effective is SchemaContract.FREEZE:
            plan.new_columns.extend(nested)
        elif nested and effective is SchemaContract.EVOLVE:
            plan.promotions.append(old.name)  # the struct widens: a schema change
    if plan.new_columns:
        if effective is SchemaContract.FREEZE:
            names = ", ".join(repr(n) for n in plan.new_columns)
            variants = [
                f"{base!r} ({n.rpartition('__v_')[2]})"
                for n in plan.new_columns
                if (base := n.rpartition("__v_")[0]) in existing
            ]
            why = (
                f" (variant columns for values of {', '.join(variants)} that do not convert "
                "to the column's type)"
                if variants
                else ""
            )
            raise SchemaContractViolation(
                f"table {table!r} has schema_contract 'freeze' and the data brings new "
                f"column(s) {names}{why}; the table is unchanged. Add the columns to the "
                "table, fix the values in the source, or set schema_contract to evolve, "
                "discard_value or discard_row",
                details={"table": table, "new_columns": list(plan.new_columns)},
            )
        if effective is SchemaContract.DISCARD_VALUE:
            plan.drop = list(plan.new_columns)
        elif effective is SchemaContract.DISCARD_ROW:
            plan.drop = list(plan.new_columns)
            plan.discard_rows_with = list(plan.new_columns)
    plan.evolve = effective is SchemaContract.EVOLVE and bool(plan.new_columns or plan.promotions)
    return plan


def discard(batch: pa.RecordBatch, plan: ContractPlan) -> tuple[pa.RecordBatch, int]:
    """Apply ``discard_row`` / ``discard_value`` to a batch.

    Args:
        batch: The normalised batch.
        plan: The plan from :func:`plan_contract`.

    Returns:
        The batch without the discarded columns (and rows), and how many rows were dropped.
    """
    dropped = 0
    if plan.discard_rows_with:
        keep = None
        for name in plan.discard_rows_with:
            is_null = pc.is_null(batch.column(name))
            keep = is_null if keep is None else pc.and_(keep, is_null)
        before = batch.num_rows
        batch = batch.filter(keep)
        dropped = before - batch.num_rows
    if plan.drop:
        batch = batch.drop_columns(plan.drop)
    return batch, dropped


def conform(batch: pa.RecordBatch, target: pa.Schema, *, table: str) -> pa.RecordBatch:
    """Cast a normalised batch to the table's Arrow schema, filling missing columns with nulls.

    Args:
        batch: The normalised batch, already stripped of discarded columns.
        target: :func:`target_arrow_schema` of the table.
        table: The table name, for messages.

    Returns:
        A batch whose schema equals ``target``.

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION when a value does not fit the column.
        SchemaContractViolation: SCHEMA_CONTRACT_VIOLATION when a column the table requires
            is null or missing.
    """
    if batch.schema.equals(target):
        return batch
    present = set(batch.schema.names)
    columns: list[pa.Array] = []
    for target_field in target:
        if target_field.name in present:
            column = cast_column(
                batch.column(target_field.name), target_field.type, f"{table}.{target_field.name}"
            )
        else:
            column = pa.nulls(batch.num_rows, type=target_field.type)
        if not target_field.nullable and column.null_count:
            raise SchemaContractViolation(
                f"table {table!r}: column {target_field.name!r} is required in the table but "
                f"{column.null_count} row(s) have no value for it",
                failed_records=column.null_count,
                details={"table": table, "column": target_field.name},
            )
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def key_columns_missing(schema: pa.Schema, keys: Sequence[str]) -> list[str]:
    """Return the primary-key columns a schema lacks.

    Args:
        schema: An Arrow schema.
        keys: The primary-key column names.

    Returns:
        The missing names, in key order.
    """
    names = set(schema.names)
    return [k for k in keys if k not in names]
