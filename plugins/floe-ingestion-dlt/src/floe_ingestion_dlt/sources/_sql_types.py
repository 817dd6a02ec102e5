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
- With connectorx, PostgreSQL arrays are selected as ``to_json(col)`` text (``[[1,2],[3,4]]``):
  connectorx cannot read multi-dimensional arrays, and PostgreSQL does not record dimensions.

SQLite stores timestamps as text, compared as text. An incremental cursor on a SQLite
``DATETIME``/``TIMESTAMP`` column is compared against its value floored to the second, rendered
``YYYY-MM-DD HH:MM:SS`` (what Python and most tools store): never past a stored value whatever
its fractional digits, so no row at the boundary is skipped; dlt's incremental then drops the
rows before the cursor and de-duplicates those equal to it.
"""

from __future__ import annotations

from typing import Any

from floe_core import (
    ErrorCategory,
    ErrorCode,
    IngestionConfig,
    PipelineConfigurationError,
    SourceConnectionError,
)

__all__ = ["decimal_restorer", "initial_value", "query_adapter", "type_adapter"]


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


def _adapt_type(sql_type: Any) -> Any:
    """Give dlt a type hint where it has none or the default would overflow.

    - ``BIGINT UNSIGNED`` (MySQL/MariaDB) holds values above int64: decimal(20, 0).
    - Floats (SQLAlchemy 2.1 no longer derives ``Float`` from ``Numeric``, so dlt 1.31 does not
      recognise ``DOUBLE``/``REAL``): a float-returning numeric, which dlt maps to ``double``,
      so an all-NULL first chunk still gets its type.
    """
    import sqlalchemy as sa

    if isinstance(sql_type, sa.BigInteger) and getattr(sql_type, "unsigned", False):
        return sa.Numeric(20, 0)
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
        return _adapt_type(sql_type)

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
            elif backend != "connectorx":
                columns.append(column)
                continue
            elif isinstance(column.type, sa.Numeric) and column.type.asdecimal:
                columns.append(sa.cast(column, sa.Text).label(column.name))
            elif database == "postgresql" and isinstance(column.type, sa.ARRAY):
                columns.append(sa.cast(sa.func.to_json(column), sa.Text).label(column.name))
            else:
                columns.append(column)
                continue
            changed = True
        return query.with_only_columns(*columns) if changed else query

    return adapt


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


def decimal_restorer(resource: Any) -> Any:
    """Return a map step casting float/int columns back to their reflected decimal types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    decimals: dict[str, pa.DataType] = {}
    for name, column in resource.compute_table_schema().get("columns", {}).items():
        if column.get("data_type") == "decimal" and column.get("precision") is not None:
            precision, scale = int(column["precision"]), int(column.get("scale") or 0)
            decimals[name] = (pa.decimal128 if precision <= 38 else pa.decimal256)(precision, scale)

    def restore(item: Any) -> Any:
        if not decimals or not isinstance(item, pa.Table):
            return item
        for index, field in enumerate(item.schema):
            target = decimals.get(field.name)
            if target is None or pa.types.is_decimal(field.type):
                continue
            column = item.column(index)
            if pa.types.is_floating(field.type):
                column = pc.round(column, target.scale)
            # strings (numerics selected as text) and integers cast exactly
            try:
                item = item.set_column(index, field.name, column.cast(target))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                text = str(exc).strip().splitlines()
                raise SourceConnectionError(
                    f"table {resource.name!r}, column {field.name!r}: a value does not fit "
                    f"{target} ({text[0][:200] if text else type(exc).__name__}); e.g. NaN in a "
                    "numeric column: clean it in the source or select the column as text",
                    code=ErrorCode.SOURCE_READ_FAILED,
                    category=ErrorCategory.PERMANENT,
                    details={"table": resource.name, "column": field.name},
                ) from exc
        return item

    return restore
