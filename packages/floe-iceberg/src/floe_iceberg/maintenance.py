"""Table maintenance: compact small files, expire snapshots, remove orphan files.

:func:`maintain_table` runs the three steps on one table, in this order, each its own commit
(or deletions), each in a span ``floe.maintenance.<step>``:

1. ``compact`` (:mod:`._compact`): data files smaller than the threshold are rewritten into
   files of the target size in one ``replace`` snapshot that carries every state forward; a
   concurrent commit that removed one of them makes it fail with COMMIT_CONFLICT, table
   unchanged.
2. ``expire`` (:mod:`._expire`): snapshots older than the retention go, except the newest
   few and every snapshot a state key still needs.
3. ``remove_orphans`` (:mod:`._orphan`): files under the table location nothing live
   references, older than the window, and the files of recorded abandoned loads.

:func:`find_stray_files` looks one level up, for files a failed first load left at a location
no table references. Settings: :class:`floe_core.maintenance.MaintenanceConfig` (the manifest's
``maintenance:`` block with a source's overrides). Storage is reached through each table's own
FileIO, as the writes are. A crash in any step leaves a readable, correct table: compaction
commits once or not at all (its files are then orphans for a later run), expiry is one metadata
commit, and orphan removal deletes only unreferenced files.

Metrics (global meter ``floe.maintenance``): ``floe_maintenance_files_rewritten_total``,
``floe_maintenance_snapshots_expired_total``, ``floe_maintenance_orphan_files_removed_total``,
``floe_maintenance_bytes_reclaimed_total`` (orphan bytes deleted), attribute ``table``. A
compaction emits OpenLineage START/COMPLETE/FAIL for job ``maintenance.compact.<table>`` when
a :class:`floe_core.lineage.LineageEmitter` is given.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import metrics, trace
from opentelemetry.trace import Span
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from floe_core.maintenance import MaintenanceConfig
from floe_core.telemetry import record_error
from floe_iceberg import _compact, _expire, _orphan
from floe_iceberg._listing import location_key
from floe_iceberg._maintenance_errors import maintenance_error
from floe_iceberg._maintenance_lineage import compaction_lineage
from floe_iceberg.identifier import split_table_name

if TYPE_CHECKING:
    from floe_core.lineage import LineageEmitter

__all__ = [
    "StrayFiles",
    "TableMaintenance",
    "destination_tables",
    "find_stray_files",
    "maintain_table",
    "maintenance_error",
]

log = structlog.get_logger(__name__)

TRACER_NAME = METER_NAME = "floe.maintenance"


@dataclass(frozen=True)
class TableMaintenance:
    """What maintenance did to one table (or, with ``dry_run``, would do).

    Attributes:
        table: ``namespace.table``.
        dry_run: Nothing was changed.
        files_before: Live data files before.
        bytes_before: Their bytes.
        files_after: Live data files after (estimated for a dry run).
        bytes_after: Their bytes (estimated for a dry run).
        files_compacted: Small files rewritten.
        files_written: Files compaction wrote.
        compaction_skipped: Why compaction did nothing, if it did nothing.
        compaction_snapshot_id: The ``replace`` snapshot, when one was committed.
        snapshots_before: Snapshots before expiry.
        snapshots_expired: Snapshots expired.
        snapshots_kept_for_state: Expirable snapshots kept because a state key needs them.
        orphan_files: Orphan files removed.
        orphan_bytes: Their bytes.
        orphans_kept_recent: Unreferenced files younger than the window, kept.
        abandoned_records: Abandoned-load records handled.
        duration_seconds: Wall time.
    """

    table: str
    dry_run: bool
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int
    files_compacted: int
    files_written: int
    compaction_skipped: str | None
    compaction_snapshot_id: int | None
    snapshots_before: int
    snapshots_expired: int
    snapshots_kept_for_state: int
    orphan_files: int
    orphan_bytes: int
    orphans_kept_recent: int
    abandoned_records: int
    duration_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class StrayFiles:
    """Files under a namespace location outside every table of the namespace.

    Attributes:
        prefix: The folder holding them (directly under the namespace location).
        files: Files older than the window.
        bytes: Their bytes.
        kept_recent: Files there younger than the window.
        removed: Whether they were deleted (only when the namespace location was given).
    """

    prefix: str
    files: int
    bytes: int
    kept_recent: int
    removed: bool


@contextmanager
def _step(name: str, table: str) -> Iterator[Span]:
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        f"floe.maintenance.{name}",
        attributes={"maintenance.table": table},
        record_exception=True,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            record_error(current, exc)
            raise


def _data_files(table: Table) -> tuple[int, int]:
    files = [f for f in _compact.live_files(table.metadata, table) if f.content.name == "DATA"]
    return len(files), sum(f.file_size_in_bytes for f in files)


def _compact_step(
    catalog: Catalog,
    name: str,
    settings: MaintenanceConfig,
    *,
    dry_run: bool,
    lineage: LineageEmitter | None,
) -> tuple[_compact.CompactionPlan, int, int | None]:
    identifier = split_table_name(name)
    table = catalog.load_table(identifier)
    with _step("compact", name) as current:
        plan = _compact.plan_compaction(table, name, small_file_bytes=settings.small_file_bytes)
        current.set_attribute("maintenance.files_planned", len(plan.files))
        if plan.skipped is not None or dry_run:
            estimate = math.ceil(plan.bytes / settings.target_file_size_bytes)
            return plan, (estimate if plan.files else 0), None
        run_id = compaction_lineage(lineage, "START", name, None)
        try:
            writer, written = _compact.write_compacted(
                table, plan, target_file_bytes=settings.target_file_size_bytes
            )
            snapshot_id = _compact.commit_compaction(
                table,
                name,
                plan,
                written,
                writer,
                reload=lambda: catalog.load_table(identifier),
            )
        except BaseException as exc:
            compaction_lineage(lineage, "FAIL", name, run_id, error=exc)
            raise
        compaction_lineage(lineage, "COMPLETE", name, run_id)
        current.set_attribute("maintenance.files_written", len(written))
        current.set_attribute("maintenance.snapshot_id", snapshot_id)
        log.info(
            "table_compacted",
            table=name,
            files_removed=len(plan.files),
            files_written=len(written),
            rows=plan.rows,
            snapshot_id=snapshot_id,
        )
        return plan, len(written), snapshot_id


def maintain_table(
    catalog: Catalog,
    table: str,
    settings: MaintenanceConfig | None = None,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    lineage: LineageEmitter | None = None,
) -> TableMaintenance:
    """Compact, expire and remove orphans for one table, each step its own commit.

    Args:
        catalog: The catalog (see :func:`floe_iceberg.load_catalog`).
        table: ``namespace.table``.
        settings: The table's maintenance settings (defaults when None).
        dry_run: Plan every step and report it; change nothing.
        now: The current time (for tests); ``datetime.now(UTC)`` when None.
        lineage: Where to send the compaction's OpenLineage events, if anywhere.

    Returns:
        What was done.

    Raises:
        DestinationWriteError: COMMIT_CONFLICT when a concurrent commit removed or rewrote a
            file being compacted (nothing committed; run again).
        PipelineConfigurationError: A bad table name (DESTINATION_CONFIG_ERROR).
        Exception: pyiceberg and storage failures propagate raw (``NoSuchTableError``,
            ``CommitFailedException`` of the expiry, ``OSError``), as for ``write_table``.
    """
    settings = settings if settings is not None else MaintenanceConfig()
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    started = time.monotonic()
    meter = metrics.get_meter(METER_NAME)
    attributes = {"table": table}

    plan, written, snapshot_id = _compact_step(
        catalog, table, settings, dry_run=dry_run, lineage=lineage
    )
    if not dry_run and plan.files and snapshot_id is not None:
        meter.create_counter("floe_maintenance_files_rewritten_total", unit="{file}").add(
            len(plan.files), attributes
        )

    identifier = split_table_name(table)
    loaded = catalog.load_table(identifier)
    with _step("expire", table) as current:
        retention = dt.timedelta(days=settings.snapshot_retention_days)
        expiry = _expire.plan_expiry(
            loaded.metadata, older_than=moment - retention, keep_last=settings.keep_last_snapshots
        )
        if not dry_run:
            _expire.expire(loaded, expiry)
            meter.create_counter("floe_maintenance_snapshots_expired_total").add(
                len(expiry.expire), attributes
            )
        current.set_attribute("maintenance.snapshots_expired", len(expiry.expire))

    loaded = catalog.load_table(identifier)
    with _step("remove_orphans", table) as current:
        window = dt.timedelta(days=settings.orphan_window_days)
        orphans = _orphan.plan_orphans(loaded, older_than=moment - window)
        files, size = len(orphans.orphans), orphans.bytes
        if not dry_run:
            files, size = _orphan.delete_files(loaded.io, orphans.orphans, table=table)
            _orphan.delete_files(loaded.io, orphans.records, table=table)
            meter.create_counter("floe_maintenance_orphan_files_removed_total").add(
                files, attributes
            )
            meter.create_counter("floe_maintenance_bytes_reclaimed_total", unit="By").add(
                size, attributes
            )
        current.set_attribute("maintenance.orphan_files", files)
        current.set_attribute("maintenance.orphan_bytes", size)
    for record in orphans.unreadable_records:
        log.warning("abandoned_record_unreadable", table=table, path=record)

    if dry_run:
        files_after = plan.files_before - len(plan.files) + written
        bytes_after = plan.bytes_before  # rewriting keeps the rows; size changes little
    else:
        files_after, bytes_after = _data_files(loaded)
    result = TableMaintenance(
        table=table,
        dry_run=dry_run,
        files_before=plan.files_before,
        bytes_before=plan.bytes_before,
        files_after=files_after,
        bytes_after=bytes_after,
        files_compacted=len(plan.files) if plan.skipped is None else 0,
        files_written=written,
        compaction_skipped=plan.skipped,
        compaction_snapshot_id=snapshot_id,
        snapshots_before=expiry.snapshots_before,
        snapshots_expired=len(expiry.expire),
        snapshots_kept_for_state=expiry.protected_for_state,
        orphan_files=files,
        orphan_bytes=size,
        orphans_kept_recent=orphans.kept_recent,
        abandoned_records=len(orphans.records),
        duration_seconds=round(time.monotonic() - started, 3),
    )
    log.info("table_maintained", **result.to_dict())
    return result


def find_stray_files(
    catalog: Catalog,
    namespace: str,
    *,
    orphan_window_days: float = 3.0,
    namespace_location: str | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> list[StrayFiles]:
    """Report (and with ``namespace_location``, delete) files outside every table of a namespace.

    Without ``namespace_location`` the folder holding the namespace's tables is derived (the
    namespace's ``location`` property, else the parent of its first table's location) and only
    reported: deleting a whole folder needs the caller to name it.

    Args:
        catalog: The catalog.
        namespace: The namespace (``bronze``).
        orphan_window_days: Files younger than this are kept.
        namespace_location: The namespace's folder, given explicitly to allow deletion.
        dry_run: Report only, even with ``namespace_location``.
        now: The current time (for tests).

    Returns:
        One entry per stray folder (empty when the namespace has no table to anchor on).

    Raises:
        Exception: pyiceberg and storage failures propagate raw.
    """
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    tables = [catalog.load_table(i) for i in catalog.list_tables(namespace)]
    location = namespace_location
    if location is None:
        location = catalog.load_namespace_properties(namespace).get("location")
    if location is None and tables:
        location = tables[0].location().rstrip("/").rsplit("/", 1)[0]
    if location is None or not tables:
        return []
    root = location_key(location).rstrip("/") + "/"
    if not all(location_key(t.location()).startswith(root) for t in tables):
        log.warning(
            "strays_not_checked",
            namespace=namespace,
            location=location,
            reason="the namespace's tables are not all under this location",
        )
        return []
    # every table of the catalog stays untouched, whatever namespace it belongs to
    others = [
        catalog.load_table(i).location()
        for ns in catalog.list_namespaces()
        for i in catalog.list_tables(ns)
    ]
    window = dt.timedelta(days=orphan_window_days)
    with _step("find_strays", namespace):
        strays = _orphan.plan_strays(
            tables[0].io,
            location,
            [t.location() for t in tables] + others,
            older_than=moment - window,
        )
        remove = namespace_location is not None and not dry_run
        found: list[StrayFiles] = []
        for stray in strays:
            if remove:
                _orphan.delete_files(tables[0].io, stray.files, table=stray.prefix)
            found.append(
                StrayFiles(stray.prefix, len(stray.files), stray.bytes, stray.kept_recent, remove)
            )
            log.info("stray_files", prefix=stray.prefix, files=len(stray.files), removed=remove)
    return found


def destination_tables(catalog: Catalog, destination: str) -> list[str]:
    """Return the tables a source's destination names, as maintenance treats them.

    Args:
        catalog: The catalog.
        destination: The source's ``destination.table``: ``namespace.table``, or
            ``namespace.*`` for every table of the namespace.

    Returns:
        ``[destination]`` for one table (it may not exist yet); the namespace's tables,
        sorted, for ``namespace.*`` (none when the namespace does not exist).
    """
    from pyiceberg.exceptions import NoSuchNamespaceError

    namespace, _, table = destination.rpartition(".")
    if table != "*":
        return [destination]
    try:
        return sorted(".".join(i) for i in catalog.list_tables(namespace))
    except NoSuchNamespaceError:
        return []
