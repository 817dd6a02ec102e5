"""Type normalisation: a source's Arrow batch converted to the types Iceberg takes.

The rules (one row per Arrow type) are the table in :mod:`floe_iceberg.schema`.
"""

from __future__ import annotations

import uuid as _uuid

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema

from floe_core import DestinationWriteError, ErrorCode
from floe_iceberg._constants import DETECTED_KEY, TIMESTAMPTZ
from floe_iceberg._pyiceberg import arrow_to_schema
from floe_iceberg.identifier import check_column_name

__all__ = ["cast_column", "iceberg_schema_of", "normalize_batch", "target_arrow_schema"]


class _Unsupported(Exception):
    def __init__(self, path: str, arrow_type: pa.DataType) -> None:
        super().__init__(path)
        self.path = path
        self.arrow_type = arrow_type


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
        return TIMESTAMPTZ if t.tz is not None else pa.timestamp("us")
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
            check_column_name(child.name, f"{path}.{child.name}")
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


def cast_column(column: pa.Array, target: pa.DataType, path: str) -> pa.Array:
    """Cast a column to an Iceberg-ready type (uuid as text, dictionaries decoded, ns to us).

    Args:
        column: The column.
        target: The type to cast to.
        path: The column's name (or ``table.column``), for messages.

    Returns:
        The column as ``target``.

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION when a value does not convert.
    """
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
        check_column_name(name, name)
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
        columns.append(cast_column(column, target, name))
        metadata = batch.schema.field(name).metadata
        detected = metadata is not None and DETECTED_KEY in metadata
        keep = {DETECTED_KEY: metadata[DETECTED_KEY]} if detected else None
        fields.append(pa.field(name, target, nullable=True, metadata=keep))
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


def iceberg_schema_of(arrow_schema: pa.Schema) -> Schema:
    """Return the Iceberg schema a new table gets for a normalised Arrow schema.

    Args:
        arrow_schema: A schema produced by :func:`normalize_batch`.

    Returns:
        The Iceberg schema (field ids assigned by the catalog on create).
    """
    return arrow_to_schema(arrow_schema)


def target_arrow_schema(schema: Schema) -> pa.Schema:
    """Return the Arrow schema data files of a table with ``schema`` are written with.

    Args:
        schema: The table's current Iceberg schema.

    Returns:
        The Arrow schema (no field-id metadata).
    """
    return schema_to_pyarrow(schema, include_field_ids=False)
