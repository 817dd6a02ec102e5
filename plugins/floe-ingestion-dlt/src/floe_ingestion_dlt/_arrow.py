"""Turning what dlt resources yield into Arrow batches for the Iceberg writer.

Resources yield Arrow tables/record batches (sql_database with an Arrow backend, parquet files)
or Python dicts (rest_api, jsonl, csv). Dicts are buffered into chunks of ``batch_rows`` rows and
converted column by column (documented in the README, "Types and the JSON rule"):

- a nested object or array inside a row becomes a JSON text column (``string``), serialised
  with sorted keys and no whitespace; ``null`` stays null;
- a column whose values mix scalar types in one chunk (``1`` and ``"a"``) becomes ``string``;
  ints and floats together become ``double``;
- an integer beyond int64 (dlt's ``large_integer`` rule, which maps it to ``wei``) makes the
  column ``decimal(38, 0)``; one beyond 38 digits makes it ``string`` (dlt: text);
- a string column whose every value is an ISO-8601 timestamp with a zone or ``Z`` (dlt's
  default ``iso_timestamp`` detection, without dlt's reading of zone-less text as UTC) is
  marked, and becomes timestamptz when the table does not have the column yet
  (:func:`floe_iceberg.schema.coerce_types`).

Arrow inputs keep their types, except nested struct/list/map columns, which follow the same JSON
rule so that every source lands nested data the same way. Types that drift from chunk to chunk
are reconciled with the table by the writer (dlt's coercion and variant columns).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from floe_iceberg import DETECTED_TIMESTAMP
from floe_iceberg import TIMESTAMPTZ as _TIMESTAMPTZ

__all__ = ["DETECTED_TIMESTAMP", "ExactFloat", "loads_exact", "to_batches"]


_DECIMAL_38_MAX = 10**38 - 1
_ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_ISO_TIMESTAMP_RE = re.compile(_ISO_TIMESTAMP)


class _HasDecimal(Exception):
    """A nested Decimal: serialise with :func:`_dump_exact` so its digits stay a number."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        raise _HasDecimal
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _dump_exact(value: Any) -> str:
    """Compact JSON with sorted keys where a finite Decimal is written as its exact digits."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: str(item[0]))
        return "{" + ",".join(f"{json.dumps(str(k))}:{_dump_exact(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dump_exact(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    return json.dumps(value, default=_json_default)


def _to_json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)
    except _HasDecimal:
        return _dump_exact(value)


class ExactFloat(Decimal):
    """A JSON number a double cannot hold exactly, kept as its digits (:func:`loads_exact`)."""


def _exact_float(text: str) -> float | Decimal:
    number = float(text)
    return number if Decimal(text) == Decimal(repr(number)) else ExactFloat(text)


_LONG_NUMBER = re.compile(rb"\d{16}")


def loads_exact(line: bytes | str) -> Any:
    """Parse one JSON document without losing a number's digits.

    orjson (dlt's JSON) reads an integer beyond 64 bits and a number with more digits than a
    double as a double (``12345678901234567890123`` → ``1.2345678901234568e22``). A line with
    a run of 16 digits is parsed again by the standard library: integers stay exact, and a
    number a double cannot hold becomes an :class:`ExactFloat`, written with its digits when
    nested (the JSON rule) and as a double in a top-level column.

    Args:
        line: One JSON document (a JSONL line).

    Returns:
        The parsed value.

    Raises:
        ValueError: The line is not JSON.
    """
    from dlt.common.json import json as dlt_json

    if isinstance(line, str):
        line = line.encode()
    if _LONG_NUMBER.search(line) is None:
        return dlt_json.loadb(line)
    return json.loads(line, parse_float=_exact_float)


def _as_text(values: list[Any]) -> pa.Array:
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _big_ints(values: list[Any]) -> pa.Array:
    """Integers beyond int64: ``decimal(38, 0)`` when all are integers of 38 digits or fewer."""
    if all(
        v is None or (type(v) is int and -_DECIMAL_38_MAX <= v <= _DECIMAL_38_MAX) for v in values
    ):
        return pa.array(
            [None if v is None else Decimal(v) for v in values], type=pa.decimal128(38, 0)
        )
    return _as_text(values)


def _column(values: list[Any]) -> pa.Array:
    if any(isinstance(v, dict | list | tuple) for v in values):
        return pa.array([_to_json(v) for v in values], type=pa.string())
    if any(isinstance(v, ExactFloat) for v in values):
        # a top-level number with more digits than a double holds: a double, as before
        values = [float(v) if isinstance(v, ExactFloat) else v for v in values]
    try:
        return pa.array(values)
    except OverflowError:
        return _big_ints(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        if "too large" in str(exc):  # an int beyond int64 among other numbers
            return _big_ints(values)
        return _as_text(values)


def _is_iso_timestamps(column: pa.Array) -> bool:
    """True when every non-null value is an ISO-8601 timestamp with a zone (vectorised)."""
    if column.null_count == len(column):
        return False
    first = column.filter(pc.is_valid(column))[0].as_py()
    if not _ISO_TIMESTAMP_RE.match(first):
        return False  # the cheap test that rejects ordinary text
    if not pc.all(pc.match_substring_regex(column, _ISO_TIMESTAMP)).as_py():
        return False
    try:
        pc.cast(column, _TIMESTAMPTZ)  # also rejects impossible dates (2024-02-30)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            names.setdefault(key, None)
    fields: list[pa.Field] = []
    columns: list[pa.Array] = []
    for name in names:
        column = _column([row.get(name) for row in rows])
        detected = pa.types.is_string(column.type) and _is_iso_timestamps(column)
        fields.append(
            pa.field(name, column.type, metadata=DETECTED_TIMESTAMP if detected else None)
        )
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


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

    def flush() -> pa.Table:
        nonlocal buffer
        table = _rows_to_table(buffer[:batch_rows])
        buffer = buffer[batch_rows:]
        return table

    for item in items:
        if isinstance(item, pa.RecordBatch):
            item = pa.Table.from_batches([item])
        if isinstance(item, pa.Table):
            while buffer:
                yield flush()
            if item.num_rows:
                yield _flatten_nested(item)
            continue
        if isinstance(item, dict):
            buffer.append(item)
        else:
            buffer.extend(item)
        while len(buffer) >= batch_rows:
            yield flush()
    while buffer:
        yield flush()
