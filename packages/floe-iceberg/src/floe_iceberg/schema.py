"""Arrow types as Iceberg takes them, and the schema contract between a batch and a table.

Type rule (applied to every incoming batch before it meets the table):

============================================  ===============================================
Arrow type from a source                      Iceberg column
============================================  ===============================================
bool                                          boolean
int8 / int16 / int32, uint8 / uint16          int
int64, uint32                                 long
uint64                                        decimal(20, 0) (widened: every value fits)
float16 / float32                             float
float64                                       double
decimal32/64/128(p, s), decimal256(p <= 38)   decimal(p, s): precision and scale kept
decimal256 with p > 38                        rejected (Iceberg stops at 38 digits)
string / large_string / string_view           string
binary / large_binary / binary_view           binary
fixed_size_binary(n)                          fixed(n)
arrow.uuid extension                          string (canonical 8-4-4-4-12 text)
arrow.json extension                          string (the JSON text)
date32 / date64                               date
time32 / time64                               time (microseconds; nanoseconds truncated)
timestamp without zone (any unit)             timestamp (microseconds; ns truncated)
timestamp with any zone (any unit)            timestamptz, normalised to UTC, microseconds
dictionary<value>                             the value type (decoded)
list / large_list / fixed_size_list<T>        list<T>
struct<...>                                   struct<...> (field by field, same rules)
map<K, V>                                     map<K, V>
null (an all-null column)                     skipped until a batch brings a typed value
duration / interval / union / ...             rejected, naming the column
============================================  ===============================================

JSON: the plugin's sources hand nested data over as JSON text before it gets here
(:mod:`floe_ingestion_dlt._arrow`: a nested object or array in a row, and a struct/list/map
Arrow column, become a ``string`` of compact JSON), so every engine reads it (``json_extract``
in DuckDB/Trino, ``from_json`` in Spark). Only a caller of ``write_table`` that passes struct,
list or map columns itself gets the nested rows of the table above.

Types that drift (dlt's coercion and variant columns, :func:`coerce_types`): a batch column
whose type differs from the table column's is coerced to the table's type when that loses
nothing (the pairs are listed in :mod:`._coerce`: int into double, numbers and bools into
text, integral doubles and numeric text into bigint, ISO text into timestamp, ...). Values that
do not coerce move to a variant column named as dlt names it, ``<column>__v_<type>`` with dlt's
type name (``price__v_double``, ``code__v_text``), which is a new column for the contract:
``evolve`` adds it, ``discard_value`` drops it (the value becomes null), ``discard_row`` drops
the row, ``freeze`` fails with SCHEMA_CONTRACT_VIOLATION; a variant column the table already
has takes its values under every contract, as in dlt. A merge-key value that does not coerce
fails the load (SCHEMA_CORRUPTION): a key never moves to a variant column. A new ``string``
column that :mod:`floe_ingestion_dlt._arrow` marked as all ISO-8601 timestamps with a zone
(dlt's ``iso_timestamp`` detection) becomes timestamptz; an existing string column stays text.

Contracts compare the columns of a batch with the table's (``SchemaContract``):
``evolve`` adds new columns and applies safe promotions (int -> long, float -> double, decimal
precision widening); ``freeze`` refuses new columns; ``discard_value`` drops them;
``discard_row`` drops rows carrying a value in one. A type change that neither promotes nor
coerces (e.g. a struct against a number) is SCHEMA_CORRUPTION. New fields inside a struct
column evolve the struct, fail ``freeze`` (named ``column.field``) and are dropped by
``discard_value`` and ``discard_row`` (rows are only dropped for new top-level columns).
Columns the batch lacks are filled with nulls. Every column is created optional (nullable), so
later loads may omit it.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids, schema_to_pyarrow
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
from floe_iceberg._coerce import coerce_column, kind_of

__all__ = [
    "ContractPlan",
    "coerce_types",
    "conform",
    "iceberg_schema_of",
    "normalize_batch",
    "plan_contract",
    "target_arrow_schema",
]

_UTC = "UTC"
_DETECTED = b"floe.detected"
"""Field metadata :mod:`floe_ingestion_dlt._arrow` sets on a text column of ISO timestamps."""
_TIMESTAMPTZ = pa.timestamp("us", tz=_UTC)


class _Unsupported(Exception):
    def __init__(self, path: str, arrow_type: pa.DataType) -> None:
        super().__init__(path)
        self.path = path
        self.arrow_type = arrow_type


def _check_name(name: str, path: str) -> None:
    problem = None
    if not name:
        problem = "is empty"
    elif "." in name:
        problem = "contains '.', which Iceberg uses as its nested-field separator"
    elif any(ord(ch) < 32 for ch in name):
        problem = "contains a control character"
    if problem is not None:
        raise DestinationWriteError(
            f"column {path!r} {problem}; rename it in the source (e.g. a SQL alias or the "
            "source's column mapping) so the Iceberg table can take it",
            code=ErrorCode.SCHEMA_CORRUPTION,
            details={"column": path},
        )


def _target_type(arrow_type: pa.DataType, path: str) -> pa.DataType:
    t = arrow_type
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name in ("arrow.uuid", "arrow.json"):
            return pa.string()
        return _target_type(t.storage_type, path)
    if pa.types.is_dictionary(t):
        return _target_type(t.value_type, path)
    if pa.types.is_null(t) or pa.types.is_boolean(t):
        return t
    if pa.types.is_integer(t):
        if t in (pa.int8(), pa.int16(), pa.uint8(), pa.uint16()):
            return pa.int32()
        if t == pa.uint32():
            return pa.int64()
        if t == pa.uint64():
            return pa.decimal128(20, 0)
        return t
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_floating(t):
        return t
    if pa.types.is_decimal(t):
        if t.precision > 38:
            raise _Unsupported(path, t)
        return pa.decimal128(t.precision, t.scale)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.large_binary()
    if pa.types.is_fixed_size_binary(t):
        return t
    if pa.types.is_date(t):
        return pa.date32()
    if pa.types.is_time(t):
        return pa.time64("us")
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz=_UTC if t.tz is not None else None)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        value = t.value_field
        return pa.large_list(
            pa.field(value.name, _target_type(value.type, f"{path}.element"), nullable=True)
        )
    if pa.types.is_map(t):
        key = _target_type(t.key_type, f"{path}.key")
        item = _target_type(t.item_type, f"{path}.value")
        return pa.map_(key, pa.field("value", item, nullable=True))
    if pa.types.is_struct(t):
        fields = []
        for child in t:
            _check_name(child.name, f"{path}.{child.name}")
            fields.append(pa.field(child.name, _target_type(child.type, f"{path}.{child.name}")))
        return pa.struct(fields)
    raise _Unsupported(path, t)


def _has_null_type(t: pa.DataType) -> bool:
    if pa.types.is_null(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_null_type(child.type) for child in t)
    if pa.types.is_large_list(t):
        return _has_null_type(t.value_type)
    if pa.types.is_map(t):
        return _has_null_type(t.key_type) or _has_null_type(t.item_type)
    return False


def _uuid_to_string(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    storage = column.storage if isinstance(column, pa.ExtensionArray) else column
    if isinstance(storage, pa.ChunkedArray):
        storage = storage.combine_chunks()
        storage = storage.storage if isinstance(storage, pa.ExtensionArray) else storage
    return pa.array(
        [None if b is None else str(_uuid.UUID(bytes=b)) for b in storage.to_pylist()],
        type=pa.large_string(),
    )


def _cast(column: pa.Array, target: pa.DataType, path: str) -> pa.Array:
    source = column.type
    if source == target:
        return column
    if isinstance(source, pa.BaseExtensionType) and source.extension_name == "arrow.uuid":
        return _uuid_to_string(column)
    if isinstance(column, pa.ExtensionArray):
        column = column.storage
        source = column.type
    if pa.types.is_dictionary(source):
        column = column.dictionary_decode()
        source = column.type
    # Timestamps and times lose sub-microsecond digits on purpose (Iceberg keeps microseconds).
    lossy_time = (pa.types.is_timestamp(source) and source.unit == "ns") or (
        pa.types.is_time(source) and source.unit == "ns"
    )
    try:
        return pc.cast(column, target, safe=not lossy_time)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DestinationWriteError(
            f"column {path!r}: cannot convert {source} to {target}: {exc}",
            code=ErrorCode.SCHEMA_CORRUPTION,
            details={"column": path},
        ) from exc


def normalize_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Convert a source batch to the types Iceberg takes (see the module docstring).

    Columns whose type is null (all values null) are dropped; every column becomes nullable.

    Args:
        batch: The batch as a source produced it.

    Returns:
        The batch with Iceberg-ready Arrow types.

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION when a column name or type cannot be stored.
    """
    names = batch.schema.names
    seen: set[str] = set()
    fields: list[pa.Field] = []
    columns: list[pa.Array] = []
    for name, column in zip(names, batch.columns, strict=True):
        _check_name(name, name)
        if name.casefold() in seen:
            raise DestinationWriteError(
                f"column {name!r} appears twice in the data (names are compared ignoring case, "
                "as Spark and Trino do); give the columns distinct names",
                code=ErrorCode.SCHEMA_CORRUPTION,
                details={"column": name},
            )
        seen.add(name.casefold())
        try:
            target = _target_type(column.type, name)
        except _Unsupported as exc:
            raise DestinationWriteError(
                f"column {exc.path!r} has Arrow type {exc.arrow_type}, which Iceberg cannot store;"
                " cast it in the source (e.g. to string or a number)",
                code=ErrorCode.SCHEMA_CORRUPTION,
                details={"column": exc.path, "arrow_type": str(exc.arrow_type)},
            ) from None
        if _has_null_type(target):
            if pa.types.is_null(target):
                continue
            raise DestinationWriteError(
                f"column {name!r} has a nested all-null part ({target}); its type is unknown",
                code=ErrorCode.SCHEMA_CORRUPTION,
                details={"column": name},
            )
        columns.append(_cast(column, target, name))
        metadata = batch.schema.field(name).metadata
        keep = {_DETECTED: metadata[_DETECTED]} if metadata and _DETECTED in metadata else None
        fields.append(pa.field(name, target, nullable=True, metadata=keep))
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


