"""NOT NULL columns land as required fields, the merge key as the identifier fields."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from floe_core import SchemaContract, SchemaContractViolation, WriteMode
from floe_iceberg import (
    FileSet,
    LoadPlan,
    TableWrite,
    commit_load,
    plan_load,
    write_files,
    write_table,
)
from floe_iceberg._required import REQUIRED_PROPERTY


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


# -- the two-phase write: the committer creates the table and relaxes, like one process ------


def _distributed(catalog: Catalog, spec: TableWrite, parts: list[pa.Table]) -> None:
    plan = plan_load(catalog, spec)
    wire = plan.to_json()  # every worker works from the plan as JSON, as in another process
    sets = [
        write_files(catalog, LoadPlan.from_json(wire), [rows], part=n)
        for n, rows in enumerate(parts)
    ]
    commit_load(catalog, plan, [FileSet.from_json(s.to_json()) for s in sets])


def test_parts_create_required_fields_the_identifier_and_the_property(
    catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.MERGE, primary_key=("id",), required_columns=("name",))
    parts = [
        pa.table({"id": [1, 2], "name": ["a", "b"], "x": [1.5, None]}),
        pa.table({"id": [3], "name": ["c"], "x": [None]}),
    ]

    _distributed(catalog, spec, parts)

    table = catalog.load_table(table_name)
    assert _required(catalog, table_name) == {"id": True, "name": True, "x": False}
    assert _identifiers(catalog, table_name) == {"id"}
    assert json.loads(table.properties[REQUIRED_PROPERTY]) == ["id", "name"]
    rows = table.scan().to_arrow().sort_by("id").to_pylist()
    assert [(r["id"], r["name"]) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]


def test_a_part_with_a_null_relaxes_a_new_tables_column_under_evolve(
    catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, required_columns=("id", "name"))
    parts = [pa.table({"id": [1], "name": ["a"]}), pa.table({"id": [2], "name": [None]})]

    _distributed(catalog, spec, parts)

    assert _required(catalog, table_name) == {"id": True, "name": False}
    rows = catalog.load_table(table_name).scan().to_arrow().sort_by("id").to_pylist()
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": None}]


def test_a_part_with_a_null_relaxes_an_existing_required_column_under_evolve(
    catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(table_name, WriteMode.APPEND, required_columns=("id", "name"))
    write_table(catalog, spec, [pa.table({"id": [1], "name": ["a"]})])

    _distributed(
        catalog, spec, [pa.table({"id": [2], "name": ["b"]}), pa.table({"id": [3], "name": [None]})]
    )

    assert _required(catalog, table_name) == {"id": True, "name": False}
    rows = catalog.load_table(table_name).scan().to_arrow().sort_by("id").to_pylist()
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": None}]


def test_freeze_refuses_parts_that_disagree_on_a_required_column(
    catalog: Catalog, table_name: str
) -> None:
    spec = TableWrite(
        table_name,
        WriteMode.APPEND,
        required_columns=("name",),
        schema_contract=SchemaContract.FREEZE,
    )
    parts = [pa.table({"id": [1], "name": ["a"]}), pa.table({"id": [2], "name": [None]})]

    with pytest.raises(SchemaContractViolation, match="'name' is required"):
        _distributed(catalog, spec, parts)

    assert not catalog.table_exists(table_name)  # the failed commit created nothing
