"""Coercing a column to its table column's type without losing a value.

A batch value whose type differs from its table column's is converted to the column's type
when the conversion is exact; a value that does not convert goes to a variant column
(:mod:`._drift`). This module does the first half for one Arrow column: :func:`coerce_column`
returns the coerced column and a mask of the values that did not convert. The pairs and the
type names (``bigint``, ``text``, ...) are those of dlt's coercion, restricted to conversions
without loss, so a table reads the same whichever tool loaded it:

==========  =================================================================================
to          from
==========  =================================================================================
text        bigint, double, decimal, bool (``True``/``False``), date, time, timestamp
            (ISO 8601), binary (base64)
bigint      text (``int()``, ``0x`` hex), double and decimal when integral; in the column's
            range (int or long)
double      bigint (when exact in a double), decimal, text (``float()``)
decimal     bigint, double (by its shortest text), text, decimal: when the value fits the
            column's precision and scale exactly
bool        text (yes/no, true/false, t/f, y/n, 1/0, any case), bigint and double when
            0 or 1 (not 5: that is no boolean)
timestamp   text (ISO 8601; without a zone read as UTC), bigint and double (Unix
            seconds), date (midnight), timestamp with/without a zone (both hold UTC)
date        text (ISO 8601 date)
time        text (ISO 8601 time)
binary      text (``0x`` hex or base64)
==========  =================================================================================

Every other pair (e.g. bool into bigint, timestamp into date) does not coerce: its values go to
a variant column. The column is first cast with Arrow (``safe=True``) where Arrow's conversion
means the same; only a column that fails that is converted value by value.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["coerce_column", "kind_of"]


def kind_of(arrow_type: pa.DataType) -> str:
    """Return the data type name of a normalised Arrow type (``bigint``, ``text``, ...).

    Args:
        arrow_type: A type :func:`~floe_iceberg.schema.normalize_batch` produces.

    Returns:
        ``bool``, ``bigint``, ``double``, ``decimal``, ``text``, ``binary``, ``timestamp``,
        ``date``, ``time`` or ``json`` (struct, list, map).
    """
    t = arrow_type
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_time(t):
        return "time"
    return "json"


# Pairs (to, from) where Arrow's safe cast converts exactly as the per-value rules do; a failure
# (a value that does not convert) falls back to the per-value path, which decides per value.
_ARROW_CAST = frozenset(
    {
        ("text", "bigint"),
        ("text", "decimal"),
        ("text", "date"),
        ("bigint", "text"),
        ("bigint", "double"),
        ("bigint", "decimal"),
        ("double", "bigint"),
        ("double", "text"),
        ("double", "decimal"),
        ("decimal", "bigint"),
        ("decimal", "text"),
        ("decimal", "decimal"),
        ("timestamp", "text"),
        ("timestamp", "date"),
        ("timestamp", "timestamp"),  # with and without a zone: both hold UTC microseconds
        ("date", "text"),
    }
)


class _NoFit(Exception):
    """A value that does not convert to the column's type."""


def _text_to_int(value: str) -> int:
    text = value.strip()
    return int(text[2:], 16) if text.startswith("0x") else int(text)


def _integral(value: float | Decimal) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise _NoFit
    if value % 1 != 0:
        raise _NoFit
    return int(value)


def _exact_float(value: int) -> float:
    result = float(value)
    if int(result) != value:
        raise _NoFit  # float() would round it
    return result


def _text_to_float(value: str) -> float:
    text = value.strip()
    return float(int(text[2:], 16)) if text.startswith("0x") else float(text)


def _str2bool(value: str) -> bool:
    text = value.lower()
    if text in ("yes", "true", "t", "y", "1"):
        return True
    if text in ("no", "false", "f", "n", "0"):
        return False
    raise _NoFit


def _zero_one(value: float) -> bool:
    if value in (0, 1):
        return bool(value)
    raise _NoFit


