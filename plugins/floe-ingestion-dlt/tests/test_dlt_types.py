"""Type fidelity: what sources hand over is what Spark/Trino/DuckDB read back."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from dlt_test_helpers import Api, rest_config
from pyiceberg.catalog import Catalog

from floe_core import CatalogConfig, IngestionConfig, WriteMode
from floe_iceberg import TableWrite, load_catalog, write_table
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt._arrow import to_batches

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


# --- types that drift between batches: dlt's coercion and variant columns -----------------

UTC = dt.UTC


@pytest.mark.parametrize(
    ("first", "then", "column_type", "values", "variants"),
    [
        # table double <- batch int: int coerces to double
        (pa.array([1.5]), pa.array([2, 2**53]), "double", [1.5, 2.0, 2.0**53], {}),
        # table double <- an int a double cannot hold exactly: variant
        (pa.array([1.5]), pa.array([2**53 + 1]), "double", [1.5, None], {"bigint": 2**53 + 1}),
        # table string <- batch int / bool / double: text (dlt's str())
        (pa.array(["A1"]), pa.array([5]), "string", ["A1", "5"], {}),
        (pa.array(["A1"]), pa.array([True]), "string", ["A1", "True"], {}),
        (pa.array(["A1"]), pa.array([1.0]), "string", ["A1", "1.0"], {}),
        # table long <- batch string: numeric text coerces, the rest is a variant
        (pa.array([1]), pa.array(["12", "B"]), "long", [1, 12, None], {"text": "B"}),
        # table long <- batch double: integral doubles coerce, 2.5 is a variant
        (pa.array([1]), pa.array([3.0, 2.5]), "long", [1, 3, None], {"double": 2.5}),
        # table long <- batch bool: dlt does not coerce bool to bigint
        (pa.array([1]), pa.array([True]), "long", [1, None], {"bool": True}),
        # table timestamptz <- ISO text with and without a zone (dlt reads zone-less as UTC)
        (
            pa.array([dt.datetime(2024, 1, 1, tzinfo=UTC)]),
            pa.array(["2024-01-02T10:00:00+02:00", "2024-01-03 00:00:00", "soon"]),
            "timestamptz",
            [
                dt.datetime(2024, 1, 1, tzinfo=UTC),
                dt.datetime(2024, 1, 2, 8, tzinfo=UTC),
                dt.datetime(2024, 1, 3, tzinfo=UTC),
                None,
            ],
            {"text": "soon"},
        ),
        # table timestamp (no zone) <- timestamptz: the UTC wall clock, as dlt's timezone hint
        (
            pa.array([dt.datetime(2024, 1, 1)]),
            pa.array([dt.datetime(2024, 1, 2, 10, tzinfo=PARIS)]),
            "timestamp",
            [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 8)],
            {},
        ),
        # table decimal(38, 9) <- batch int and numeric text
        (
            pa.array([Decimal("1.5")], pa.decimal128(38, 9)),
            pa.array(["2.25", "1e-12"]),
            "decimal(38, 9)",
            [Decimal("1.5"), Decimal("2.25"), None],
            {"text": "1e-12"},
        ),
    ],
)
def test_a_drifted_type_coerces_or_goes_to_a_variant_column(
    sql_catalog: Catalog,
    table_name: str,
    first: pa.Array,
    then: pa.Array,
    column_type: str,
    values: list[Any],
    variants: dict[str, Any],
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND)
    write_table(sql_catalog, spec, [pa.table({"n": [0], "v": first})])
    n = pa.array(range(1, len(then) + 1))
    write_table(sql_catalog, spec, [pa.table({"n": n, "v": then})])

    table = sql_catalog.load_table(table_name)
    assert str(table.schema().find_field("v").field_type) == column_type
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["n"])
    assert [r["v"] for r in rows] == values
    variant_columns = {f.name for f in table.schema().fields} - {"n", "v"}
    assert variant_columns == {f"v__v_{kind}" for kind in variants}
    for kind, value in variants.items():
        assert [r[f"v__v_{kind}"] for r in rows if r[f"v__v_{kind}"] is not None] == [value]


def _land(catalog: Catalog, table: str, items: list[Any], batch_rows: int) -> pa.Table:
    """Rows as the plugin's dict sources hand them over, written and read back."""
    write_table(catalog, TableWrite(table, WriteMode.APPEND), to_batches(items, batch_rows))
    return catalog.load_table(table).scan().to_arrow()


def test_json_integers_beyond_int64_land_as_decimal_or_text(
    sql_catalog: Catalog, table_name: str
) -> None:
    huge = 10**38  # 39 digits: more than decimal(38, 0) holds
    rows = [
        {"id": 1, "wei": 2**64, "huger": huge, "neg": -(2**63) - 1},
        {"id": 2, "wei": 5, "huger": 1, "neg": None},
    ]
    data = _land(sql_catalog, table_name, rows, batch_rows=10)

    schema = sql_catalog.load_table(table_name).schema()
    assert str(schema.find_field("wei").field_type) == "decimal(38, 0)"  # dlt: wei
    assert str(schema.find_field("neg").field_type) == "decimal(38, 0)"
    assert str(schema.find_field("huger").field_type) == "string"  # dlt: text
    assert data.sort_by("id").to_pylist() == [
        {"id": 1, "wei": Decimal(2**64), "huger": str(huge), "neg": Decimal(-(2**63) - 1)},
        {"id": 2, "wei": Decimal(5), "huger": "1", "neg": None},
    ]


