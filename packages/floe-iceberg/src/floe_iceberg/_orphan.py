"""Orphan files: what is stored under a table's location that nothing live references.

A file is *referenced* when the table needs it: the current metadata file and those in its
metadata log, every live snapshot's manifest list, manifests and live data/delete files,
statistics files, and the state files (ADR-0022) the live snapshots' summaries point at. Any
other file under the table location older than the safety window is an orphan: the files of
a killed load (ADR-0021), those of expired snapshots, manifests of failed commits. The window
(default 3 days) protects a load in flight, whose files exist before its commit references
them; the listing and the metadata are read after expiry, so nothing an expiry keeps is lost.

**Abandoned-load records.** A writer that knows its load failed (the distributed two-phase
write) may record the files it left, possibly outside the table location, in a JSON file under
the table's metadata folder, ``<location>/metadata/floe-abandoned-<uuid>.metadata.json``
(``.metadata.json`` because table buckets accept only Iceberg file names)::

    {"version": 1, "created_at": "2026-12-01T10:00:00+00:00", "load_id": "...",
     "files": ["s3://bucket/ns/t/data/00000-0-....parquet", ...]}

The format belongs to :mod:`._abandoned` (the writer's side). Once the record is older than
the window, each listed file no live snapshot references is deleted, then the record; until
then the record and its files are left alone. A record whose ``load_id`` is a live snapshot's
``floe.load-id`` belongs to a load that committed (its committer died, or lost the catalog's
answer, before deleting it): the record is deleted, at any age, and its files never are. A
record that does not parse is left in place and reported.

**Stray table folders.** A first load killed before its commit leaves files at a location no
table references (a REST catalog gives a re-created table a new location). They are found by
listing a namespace location: every file outside all of the namespace's table locations is
reported, grouped by the folder directly under the namespace location, and deleted only when
the caller names the namespace location explicitly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from pyiceberg.io import FileIO
from pyiceberg.table import Table

from floe_iceberg._abandoned import RECORD_PREFIX, AbandonedRecord, is_record_name, parse_record
from floe_iceberg._commit import LOAD_ID_PROPERTY
from floe_iceberg._listing import StoredFile, list_files, location_key
from floe_iceberg.state import STATE_PREFIX, state_file_path

__all__ = [
    "ABANDONED_PREFIX",
    "OrphanPlan",
    "StrayPrefix",
    "committed_loads",
    "delete_files",
    "plan_orphans",
    "plan_strays",
    "referenced_files",
]

log = structlog.get_logger(__name__)

ABANDONED_PREFIX = RECORD_PREFIX
"""File-name prefix of an abandoned-load record in the table's metadata folder."""


@dataclass
class OrphanPlan:
    """What orphan removal deletes under one table location.

    Attributes:
        orphans: Unreferenced files older than the window (abandoned-load files included).
        records: Abandoned-load records handled (deleted after their files).
        kept_recent: Unreferenced files kept because they are younger than the window.
        unreadable_records: Records that do not parse (left in place).
    """

    orphans: list[StoredFile] = field(default_factory=list)
    records: list[StoredFile] = field(default_factory=list)
    kept_recent: int = 0
    unreadable_records: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """Bytes of the orphans."""
        return sum(f.size for f in self.orphans)


@dataclass(frozen=True)
class StrayPrefix:
    """Files under a namespace location outside every table of the namespace.

    Attributes:
        prefix: The folder directly under the namespace location holding them.
        files: The files older than the window.
        kept_recent: Files there younger than the window.
    """

    prefix: str
    files: tuple[StoredFile, ...]
    kept_recent: int

    @property
    def bytes(self) -> int:
        """Bytes of :attr:`files`."""
        return sum(f.size for f in self.files)


def referenced_files(table: Table) -> set[str]:
    """Return the :func:`location_key` of every file the table's live metadata references.

    Args:
        table: The table, freshly loaded.

    Returns:
        The keys.
    """
    metadata = table.metadata
    io = table.io
    paths: list[str] = [table.metadata_location]
    paths += [entry.metadata_file for entry in metadata.metadata_log]
    paths += [s.statistics_path for s in metadata.statistics]
    paths += [s.statistics_path for s in metadata.partition_statistics]
    manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        paths.append(snapshot.manifest_list)
        if snapshot.summary is not None:
            for key, value in snapshot.summary.additional_properties.items():
                state_file = state_file_path(value) if key.startswith(STATE_PREFIX) else None
                if state_file is not None:
                    paths.append(state_file)
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path in manifests:
                continue  # shared by later snapshots: read once
            manifests.add(manifest.manifest_path)
            paths.append(manifest.manifest_path)
            entries = manifest.fetch_manifest_entry(io, discard_deleted=True)
            paths += [entry.data_file.file_path for entry in entries]
    return {location_key(p) for p in paths}


