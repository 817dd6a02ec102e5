"""Schema contracts (dlt's meaning) and the names/types the table refuses."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from floe_core import (
    DestinationWriteError,
    ErrorCategory,
    ErrorCode,
    PipelineConfigurationError,
    SchemaContract,
    SchemaContractViolation,
    WriteMode,
)
from floe_iceberg import TableWrite, write_table


def _seed(catalog: Catalog, table: str) -> int:
    result = write_table(
        catalog,
        TableWrite(table, WriteMode.APPEND),
        [pa.table({"id": pa.array([1, 2], pa.int32()), "name": ["a", "b"]})],
    )
    assert result.snapshot_id is not None
    return result.snapshot_id


def _rows(catalog: Catalog, table: str) -> list[dict[str, object]]:
    rows = catalog.load_table(table).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["id"] is None, r["id"] or 0))


NEW = pa.table({"id": [3, 4], "name": ["c", "d"], "extra": [None, "x"]})


def test_evolve_adds_columns_and_promotes_int_to_long(catalog: Catalog, table_name: str) -> None:
    _seed(catalog, table_name)
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.EVOLVE),
        [NEW.set_column(0, "id", pa.array([3, 2**40], pa.int64()))],
    )

    table = catalog.load_table(table_name)
    assert [f.name for f in table.schema().fields] == ["id", "name", "extra"]
    assert str(table.schema().find_field("id").field_type) == "long"
    assert [r["id"] for r in _rows(catalog, table_name)] == [1, 2, 3, 2**40]
    assert len(table.snapshots()) == 2


def test_missing_columns_are_filled_with_nulls(catalog: Catalog, table_name: str) -> None:
    _seed(catalog, table_name)
    write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [9]})])

    assert _rows(catalog, table_name)[-1] == {"id": 9, "name": None}


def test_freeze_rejects_new_columns_and_leaves_the_table(catalog: Catalog, table_name: str) -> None:
    snapshot = _seed(catalog, table_name)
    with pytest.raises(SchemaContractViolation) as info:
        write_table(
            catalog,
            TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE),
            [NEW],
        )

    error = info.value
    assert error.category is ErrorCategory.PERMANENT
    assert error.code is ErrorCode.SCHEMA_CONTRACT_VIOLATION
    assert "'extra'" in error.message
    assert error.details["new_columns"] == ["extra"]
    table = catalog.load_table(table_name)
    assert [s.snapshot_id for s in table.snapshots()] == [snapshot]
    assert [f.name for f in table.schema().fields] == ["id", "name"]


def test_freeze_accepts_known_columns(catalog: Catalog, table_name: str) -> None:
    _seed(catalog, table_name)
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE),
        [pa.table({"name": ["z"], "id": pa.array([7], pa.int64())})],  # order and width differ
    )
    assert _rows(catalog, table_name)[-1] == {"id": 7, "name": "z"}


def test_freeze_on_a_new_table_takes_the_first_schema(catalog: Catalog, table_name: str) -> None:
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE),
        [NEW],
    )
    assert [f.name for f in catalog.load_table(table_name).schema().fields] == [
        "id",
        "name",
        "extra",
    ]


def test_discard_value_drops_new_columns(catalog: Catalog, table_name: str) -> None:
    _seed(catalog, table_name)
    result = write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.DISCARD_VALUE),
        [NEW],
    )

    assert result.rows_loaded == 2 and result.rows_discarded == 0
    assert [f.name for f in catalog.load_table(table_name).schema().fields] == ["id", "name"]
    assert [r["name"] for r in _rows(catalog, table_name)] == ["a", "b", "c", "d"]


def test_discard_row_drops_rows_with_values_in_new_columns(
    catalog: Catalog, table_name: str
) -> None:
    _seed(catalog, table_name)
    result = write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.DISCARD_ROW),
        [NEW],
    )

    assert result.rows_loaded == 1 and result.rows_discarded == 1
    assert [f.name for f in catalog.load_table(table_name).schema().fields] == ["id", "name"]
    assert [r["name"] for r in _rows(catalog, table_name)] == ["a", "b", "c"]


DRIFTED = pa.table({"id": ["5", "not a number"], "name": ["c", "d"]})  # id is int in the table


def test_evolve_puts_values_that_do_not_coerce_into_a_variant_column(
    catalog: Catalog, table_name: str
) -> None:
    _seed(catalog, table_name)
    result = write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [DRIFTED])

    table = catalog.load_table(table_name)
    assert [f.name for f in table.schema().fields] == ["id", "name", "id__v_text"]
    assert str(table.schema().find_field("id").field_type) == "int"  # unchanged
    assert result.rows_loaded == 2
    assert _rows(catalog, table_name) == [
        {"id": 1, "name": "a", "id__v_text": None},
        {"id": 2, "name": "b", "id__v_text": None},
        {"id": 5, "name": "c", "id__v_text": None},  # "5" coerced to the column's int
        {"id": None, "name": "d", "id__v_text": "not a number"},
    ]


def test_discard_value_nulls_values_that_do_not_coerce(
    sql_catalog: Catalog, table_name: str
) -> None:
    _seed(sql_catalog, table_name)
    spec = TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.DISCARD_VALUE)
    result = write_table(sql_catalog, spec, [DRIFTED])

    assert result.rows_loaded == 2 and result.rows_discarded == 0
    assert [f.name for f in sql_catalog.load_table(table_name).schema().fields] == ["id", "name"]
    assert [(r["id"], r["name"]) for r in _rows(sql_catalog, table_name)] == [
        (1, "a"),
        (2, "b"),
        (5, "c"),
        (None, "d"),
    ]


def test_discard_row_drops_rows_whose_values_do_not_coerce(
    sql_catalog: Catalog, table_name: str
) -> None:
    _seed(sql_catalog, table_name)
    spec = TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.DISCARD_ROW)
    result = write_table(sql_catalog, spec, [DRIFTED])

    assert result.rows_loaded == 1 and result.rows_discarded == 1
    assert [r["name"] for r in _rows(sql_catalog, table_name)] == ["a", "b", "c"]


def test_freeze_rejects_a_value_that_does_not_coerce_and_leaves_the_table(
    sql_catalog: Catalog, table_name: str
) -> None:
    snapshot = _seed(sql_catalog, table_name)
    spec = TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE)
    with pytest.raises(SchemaContractViolation) as info:
        write_table(sql_catalog, spec, [DRIFTED])
    assert info.value.code is ErrorCode.SCHEMA_CONTRACT_VIOLATION
    assert info.value.category is ErrorCategory.PERMANENT
    assert "'id__v_text'" in info.value.message and "'id' (text)" in info.value.message
    assert [s.snapshot_id for s in sql_catalog.load_table(table_name).snapshots()] == [snapshot]

    # values that do coerce are no schema change: freeze takes them
    write_table(sql_catalog, spec, [pa.table({"id": ["7"], "name": ["e"]})])
    assert _rows(sql_catalog, table_name)[-1] == {"id": 7, "name": "e"}


def test_an_existing_variant_column_takes_values_under_freeze(
    sql_catalog: Catalog, table_name: str
) -> None:
    _seed(sql_catalog, table_name)
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [DRIFTED])
    spec = TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE)
    write_table(sql_catalog, spec, [pa.table({"id": ["x"], "name": ["f"]})])  # as in dlt

    rows = {r["name"]: r for r in _rows(sql_catalog, table_name)}
    assert rows["f"] == {"id": None, "name": "f", "id__v_text": "x"}


def test_a_merge_key_never_becomes_a_variant(sql_catalog: Catalog, table_name: str) -> None:
    snapshot = _seed(sql_catalog, table_name)
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",))
    with pytest.raises(DestinationWriteError) as info:
        write_table(sql_catalog, spec, [DRIFTED])
    assert info.value.code is ErrorCode.SCHEMA_CORRUPTION
    assert info.value.category is ErrorCategory.PERMANENT
    assert "merge key 'id'" in info.value.message and "'not a number'" in info.value.message
    assert [s.snapshot_id for s in sql_catalog.load_table(table_name).snapshots()] == [snapshot]

    write_table(sql_catalog, spec, [pa.table({"id": ["2"], "name": ["B"]})])  # coerces: merges
    assert [(r["id"], r["name"]) for r in _rows(sql_catalog, table_name)] == [(1, "a"), (2, "B")]


def test_a_struct_against_a_number_is_schema_corruption(
    sql_catalog: Catalog, table_name: str
) -> None:
    snapshot = _seed(sql_catalog, table_name)
    with pytest.raises(DestinationWriteError) as info:
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.APPEND),
            [pa.table({"id": pa.array([{"a": 1}])})],
        )
    assert info.value.code is ErrorCode.SCHEMA_CORRUPTION
    assert info.value.category is ErrorCategory.PERMANENT
    assert "'id'" in info.value.message
    assert [s.snapshot_id for s in sql_catalog.load_table(table_name).snapshots()] == [snapshot]


def test_frozen_narrow_column_rejects_values_that_do_not_fit(
    sql_catalog: Catalog, table_name: str
) -> None:
    _seed(sql_catalog, table_name)  # id is int (32-bit)
    spec = TableWrite(table_name, WriteMode.APPEND, schema_contract=SchemaContract.FREEZE)
    with pytest.raises(DestinationWriteError) as info:
        write_table(sql_catalog, spec, [pa.table({"id": [2**40]})])
    assert info.value.code is ErrorCode.SCHEMA_CORRUPTION


def test_merge_with_null_key_is_rejected(sql_catalog: Catalog, table_name: str) -> None:
    with pytest.raises(SchemaContractViolation) as info:
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.MERGE, primary_key=("id",)),
            [pa.table({"id": [1, None]})],
        )
    assert info.value.failed_records == 1
    with pytest.raises(NoSuchTableError):
        sql_catalog.load_table(table_name)


@pytest.mark.parametrize("name", ["a.b", "", "tab\there"])
def test_column_names_iceberg_cannot_take_are_rejected(
    sql_catalog: Catalog, table_name: str, name: str
) -> None:
    with pytest.raises(DestinationWriteError) as info:
        write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({name: [1]})])
    assert info.value.code is ErrorCode.SCHEMA_CORRUPTION
    assert repr(name) in info.value.message


def test_unsupported_arrow_type_names_the_column(sql_catalog: Catalog, table_name: str) -> None:
    with pytest.raises(DestinationWriteError) as info:
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.APPEND),
            [pa.table({"took": pa.array([1], pa.duration("s"))})],
        )
    assert info.value.code is ErrorCode.SCHEMA_CORRUPTION
    assert "'took'" in info.value.message


@pytest.mark.parametrize("table", ["no_namespace", "ns._hidden", "ns.bad-name", "ns."])
def test_bad_table_names_are_config_errors(sql_catalog: Catalog, table: str) -> None:
    with pytest.raises(PipelineConfigurationError) as info:
        write_table(sql_catalog, TableWrite(table, WriteMode.APPEND), [pa.table({"id": [1]})])
    assert info.value.code is ErrorCode.DESTINATION_CONFIG_ERROR


def test_merge_without_primary_key_is_a_config_error(sql_catalog: Catalog, table_name: str) -> None:
    with pytest.raises(PipelineConfigurationError) as info:
        write_table(sql_catalog, TableWrite(table_name, WriteMode.MERGE), [pa.table({"id": [1]})])
    assert info.value.code is ErrorCode.INVALID_CONFIG


def test_struct_fields_evolve_and_freeze(sql_catalog: Catalog, table_name: str) -> None:
    def load(contract: SchemaContract, value: dict[str, object]) -> None:
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.APPEND, schema_contract=contract),
            [pa.table({"id": [len(value)], "s": pa.array([value])})],
        )

    load(SchemaContract.EVOLVE, {"x": 1})
    load(SchemaContract.EVOLVE, {"x": 2, "y": "new"})
    with pytest.raises(SchemaContractViolation) as info:
        load(SchemaContract.FREEZE, {"x": 3, "z": "frozen out"})
    assert "'s.z'" in info.value.message
    load(SchemaContract.DISCARD_VALUE, {"x": 4, "z": "dropped"})

    table = sql_catalog.load_table(table_name)
    struct = table.schema().find_field("s").field_type
    assert [f.name for f in struct.fields] == ["x", "y"]
    values = sorted(table.scan().to_arrow()["s"].to_pylist(), key=lambda v: v["x"])
    assert values == [{"x": 1, "y": None}, {"x": 2, "y": "new"}, {"x": 4, "y": None}]
    assert len(table.snapshots()) == 3


def test_names_differing_only_by_case_are_rejected(sql_catalog: Catalog, table_name: str) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND)
    with pytest.raises(DestinationWriteError) as info:
        write_table(sql_catalog, spec, [pa.table({"id": [1], "ID": [2]})])
    assert info.value.code is ErrorCode.SCHEMA_CORRUPTION

    _seed(sql_catalog, table_name)
    with pytest.raises(DestinationWriteError) as info:
        write_table(sql_catalog, spec, [pa.table({"Name": ["x"]})])
    assert "'Name'" in info.value.message and "'name'" in info.value.message


def test_required_columns_of_a_foreign_table_are_enforced(
    sql_catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    sql_catalog.create_namespace_if_not_exists(table_name.split(".")[0])
    sql_catalog.create_table(
        table_name,
        schema=Schema(
            NestedField(1, "id", LongType(), required=True),
            NestedField(2, "name", StringType(), required=False),
        ),
    )
    spec = TableWrite(table_name, WriteMode.APPEND)
    write_table(sql_catalog, spec, [pa.table({"id": [1], "name": ["a"]})])
    with pytest.raises(SchemaContractViolation) as info:
        write_table(sql_catalog, spec, [pa.table({"name": ["no id"]})])
    assert "'id'" in info.value.message
    with pytest.raises(SchemaContractViolation):
        write_table(sql_catalog, spec, [pa.table({"id": [None, 2]})])

    assert sql_catalog.load_table(table_name).scan().to_arrow().to_pylist() == [
        {"id": 1, "name": "a"}
    ]


def test_foreign_partitioned_tables_keep_their_spec_and_take_merges_into_it(
    sql_catalog: Catalog, table_name: str
) -> None:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import LongType, NestedField

    sql_catalog.create_namespace_if_not_exists(table_name.split(".")[0])
    sql_catalog.create_table(
        table_name,
        schema=Schema(NestedField(1, "id", LongType(), required=False)),
        partition_spec=PartitionSpec(
            PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="id")
        ),
    )
    # append (no partition_by given) writes into the table's own spec, one file per value
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1, 2]})])
    table = sql_catalog.load_table(table_name)
    assert [f.name for f in table.spec().fields] == ["id"]
    files = sorted((t.file.partition[0], t.file.record_count) for t in table.scan().plan_files())
    assert files == [(1, 1), (2, 1)]
    merge = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",))  # so does merge
    write_table(sql_catalog, merge, [pa.table({"id": [2, 3]})])
    table = sql_catalog.load_table(table_name)
    assert [f.name for f in table.spec().fields] == ["id"]
    files = sorted((t.file.partition[0], t.file.record_count) for t in table.scan().plan_files())
    assert files == [(1, 1), (2, 1), (3, 1)]