_last_types: tuple[Schema | None, dict[str, pa.DataType]] = (None, {})


def _table_types(table_schema: Schema | None) -> dict[str, pa.DataType]:
    """The table's Arrow column types; the last schema's are kept (one per batch otherwise)."""
    global _last_types
    if table_schema is None:
        return {}
    cached, types = _last_types
    if cached is not table_schema:
        types = {f.name: f.type for f in target_arrow_schema(table_schema)}
        _last_types = (table_schema, types)
    return types


def _variant_name(name: str, arrow_type: pa.DataType) -> str:
    return f"{name}__v_{kind_of(arrow_type)}"  # dlt: shorten_fragments(name, "v_%s" % type)


def _sample(column: pa.Array, mask: pa.Array) -> str:
    value = column.filter(mask)[0].as_py()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def coerce_types(
    batch: pa.RecordBatch,
    table_schema: Schema | None,
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
        table_schema: The table's current Iceberg schema, or None before the table exists.
        table: The table name, for messages.
        keys: Merge-key columns: their values must coerce (they never become variants).

    Returns:
        The batch with coerced columns and any variant columns appended.

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION when a key value does not coerce, or a
            variant column's name is already a column of the batch.
    """
    known = _table_types(table_schema)
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
            if batch.schema.field(name).metadata:  # a new column of ISO timestamps (dlt)
                columns[index] = pc.cast(column, _TIMESTAMPTZ)
                fields[index] = pa.field(name, _TIMESTAMPTZ, nullable=True)
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
    """Return ``coerce`` when a drifted column goes through dlt's coercion, else ``contract``."""
    nested = (pa.types.is_struct, pa.types.is_large_list, pa.types.is_map)
    if any(check(table_type) or check(batch_type) for check in nested):
        return "contract"
    old = iceberg_schema_of(pa.schema([pa.field("c", table_type)])).fields[0].field_type
    new = iceberg_schema_of(pa.schema([pa.field("c", batch_type)])).fields[0].field_type
    return "coerce" if _promotion(old, new) == "incompatible" else "contract"


def iceberg_schema_of(arrow_schema: pa.Schema) -> Schema:
    """Return the Iceberg schema a new table gets for a normalised Arrow schema.

    Args:
        arrow_schema: A schema produced by :func:`normalize_batch`.

    Returns:
        The Iceberg schema (field ids assigned by the catalog on create).
    """
    return _pyarrow_to_schema_without_ids(arrow_schema)


def target_arrow_schema(schema: Schema) -> pa.Schema:
    """Return the Arrow schema data files of a table with ``schema`` are written with.

    Args:
        schema: The table's current Iceberg schema.

    Returns:
        The Arrow schema (no field-id metadata).
    """
    return schema_to_pyarrow(schema, include_field_ids=False)


def _promotion(old: IcebergType, new: IcebergType) -> str:
    """Classify writing ``new`` values into a column of type ``old``.

    Returns ``same``, ``castable`` (old is wider: cast the incoming values), ``promote`` (the
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
        kind = _promotion(old.field_type, new_field.field_type)
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
            column = _cast(
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
