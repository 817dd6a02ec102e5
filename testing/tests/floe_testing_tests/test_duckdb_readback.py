"""DuckDB's iceberg extension reads what floe wrote exactly as pyiceberg does.

Every test writes a real table through ``floe_iceberg.write_table`` into an embedded catalog,
then compares DuckDB's rows (``read_with_duckdb``) with pyiceberg's, sorted by key, column by
column. The only differences are in how each engine renders a type, never in a value:

- strings and binaries: pyiceberg returns ``large_string`` / ``large_binary``, DuckDB
  ``string`` / ``binary``;
- ``timestamptz``: both are microseconds in UTC; pyiceberg names the zone ``UTC``, DuckDB the
  session's zone (the helper sets it to ``UTC``);
- nullability: pyiceberg marks required fields ``not null``, DuckDB returns every field
  nullable.

Anything else (a type DuckDB widens or narrows, a value that differs) fails the test.
"""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from floe_core import MergeStrategy, WriteMode
from floe_iceberg import TableWrite, write_table
from floe_testing import readback
from floe_testing.readback import read_with_duckdb

UTC = dt.UTC

_RENDERING = {pa.large_string(): pa.string(), pa.large_binary(): pa.binary()}


def _rendered(field_type: pa.DataType) -> pa.DataType:
    """The type as DuckDB renders it (the documented differences above, nothing more)."""
    if pa.types.is_timestamp(field_type) and field_type.tz is not None:
        return pa.timestamp(field_type.unit, "UTC")
    return _RENDERING.get(field_type, field_type)


def assert_same_rows(table: Table, key: str) -> pa.Table:
    """Assert DuckDB's rows equal pyiceberg's (sorted by ``key``); return pyiceberg's rows."""
    expected = table.scan().to_arrow()
    actual = read_with_duckdb(table)
    assert actual.column_names == expected.column_names
    for want, got in zip(expected.schema, actual.schema, strict=True):
        assert got.type == _rendered(want.type), f"{want.name}: {got.type} vs {want.type}"
    assert actual.num_rows == expected.num_rows
    order = [(key, "ascending")]
    assert actual.sort_by(order).to_pylist() == expected.sort_by(order).to_pylist()
    return expected


def _typed_rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "small": pa.array([i % 100 for i in ids], pa.int32()),
            "name": pa.array([None if i % 7 == 0 else f"n{i}" for i in ids], pa.string()),
            "amount": pa.array([decimal.Decimal(i) / 100 for i in ids], pa.decimal128(12, 2)),
            "ratio": pa.array([None if i % 5 == 0 else i / 3 for i in ids], pa.float64()),
            "flag": pa.array([i % 2 == 0 for i in ids], pa.bool_()),
            "day": pa.array([dt.date(2026, 1 + i % 12, 1 + i % 28) for i in ids], pa.date32()),
            "at": pa.array(
                [dt.datetime(2026, 1 + i % 12, 1, i % 24, i % 60, tzinfo=UTC) for i in ids],
                pa.timestamp("us", "UTC"),
            ),
            "local": pa.array(
                [dt.datetime(2025, 6, 1, 12) + dt.timedelta(seconds=i) for i in ids],
                pa.timestamp("us"),
            ),
            "clock": pa.array([dt.time(i % 24, i % 60, 0, i % 1000) for i in ids], pa.time64("us")),
            "blob": pa.array([bytes([i % 256, 0, 1]) for i in ids], pa.binary()),
        }
    )


def test_a_plain_load_reads_the_same(sql_catalog: Catalog, table_name: str) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [_typed_rows(0, 300)])
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [_typed_rows(300, 50)])

    rows = assert_same_rows(sql_catalog.load_table(table_name), "id")
    assert rows.num_rows == 350
    assert rows.column("name").null_count == 50  # every 7th name


def test_a_partitioned_table_reads_the_same(sql_catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, partition_by=("month(at)", "bucket(4, id)"))
    write_table(sql_catalog, spec, [_typed_rows(0, 240)])
    evolved = TableWrite(table_name, WriteMode.APPEND, partition_by=("day(day)",))
    write_table(sql_catalog, evolved, [_typed_rows(240, 60)])  # a second spec beside the first

    table = sql_catalog.load_table(table_name)
    assert len(table.specs()) == 2
    assert len({task.file.partition for task in table.scan().plan_files()}) > 12
    assert assert_same_rows(table, "id").num_rows == 300


