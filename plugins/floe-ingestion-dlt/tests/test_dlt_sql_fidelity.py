"""Exact values on both SQL backends: the same Iceberg schema and rows from pyarrow and connectorx.

Each test loads one table with each backend, reads the rows back from Iceberg and compares them
with exact expectations (floats bit for bit, JSON as the server's text), and the Iceberg schema
with one expected mapping shared by both backends.
"""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from dlt_test_helpers import BACKENDS, sql_engine

from floe_core import CatalogConfig, IngestionConfig
from floe_ingestion_dlt import DltIngestionPlugin

UTC = dt.UTC


def _f32(value: float) -> float:
    """The float32 nearest ``value``, as Python reads it back (widened exactly)."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _load(
    catalog: CatalogConfig, dsn: str, table: str, backend: str, schema: str | None = None
) -> tuple[dict[str, str], dict[int, dict[str, Any]]]:
    """Load one table with ``backend``; return its Iceberg schema and its rows by ``id``."""
    from floe_iceberg import load_catalog

    source: dict[str, Any] = {"connection_string": dsn, "tables": [table], "backend": backend}
    if schema is not None:
        source["schema"] = schema
    config = IngestionConfig(
        name="fidelity",
        source_type="sql_database",
        source_config=source,
        destination_table=f"bronze.{table}",
    )
    plugin = DltIngestionPlugin(catalog=catalog)
    result = plugin.run(plugin.create_pipeline(config))
    assert result.success, result.errors
    loaded = load_catalog(catalog).load_table(f"bronze.{table}")
    types = {f.name: str(f.field_type) for f in loaded.schema().fields}
    rows = {r["id"]: r for r in loaded.scan().to_arrow().to_pylist()}
    return types, rows


PG_TYPES = {
    "id": "int",
    "s": "int",
    "i": "int",
    "b": "long",
    "r": "float",
    "d": "double",
    "n": "decimal(10, 3)",
    "flag": "boolean",
    "j": "string",
    "jb": "string",
    "ts": "timestamp",
    "tstz": "timestamptz",
}


@pytest.mark.postgres
@BACKENDS
def test_postgres_floats_and_json_are_exact(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"""CREATE TABLE {pg_schema}.fid (id int PRIMARY KEY, s smallint NOT NULL, i int,
            b bigint, r real, d double precision, n numeric(10, 3), flag boolean, j json,
            jb jsonb, ts timestamp, tstz timestamptz)"""
        )
        conn.exec_driver_sql(
            f"""INSERT INTO {pg_schema}.fid VALUES
            (1, -32768, -2147483648, -9223372036854775808, 3.4e38, -2.2250738585072014e-308,
             -1234567.891, true, '12345678901234567890123', '{{"n": 1e308}}',
             '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+02'),
            (2, 32767, 2147483647, 9223372036854775807, 0.1, 3.141592653589793, 0.001, false,
             '0.1000000000000000055511151231257827', '{{"n": 12345678901234567890123}}',
             NULL, NULL),
            (3, 0, 0, 0, 1.17549435e-38, 1e-12, 0, NULL, '{{"b":1,"a":2,"a":3}}', '"string"',
             NULL, NULL),
            (4, 1, NULL, NULL, '-0', 1.7976931348623157e308, NULL, NULL, 'null', 'null',
             NULL, NULL),
            (5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"""
        )
    engine.dispose()

    types, rows = _load(embedded_catalog, postgres_dsn, "fid", backend, schema=pg_schema)

    assert types == PG_TYPES  # one mapping: both backends land the same schema
    assert [rows[i]["s"] for i in (1, 2, 3)] == [-32768, 32767, 0]
    assert [rows[i]["i"] for i in (1, 2)] == [-2147483648, 2147483647]
    assert [rows[i]["b"] for i in (1, 2)] == [-(2**63), 2**63 - 1]
    # real is float32: the stored value, not its shortest decimal rendering read as a double
    assert [rows[i]["r"] for i in (1, 2, 3, 5)] == [
        _f32(3.4e38),
        _f32(0.1),
        _f32(1.17549435e-38),
        None,
    ]
    assert str(rows[4]["r"]) == "-0.0"
    assert [rows[i]["d"] for i in (1, 2, 3, 4)] == [
        -2.2250738585072014e-308,
        3.141592653589793,
        1e-12,
        1.7976931348623157e308,
    ]
    assert [rows[i]["n"] for i in (1, 2, 3)] == [
        Decimal("-1234567.891"),
        Decimal("0.001"),
        Decimal("0.000"),
    ]
    assert [rows[i]["flag"] for i in (1, 2, 3)] == [True, False, None]
    # json is the server's text exactly; jsonb is PostgreSQL's normalised text
    assert [rows[i]["j"] for i in (1, 2, 3, 4, 5)] == [
        "12345678901234567890123",
        "0.1000000000000000055511151231257827",
        '{"b":1,"a":2,"a":3}',
        "null",  # JSON null, not SQL NULL
        None,
    ]
    assert rows[1]["jb"] == '{"n": 1' + "0" * 308 + "}"
    assert [rows[i]["jb"] for i in (2, 3, 4, 5)] == [
        '{"n": 12345678901234567890123}',
        '"string"',
        "null",
        None,
    ]
    assert rows[1]["ts"] == dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    assert rows[1]["tstz"] == dt.datetime(2024, 2, 29, 11, 14, 15, 123456, tzinfo=UTC)


MARIA_TYPES = {
    "id": "int",
    "ti": "int",
    "tu": "int",
    "si": "int",
    "mi": "int",
    "iu": "long",
    "bi": "long",
    "bu": "decimal(20, 0)",
    "f": "float",
    "d": "double",
    "bit1": "boolean",
    "bit8": "long",
    "flag": "int",
    "j": "string",
    "ts": "timestamptz",
    "dtm": "timestamp",
}


@pytest.mark.mariadb
@BACKENDS
def test_mariadb_numbers_bits_json_and_timestamps_are_exact(
    mysql_dsn: str, maria_table: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    engine = sql_engine(mysql_dsn)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"""CREATE TABLE {maria_table} (id int PRIMARY KEY, ti tinyint NOT NULL,
            tu tinyint unsigned, si smallint, mi mediumint, iu int unsigned, bi bigint,
            bu bigint unsigned, f float, d double, bit1 bit(1), bit8 bit(8), flag boolean,
            j json, ts timestamp(6) NULL, dtm datetime(6))"""
        )
        # TIMESTAMP values are read and written in the session time zone: +05:00 here
        conn.exec_driver_sql("SET time_zone = '+05:00'")
        conn.exec_driver_sql(
            f"""INSERT INTO {maria_table} VALUES
            (1, -128, 255, -32768, -8388608, 4294967295, -9223372036854775808,
             18446744073709551615, 3.14159274, -2.2250738585072014e-308, b'1', b'11111111', 2,
             '{{"b":1,"a":2,"a":3}}', '2024-03-10 15:00:00.123456', '2024-03-10 15:00:00.5'),
            (2, 127, 0, 32767, 8388607, 0, 9223372036854775807, 0, 1.17549435e-38,
             3.141592653589793, b'0', b'00000001', 0, '12345678901234567890123', NULL, NULL),
            (3, 0, NULL, NULL, NULL, NULL, NULL, NULL, 3.4e38, 1e-12, NULL, NULL, NULL, 'null',
             NULL, NULL),
            (4, 1, NULL, NULL, NULL, NULL, NULL, NULL, -0.0, 1.7976931348623157e308, NULL, NULL,
             NULL, '0.1000000000000000055511151231257827', NULL, NULL),
            (5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL)"""
        )
    engine.dispose()

    types, rows = _load(embedded_catalog, mysql_dsn, maria_table, backend)

    assert types == MARIA_TYPES  # one mapping: both backends land the same schema
    one, two = rows[1], rows[2]
    assert (one["ti"], two["ti"], one["tu"], two["tu"]) == (-128, 127, 255, 0)
    assert (one["si"], two["si"], one["mi"], two["mi"]) == (-32768, 32767, -8388608, 8388607)
    assert (one["iu"], one["bi"], two["bi"]) == (4294967295, -(2**63), 2**63 - 1)
    assert (one["bu"], two["bu"]) == (Decimal(2**64 - 1), Decimal(0))
    # FLOAT is float32, all its digits (the text protocol renders 6); DOUBLE stays a float
    assert [rows[i]["f"] for i in (1, 2, 3, 5)] == [
        _f32(3.14159274),
        _f32(1.17549435e-38),
        _f32(3.4e38),
        None,
    ]
    assert [rows[i]["d"] for i in (1, 2, 3, 4)] == [
        -2.2250738585072014e-308,
        3.141592653589793,
        1e-12,
        1.7976931348623157e308,
    ]
    assert (one["bit1"], two["bit1"], rows[3]["bit1"]) == (True, False, None)
    assert (one["bit8"], two["bit8"]) == (255, 1)
    assert (one["flag"], two["flag"]) == (2, 0)  # BOOLEAN is TINYINT(1): it holds 2
    # MariaDB JSON is LONGTEXT with a json_valid check: the stored text, exactly
    assert [rows[i]["j"] for i in (1, 2, 3, 4, 5)] == [
        '{"b":1,"a":2,"a":3}',
        "12345678901234567890123",
        "null",
        "0.1000000000000000055511151231257827",
        None,
    ]
    # TIMESTAMP is the stored instant (UTC), whatever the session time zone
    assert one["ts"] == dt.datetime(2024, 3, 10, 10, 0, 0, 123456, tzinfo=UTC)
    assert one["dtm"] == dt.datetime(2024, 3, 10, 15, 0, 0, 500000)  # DATETIME: no zone
    assert (two["ts"], two["dtm"]) == (None, None)


@pytest.mark.postgres
@BACKENDS
def test_not_null_columns_are_required_and_the_merge_key_is_the_identifier(
    postgres_dsn: str, pg_schema: str, embedded_catalog: CatalogConfig, backend: str
) -> None:
    from floe_iceberg import load_catalog

    engine = sql_engine(postgres_dsn)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {pg_schema}.keyed (id int PRIMARY KEY, name text NOT NULL, "
            "note text, amount numeric(10, 2) NOT NULL)"
        )
        conn.exec_driver_sql(f"INSERT INTO {pg_schema}.keyed VALUES (1, 'a', NULL, 1.50)")
    config = IngestionConfig(
        name="keyed",
        source_type="sql_database",
        source_config={
            "connection_string": postgres_dsn,
            "schema": pg_schema,
            "tables": ["keyed"],
            "backend": backend,
        },
        destination_table="bronze.keyed",
        write_mode="merge",
    )
    plugin = DltIngestionPlugin(catalog=embedded_catalog)
    assert plugin.run(plugin.create_pipeline(config)).success

    schema = load_catalog(embedded_catalog).load_table("bronze.keyed").schema()
    assert {f.name: f.required for f in schema.fields} == {
        "id": True,
        "name": True,
        "note": False,
        "amount": True,
    }
    assert schema.identifier_field_names() == {"id"}

    # the source drops NOT NULL and a null arrives: evolve makes the column optional
    with engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {pg_schema}.keyed ALTER COLUMN name DROP NOT NULL")
        conn.exec_driver_sql(f"INSERT INTO {pg_schema}.keyed VALUES (2, NULL, 'n', 2.00)")
    engine.dispose()
    result = plugin.run(plugin.create_pipeline(config))
    assert result.success, result.errors
    table = load_catalog(embedded_catalog).load_table("bronze.keyed")
    assert not table.schema().find_field("name").required
    rows = table.scan().to_arrow().sort_by("id").to_pylist()
    assert [(r["id"], r["name"], r["amount"]) for r in rows] == [
        (1, "a", Decimal("1.50")),
        (2, None, Decimal("2.00")),
    ]


@pytest.mark.mariadb
def test_mariadb_timestamp_cursor_compares_instants_in_a_zone_west_of_utc(
    mysql_dsn: str, maria_table: str, embedded_catalog: CatalogConfig
) -> None:
    """The loader's session is at -05:00: a cursor of 11:00 UTC must not mean 16:00 UTC."""
    engine = sql_engine(mysql_dsn)

    def insert(rows: str) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET time_zone = '+00:00'")
            conn.exec_driver_sql(f"INSERT INTO {maria_table} VALUES {rows}")

    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {maria_table} (id int PRIMARY KEY, ts timestamp(6))")
    insert("(1, '2024-01-01 10:00:00'), (2, '2024-01-01 11:00:00'), (3, '2024-01-01 11:00:00')")
    url = sa.engine.make_url(mysql_dsn).update_query_dict(
        {"init_command": "SET time_zone='-05:00'"}
    )
    config = IngestionConfig(
        name="west",
        source_type="sql_database",
        source_config={
            "connection_string": url.render_as_string(hide_password=False),
            "tables": [maria_table],
            "backend": "pyarrow",
        },
        destination_table=f"bronze.{maria_table}",
        incremental={"cursor_field": "ts"},
    )
    plugin = DltIngestionPlugin(catalog=embedded_catalog)
    loaded = [plugin.run(plugin.create_pipeline(config)).rows_loaded]
    insert("(4, '2024-01-01 12:00:00')")  # one hour after the cursor, in UTC
    loaded.append(plugin.run(plugin.create_pipeline(config)).rows_loaded)
    engine.dispose()

    assert loaded == [3, 1]
    from floe_iceberg import load_catalog

    table = load_catalog(embedded_catalog).load_table(f"bronze.{maria_table}")
    rows = table.scan().to_arrow().sort_by("id").to_pylist()
    assert [r["ts"] for r in rows] == [
        dt.datetime(2024, 1, 1, h, tzinfo=UTC) for h in (10, 11, 11, 12)
    ]
