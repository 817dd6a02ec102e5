"""Load state (incremental cursors) stored in the Iceberg snapshot that committed the data.

A load commits its state as JSON in its snapshot's summary, under ``floe.state.<state_key>``,
in the same commit as the data: the state survives a fresh machine (it lives with the table)
and advances only when the data does. :func:`read_state` walks back from the current snapshot
through its parents (appends, overwrites and other tools' commits all keep the parent link) to
the newest snapshot carrying the key. A load of the key whose state did not change makes no
snapshot for it unless it brings rows, and then carries the stored value (or file reference)
forward unchanged; loads of other keys write nothing for it.

A state whose JSON is larger than :data:`STATE_FILE_THRESHOLD` (de-duplication hashes, one per
row at the last cursor value, grow large) is written to a JSON file in the table's metadata
folder through the table's FileIO (local disk or S3), before the commit; the summary then
holds only a reference, ``{"__floe__":"state-file","bytes":N,"path":...,"sha256":...}``, and
:func:`read_state` follows it, checking size and digest. The writer deletes the file when its
commit does not land.

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
import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.io import FileIO
from pyiceberg.table import Table
from pyiceberg.table.locations import LocationProvider
from pyiceberg.table.metadata import TableMetadata

from floe_core import DestinationWriteError, ErrorCode

__all__ = [
    "STATE_FILE_THRESHOLD",
    "STATE_PREFIX",
    "StateRead",
    "check_based_on",
    "decode_state",
    "encode_state",
    "read_state",
    "read_table_state",
    "same_state",
    "state_file_path",
    "state_property",
    "states_in_summary",
    "stored_state_value",
    "summary_value",
]

STATE_PREFIX = "floe.state."
"""Snapshot-summary key prefix; the full key is ``floe.state.<state_key>``."""

STATE_FILE_THRESHOLD = 8 * 1024
"""States whose JSON is longer than this many bytes go to a file; the summary holds a reference."""

_TAG = "__floe__"
_FILE_TAG = "state-file"
_REFERENCE_START = f'{{"{_TAG}":"{_FILE_TAG}",'  # encode_state sorts keys: the tag comes first


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


def check_based_on(base: StateRead | None, table: str, loaded: Table | None) -> None:
    """Refuse to write on top of another table version than a load's state was read from.

    Args:
        base: Where the load read its state (``TableWrite.based_on``); None checks nothing.
        table: ``namespace.table``, for the message.
        loaded: The table as the load found it (None: it does not exist).

    Raises:
        DestinationWriteError: COMMIT_CONFLICT, before anything is written, when the table's
            existence or current snapshot differs from ``base``.
    """
    if base is None:
        return
    existed = loaded is not None
    snapshot = loaded.current_snapshot() if loaded is not None else None
    now = None if snapshot is None else snapshot.snapshot_id
    if (existed, now) == (base.table_exists, base.snapshot_id):
        return
    was = f"snapshot {base.snapshot_id}" if base.table_exists else "no table"
    raise DestinationWriteError(
        f"table {table!r} changed after this load read its state ({was}, now "
        f"{f'snapshot {now}' if existed else 'no table'}): a concurrent load "
        "committed; nothing was written, retry the load",
        code=ErrorCode.COMMIT_CONFLICT,
        details={"table": table, "read_snapshot_id": base.snapshot_id},
    )


def stored_state_value(metadata: TableMetadata, state_key: str) -> str | None:
    """Return the summary value stored for ``state_key`` as of the table's current snapshot.

    Args:
        metadata: The table metadata.
        state_key: Where the state lives.

    Returns:
        The value (state JSON, or a state-file reference) from the newest snapshot (current,
        then its ancestors) carrying the key, or None.
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


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reference(value: str) -> dict[str, Any] | None:
    """Return the state-file reference in a summary value, or None for inline state."""
    if not value.startswith(_REFERENCE_START):
        return None
    parsed = json.loads(value)
    if isinstance(parsed, dict) and set(parsed) == {_TAG, "bytes", "path", "sha256"}:
        return parsed
    return None


def state_file_path(value: str) -> str | None:
    """Return the state file a stored summary value refers to (what orphan removal must keep).

    Args:
        value: A ``floe.state.*`` summary value.

    Returns:
        The file's location, or None for an inline state.
    """
    reference = _reference(value)
    return None if reference is None else str(reference["path"])