def _is_record(stored: StoredFile) -> bool:
    return is_record_name(stored.location.rsplit("/", 1)[-1])


def _read_record(io: FileIO, stored: StoredFile) -> AbandonedRecord | None:
    try:
        with io.new_input(stored.location).open(seekable=False) as stream:
            return parse_record(stream.read())
    except OSError:
        return None


def committed_loads(table: Table) -> set[str]:
    """Return the ``floe.load-id`` of every live snapshot.

    Args:
        table: The table.

    Returns:
        The load ids.
    """
    ids: set[str] = set()
    for snapshot in table.metadata.snapshots:
        if snapshot.summary is not None:
            load_id = snapshot.summary.additional_properties.get(LOAD_ID_PROPERTY)
            if load_id is not None:
                ids.add(load_id)
    return ids


def _old(stamp: dt.datetime | None, cutoff: dt.datetime) -> bool:
    return stamp is not None and stamp <= cutoff


def plan_orphans(table: Table, *, older_than: dt.datetime) -> OrphanPlan:
    """Find the orphan files of a table.

    Args:
        table: The table, freshly loaded (after expiry).
        older_than: Unreferenced files modified at or before this instant are orphans.

    Returns:
        The plan.
    """
    listed = list(list_files(table.io, table.location()))
    referenced = referenced_files(table)
    by_key = {f.key: f for f in listed}
    plan = OrphanPlan()
    protected: set[str] = set()
    committed = committed_loads(table)
    for stored in (f for f in listed if _is_record(f)):
        protected.add(stored.key)
        parsed = _read_record(table.io, stored)
        if parsed is None:
            plan.unreadable_records.append(stored.location)
            continue
        files = list(parsed.files)
        keys = {location_key(f) for f in files} - referenced
        if parsed.load_id is not None and parsed.load_id in committed:
            protected |= {location_key(f) for f in files}  # the table's files: keep them
            plan.records.append(stored)
            continue
        if not _old(parsed.created_at or stored.modified, older_than):
            protected |= keys
            continue
        for key in sorted(keys):
            found = by_key.get(key)
            if found is None:  # outside the table location, or already gone: ask storage
                found = _stat(table.io, files, key)
            if found is not None and found.key not in {o.key for o in plan.orphans}:
                plan.orphans.append(found)
            protected.add(key)
        plan.records.append(stored)
    for stored in listed:
        if stored.key in referenced or stored.key in protected:
            continue
        if _old(stored.modified, older_than):
            plan.orphans.append(stored)
        else:
            plan.kept_recent += 1
    return plan


def _stat(io: FileIO, files: Iterable[str], key: str) -> StoredFile | None:
    for location in files:
        if location_key(location) != key:
            continue
        try:
            size = len(io.new_input(location))
        except (OSError, ValueError):
            return None  # already deleted
        return StoredFile(location, size, None)
    return None


def plan_strays(
    io: FileIO,
    namespace_location: str,
    table_locations: Iterable[str],
    *,
    older_than: dt.datetime,
) -> list[StrayPrefix]:
    """Find files under a namespace location that belong to none of its tables.

    Args:
        io: A FileIO for the namespace's storage.
        namespace_location: The folder holding the namespace's table folders.
        table_locations: The locations of every table of the namespace.
        older_than: Files modified at or before this instant count; younger ones are kept.

    Returns:
        One entry per folder directly under the namespace location holding such files.
    """
    root = location_key(namespace_location).rstrip("/") + "/"
    tables = [location_key(t).rstrip("/") + "/" for t in table_locations]
    groups: dict[str, tuple[list[StoredFile], list[StoredFile]]] = {}
    for stored in list_files(io, namespace_location):
        key = stored.key
        if not key.startswith(root) or any(key.startswith(t) for t in tables):
            continue
        head = key[len(root) :].split("/", 1)[0]
        prefix = namespace_location.rstrip("/") + "/" + head
        old, recent = groups.setdefault(prefix, ([], []))
        (old if _old(stored.modified, older_than) else recent).append(stored)
    return [
        StrayPrefix(prefix, tuple(old), len(recent))
        for prefix, (old, recent) in sorted(groups.items())
    ]


def delete_files(io: FileIO, files: Iterable[StoredFile], *, table: str) -> tuple[int, int]:
    """Delete files, best effort (one already gone counts as deleted).

    Args:
        io: The FileIO.
        files: What to delete.
        table: For logs.

    Returns:
        Files and bytes deleted.
    """
    count = size = 0
    for stored in files:
        try:
            io.delete(stored.location)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning(
                "orphan_not_deleted", table=table, path=stored.location, error=type(exc).__name__
            )
            continue
        count += 1
        size += stored.size
    return count, size
