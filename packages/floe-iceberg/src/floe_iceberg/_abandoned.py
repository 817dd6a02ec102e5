"""Records of data files a load wrote that may never reach a commit: the one record format.

Each worker of a distributed load keeps one small JSON record beside the table's metadata,
``<table location>/metadata/floe-abandoned-<uuid>.metadata.json`` (``.metadata.json`` because
S3 table buckets accept only Iceberg file names), rewritten *before* each new data file is
created, so that a worker killed at any moment leaves no file unlisted::

    {"version": 1, "created_at": "<UTC ISO-8601>", "load_id": "<the plan's load_id>",
     "files": ["<path>", ...]}

This module owns the format: the writer writes it (:class:`PartRecord`) and table maintenance
reads it (:func:`parse_record`, :func:`is_record_name`; :mod:`._orphan`).

The record's uuid is derived from the load id and the part number, so the committer (and
:func:`~floe_iceberg.distributed.abandon_load`) find every part's record without listing
storage. After a successful commit the committer deletes the records; after a failure the
files are deleted (best effort) and the records stay for ``floe maintain`` to finish the job.

One case keeps the records of files that are live: the committer dies (or loses the catalog's
answer) after the catalog took the commit. The table's snapshot summary then carries the same
``floe.load-id``: a record whose ``load_id`` appears in a snapshot's ``floe.load-id`` is not
abandoned (its files are the table's) and must only be deleted, never its files (as
:mod:`._orphan` does).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from pyiceberg.io import FileIO

__all__ = [
    "RECORD_PREFIX",
    "RECORD_SUFFIX",
    "RECORD_VERSION",
    "AbandonedRecord",
    "PartRecord",
    "delete_records",
    "encode_record",
    "is_record_name",
    "parse_record",
    "read_record",
    "record_path",
]

log = structlog.get_logger(__name__)

RECORD_PREFIX = "floe-abandoned-"
"""The name prefix of abandoned-file records in the table's ``metadata/`` folder."""

RECORD_SUFFIX = ".metadata.json"
"""Their name suffix (an Iceberg metadata file name, which table buckets accept)."""

RECORD_VERSION = 1
"""The record format's version."""

_NAMESPACE = uuid.UUID("5f1c2a0e-8d3b-4e57-9a41-6a4df1e0c9b2")


def record_path(location: str, load_id: str, part: int) -> str:
    """Return where one part's record lives.

    Args:
        location: The table's location.
        load_id: The plan's load id.
        part: The part number.

    Returns:
        ``<location>/metadata/floe-abandoned-<uuid>.metadata.json``.
    """
    name = uuid.uuid5(_NAMESPACE, f"{load_id}/{part}")
    return f"{location.rstrip('/')}/metadata/{RECORD_PREFIX}{name}{RECORD_SUFFIX}"


def is_record_name(name: str) -> bool:
    """Return whether a file name (no folder) is an abandoned-file record's.

    Args:
        name: The file name.

    Returns:
        True for ``floe-abandoned-*.metadata.json``.
    """
    return name.startswith(RECORD_PREFIX) and name.endswith(RECORD_SUFFIX)


@dataclass(frozen=True)
class AbandonedRecord:
    """A parsed record.

    Attributes:
        load_id: The load that wrote the files (None when the record names none).
        created_at: When its first file was started (None when the record says nothing).
        files: The listed file locations.
    """

    load_id: str | None
    created_at: datetime | None
    files: tuple[str, ...]


def encode_record(load_id: str, created_at: datetime, files: Sequence[str]) -> bytes:
    """Return a record's bytes.

    Args:
        load_id: The plan's load id.
        created_at: When the record was started (timezone-aware).
        files: The file locations it lists.

    Returns:
        The JSON document.
    """
    body = {
        "version": RECORD_VERSION,
        "created_at": created_at.isoformat(),
        "load_id": load_id,
        "files": list(files),
    }
    return json.dumps(body).encode()


def parse_record(data: bytes) -> AbandonedRecord | None:
    """Read a record's bytes.

    Args:
        data: The file's content.

    Returns:
        The record, or None when it does not parse (no ``files`` list of strings, a bad
        ``created_at``, not JSON).
    """
    try:
        value = json.loads(data)
        files = value["files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            return None
        created = value.get("created_at")
        stamp = datetime.fromisoformat(created) if isinstance(created, str) else None
        if stamp is not None and stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        load_id = value.get("load_id")
        return AbandonedRecord(
            load_id=load_id if isinstance(load_id, str) else None,
            created_at=stamp,
            files=tuple(files),
        )
    except (ValueError, KeyError, TypeError):
        return None


class PartRecord:
    """One worker's record, kept up to date as the worker starts files.

    Args:
        location: The table's location.
        load_id: The plan's load id.
        part: The worker's part number.
    """

    def __init__(self, location: str, load_id: str, part: int) -> None:
        self._io: FileIO | None = None
        self.path = record_path(location, load_id, part)
        self._load_id = load_id
        self._created = datetime.now(UTC)
        self._files: list[str] = []

    def attach(self, io: FileIO) -> None:
        """Use the table's FileIO (known once the worker opened the table).

        Args:
            io: The table's FileIO.
        """
        self._io = io

    def add(self, path: str) -> None:
        """List ``path`` (rewriting the record) before the file is created.

        Args:
            path: The data file about to be written.

        Raises:
            OSError: Storage refused the record (the worker fails before writing the file).
        """
        assert self._io is not None, "attach() the table's FileIO first"
        self._files.append(path)
        with self._io.new_output(self.path).create(overwrite=True) as out:
            out.write(encode_record(self._load_id, self._created, self._files))


def read_record(io: FileIO, path: str) -> list[str]:
    """Return the files a record lists (empty when there is no record).

    Args:
        io: The table's FileIO.
        path: The record's location.

    Returns:
        The listed paths.
    """
    try:
        with io.new_input(path).open() as stream:
            record = parse_record(stream.read())
    except OSError:  # FileNotFoundError included
        return []
    return list(record.files) if record is not None else []


def delete_records(io: FileIO, paths: Sequence[str]) -> None:
    """Delete records whose files were committed (best effort).

    Args:
        io: The table's FileIO.
        paths: The records' locations.
    """
    for path in paths:
        try:
            io.delete(path)
        except Exception as exc:
            if not isinstance(exc, FileNotFoundError):
                log.warning("abandoned_record_not_deleted", path=path, error=type(exc).__name__)
