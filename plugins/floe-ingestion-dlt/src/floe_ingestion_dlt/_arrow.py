"""Turning what dlt resources yield into Arrow batches for the Iceberg writer.

Resources yield Arrow tables/record batches (sql_database with an Arrow backend, parquet files)
or Python dicts (rest_api, jsonl, csv). Dicts are buffered into chunks of ``batch_rows`` rows and
converted with :func:`pyarrow.Table.from_pylist`.

The JSON rule (documented in the README): a nested object or array inside a row becomes a JSON
text column (``string``), serialised with sorted keys and no whitespace; ``null`` stays null. A
column whose values mix scalar types in one chunk (``1`` and ``"a"``) becomes ``string``.
Arrow inputs keep their types, except nested struct/list/map columns, which follow the same JSON
rule so that every source lands nested data the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa

__all__ = ["to_batches"]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _to_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _column(values: list[Any]) -> pa.Array:
    if any(isinstance(v, dict | list | tuple) for v in values):
        return pa.array([_to_json(v) for v in values], type=pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            names.setdefault(key, None)
    columns = [_column([row.get(name) for row in rows]) for name in names]
    return pa.Table.from_arrays(columns, names=list(names))


def _is_nested(field_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_struct(field_type)
        or pa.types.is_list(field_type)
        or pa.types.is_large_list(field_type)
        or pa.types.is_map(field_type)
        or pa.types.is_fixed_size_list(field_type)
    )


def _flatten_nested(table: pa.Table) -> pa.Table:
    """Apply the JSON rule to nested Arrow columns."""
    if not any(_is_nested(f.type) for f in table.schema):
        return table
    for index, field in enumerate(table.schema):
        if _is_nested(field.type):
            values = [_to_json(v) for v in table.column(index).to_pylist()]
            table = table.set_column(index, field.name, pa.array(values, type=pa.string()))
    return table


def _conform(table: pa.Table, previous: pa.Schema | None) -> pa.Table:
    """Cast columns whose type drifted between chunks (int vs float) back to the earlier type."""
    if previous is None:
        return table
    for index, field in enumerate(table.schema):
        before = previous.field(field.name) if field.name in previous.names else None
        if before is None or before.type == field.type or pa.types.is_null(before.type):
            continue
        try:
            table = table.set_column(
                index, field.name, table.column(index).cast(before.type, safe=True)
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue  # keep the new type; the writer evolves or rejects it by the contract
    return table


def to_batches(items: Iterable[Any], batch_rows: int) -> Iterator[pa.Table]:
    """Convert a resource's items into Arrow tables; dict rows are chunked by ``batch_rows``.

    Args:
        items: What iterating a dlt resource yields: Arrow tables/batches, dicts, or lists of
            dicts.
        batch_rows: Rows per dict-built chunk.

    Yields:
        Non-empty Arrow tables.
    """
    buffer: list[dict[str, Any]] = []
    schema: pa.Schema | None = None

    def flush() -> pa.Table:
        nonlocal buffer, schema
        table = _conform(_rows_to_table(buffer[:batch_rows]), schema)
        buffer = buffer[batch_rows:]
        schema = table.schema
        return table

    for item in items:
        if isinstance(item, pa.RecordBatch):
            item = pa.Table.from_batches([item])
        if isinstance(item, pa.Table):
            while buffer:
                yield flush()
            if item.num_rows:
                table = _flatten_nested(item)
                schema = table.schema
                yield table
            continue
        if isinstance(item, dict):
            buffer.append(item)
        else:
            buffer.extend(item)
        while len(buffer) >= batch_rows:
            yield flush()
    while buffer:
        yield flush()