def same_state(value: str | None, text: str) -> bool:
    """Tell whether a stored summary value holds exactly the state JSON ``text``.

    A state-file reference is compared by size and SHA-256, without reading the file.

    Args:
        value: What :func:`stored_state_value` returned.
        text: State JSON from :func:`encode_state`.

    Returns:
        True when committing ``text`` would not change what :func:`read_state` returns.
    """
    if value is None:
        return False
    reference = _reference(value)
    if reference is None:
        return value == text
    data = text.encode()
    return bool(reference["bytes"] == len(data) and reference["sha256"] == _digest(data))


def summary_value(text: str, io: FileIO, locations: LocationProvider) -> tuple[str, str | None]:
    """Return what a snapshot summary stores for state ``text``, writing a state file if large.

    Args:
        text: State JSON from :func:`encode_state`.
        io: The table's FileIO.
        locations: The table's location provider (the file goes beside its metadata).

    Returns:
        The summary value, and the path of the state file written (None when inline). The
        caller deletes the file when its commit does not land.
    """
    data = text.encode()
    if len(data) <= STATE_FILE_THRESHOLD:
        return text, None
    # ".metadata.json": table buckets (SeaweedFS, like S3 Tables) accept only Iceberg file
    # names; no version number in front, so no tool takes it for a table metadata version
    path = locations.new_metadata_location(f"floe-state-{uuid.uuid4()}.metadata.json")
    with io.new_output(path).create(overwrite=True) as out:  # a fresh uuid name
        out.write(data)
    reference = {_TAG: _FILE_TAG, "bytes": len(data), "path": path, "sha256": _digest(data)}
    return json.dumps(reference, sort_keys=True, separators=(",", ":")), path


def _state_text(value: str, io: FileIO, table: str) -> str:
    reference = _reference(value)
    if reference is None:
        return value
    path = str(reference["path"])
    try:
        with io.new_input(path).open(seekable=False) as stream:
            data = stream.read()
    except FileNotFoundError as exc:
        raise DestinationWriteError(
            f"table {table!r}: the state file {path} referenced by its snapshots is missing "
            "(removed by an orphan-file cleanup?); restore it, or the next load cannot resume",
            code=ErrorCode.SCHEMA_CORRUPTION,
            details={"table": table, "state_file": path},
        ) from exc
    if len(data) != reference["bytes"] or _digest(data) != reference["sha256"]:
        raise DestinationWriteError(
            f"table {table!r}: the state file {path} does not match its reference "
            f"({len(data)} bytes; expected {reference['bytes']} with sha256 {reference['sha256']})",
            code=ErrorCode.SCHEMA_CORRUPTION,
            details={"table": table, "state_file": path},
        )
    return data.decode()


def read_table_state(catalog: Catalog, table: str, state_key: str) -> StateRead:
    """Return the state committed by the last successful load for ``state_key``, and from where.

    Args:
        catalog: The Iceberg catalog.
        table: ``namespace.table``.
        state_key: Where the state lives.

    Returns:
        The state (None when the table does not exist or no load stored state there) and the
        table version it was read from, for :class:`~floe_iceberg.TableWrite`.

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION when a referenced state file is missing or
            does not match its reference.
    """
    try:
        loaded = catalog.load_table(table)
    except NoSuchTableError:
        return StateRead(state=None, table_exists=False, snapshot_id=None)
    snapshot = loaded.metadata.current_snapshot()
    snapshot_id = None if snapshot is None else snapshot.snapshot_id
    value = stored_state_value(loaded.metadata, state_key)
    if value is None:
        return StateRead(state=None, table_exists=True, snapshot_id=snapshot_id)
    text = _state_text(value, loaded.io, table)
    return StateRead(state=decode_state(text), table_exists=True, snapshot_id=snapshot_id)


def read_state(catalog: Catalog, table: str, state_key: str) -> dict[str, Any] | None:
    """Return the state committed by the last successful load for ``state_key``.

    Args:
        catalog: The Iceberg catalog.
        table: ``namespace.table``.
        state_key: Where the state lives.

    Returns:
        The state dict, or None when the table does not exist or no load stored state there.

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION when a referenced state file is missing or
            does not match its reference.
    """
    return read_table_state(catalog, table, state_key).state