def test_a_big_integer_after_the_first_chunk_goes_to_a_variant(
    sql_catalog: Catalog, table_name: str
) -> None:
    rows = [{"id": 1, "n": 7}, {"id": 2, "n": 2**70}]
    data = _land(sql_catalog, table_name, rows, batch_rows=1)

    assert str(sql_catalog.load_table(table_name).schema().find_field("n").field_type) == "long"
    assert data.sort_by("id").to_pylist() == [
        {"id": 1, "n": 7, "n__v_decimal": None},
        {"id": 2, "n": None, "n__v_decimal": Decimal(2**70)},
    ]


def test_iso_timestamp_text_becomes_timestamptz_on_a_new_column(
    sql_catalog: Catalog, table_name: str
) -> None:
    rows = [
        {"id": 1, "at": "2024-01-01T10:00:00.123456+02:00", "local": "2024-01-01T10:00:00"},
        {"id": 2, "at": "2024-01-01T08:00:00Z", "local": None},
        {"id": 3, "at": None, "local": "2024-01-01T11:00:00"},
        {"id": 4, "at": "not a time", "local": "x"},  # a later chunk: a variant for "at"
    ]
    data = _land(sql_catalog, table_name, rows, batch_rows=3)

    schema = sql_catalog.load_table(table_name).schema()
    assert str(schema.find_field("at").field_type) == "timestamptz"
    assert str(schema.find_field("local").field_type) == "string"  # no zone: not an instant
    assert data.sort_by("id").to_pylist() == [
        {
            "id": 1,
            "at": dt.datetime(2024, 1, 1, 8, 0, 0, 123456, tzinfo=UTC),
            "local": "2024-01-01T10:00:00",
            "at__v_text": None,
        },
        {"id": 2, "at": dt.datetime(2024, 1, 1, 8, tzinfo=UTC), "local": None, "at__v_text": None},
        {"id": 3, "at": None, "local": "2024-01-01T11:00:00", "at__v_text": None},
        {"id": 4, "at": None, "local": "x", "at__v_text": "not a time"},
    ]


def test_iso_timestamp_text_stays_text_in_an_existing_string_column(
    sql_catalog: Catalog, table_name: str
) -> None:
    _land(sql_catalog, table_name, [{"id": 1, "at": "tomorrow"}], batch_rows=10)
    data = _land(sql_catalog, table_name, [{"id": 2, "at": "2024-01-01T10:00:00Z"}], 10)

    assert str(sql_catalog.load_table(table_name).schema().find_field("at").field_type) == (
        "string"
    )
    assert sorted(data["at"].to_pylist()) == ["2024-01-01T10:00:00Z", "tomorrow"]


def test_nested_arrow_columns_land_as_json_text(sql_catalog: Catalog, table_name: str) -> None:
    """What the schema module says: through the plugin, struct/list columns are JSON text."""
    item = pa.table({"id": [1], "s": [{"k": [1, 2]}], "l": pa.array([[1]], pa.list_(pa.int8()))})
    data = _land(sql_catalog, table_name, [item], batch_rows=10)

    schema = sql_catalog.load_table(table_name).schema()
    assert [str(f.field_type) for f in schema.fields] == ["long", "string", "string"]
    assert data.to_pylist() == [{"id": 1, "s": '{"k":[1,2]}', "l": "[1]"}]


# --- the same through the plugin: one source whose type changes after the first batch ------


def _run(catalog: CatalogConfig, config: IngestionConfig, batch_rows: int) -> None:
    plugin = DltIngestionPlugin({"batch_rows": batch_rows}, catalog=catalog)
    result = plugin.run(plugin.create_pipeline(config))
    assert result.success, result.errors


def test_one_jsonl_file_whose_price_turns_fractional_after_the_first_chunk(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [{"id": i, "price": i} for i in range(6)] + [{"id": 6, "price": 2.5}]
    (folder / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    catalog = CatalogConfig.embedded(tmp_path / "warehouse")
    config = IngestionConfig(
        name="events",
        source_type="filesystem",
        source_config={"bucket_url": str(folder), "file_glob": "*.jsonl"},
        destination_table="bronze.events",
    )
    _run(catalog, config, batch_rows=3)  # chunks of 3: the third chunk brings 2.5

    table = load_catalog(catalog).load_table("bronze.events")
    assert str(table.schema().find_field("price").field_type) == "long"
    data = table.scan().to_arrow().sort_by("id").to_pylist()
    assert [(r["price"], r["price__v_double"]) for r in data] == [
        *[(i, None) for i in range(6)],
        (None, 2.5),
    ]


def test_a_rest_field_that_turns_from_int_to_text(api: Api, tmp_path: Path) -> None:
    api.items = [{"id": i, "v": i} for i in range(4)] + [{"id": 4, "v": "x"}, {"id": 5, "v": "6"}]
    catalog = CatalogConfig.embedded(tmp_path / "warehouse")
    config = rest_config(api.base_url)
    _run(catalog, config, batch_rows=3)

    table = load_catalog(catalog).load_table("bronze.items")
    assert str(table.schema().find_field("v").field_type) == "long"
    data = table.scan().to_arrow().sort_by("id").to_pylist()
    assert [(r["v"], r["v__v_text"]) for r in data] == [
        (0, None),
        (1, None),
        (2, None),
        (3, None),
        (None, "x"),
        (6, None),  # "6" coerces to the column's bigint, as in dlt
    ]