def _text_to_binary(value: str) -> bytes:
    if value.startswith("0x"):
        return bytes.fromhex(value[2:])
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _NoFit from None


def _to_text(value: Any) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value.strip())
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        raise _NoFit
    return datetime.fromtimestamp(value, UTC)


_PER_VALUE: dict[tuple[str, str], Callable[[Any], Any]] = {
    **{("text", k): _to_text for k in ("bigint", "double", "decimal", "bool", "date", "time")},
    ("text", "timestamp"): _to_text,
    ("text", "binary"): _to_text,
    ("bigint", "text"): _text_to_int,
    ("bigint", "double"): _integral,
    ("bigint", "decimal"): _integral,
    ("double", "bigint"): _exact_float,
    ("double", "decimal"): float,
    ("double", "text"): _text_to_float,
    ("decimal", "bigint"): Decimal,
    ("decimal", "double"): lambda v: Decimal(str(v)),
    ("decimal", "text"): lambda v: Decimal(v.strip()),
    ("decimal", "decimal"): Decimal,
    ("bool", "text"): _str2bool,
    ("bool", "bigint"): _zero_one,
    ("bool", "double"): _zero_one,
    ("timestamp", "text"): _to_datetime,
    ("timestamp", "bigint"): _to_datetime,
    ("timestamp", "double"): _to_datetime,
    ("timestamp", "date"): _to_datetime,
    ("timestamp", "timestamp"): _to_datetime,
    ("date", "text"): lambda v: date.fromisoformat(v.strip()),
    ("time", "text"): lambda v: time.fromisoformat(v.strip()),
    ("binary", "text"): _text_to_binary,
}


def _fit(value: Any, target: pa.DataType) -> Any:
    """Check a converted value against the column's range, precision or zone rule."""
    if pa.types.is_integer(target):
        bits = target.bit_width - 1
        if not -(2**bits) <= value < 2**bits:
            raise _NoFit
    elif pa.types.is_decimal(target):
        exact = value.quantize(Decimal(1).scaleb(-target.scale))
        if exact != value or len(exact.as_tuple().digits) > target.precision:
            raise _NoFit
        return exact
    elif pa.types.is_timestamp(target):
        if target.tz is None:
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
        elif value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # a zone-less timestamp is read as UTC
    elif pa.types.is_float32(target) and math.isfinite(value):
        if abs(value) > 3.4028234663852886e38:
            raise _NoFit
    return value


def _per_value(
    values: list[Any], convert: Callable[[Any], Any], target: pa.DataType
) -> tuple[pa.Array, list[bool]]:
    out: list[Any] = []
    failed: list[bool] = []
    for value in values:
        if value is None:
            out.append(None)
            failed.append(False)
            continue
        try:
            out.append(_fit(convert(value), target))
            failed.append(False)
        except (_NoFit, ValueError, TypeError, ArithmeticError, InvalidOperation):
            out.append(None)
            failed.append(True)
    return pa.array(out, type=target), failed


def coerce_column(column: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """Coerce a column to ``target`` by the rules above, without losing a value.

    Args:
        column: A normalised column whose type differs from its table column's.
        target: The table column's Arrow type (:func:`target_arrow_schema`).

    Returns:
        The column as ``target`` (null where a value did not convert) and a boolean mask of
        the values that did not convert, or None when every value converted.
    """
    to, source = kind_of(target), kind_of(column.type)
    if (to, source) in _ARROW_CAST:
        try:
            return pc.cast(column, target, safe=True), None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # some value does not convert this way: decide value by value below
    elif (to, source) == ("text", "bool"):
        return pc.if_else(column, "True", "False").cast(target), None
    convert = _PER_VALUE.get((to, source))
    if convert is None:
        return pa.nulls(len(column), type=target), pc.is_valid(column)
    coerced, failed = _per_value(column.to_pylist(), convert, target)
    return coerced, (pa.array(failed, type=pa.bool_()) if any(failed) else None)
