"""State values keep their Python types through the snapshot summary; large ones go to a file."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog

from floe_iceberg.state import (
    decode_state,
    encode_state,
    same_state,
    state_property,
    summary_value,
)


def test_tagged_values_round_trip() -> None:
    state = {
        "ts": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        "naive": dt.datetime(2024, 1, 2, 3, 4, 5),
        "day": dt.date(2024, 2, 29),
        "clock": dt.time(12, 30, 1, 5),
        "amount": Decimal("12345678901234567890.123456789"),
        "id": uuid.UUID(int=7),
        "raw": b"\x00\xff",
        "plain": {"n": 1, "f": 1.5, "s": "ü", "list": [1, None, True]},
    }
    text = encode_state(state)

    assert decode_state(text) == state
    assert encode_state(decode_state(text)) == text  # stable: sorted keys, compact


def test_a_lookalike_object_is_not_decoded() -> None:
    state = {"x": {"__floe__": "date", "value": "2024-01-01", "other": 1}}
    assert decode_state(encode_state(state)) == state


def test_non_json_values_are_refused() -> None:
    with pytest.raises(TypeError, match="set"):
        encode_state({"bad": {1, 2}})


def test_state_property_name() -> None:
    assert state_property("orders") == "floe.state.orders"


def test_same_state_compares_a_file_reference_without_reading_it(tmp_path: Path) -> None:
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.table.locations import load_location_provider

    small = encode_state({"c": 1})
    big = encode_state({"hashes": ["x" * 20] * 1000})
    locations = load_location_provider(f"file://{tmp_path}", {})
    io = PyArrowFileIO()

    assert summary_value(small, io, locations) == (small, None)
    value, path = summary_value(big, io, locations)
    assert path is not None and path.endswith(".metadata.json")
    assert len(value) < 300
    Path(path.removeprefix("file://")).unlink()  # the comparison must not need the file
    assert same_state(value, big)
    assert not same_state(value, encode_state({"hashes": ["y" * 20] * 1000}))
    assert same_state(small, small) and not same_state(None, small)
    # an inline state that merely looks like a reference is compared as text
    lookalike = encode_state({"__floe__": "state-file", "path": "p", "sha256": "s"})
    assert same_state(lookalike, lookalike)


def test_a_missing_or_altered_state_file_is_schema_corruption(
    sql_catalog: Catalog, table_name: str
) -> None:
    import pyarrow as pa

    from floe_core import DestinationWriteError, ErrorCategory, ErrorCode, WriteMode
    from floe_iceberg import TableWrite, read_state, write_table

    big = {"hashes": [f"{i:020d}" for i in range(1000)]}
    spec = TableWrite(table_name, WriteMode.APPEND, state_key="k")
    write_table(sql_catalog, spec, [pa.table({"id": [1]})], state=lambda: big)
    table = sql_catalog.load_table(table_name)
    path = json.loads(table.current_snapshot().summary["floe.state.k"])["path"]
    file = Path(path.removeprefix("file://"))
    assert read_state(sql_catalog, table_name, "k") == big

    file.write_text(file.read_text().replace("0", "1", 1))
    with pytest.raises(DestinationWriteError, match="does not match") as altered:
        read_state(sql_catalog, table_name, "k")
    file.unlink()
    with pytest.raises(DestinationWriteError, match="missing") as missing:
        read_state(sql_catalog, table_name, "k")
    for info in (altered, missing):
        assert (info.value.code, info.value.category) == (
            ErrorCode.SCHEMA_CORRUPTION,
            ErrorCategory.PERMANENT,
        )
