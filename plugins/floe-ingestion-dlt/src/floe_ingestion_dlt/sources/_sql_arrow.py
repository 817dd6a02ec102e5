"""One Arrow type per reflected SQL column, whatever the backend read.

connectorx and dlt's pyarrow backend hand over different Arrow types for the same column
(``smallint`` as int16 or int64, MariaDB ``FLOAT`` as float32 or a 6-digit double, ``BIT(1)`` as
bytes or an unknown type). For PostgreSQL and MySQL/MariaDB every column whose SQL type is known
gets one Arrow type, decided here from the reflected SQLAlchemy type, and every batch is cast to
it (:func:`canonical_caster`), so both backends land the same Iceberg schema and values:

============================================  ==============================================
SQL type                                      Arrow (Iceberg)
============================================  ==============================================
``smallint``, ``integer``, ``tinyint``,       ``int32`` (``int``); MySQL ``INT UNSIGNED``:
``mediumint`` (signed or unsigned)            ``int64`` (``long``)
``bigint``                                    ``int64``; MySQL ``BIGINT UNSIGNED``:
                                              ``decimal(20, 0)``
``real``, MySQL ``FLOAT``                     ``float32`` (``float``), the stored value exactly
``double precision``, MySQL ``DOUBLE``        ``float64`` (``double``)
``numeric(p, s)``                             ``decimal(p, s)``
``boolean``; MySQL ``BIT(1)``                 ``bool``; MySQL ``BIT(n > 1)``: ``int64``
``timestamptz``; MySQL ``TIMESTAMP``          ``timestamp[us, UTC]`` (``timestamptz``)
``timestamp``; MySQL ``DATETIME``             ``timestamp[us]`` (``timestamp``)
``json``, ``jsonb``, MySQL ``JSON``           ``string``: the server's text of the value
============================================  ==============================================

What the backends need for that, done in the query (:mod:`~floe_ingestion_dlt.sources._sql_types`)
and by :func:`table_adapter`:

- SQLAlchemy reflects floats with ``asdecimal=True`` on MySQL (``DOUBLE``): its result
  processor turns them into ``Decimal`` with 10 fractional digits (``1e-12`` became ``0.0``).
  The table adapter sets ``asdecimal=False``: floats stay floats.
- MariaDB's text protocol renders ``FLOAT`` with 6 significant digits: it is selected as a
  ``DOUBLE`` (``f * 1e0``, the exact widening) and cast back to float32 in Arrow.
- MySQL ``TIMESTAMP`` is stored in UTC and rendered in the session time zone (a DST hour is
  ambiguous): it is selected as its UTC wall clock (``UNIX_TIMESTAMP`` added to the epoch) and
  landed as ``timestamptz``.
- ``json``/``jsonb`` are selected as text: no driver parses them (a number beyond int64 failed
  the load, ``'null'`` became SQL NULL, ``12345678901234567890123`` lost digits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from floe_core import ErrorCategory, ErrorCode, SourceConnectionError

__all__ = ["FULLY_TYPED", "arrow_type", "canonical_caster", "table_adapter"]

FULLY_TYPED = frozenset({"postgresql", "mysql", "mariadb"})
"""Databases whose every column gets the Arrow type of :func:`arrow_type` (tested)."""


def is_mysql(database: str) -> bool:
    """Whether ``database`` is a MySQL dialect (MySQL or MariaDB)."""
    return database in ("mysql", "mariadb")


def is_single_float(sql_type: Any, database: str) -> bool:
    """Whether a float column holds 32-bit floats (PostgreSQL ``real``, MySQL ``FLOAT``)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql

    if isinstance(sql_type, sa.Double):
        return False
    if is_mysql(database):
        return isinstance(sql_type, mysql.FLOAT)
    if isinstance(sql_type, sa.REAL):
        return True
    precision = getattr(sql_type, "precision", None)
    return precision is not None and precision <= 24


def is_mysql_bit(sql_type: Any, database: str) -> bool:
    """Whether a column is a MySQL ``BIT(n)`` (selected as an unsigned integer)."""
    from sqlalchemy.dialects import mysql

    return is_mysql(database) and isinstance(sql_type, mysql.BIT)


def is_mysql_timestamp(sql_type: Any, database: str) -> bool:
    """Whether a column is a MySQL ``TIMESTAMP`` (UTC inside, session time zone outside)."""
    from sqlalchemy.dialects import mysql

    return is_mysql(database) and isinstance(sql_type, mysql.TIMESTAMP)


