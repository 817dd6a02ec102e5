"""NOT NULL columns land as required fields, the merge key as the identifier fields."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from floe_core import SchemaContract, SchemaContractViolation, WriteMode
from floe_iceberg import TableWrite, write_table


def _required(catalog: Catalog, table: str) -> dict[str, bool]:
    return {f.name: f.required for f in catalog.load_table(table).schema().fields}


def _identifiers(catalog: Catalog, table: str) -> set[str]:
    return catalog.load_table(table).schema().identifier_field_names()


def test_a_new_table_gets_required_fields_and_the_merge_key_as_identifier(
    catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",), required_columns=("name",))
    write_table(catalog, spec, [pa.table({"id": [1, 2], "name": ["a", "b"], "x": [1.5, None]})])

    assert _required(catalog, table_name) == {"id": True, "name": True, "x": False}
    assert _identifiers(catalog, table_name) == {"id"}

    # a later load with a new column keeps them required (the union would relax them)
    more = pa.table({"id": [2, 3], "name": ["B", "c"], "x": [None, 2.5], "y": [1, None]})
    write_table(catalog, spec, [more])
    assert _required(catalog, table_name) == {"id": True, "name": True, "x": False, "y": False}
    assert _identifiers(catalog, table_name) == {"id"}
    rows = sorted(catalog.load_table(table_name).scan().to_arrow().to_pylist(), key=str)
    assert [(r["id"], r["name"]) for r in sorted(rows, key=lambda r: r["id"])] == [
        (1, "a"),
        (2, "B"),
        (3, "c"),
    ]


def test_an_append_makes_no_identifier_and_a_float_key_is_not_one(
    catalog: Catalog, table_name: str
) -> None:
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, primary_key=("id",), required_columns=("id",)),
        [pa.table({"id": [1]})],
    )
    assert (_required(catalog, table_name), _identifiers(catalog, table_name)) == (
        {"id": True},
        set(),
    )
    other = f"{table_name}_f"
    write_table(
        catalog,
        TableWrite(other, WriteMode.MERGE, primary_key=("k",)),
        [pa.table({"k": [1.5], "v": [1]})],
    )
    assert (_required(catalog, other), _identifiers(catalog, other)) == (
        {"k": True, "v": False},
        set(),
    )


def test_a_column_null_in_the_first_batch_is_created_optional(
    catalog: Catalog, table_name: str
) -> None:
    write_table(
        catalog,
        TableWrite(table_name, WriteMode.APPEND, required_columns=("n",)),
        [pa.table({"n": [1, None]})],
    )
    assert _required(catalog, table_name) == {"n": False}


def test_evolve_relaxes_a_required_column_when_a_null_arrives(
    catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, required_columns=("id", "name"))
    write_table(catalog, spec, [pa.table({"id": [1], "name": ["a"]})])
    write_table(catalog, spec, [pa.table({"id": [2], "name": [None]})])  # the source relaxed

    assert _required(catalog, table_name) == {"id": True, "name": False}
    rows = catalog.load_table(table_name).scan().to_arrow().sort_by("id").to_pylist()
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": None}]


@pytest.mark.parametrize(
    "contract", [SchemaContract.FREEZE, SchemaContract.DISCARD_VALUE, SchemaContract.DISCARD_ROW]
)
def test_other_contracts_refuse_a_null_in_a_required_column(
    catalog: Catalog, table_name: str, contract: SchemaContract
) -> None:
    spec = TableWrite(
        table_name, WriteMode.APPEND, required_columns=("name",), schema_contract=contract
    )
    write_table(catalog, spec, [pa.table({"id": [1], "name": ["a"]})])
    before = catalog.load_table(table_name).metadata.current_snapshot_id

    with pytest.raises(SchemaContractViolation, match="'name' is required"):
        write_table(catalog, spec, [pa.table({"id": [2], "name": [None]})])

    table = catalog.load_table(table_name)
    assert table.metadata.current_snapshot_id == before
    assert _required(catalog, table_name) == {"id": False, "name": True}
