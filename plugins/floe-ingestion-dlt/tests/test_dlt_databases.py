"""Every common column type from PostgreSQL and MariaDB, read back from Iceberg."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from dlt_test_helpers import BACKENDS, sql_engine

from floe_core import CatalogConfig, ErrorCategory, ErrorCode, IngestionConfig, IngestionResult
from floe_ingestion_dlt import DltIngestionPlugin
from floe_testing.readback import read_table as _read

BIG = 9223372036854775807
SMALL = -9223372036854775808
UTF = "žluťoučký kůň 🐎 日本語"
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def _run(catalog: CatalogConfig, config: IngestionConfig) -> IngestionResult:
    plugin = DltIngestionPlugin(catalog=catalog)
    return plugin.run(plugin.create_pipeline(config))


def _sql_config(
    dsn: str,
    table: str,
    *,
    schema: str | None = None,
    backend: str = "auto",
    name: str = "db",
    **kw: Any,
) -> IngestionConfig:
    """One table of a test database into ``bronze.<table>``."""
    source: dict[str, Any] = {"connection_string": dsn, "tables": [table], "backend": backend}
    if schema is not None:
        source["schema"] = schema
    return IngestionConfig(
        name=name,
        source_type="sql_database",
        source_config=source,
        destination_table=f"bronze.{table}",
        **kw,
    )


UNKNOWN_TYPE_WARNING = pytest.mark.filterwarnings(
    "ignore:Did not recognize type:sqlalchemy.exc.SAWarning"  # xml: selected as text
)


@pytest.mark.postgres
@UNKNOWN_TYPE_WARNING
@BACKENDS
def test_postgres_types_round_trip(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"""CREATE TABLE {pg_schema}.everything (
                id bigint PRIMARY KEY, num numeric(38, 9), big bigint, small_i smallint,
                dbl double precision, flag boolean, ts timestamp, tstz timestamptz, d date,
                t time, u uuid, j json, jb jsonb, ints int[], texts text[], b bytea, txt text,
                vc varchar(20), iv interval, m money, x xml, ttz timetz, grid int[][],
                nb numeric, mac macaddr, net cidr, rng int4range)"""
            )
        )
        conn.execute(
            sa.text(
                f"""INSERT INTO {pg_schema}.everything VALUES
                (1, 12345678901234567890123456789.123456789, {BIG}, 32767, 1.5, true,
                 '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+02', '2024-02-29',
                 '13:14:15.123456', '{UID}', '{{"a": [1, {{"b": null}}]}}', '{{"k": "v"}}',
                 '{{1,2,3}}', '{{"x","y"}}', '\\x00ff10', :utf, 'short',
                 '1 day 02:00:03.5', -12.34, '<a b="1"/>', '13:00:00.5+02', '{{{{1,2}},{{3,4}}}}',
                 1.23456789012345678901234567890123456789012, '08:00:2b:01:02:03', '10.0.0.0/8',
                 '[1,5)'),
                (2, -0.000000001, {SMALL}, -32768, -0.0, false, NULL, NULL, NULL, NULL, NULL,
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 NULL, NULL, NULL)"""
            ),
            {"utf": UTF},
        )
    engine.dispose()
    config = _sql_config(postgres_dsn, "everything", schema=pg_schema, backend=backend)
    result = _run(embedded_catalog, config)
    assert result.success, result.errors
    table = _read(embedded_catalog, "bronze.everything")
    schema = table.schema
    assert schema.field("num").type == pa.decimal128(38, 9)
    assert schema.field("tstz").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ts").type == pa.timestamp("us")
    assert schema.field("dbl").type == pa.float64()
    rows = {r["id"]: r for r in table.to_pylist()}
    one, two = rows[1], rows[2]
    assert one["num"] == Decimal("12345678901234567890123456789.123456789")
    assert two["num"] == Decimal("-0.000000001")
    assert (one["big"], two["big"]) == (BIG, SMALL)
    assert (one["small_i"], two["small_i"]) == (32767, -32768)
    assert one["dbl"] == 1.5 and one["flag"] is True and two["flag"] is False
    assert one["ts"] == dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    assert one["tstz"] == dt.datetime(2024, 2, 29, 11, 14, 15, 123456, tzinfo=dt.UTC)
    assert one["d"] == dt.date(2024, 2, 29)
    assert one["t"] == dt.time(13, 14, 15, 123456)
    # uuid as canonical text, json/jsonb as the server's text, arrays as compact JSON text
    assert one["u"] == str(UID)
    assert one["j"] == '{"a": [1, {"b": null}]}'
    assert one["jb"] == '{"k": "v"}'
    assert one["ints"] == "[1,2,3]"
    assert one["texts"] == '["x","y"]'
    assert one["b"] == b"\x00\xff\x10"
    assert one["txt"] == UTF and one["vc"] == "short"
    # connectorx cannot read these (it panics) and Iceberg has no exact type for some: text,
    # identical on both backends (interval in PostgreSQL's default IntervalStyle)
    assert one["iv"] == "1 day 02:00:03.5"
    assert one["m"] == "-12.34"
    assert one["x"] == '<a b="1"/>'
    assert one["ttz"] == "13:00:00.5+02"
    assert one["grid"] == "[[1,2],[3,4]]"
    assert one["nb"] == "1.23456789012345678901234567890123456789012"
    assert (one["mac"], one["net"], one["rng"]) == ("08:00:2b:01:02:03", "10.0.0.0/8", "[1,5)")
    for name in ("iv", "m", "x", "ttz", "grid", "nb", "mac", "net", "rng"):
        assert schema.field(name).type in (pa.string(), pa.large_string()), name
    nullable = set(one) - {"id", "num", "big", "small_i", "dbl", "flag"}
    assert all(two[name] is None for name in nullable)


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.mariadb
@BACKENDS
def test_mariadb_types_round_trip(
    mysql_dsn: str, maria_table: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    engine = sql_engine(mysql_dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"""CREATE TABLE {maria_table} (
                id bigint PRIMARY KEY, num decimal(38, 9), big bigint, ubig bigint unsigned,
                flag boolean, ts datetime(6), tsz timestamp(6) NULL, d date, t time(6),
                j json, b blob, txt text CHARACTER SET utf8mb4, dbl double, dur time,
                neg time(6))"""
            )
        )
        conn.execute(sa.text("SET time_zone = '+00:00'"))
        conn.execute(
            sa.text(
                f"""INSERT INTO {maria_table} VALUES
                (1, 12345678901234567890123456789.123456789, {BIG}, 18446744073709551615, true,
                 '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456', '2024-02-29',
                 '13:14:15.123456', '{{"a": [1, null]}}', X'00FF10', :utf, 2.5, '-838:59:59',
                 '-01:00:00.5'),
                (2, -0.000000001, {SMALL}, 0, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 NULL, '25:00:00', '838:59:59.000000')"""
            ),
            {"utf": UTF},
        )
    engine.dispose()
    config = _sql_config(mysql_dsn, maria_table, backend=backend, name="maria")
    result = _run(embedded_catalog, config)
    assert result.success, result.errors
    table = _read(embedded_catalog, f"bronze.{maria_table}")
    assert table.schema.field("num").type == pa.decimal128(38, 9)
    rows = {r["id"]: r for r in table.to_pylist()}
    one, two = rows[1], rows[2]
    assert one["num"] == Decimal("12345678901234567890123456789.123456789")
    assert two["num"] == Decimal("-0.000000001")
    assert (one["big"], two["big"]) == (BIG, SMALL)
    assert table.schema.field("ubig").type == pa.decimal128(20, 0)
    assert one["ubig"] == Decimal(18446744073709551615)
    assert table.schema.field("dbl").type == pa.float64()
    # BOOLEAN is TINYINT(1) in MySQL (it holds 2 as well): an int on both backends
    assert table.schema.field("flag").type == pa.int32()
    assert (one["flag"], two["flag"]) == (1, 0)
    assert one["ts"] == dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    # TIMESTAMP is an instant (stored in UTC): timestamptz, inserted here in UTC
    assert table.schema.field("tsz").type == pa.timestamp("us", tz="UTC")
    assert one["tsz"] == dt.datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=dt.UTC)
    assert one["d"] == dt.date(2024, 2, 29)
    # MySQL TIME is a duration (±838:59:59): exact text with its sign, on both backends
    # (a time of day wrapped '-01:00:00' to 23:00 and '25:00:00' to 01:00)
    assert one["t"] == "13:14:15.123456"
    assert (one["dur"], two["dur"]) == ("-838:59:59", "25:00:00")
    assert (one["neg"], two["neg"]) == ("-01:00:00.500000", "838:59:59.000000")
    assert table.schema.field("dur").type in (pa.string(), pa.large_string())
    assert _json(one["j"]) == {"a": [1, None]}
    assert one["b"] == b"\x00\xff\x10"
    assert one["txt"] == UTF and one["dbl"] == 2.5
    assert all(two[c] is None for c in ("ts", "tsz", "d", "t", "j", "b", "txt", "dbl"))


@pytest.mark.mariadb
def test_mariadb_wrong_password_is_permanent_auth_failed(
    mysql_dsn: str, embedded_catalog: CatalogConfig
) -> None:
    url = sa.engine.make_url(mysql_dsn).set(password="definitely-wrong")
    config = _sql_config(url.render_as_string(hide_password=False), "t", name="maria")
    result = _run(embedded_catalog, config)
    assert not result.success
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.AUTH_FAILED)
    assert not result.retryable
    assert "definitely-wrong" not in result.model_dump_json()


@pytest.mark.postgres
def test_postgres_missing_table_is_source_not_found(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig
) -> None:
    config = _sql_config(postgres_dsn, "nope", schema=pg_schema)
    result = _run(embedded_catalog, config)
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.CONFIGURATION, ErrorCode.SOURCE_NOT_FOUND)


@pytest.mark.parametrize(
    "dsn_fixture",
    [
        pytest.param("postgres_dsn", marks=pytest.mark.postgres, id="postgres"),
        pytest.param("mysql_dsn", marks=pytest.mark.mariadb, id="mariadb"),
    ],
)
def test_missing_database_points_at_the_database_name(
    dsn_fixture: str,
    request: pytest.FixtureRequest,
    embedded_catalog: CatalogConfig,
    unique: str,
) -> None:
    url = sa.engine.make_url(request.getfixturevalue(dsn_fixture)).set(database=unique)
    config = _sql_config(url.render_as_string(hide_password=False), "t")
    result = _run(embedded_catalog, config)
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.CONFIGURATION, ErrorCode.SOURCE_NOT_FOUND)
    assert "check the database name in connection_string" in error.message
    assert "'tables'" not in error.message


@pytest.mark.postgres
def test_connectorx_panic_is_permanent_source_read_failed(postgres_dsn: str) -> None:
    import connectorx as cx

    from floe_ingestion_dlt._errors import translate
    from floe_ingestion_dlt.sources import SQL_DATABASE

    # a type connectorx 0.4.6 does not implement (the plugin selects such columns as text)
    with pytest.raises(BaseException) as info:  # pyo3 PanicException is a BaseException
        cx.read_sql(postgres_dsn, "SELECT '1 2'::int2vector AS v", return_type="arrow")
    assert type(info.value).__name__ == "PanicException"
    error = translate(info.value, side="source", source="pg", source_errors=SQL_DATABASE.errors)
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SOURCE_READ_FAILED)
    assert "set backend: pyarrow" in error.message
    assert error.details["hint"] == "set backend: pyarrow"


@pytest.mark.postgres
@UNKNOWN_TYPE_WARNING
@pytest.mark.parametrize("backend", ["auto", "pyarrow"])
def test_postgres_auto_loads_types_connectorx_cannot_read(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {pg_schema}.odd (id int PRIMARY KEY, iv interval, m money, "
                "x xml, ttz timetz, grid int[][], amount numeric(10, 2))"
            )
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {pg_schema}.odd VALUES (1, '-3 days', 1000000.5, '<r/>', "
                "'23:59:59.999999-11', '{{1},{2}}', 12.5), (2, NULL, NULL, NULL, NULL, "
                "'{{NULL}}', NULL)"
            )
        )
    engine.dispose()
    config = _sql_config(postgres_dsn, "odd", schema=pg_schema, backend=backend)
    result = _run(embedded_catalog, config)
    assert result.success, result.errors
    rows = {r["id"]: r for r in _read(embedded_catalog, "bronze.odd").to_pylist()}
    assert rows[1] == {
        "id": 1,
        "iv": "-3 days",
        "m": "1000000.50",
        "x": "<r/>",
        "ttz": "23:59:59.999999-11",
        "grid": "[[1],[2]]",
        "amount": Decimal("12.50"),
    }
    assert rows[2]["grid"] == "[[null]]" and rows[2]["iv"] is None


@pytest.mark.postgres
def test_postgres_numeric_nan_names_the_column(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig
) -> None:
    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"CREATE TABLE {pg_schema}.nan (id int PRIMARY KEY, v numeric(10, 2))")
        )
        conn.execute(sa.text(f"INSERT INTO {pg_schema}.nan VALUES (1, 1.5), (2, 'NaN')"))
    engine.dispose()
    config = _sql_config(postgres_dsn, "nan", schema=pg_schema, backend="connectorx")
    result = _run(embedded_catalog, config)
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.PERMANENT, ErrorCode.SOURCE_READ_FAILED)
    assert "column 'v'" in error.message
    assert error.details["column"] == "v"


@pytest.mark.postgres
@BACKENDS
def test_a_load_failing_mid_extraction_releases_the_source_connection(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    """The writer fails on row 5 of 10: the table must be droppable at once, not at gc."""
    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {pg_schema}.src (id int, v text)"))
        conn.execute(
            sa.text(
                f"INSERT INTO {pg_schema}.src "
                "SELECT CASE WHEN i = 5 THEN NULL ELSE i END, 'x' FROM generate_series(1, 10) i"
            )
        )
    plugin = DltIngestionPlugin({"batch_rows": 2}, catalog=embedded_catalog)
    config = _sql_config(
        postgres_dsn,
        "src",
        schema=pg_schema,
        backend=backend,
        write_mode="merge",
        primary_key=["id"],
    )
    result = plugin.run(plugin.create_pipeline(config))
    assert not result.success
    assert result.errors[0].category is ErrorCategory.PERMANENT  # a null merge key
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL lock_timeout = '3s'"))
        conn.execute(sa.text(f"DROP TABLE {pg_schema}.src"))  # waits on a held connection
    engine.dispose()
