"""Dict rows become Arrow batches by the documented JSON rule."""

from __future__ import annotations

import json

import pyarrow as pa

from floe_ingestion_dlt._arrow import to_batches


def test_dicts_are_chunked_and_nested_values_become_json_text() -> None:
    rows = [{"id": i, "obj": {"b": 1, "a": [i]}, "tags": ["x"] if i else None} for i in range(5)]
    batches = list(to_batches([rows[:2], rows[2:]], batch_rows=2))
    assert [b.num_rows for b in batches] == [2, 2, 1]
    first = batches[0]
    assert first.schema.field("obj").type == pa.string()
    assert json.loads(first.column("obj")[1].as_py()) == {"a": [1], "b": 1}
    assert first.column("obj")[0].as_py() == '{"a":[0],"b":1}'
    assert first.column("tags").to_pylist() == [None, '["x"]']


def test_mixed_scalar_types_become_strings_and_drift_is_left_to_the_writer() -> None:
    batches = list(to_batches([[{"v": 1}, {"v": "a"}], [{"v": None, "w": 1.5}]], batch_rows=2))
    assert batches[0].column("v").to_pylist() == ["1", "a"]
    # a chunk is typed on its own: the writer coerces it to the table (dlt's rules)
    assert batches[1].schema.field("v").type == pa.null()
    assert batches[1].column("w").to_pylist() == [1.5]


def test_arrow_items_pass_through_with_nested_columns_as_json() -> None:
    table = pa.table({"id": [1, 2], "s": [{"k": 1}, None]})
    (out,) = list(to_batches([table, pa.table({"id": pa.array([], pa.int64())})], batch_rows=10))
    assert out.column("id").type == pa.int64()
    assert out.column("s").to_pylist() == ['{"k":1}', None]
