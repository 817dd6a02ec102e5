"""Type fidelity: what sources hand over is what Spark/Trino/DuckDB read back."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow as pa
from pyiceberg.catalog import Catalog

from floe_core import WriteMode
from floe_ingestion_dlt.iceberg import TableWrite, write_table

BIG = Decimal("12345678901234567890123456789.123456789")  # 38 digits, scale 9
PARIS = dt.timezone(dt.timedelta(hours=2))
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def _source_table() -> pa.Table:
    ts_ns = pa.array([1_700_000_000_123_456_789, None, 0], pa.timestamp("ns", tz="Europe/Paris"))
    return pa.table(
        {
            "dec": pa.array([BIG, Decimal("-0.000000001"), None], pa.decimal128(38, 9)),
            "big": pa.array([2**63 - 1, -(2**63), None], pa.int64()),
            "small": pa.array([1, -1, None], pa.int8()),
            "u64": pa.array([2**64 - 1, 0, None], pa.uint64()),
            "u32": pa.array([2**32 - 1, 0, None], pa.uint32()),
            "f32": pa.array([1.5, None, -0.25], pa.float32()),
            "f64": pa.array([1e308, None, float("inf")], pa.float64()),
            "ts_tz": pa.array(
                [dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=PARIS), None, None],
                pa.timestamp("us", tz="+02:00"),
            ),
            "ts_ns_tz": ts_ns,
            "ts_naive": pa.array(
                [dt.datetime(2024, 1, 2, 3, 4, 5, 678901), None, dt.datetime(1970, 1, 1)],
                pa.timestamp("us"),
            ),
            "ts_naive_ms": pa.array(
                [dt.datetime(2024, 1, 2, 3, 4, 5, 678000), None, None], pa.timestamp("ms")
            ),
            "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1, 1, 1)], pa.date32()),
            "clock": pa.array([dt.time(23, 59, 59, 999999), None, dt.time(0)], pa.time64("us")),
            "clock_s": pa.array([3600, None, 0], pa.time32("s")),
            "blob": pa.array([b"\x00\xff\x10", None, b""], pa.binary()),
            "large_blob": pa.array([b"x", None, b"yz"], pa.large_binary()),
            "text": pa.array(["héllo wörld ✓ 日本語 🚀", None, ""], pa.string()),
            "large_text": pa.array(["a", None, "b"], pa.large_string()),
            "flag": pa.array([True, None, False]),
            "ints": pa.array([[1, 2, None], None, []], pa.list_(pa.int64())),
            "nested": pa.array(
                [{"a": 1, "b": "x"}, None, {"a": None, "b": "y"}],
                pa.struct([("a", pa.int64()), ("b", pa.string())]),
            ),
            "category": pa.array(["red", None, "red"]).dictionary_encode(),
            "uid": pa.array([UID.bytes, None, uuid.UUID(int=0).bytes], pa.uuid()),
            "json": pa.array(['{"k": [1, 2]}', None, "[]"], pa.string()),
            "nothing": pa.nulls(3),
        }
    )


def test_types_round_trip(catalog: Catalog, table_name: str) -> None:
    write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [_source_table()])

    table = catalog.load_table(table_name)
    types = {f.name: str(f.field_type) for f in table.schema().fields}
    types["nested"] = str(table.schema().find_field("nested").field_type.fields[0].field_type)
    assert types == {
        "dec": "decimal(38, 9)",
        "big": "long",
        "small": "int",
        "u64": "decimal(20, 0)",
        "u32": "long",
        "f32": "float",
        "f64": "double",
        "ts_tz": "timestamptz",
        "ts_ns_tz": "timestamptz",
        "ts_naive": "timestamp",
        "ts_naive_ms": "timestamp",
        "day": "date",
        "clock": "time",
        "clock_s": "time",
        "blob": "binary",
        "large_blob": "binary",
        "text": "string",
        "large_text": "string",
        "flag": "boolean",
        "ints": "list<long>",
        "nested": "long",  # struct<a: long, b: string>, checked by value below
        "category": "string",
        "uid": "string",
        "json": "string",
    }  # "nothing" (all null, no type) is skipped until a typed value arrives
    data = table.scan().to_arrow().to_pydict()
    utc = dt.UTC
    assert data["dec"] == [BIG, Decimal("-0.000000001"), None]
    assert data["big"] == [2**63 - 1, -(2**63), None]
    assert data["small"] == [1, -1, None]
    assert data["u64"] == [Decimal(2**64 - 1), Decimal(0), None]
    assert data["u32"] == [2**32 - 1, 0, None]
    assert data["f32"] == [1.5, None, -0.25]
    assert data["f64"] == [1e308, None, float("inf")]
    assert data["ts_tz"] == [dt.datetime(2024, 1, 2, 1, 4, 5, 678901, tzinfo=utc), None, None]
    assert data["ts_ns_tz"][0] == dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=utc)
    assert data["ts_ns_tz"][1:] == [None, dt.datetime(1970, 1, 1, tzinfo=utc)]
    assert data["ts_naive"] == [
        dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
        None,
        dt.datetime(1970, 1, 1),
    ]
    assert data["ts_naive_ms"][0] == dt.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert data["day"] == [dt.date(2024, 2, 29), None, dt.date(1, 1, 1)]
    assert data["clock"] == [dt.time(23, 59, 59, 999999), None, dt.time(0)]
    assert data["clock_s"] == [dt.time(1), None, dt.time(0)]
    assert data["blob"] == [b"\x00\xff\x10", None, b""]
    assert data["large_blob"] == [b"x", None, b"yz"]
    assert data["text"] == ["héllo wörld ✓ 日本語 🚀", None, ""]
    assert data["large_text"] == ["a", None, "b"]
    assert data["flag"] == [True, None, False]
    assert data["ints"] == [[1, 2, None], None, []]
    assert data["nested"] == [{"a": 1, "b": "x"}, None, {"a": None, "b": "y"}]
    assert data["category"] == ["red", None, "red"]
    assert data["uid"] == [str(UID), None, "00000000-0000-0000-0000-000000000000"]
    assert data["json"] == ['{"k": [1, 2]}', None, "[]"]


def test_all_null_column_waits_for_a_typed_value(catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND)
    write_table(
        catalog,
        spec,
        [
            pa.table({"id": [1], "later": pa.nulls(1)}),
            pa.table({"id": [2], "later": pa.array(["typed"])}),  # same load, same commit
        ],
    )
    write_table(catalog, spec, [pa.table({"id": [3], "later": pa.nulls(1)})])

    table = catalog.load_table(table_name)
    assert str(table.schema().find_field("later").field_type) == "string"
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert rows == [
        {"id": 1, "later": None},
        {"id": 2, "later": "typed"},
        {"id": 3, "later": None},
    ]
    assert len(table.snapshots()) == 2


def test_rows_with_only_null_columns_still_land(sql_catalog: Catalog, table_name: str) -> None:
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [pa.table({"x": pa.nulls(2)}), pa.table({"x": [5]})],
    )
    assert sql_catalog.load_table(table_name).scan().to_arrow()["x"].to_pylist() == [
        None,
        None,
        5,
    ]


def test_duckdb_reads_the_types(sql_catalog: Catalog, table_name: str) -> None:
    """A third engine (DuckDB) reads the data files with the intended logical types."""
    import duckdb

    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [_source_table()])
    table = sql_catalog.load_table(table_name)
    files = [task.file.file_path for task in table.scan().plan_files()]
    con = duckdb.connect()
    described = {
        row[0]: row[1]
        for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files]).fetchall()
    }
    assert described["dec"] == "DECIMAL(38,9)"
    assert described["ts_tz"] == "TIMESTAMP WITH TIME ZONE"
    assert described["ts_naive"] == "TIMESTAMP"
    assert described["day"] == "DATE"
    assert described["clock"] == "TIME"
    assert described["ints"] == "BIGINT[]"
    value = con.execute("SELECT dec FROM read_parquet(?) WHERE big > 0", [files]).fetchone()
    assert value is not None and value[0] == BIG
