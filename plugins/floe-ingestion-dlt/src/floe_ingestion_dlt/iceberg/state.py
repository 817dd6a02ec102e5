"""Load state (incremental cursors) stored in the Iceberg snapshot that committed the data.

Each load commits its state as JSON in its snapshot's summary, under
``floe.state.<state_key>``, in the same commit as the data: the state survives a fresh machine
(it lives with the table) and advances only when the data does. A load with a ``state_key`` but
no new state carries its key's previous value forward; :func:`read_state` walks back through
parent snapshots to the newest one carrying the key, so loads of other keys (or other tools)
committing in between do not lose it. Other keys are never copied forward: a copy could
overwrite a value a concurrent load just committed.

:func:`read_table_state` also returns the table version the state was read from
(:class:`StateRead`); a load passes it to the writer, which refuses to commit on top of any
other version, because the rows it extracted were chosen by that state.

Values keep their Python types across the round trip: ``datetime``, ``date``, ``time``,
``Decimal``, ``UUID`` and ``bytes`` are tagged in the JSON (``{"__floe__": "datetime",
"value": "..."}``); everything else must be plain JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table.metadata import TableMetadata

__all__ = [
    "STATE_PREFIX",
    "StateRead",
    "decode_state",
    "encode_state",
    "read_state",
    "read_table_state",
    "state_property",
    "states_in_summary",
]

STATE_PREFIX = "floe.state."
"""Snapshot-summary key prefix; the full key is ``floe.state.<state_key>``."""

_TAG = "__floe__"


def state_property(state_key: str) -> str:
    """Return the snapshot-summary key holding ``state_key``'s state.

    Args:
        state_key: Where the state lives (e.g. ``"orders"``).

    Returns:
        ``floe.state.<state_key>``.
    """
    return f"{STATE_PREFIX}{state_key}"


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TAG: "date", "value": value.isoformat()}
    if isinstance(value, dt.time):
        return {_TAG: "time", "value": value.isoformat()}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "value": str(value)}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "value": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {_TAG: "bytes", "value": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"state value of type {type(value).__name__} is not JSON-serialisable")


_DECODERS: dict[str, Any] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "bytes": lambda v: base64.b64decode(v.encode("ascii")),
}


def _hook(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAG)
    if isinstance(tag, str) and tag in _DECODERS and set(obj) == {_TAG, "value"}:
        return _DECODERS[tag](obj["value"])
    return obj


def encode_state(state: dict[str, Any]) -> str:
    """Serialise a state dict to the JSON stored in a snapshot summary.

    Args:
        state: The state.

    Returns:
        Compact, key-sorted JSON.

    Raises:
        TypeError: A value is neither JSON nor one of the tagged types.
    """
    return json.dumps(state, default=_default, sort_keys=True, separators=(",", ":"))


def decode_state(text: str) -> dict[str, Any]:
    """Parse state JSON written by :func:`encode_state`.

    Args:
        text: The JSON text.

    Returns:
        The state dict with tagged values restored.
    """
    value = json.loads(text, object_hook=_hook)
    if not isinstance(value, dict):
        raise ValueError("stored state is not a JSON object")
    return value


def states_in_summary(summary: dict[str, str]) -> dict[str, str]:
    """Return the ``floe.state.*`` entries of a snapshot summary.

    Args:
        summary: A snapshot summary's properties.

    Returns:
        The entries whose key starts with ``floe.state.``.
    """
    return {k: v for k, v in summary.items() if k.startswith(STATE_PREFIX)}


@dataclass(frozen=True)
class StateRead:
    """A load's state and the version of the table it was read from.

    Attributes:
        state: The state dict, or None when the table or the key has none.
        table_exists: Whether the table existed when the state was read.
        snapshot_id: The table's current snapshot then (None: no table, or no snapshot yet).
    """

    state: dict[str, Any] | None
    table_exists: bool
    snapshot_id: int | None


def stored_state_text(metadata: TableMetadata, state_key: str) -> str | None:
    """Return the raw state JSON for ``state_key`` as of the table's current snapshot.

    Args:
        metadata: The table metadata.
        state_key: Where the state lives.

    Returns:
        The JSON text from the newest snapshot (current, then its ancestors) carrying it.
    """
    key = state_property(state_key)
    snapshot = metadata.current_snapshot()
    seen: set[int] = set()
    while snapshot is not None and snapshot.snapshot_id not in seen:
        seen.add(snapshot.snapshot_id)
        if snapshot.summary is not None:
            value = snapshot.summary.additional_properties.get(key)
            if value is not None:
                return value
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    return None


def read_table_state(catalog: Catalog, table: str, state_key: str) -> StateRead:
    """Return the state committed by the last successful load for ``state_key``, and from where.

    Args:
        catalog: The Iceberg catalog.
        table: ``namespace.table``.
        state_key: Where the state lives.

    Returns:
        The state (None when the table does not exist or no load stored state there) and the
        table version it was read from, for :class:`~floe_ingestion_dlt.iceberg.TableWrite`.
    """
    try:
        loaded = catalog.load_table(table)
    except NoSuchTableError:
        return StateRead(state=None, table_exists=False, snapshot_id=None)
    snapshot = loaded.metadata.current_snapshot()
    snapshot_id = None if snapshot is None else snapshot.snapshot_id
    text = stored_state_text(loaded.metadata, state_key)
    state = None if text is None else decode_state(text)
    return StateRead(state=state, table_exists=True, snapshot_id=snapshot_id)


def read_state(catalog: Catalog, table: str, state_key: str) -> dict[str, Any] | None:
    """Return the state committed by the last successful load for ``state_key``.

    Args:
        catalog: The Iceberg catalog.
        table: ``namespace.table``.
        state_key: Where the state lives.

    Returns:
        The state dict, or None when the table does not exist or no load stored state there.
    """
    return read_table_state(catalog, table, state_key).state
