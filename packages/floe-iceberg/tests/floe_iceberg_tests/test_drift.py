"""The per-load cache of a table's Arrow types, and drift coercion on top of it."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from floe_core import DestinationWriteError, ErrorCode
from floe_iceberg.schema import TableTypes, coerce_types, normalize_batch

V1 = Schema(NestedField(1, "id", LongType()), NestedField(2, "code", StringType()))
V2 = Schema(*V1.fields, NestedField(3, "note", StringType()), schema_id=1)


def test_table_types_are_computed_once_per_schema_and_per_load() -> None:
    load, other = TableTypes(), TableTypes()
    first = load.of(V1)
    assert first == {"id": pa.int64(), "code": pa.large_string()}
    assert load.of(V1) is first  # the same schema: not recomputed
    assert load.of(V2) == {**first, "note": pa.large_string()}  # the schema evolved
    assert other.of(V1) is not first  # another load keeps its own
    assert load.of(None) == {}


def test_coerce_types_moves_values_that_do_not_convert_to_a_variant_column() -> None:
    batch = normalize_batch(pa.record_batch({"id": ["7", "x"], "code": ["a", "b"]}))
    out = coerce_types(batch, TableTypes().of(V1), table="ns.t")
    assert out.schema.names == ["id", "code", "id__v_text"]
    assert out.column("id").to_pylist() == [7, None]
    assert out.column("id__v_text").to_pylist() == [None, "x"]


def test_a_merge_key_that_does_not_convert_fails_the_load() -> None:
    batch = normalize_batch(pa.record_batch({"id": ["x"], "code": ["a"]}))
    with pytest.raises(DestinationWriteError) as caught:
        coerce_types(batch, TableTypes().of(V1), table="ns.t", keys=("id",))
    assert caught.value.code is ErrorCode.SCHEMA_CORRUPTION
