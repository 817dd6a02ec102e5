"""``sql_database`` column types: what each backend selects, and how values come back exact.

Types that connectorx 0.4.6 cannot read (it panics) or that have no exact Arrow/Iceberg type are
selected as text on **both** backends, so every backend lands the same exact value:

- PostgreSQL ``interval`` as the server renders it (IntervalStyle, default ``postgres``:
  ``1 day 02:00:03.5``; Iceberg has no interval type), ``money`` as its plain number
  (``money::numeric``: ``-12.34``), ``timetz`` with its offset (``13:00:00.5+02``), ``xml`` and
  types SQLAlchemy does not know (``point``, extensions) as their text, ``bit``/``varbit`` as
  ``'1010'``, ``macaddr``, ``cidr``, ``tsvector``, ``regclass``, ``jsonpath`` as text, unbounded
  ``numeric`` (no precision: no decimal type holds every value) as its exact digits; ranges
  as PostgreSQL's text (``["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")``).
- MySQL/MariaDB ``TIME`` is a duration (±838:59:59.999999), not a time of day: it lands as the
  string MySQL renders, ``[-]HH:MM:SS[.ffffff]`` (``-01:00:00``, ``25:00:00``).
- PostgreSQL arrays are selected as ``to_json(col)`` text (``[[1,2],[3,4]]``) on both
  backends: connectorx cannot read multi-dimensional arrays, PostgreSQL does not record
  dimensions, and both backends then land the same text.
- ``json``/``jsonb`` (and MySQL ``JSON``) are selected as text: the server's text, exactly.
- MySQL ``FLOAT``, ``BIT`` and ``TIMESTAMP`` are selected exactly (:func:`_mysql_select`), and a
  ``TIMESTAMP`` cursor is compared as an instant (:func:`_mysql_timestamp_cursor`).

SQLite stores timestamps as text, compared as text. An incremental cursor on a SQLite
``DATETIME``/``TIMESTAMP`` column is compared against its value floored to the second, rendered
``YYYY-MM-DD HH:MM:SS`` (what Python and most tools store): never past a stored value whatever
its fractional digits, so no row at the boundary is skipped; dlt's incremental then drops the
rows before the cursor and de-duplicates those equal to it.
"""

from __future__ import annotations

from typing import Any

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_ingestion_dlt.sources._sql_arrow import (
    FULLY_TYPED,
    is_mysql,
    is_mysql_bit,
    is_mysql_timestamp,
    is_single_float,
)

__all__ = ["initial_value", "query_adapter", "type_adapter"]


def initial_value(config: IngestionConfig, resource: Any) -> Any:
    """Check the cursor column exists and coerce a text ``initial_value`` to its type."""
    from datetime import UTC, date, datetime
    from decimal import Decimal, InvalidOperation

    assert config.incremental is not None
    cursor, value = config.incremental.cursor_field, config.incremental.initial_value
    columns = resource.compute_table_schema().get("columns", {})
    if columns and cursor not in columns:
        raise PipelineConfigurationError(
            f"source {config.name!r}: incremental.cursor_field {cursor!r} is not a column of "
            f"table {resource.name!r}; columns are {', '.join(columns)}",
            source=config.name,
            details={"field": "incremental.cursor_field", "table": resource.name},
        )
    column = columns.get(cursor, {})
    data_type = column.get("data_type")
    if not isinstance(value, str) or data_type in (None, "text"):
        return value
    try:
        if data_type == "timestamp":
            parsed = datetime.fromisoformat(value)
            if column.get("timezone") and parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed
        if data_type == "date":
            return date.fromisoformat(value)
        if data_type == "bigint":
            return int(value)
        if data_type == "decimal":
            return Decimal(value)
        if data_type == "double":
            return float(value)
    except (ValueError, InvalidOperation):
        raise PipelineConfigurationError(
            f"source {config.name!r}: incremental.initial_value {value!r} is not a valid "
            f"{data_type} for cursor column {cursor!r} (e.g. '2024-01-31T00:00:00')",
            source=config.name,
            details={"field": "incremental.initial_value"},
        ) from None
    return value