def test_a_copy_on_write_merge_table_reads_the_same(sql_catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",))
    write_table(sql_catalog, spec, [_typed_rows(0, 200)], target_file_rows=50)
    changed = _typed_rows(150, 100).set_column(2, "name", pa.array(["first"] * 100))
    write_table(sql_catalog, spec, [changed], target_file_rows=50)
    again = _typed_rows(190, 20).set_column(2, "name", pa.array(["second"] * 20))
    write_table(sql_catalog, spec, [again])  # 190..209 updated twice

    rows = assert_same_rows(sql_catalog.load_table(table_name), "id")
    names = dict(zip(rows.column("id").to_pylist(), rows.column("name").to_pylist(), strict=True))
    assert len(names) == 250
    assert (names[149], names[150], names[189]) == ("n149", "first", "first")
    assert (names[190], names[209], names[210]) == ("second", "second", "first")


def test_an_evolved_schema_reads_the_same(sql_catalog: Catalog, table_name: str) -> None:
    old = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "qty": pa.array([1, 2, 3], pa.int32())})
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [old])
    new = pa.table(
        {
            "id": pa.array([4, 5], pa.int64()),
            "qty": pa.array([2**40, 5], pa.int64()),  # int -> long promotion
            "note": pa.array(["added", None]),  # a new column, null in the old files
        }
    )
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [new])

    table = sql_catalog.load_table(table_name)
    assert str(table.schema().find_field("qty").field_type) == "long"
    rows = assert_same_rows(table, "id")
    assert rows.sort_by("id").to_pylist() == [
        {"id": 1, "qty": 1, "note": None},
        {"id": 2, "qty": 2, "note": None},
        {"id": 3, "qty": 3, "note": None},
        {"id": 4, "qty": 2**40, "note": "added"},
        {"id": 5, "qty": 5, "note": None},
    ]


def test_a_missing_extension_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readback, "_DUCKDB_EXTENSIONS", (("duckdb_extension_nope", "nope"),))
    with pytest.raises(RuntimeError, match="'duckdb_extension_nope' is not installed"):
        readback.duckdb_connection()


def test_an_extension_for_another_duckdb_version_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match=r"no iceberg extension for DuckDB 0\.0\.1"):
        readback._extension_file("duckdb_extension_iceberg", "iceberg", "0.0.1")


def test_the_connection_does_not_autoload_extensions() -> None:
    connection = readback.duckdb_connection()
    try:
        settings = dict(
            connection.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('autoinstall_known_extensions', 'autoload_known_extensions')"
            ).fetchall()
        )
        loaded = {
            name
            for (name,) in connection.execute(
                "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
            ).fetchall()
        }
    finally:
        connection.close()
    assert settings == {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    }
    assert {"iceberg", "avro"} <= loaded


def _changes(ids: list[int], name: str) -> pa.Table:
    rows = pa.concat_tables([_typed_rows(i, 1) for i in ids])
    return rows.set_column(2, "name", pa.array([name] * len(ids)))


def _rows_of(table: Table) -> list[dict[str, object]]:
    return table.scan().to_arrow().sort_by("id").to_pylist()  # type: ignore[no-any-return]


def test_merge_on_read_reads_like_copy_on_write_after_merges_in_a_row(
    sql_catalog: Catalog, table_name: str
) -> None:
    cow = TableWrite(f"{table_name}_cow", WriteMode.MERGE, primary_key=("id",))
    mor = TableWrite(
        f"{table_name}_mor",
        WriteMode.MERGE,
        primary_key=("id",),
        merge_strategy=MergeStrategy.MERGE_ON_READ,
    )
    changes = [
        _changes([*range(0, 400, 10), *range(400, 420)], "first"),  # spread + new keys
        # 0..50 and 400..404 a second time: their rows from the first merge are deleted now
        _changes([*range(0, 55, 5), *range(400, 405), *range(420, 430)], "second"),
        _changes([10, 400, *range(200, 211)], "third"),  # 10 and 400: a third version
    ]
    for spec in (cow, mor):
        write_table(sql_catalog, spec, [_typed_rows(0, 400)], target_file_rows=100)
    for number, change in enumerate(changes, 1):
        for spec in (cow, mor):
            write_table(sql_catalog, spec, [change], target_file_rows=100)
        copied = sql_catalog.load_table(cow.table)
        merged = sql_catalog.load_table(mor.table)
        tasks = list(merged.scan().plan_files())
        assert any(task.delete_files for task in tasks), f"merge {number} wrote no deletes"
        assert _rows_of(merged) == _rows_of(copied)
        assert assert_same_rows(merged, "id").num_rows == (420 if number == 1 else 430)

    rows = {r["id"]: r["name"] for r in _rows_of(sql_catalog.load_table(mor.table))}
    assert (rows[10], rows[400], rows[5], rows[401], rows[60], rows[1]) == (
        "third",
        "third",
        "second",
        "second",
        "first",
        "n1",
    )
    # no base file was rewritten: merge-on-read only added files
    summaries = [s.summary for s in sql_catalog.load_table(mor.table).snapshots()]
    assert all(int(s.get("deleted-data-files") or 0) == 0 for s in summaries if s is not None)