def arrow_type(sql_type: Any, database: str) -> Any:
    """Return the Arrow type a reflected column lands as (module docstring), or None.

    Args:
        sql_type: The reflected SQLAlchemy type.
        database: The SQLAlchemy backend name.

    Returns:
        A ``pyarrow.DataType``; None to keep what the backend read (unknown types, arrays,
        and types selected as text, which arrive as text anyway).
    """
    import pyarrow as pa
    import sqlalchemy as sa

    if isinstance(sql_type, sa.JSON):
        return pa.string()
    if is_mysql_bit(sql_type, database):
        length = getattr(sql_type, "length", None) or 1
        return pa.bool_() if length == 1 else pa.int64() if length < 64 else pa.decimal128(20, 0)
    if isinstance(sql_type, sa.Boolean):
        return pa.bool_()
    if isinstance(sql_type, sa.Float):
        return pa.float32() if is_single_float(sql_type, database) else pa.float64()
    if isinstance(sql_type, sa.Numeric):
        if sql_type.asdecimal and sql_type.precision is not None:
            precision, scale = int(sql_type.precision), int(sql_type.scale or 0)
            return (pa.decimal128 if precision <= 38 else pa.decimal256)(precision, scale)
        return None
    unsigned = bool(getattr(sql_type, "unsigned", False))
    if isinstance(sql_type, sa.BigInteger):
        return pa.decimal128(20, 0) if unsigned else pa.int64()
    if isinstance(sql_type, sa.Integer):
        small = isinstance(sql_type, sa.SmallInteger) or type(sql_type).__name__ in (
            "TINYINT",
            "MEDIUMINT",
        )
        return pa.int64() if unsigned and not small else pa.int32()
    if isinstance(sql_type, sa.DateTime):
        zoned = sql_type.timezone or is_mysql_timestamp(sql_type, database)
        return pa.timestamp("us", tz="UTC") if zoned else pa.timestamp("us")
    if isinstance(sql_type, sa.Date):
        return pa.date32()
    if isinstance(sql_type, sa.Uuid):
        return pa.string()
    if isinstance(sql_type, sa.String):
        return pa.string()
    if isinstance(sql_type, sa.LargeBinary | sa.types._Binary):
        return pa.binary()
    return None


def table_adapter(database: str, targets: dict[str, dict[str, Any]]) -> Callable[[Any], None]:
    """Return dlt's table adapter: floats stay floats; records each column's Arrow type.

    Args:
        database: The SQLAlchemy backend name.
        targets: Filled per table name with ``{column: pyarrow type}`` as tables are reflected
            (only decimals outside :data:`FULLY_TYPED`).

    Returns:
        The callback for ``sql_database(table_adapter_callback=...)``.
    """
    import pyarrow as pa
    import sqlalchemy as sa

    def adapt(table: Any) -> None:
        planned: dict[str, Any] = {}
        for column in table.columns:
            if isinstance(column.type, sa.Float):
                column.type.asdecimal = False  # SQLAlchemy's Decimal kept 10 fractional digits
            target = arrow_type(column.type, database)
            if target is None:
                continue
            if database in FULLY_TYPED or pa.types.is_decimal(target):
                planned[column.name] = target
        targets[table.name] = planned

    return adapt


def canonical_caster(name: str, targets: dict[str, dict[str, Any]]) -> Callable[[Any], Any]:
    """Return a map step casting each column of a table's batches to its Arrow type.

    Args:
        name: The table (resource) name.
        targets: What :func:`table_adapter` recorded.

    Returns:
        ``item -> item``; non-Arrow items pass unchanged.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def cast(item: Any) -> Any:
        planned = targets.get(name)
        if not planned or not isinstance(item, pa.Table | pa.RecordBatch):
            return item
        if isinstance(item, pa.RecordBatch):
            item = pa.Table.from_batches([item])
        for index, field in enumerate(item.schema):
            target = planned.get(field.name)
            if target is None or field.type == target:
                continue
            column = item.column(index)
            if pa.types.is_floating(field.type) and pa.types.is_decimal(target):
                column = pc.round(column, target.scale)  # SQLite hands decimals as floats
            try:
                item = item.set_column(index, field.name, _cast(column, target))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                text = str(exc).strip().splitlines()
                raise SourceConnectionError(
                    f"table {name!r}, column {field.name!r}: a value does not fit "
                    f"{target} ({text[0][:200] if text else type(exc).__name__}); e.g. NaN in a "
                    "numeric column: clean it in the source or select the column as text",
                    code=ErrorCode.SOURCE_READ_FAILED,
                    category=ErrorCategory.PERMANENT,
                    details={"table": name, "column": field.name},
                ) from exc
        return item

    return cast


def _cast(column: Any, target: Any) -> Any:
    """Cast exactly; only float64 → float32 (a 32-bit column read widened) may round."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_float32(target) and pa.types.is_floating(column.type):
        return pc.cast(column, target, safe=False)
    if (
        pa.types.is_timestamp(target)
        and target.tz is not None
        and pa.types.is_timestamp(column.type)
    ):
        if column.type.tz is None:  # a UTC wall clock (MySQL TIMESTAMP as selected)
            column = pc.assume_timezone(column, "UTC")
    return column.cast(target)