def _adapt_type(sql_type: Any, database: str) -> Any:
    """Give dlt a type hint where it has none or the default would overflow.

    - ``BIGINT UNSIGNED`` (MySQL/MariaDB) holds values above int64: decimal(20, 0).
    - MySQL ``BIT(1)``: bool, ``BIT(n)``: bigint (dlt knows no BIT); ``TIMESTAMP``: with zone.
    - Floats (SQLAlchemy 2.1 no longer derives ``Float`` from ``Numeric``, so dlt 1.31 does not
      recognise ``DOUBLE``/``REAL``): a float-returning numeric, which dlt maps to ``double``,
      so an all-NULL first chunk still gets its type.
    """
    import sqlalchemy as sa

    if isinstance(sql_type, sa.BigInteger) and getattr(sql_type, "unsigned", False):
        return sa.Numeric(20, 0)
    if is_mysql_bit(sql_type, database):
        return sa.Boolean() if (getattr(sql_type, "length", None) or 1) == 1 else sa.BigInteger()
    if is_mysql_timestamp(sql_type, database):
        return sa.DateTime(timezone=True)
    if isinstance(sql_type, sa.Float) and not isinstance(sql_type, sa.Numeric):
        return sa.Numeric(asdecimal=False)
    return sql_type


def _as_text(sql_type: Any, database: str) -> bool:
    """Whether a column of this type is selected as text on every backend (module docstring)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql as pg
    from sqlalchemy.dialects.postgresql.ranges import AbstractRange

    pg_text_types = (
        pg.INTERVAL,
        sa.Interval,
        pg.MONEY,
        pg.BIT,
        pg.MACADDR,
        pg.MACADDR8,
        pg.CIDR,
        pg.TSVECTOR,
        pg.REGCLASS,
        pg.JSONPATH,
        AbstractRange,
        sa.types.NullType,  # a type SQLAlchemy does not know: xml, point, extension types
    )
    if isinstance(sql_type, sa.JSON) and database in FULLY_TYPED:
        return True  # the server's text; no driver parses it (module docstring)
    if database == "postgresql":
        if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float):
            return sql_type.asdecimal and sql_type.precision is None
        if isinstance(sql_type, sa.Time):
            return bool(sql_type.timezone)
        return isinstance(sql_type, pg_text_types)
    if database in ("mysql", "mariadb"):
        return isinstance(sql_type, sa.Time | sa.types.NullType)
    return False


def type_adapter(database: str) -> Any:
    """Type hints for dlt: :func:`_adapt_type`, and text for the columns selected as text."""
    import sqlalchemy as sa

    def adapt(sql_type: Any) -> Any:
        if _as_text(sql_type, database):
            return sa.Text()
        return _adapt_type(sql_type, database)

    return adapt


def _select_as_text(column: Any, database: str) -> Any:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql as pg

    if isinstance(column.type, pg.MONEY):
        return sa.cast(sa.cast(column, sa.Numeric), sa.Text).label(column.name)
    kind = sa.String if database in ("mysql", "mariadb") else sa.Text  # CAST(x AS CHAR)
    return sa.cast(column, kind).label(column.name)


def query_adapter(database: str, backend: str) -> Any:
    """Return dlt's query adapter: exotic types (and, for connectorx, numerics) as text.

    Exact numerics are selected as text for connectorx (it cannot read mixed-scale numerics
    exactly; :func:`decimal_restorer` casts them back). SQLite only gets the cursor fix.
    """
    import sqlalchemy as sa

    def adapt(query: Any, table: Any, incremental: Any = None, engine: Any = None) -> Any:
        if database == "sqlite":
            return _sqlite_cursor_as_stored(query, table, incremental)
        columns = []
        changed = False
        for column in table.columns:
            if _as_text(column.type, database):
                columns.append(_select_as_text(column, database))
            elif database == "postgresql" and isinstance(column.type, sa.ARRAY):
                columns.append(sa.cast(sa.func.to_json(column), sa.Text).label(column.name))
            elif is_mysql(database) and (mysql_column := _mysql_select(column)) is not None:
                columns.append(mysql_column)
            elif backend != "connectorx":
                columns.append(column)
                continue
            elif isinstance(column.type, sa.Numeric) and column.type.asdecimal:
                columns.append(sa.cast(column, sa.Text).label(column.name))
            else:
                columns.append(column)
                continue
            changed = True
        if changed:
            query = query.with_only_columns(*columns)
        if is_mysql(database):
            query = _mysql_timestamp_cursor(query, table, incremental)
        return query

    return adapt


def _mysql_timestamp_cursor(query: Any, table: Any, incremental: Any) -> Any:
    """Compare a MySQL ``TIMESTAMP`` cursor with the instant, not a session-zone rendering.

    The cursor's last value is the UTC instant (the column lands as ``timestamptz``), but a
    bound datetime is read in the session time zone: in a zone west of UTC, ``ts >= '12:00'``
    meant 17:00 UTC and skipped the rows in between. ``FROM_UNIXTIME(epoch)`` is rendered in
    the same session zone as the column, so the comparison is between instants.
    """
    import operator
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from sqlalchemy.sql import visitors
    from sqlalchemy.sql.elements import BinaryExpression, BindParameter

    cursor = getattr(incremental, "cursor_path", None)
    if not cursor or cursor not in table.c or not is_mysql_timestamp(table.c[cursor].type, "mysql"):
        return query
    column = table.c[cursor]
    compare = (operator.ge, operator.gt, operator.le, operator.lt)

    def replace(element: Any) -> Any:
        if (
            isinstance(element, BinaryExpression)
            and element.operator in compare
            and isinstance(element.right, BindParameter)
            and isinstance(element.right.value, datetime)
            and element.left.compare(column)
        ):
            value = element.right.value
            instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
            epoch = f"{delta.days * 86400 + delta.seconds}.{delta.microseconds:06d}"
            bound = sa.func.from_unixtime(sa.literal(epoch, sa.String()))
            return element.operator(column, bound)
        return None

    return visitors.replacement_traverse(query, {}, replace)  # type: ignore[call-overload]


def _mysql_select(column: Any) -> Any:
    """Select MySQL ``FLOAT``, ``BIT`` and ``TIMESTAMP`` exactly on every backend (or None).

    - ``FLOAT`` as ``f * 1e0``, a DOUBLE: the text protocol renders a FLOAT with 6 significant
      digits; the double is the exact widening, cast back to float32 in Arrow.
    - ``BIT(n)`` as ``CAST(b AS UNSIGNED)`` (the bytes otherwise); ``BIT(1)`` becomes a bool.
    - ``TIMESTAMP`` as its UTC wall clock, ``UNIX_TIMESTAMP`` µs added to the epoch: the
      stored instant whatever the session time zone (a rendered DST hour is ambiguous).
    """
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql

    if is_single_float(column.type, "mysql"):
        # SQLAlchemy skips CAST(... AS DOUBLE) on MySQL; a DOUBLE product widens exactly
        # (and keeps -0.0, which adding 0e0 would not)
        double = mysql.DOUBLE(asdecimal=False)  # the default makes a 10-digit Decimal
        return sa.type_coerce(column * sa.literal_column("1e0"), double).label(column.name)
    if is_mysql_bit(column.type, "mysql"):
        number = sa.cast(column, mysql.INTEGER(unsigned=True))
        if (getattr(column.type, "length", None) or 1) == 1:
            return sa.type_coerce(number, sa.Boolean()).label(column.name)
        return number.label(column.name)
    if is_mysql_timestamp(column.type, "mysql"):
        micros = sa.cast(sa.func.unix_timestamp(column) * 1000000, mysql.INTEGER())
        epoch = sa.cast(sa.literal("1970-01-01"), mysql.DATETIME(fsp=6))
        return sa.type_coerce(
            sa.func.timestampadd(sa.literal_column("MICROSECOND"), micros, epoch),
            mysql.DATETIME(fsp=6),
        ).label(column.name)
    return None


def _sqlite_cursor_as_stored(query: Any, table: Any, incremental: Any) -> Any:
    """Compare a SQLite text timestamp cursor with its value floored to the second, as text.

    SQLAlchemy binds a datetime as ``2024-01-01 00:00:08.000000``, and SQLite compares text:
    a stored ``2024-01-01 00:00:08`` is *less* than that, so ``>=`` skipped every row equal to
    the last cursor. The floored value is never greater than any stored rendering of the same
    instant; rows before the cursor are dropped again by dlt's incremental.
    """
    import operator
    from datetime import datetime

    import sqlalchemy as sa
    from sqlalchemy.sql import visitors
    from sqlalchemy.sql.elements import BinaryExpression, BindParameter

    cursor = getattr(incremental, "cursor_path", None)
    if not cursor or cursor not in table.c or not isinstance(table.c[cursor].type, sa.DateTime):
        return query
    column = table.c[cursor]

    def replace(element: Any) -> Any:
        if (
            isinstance(element, BinaryExpression)
            and element.operator in (operator.ge, operator.gt)
            and isinstance(element.right, BindParameter)
            and isinstance(element.right.value, datetime)
            and element.left.compare(column)
        ):
            floored = element.right.value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")
            return column >= sa.literal(floored, sa.String())
        return None

    return visitors.replacement_traverse(query, {}, replace)  # type: ignore[call-overload]
