"""Records of data files a load wrote that may never reach a commit.

Each worker of a distributed load keeps one small JSON record beside the table's metadata,
``<table location>/metadata/floe-abandoned-<uuid>.json``, rewritten *before* each new data file
is created, so that a worker killed at any moment leaves no file unlisted::

    {"load_id": "<the plan's load_id>", "created_at": "<UTC ISO-8601>", "files": ["<path>", ...]}

The record's uuid is derived from the load id and the part number, so the committer (and
:func:`~floe_iceberg.distributed.abandon_load`) find every part's record without listing
storage. After a successful commit the committer deletes the records; after a failure the
files are deleted (best effort) and the records stay for ``floe maintain`` to finish the job.

One case keeps the records of files that are live: the committer dies (or loses the catalog's
answer) after the catalog took the commit. The table's snapshot summary then carries the same
``floe.load-id``: a record whose ``load_id`` appears in a snapshot's ``floe.load-id`` is not
abandoned (its files are the table's) and must only be deleted, never its files.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from pyiceberg.io import FileIO

__all__ = ["RECORD_PREFIX", "PartRecord", "delete_records", "read_record", "record_path"]

log = structlog.get_logger(__name__)

RECORD_PREFIX = "floe-abandoned-"
"""The name prefix of abandoned-file records in the table's ``metadata/`` folder."""

_NAMESPACE = uuid.UUID("5f1c2a0e-8d3b-4e57-9a41-6a4df1e0c9b2")


def record_path(location: str, load_id: str, part: int) -> str:
    """Return where one part's record lives.

    Args:
        location: The table's location.
        load_id: The plan's load id.
        part: The part number.

    Returns:
        ``<location>/metadata/floe-abandoned-<uuid>.json``.
    """
    name = uuid.uuid5(_NAMESPACE, f"{load_id}/{part}")
    return f"{location.rstrip('/')}/metadata/{RECORD_PREFIX}{name}.json"


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
        self._created = datetime.now(UTC).isoformat()
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
        body = {"load_id": self._load_id, "created_at": self._created, "files": self._files}
        with self._io.new_output(self.path).create(overwrite=True) as out:
            out.write(json.dumps(body).encode())


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
            body = json.loads(stream.read())
    except (FileNotFoundError, OSError):
        return []
    return [str(p) for p in body.get("files", [])]


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
