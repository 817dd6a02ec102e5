"""Every common column type from PostgreSQL and MariaDB, read back from Iceberg."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from floe_core import CatalogConfig, ErrorCategory, ErrorCode, IngestionConfig, IngestionResult
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt._sql import _driver

BIG = 9223372036854775807
SMALL = -9223372036854775808
UTF = "žluťoučký kůň 🐎 日本語"
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def _engine(dsn: str) -> sa.Engine:
    url = sa.engine.make_url(dsn)
    return sa.create_engine(url.set(drivername=_driver(url.drivername)))


def _run(catalog: CatalogConfig, config: IngestionConfig) -> IngestionResult:
    plugin = DltIngestionPlugin(catalog=catalog)
    return plugin.run(plugin.create_pipeline(config))


def _read(catalog: CatalogConfig, table: str) -> pa.Table:
    from floe_ingestion_dlt.iceberg import load_catalog

    return load_catalog(catalog).load_table(table).scan().to_arrow()


@pytest.fixture
def pg_schema(postgres_dsn: str, unique: str) -> Iterator[str]:
    engine = _engine(postgres_dsn)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {unique}"))
    try:
        yield unique
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {unique} CASCADE"))
        engine.dispose()


BACKENDS = pytest.mark.parametrize("backend", ["pyarrow", "connectorx"])


@pytest.mark.postgres
@BACKENDS
def test_postgres_types_round_trip(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    engine = _engine(postgres_dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"""CREATE TABLE {pg_schema}.everything (
                id bigint PRIMARY KEY, num numeric(38, 9), big bigint, small_i smallint,
                dbl double precision, flag boolean, ts timestamp, tstz timestamptz, d date,
                t time, u uuid, j json, jb jsonb, ints int[], texts text[], b bytea, txt text,
                vc varchar(20))"""
            )
        )
        conn.execute(
            sa.text(
                f"""INSERT INTO {pg_schema}.everything VALUES
                (1, 12345678901234567890123456789.123456789, {BIG}, 32767, 1.5, true,
                 '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+02', '2024-02-29',
                 '13:14:15.123456', '{UID}', '{{"a": [1, {{"b": null}}]}}', '{{"k": "v"}}',
                 '{{1,2,3}}', '{{"x","y"}}', '\\x00ff10', :utf, 'short'),
                (2, -0.000000001, {SMALL}, -32768, -0.0, false, NULL, NULL, NULL, NULL, NULL,
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL)"""
            ),
            {"utf": UTF},
        )
    engine.dispose()
    config = IngestionConfig(
        name="pg",
        source_type="sql_database",
        source_config={
            "connection_string": postgres_dsn,
            "schema": pg_schema,
            "tables": ["everything"],
            "backend": backend,
        },
        destination_table="bronze.everything",
    )
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
    # the JSON rule: uuid as canonical text, json/jsonb/arrays as compact JSON text
    assert one["u"] == str(UID)
    assert one["j"] == '{"a":[1,{"b":null}]}'
    assert one["jb"] == '{"k":"v"}'
    assert one["ints"] == "[1,2,3]"
    assert one["texts"] == '["x","y"]'
    assert one["b"] == b"\x00\xff\x10"
    assert one["txt"] == UTF and one["vc"] == "short"
    nullable = set(one) - {"id", "num", "big", "small_i", "dbl", "flag"}
    assert all(two[name] is None for name in nullable)


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def maria_table(mysql_dsn: str, unique: str) -> Iterator[str]:
    engine = _engine(mysql_dsn)
    try:
        yield unique
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {unique}"))
        engine.dispose()


@pytest.mark.mariadb
@BACKENDS
def test_mariadb_types_round_trip(
    mysql_dsn: str, maria_table: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    engine = _engine(mysql_dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"""CREATE TABLE {maria_table} (
                id bigint PRIMARY KEY, num decimal(38, 9), big bigint, ubig bigint unsigned,
                flag boolean, ts datetime(6), tsz timestamp(6) NULL, d date, t time(6),
                j json, b blob, txt text CHARACTER SET utf8mb4, dbl double)"""
            )
        )
        conn.execute(sa.text("SET time_zone = '+00:00'"))
        conn.execute(
            sa.text(
                f"""INSERT INTO {maria_table} VALUES
                (1, 12345678901234567890123456789.123456789, {BIG}, 18446744073709551615, true,
                 '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456', '2024-02-29',
                 '13:14:15.123456', '{{"a": [1, null]}}', X'00FF10', :utf, 2.5),
                (2, -0.000000001, {SMALL}, 0, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 NULL)"""
            ),
            {"utf": UTF},
        )
    engine.dispose()
    config = IngestionConfig(
        name="maria",
        source_type="sql_database",
        source_config={"connection_string": mysql_dsn, "tables": [maria_table], "backend": backend},
        destination_table=f"bronze.{maria_table}",
    )
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
    assert one["flag"] in (True, 1) and two["flag"] in (False, 0)
    assert one["ts"] == dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    assert one["tsz"].replace(tzinfo=None) == dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    assert one["d"] == dt.date(2024, 2, 29)
    assert one["t"] in (
        dt.time(13, 14, 15, 123456),
        dt.timedelta(hours=13, minutes=14, seconds=15.123456),
    )
    assert _json(one["j"]) == {"a": [1, None]}
    assert one["b"] == b"\x00\xff\x10"
    assert one["txt"] == UTF and one["dbl"] == 2.5
    assert all(two[c] is None for c in ("ts", "tsz", "d", "t", "j", "b", "txt", "dbl"))


@pytest.mark.mariadb
def test_mariadb_wrong_password_is_permanent_auth_failed(
    mysql_dsn: str, embedded_catalog: CatalogConfig
) -> None:
    url = sa.engine.make_url(mysql_dsn).set(password="definitely-wrong")
    config = IngestionConfig(
        name="maria",
        source_type="sql_database",
        source_config={
            "connection_string": url.render_as_string(hide_password=False),
            "tables": ["t"],
        },
        destination_table="bronze.t",
    )
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
    config = IngestionConfig(
        name="pg",
        source_type="sql_database",
        source_config={"connection_string": postgres_dsn, "schema": pg_schema, "tables": ["nope"]},
        destination_table="bronze.nope",
    )
    result = _run(embedded_catalog, config)
    (error,) = result.errors
    assert (error.category, error.code) == (ErrorCategory.CONFIGURATION, ErrorCode.SOURCE_NOT_FOUND)
