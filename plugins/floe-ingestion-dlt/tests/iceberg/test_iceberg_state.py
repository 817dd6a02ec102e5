"""State values keep their Python types through the snapshot summary."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from floe_ingestion_dlt.iceberg.state import decode_state, encode_state, state_property


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
