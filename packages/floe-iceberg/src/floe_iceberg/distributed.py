"""One load, many workers: the two-phase write (ADR-0027).

A load is planned once, written by any number of workers (processes or machines), and
committed once::

    plan = plan_load(catalog, TableWrite(...))                 # reads the table version
    file_set = write_files(catalog, plan, batches, part=n)     # in each worker
    result = commit_load(catalog, plan, file_sets, state=...)  # one snapshot, with the state

The plan and every file set are small JSON documents (``LoadPlan.to_json`` /
``FileSet.to_json`` and ``from_json``): no row passes through them, so an orchestrator can hand
them between steps. ``append``, ``replace`` and ``merge`` keep :func:`~floe_iceberg.write_table`'s
guarantees: a load with state (or ``based_on``) commits on the version it was planned against or
not at all (COMMIT_CONFLICT), a failure leaves the table as it was, and the load's files are
deleted (best effort). Each worker lists every file it starts in an abandoned-files record
beside the table's metadata before creating it (:mod:`floe_iceberg._abandoned`), so a worker
killed at any moment leaves nothing that ``floe maintain`` cannot find; :func:`abandon_load`
cleans up a load that will not be committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import structlog
from pyiceberg.catalog import Catalog

from floe_iceberg._abandoned import read_record, record_path
from floe_iceberg._files import FileWriter
from floe_iceberg._fileset import FileSet
from floe_iceberg._plan import LoadPlan, plan_load
from floe_iceberg._settle import COMMITTER_PART, _io_of, discard_files, settle
from floe_iceberg._spec import CommittedWrite
from floe_iceberg.writer import DEFAULT_TARGET_FILE_BYTES, write_part

__all__ = ["FileSet", "LoadPlan", "abandon_load", "commit_load", "plan_load", "write_files"]

log = structlog.get_logger(__name__)


def write_files(
    catalog: Catalog,
    plan: LoadPlan,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    part: int,
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES,
    target_file_rows: int | None = None,
    max_in_flight: int = 2,
) -> FileSet:
    """Write one worker's rows as data files against the plan: phase two.

    The rows are normalised to the plan's schema like :func:`~floe_iceberg.write_table`'s; a
    column the table lacks is added to this worker's schema under ``evolve`` (the commit adds
    it to the table) and fails the load under ``freeze``. A failure deletes this worker's files.

    Args:
        catalog: The Iceberg catalog.
        plan: The load's plan (from :func:`plan_load`, possibly via ``LoadPlan.from_json``).
        batches: This worker's rows, consumed once.
        part: The worker's part number, unique within the load (files commit in part order:
            for ``merge``, a later part's row wins a key found in an earlier one).
        target_file_bytes: Arrow bytes per data file.
        target_file_rows: Optional row cap per data file.
        max_in_flight: Data files written concurrently (each holds its rows in memory).

    Returns:
        The file set (``to_json()`` for another process).

    Raises:
        DestinationWriteError: COMMIT_CONFLICT, with nothing written, when a pinned plan's
            table has moved; SCHEMA_CORRUPTION as for ``write_table``.
        SchemaContractViolation: As for ``write_table``.
    """
    if part < 0:
        raise ValueError(f"part must be >= 0, not {part}")
    return write_part(
        catalog,
        plan,
        batches,
        part=part,
        target_file_bytes=target_file_bytes,
        target_file_rows=target_file_rows,
        max_in_flight=max_in_flight,
    )


def commit_load(
    catalog: Catalog,
    plan: LoadPlan,
    file_sets: Sequence[FileSet],
    *,
    state: dict[str, Any] | None = None,
    max_in_flight: int = 2,
) -> CommittedWrite:
    """Commit every part's files, the schema changes and the state in one snapshot.

    Args:
        catalog: The Iceberg catalog.
        plan: The load's plan.
        file_sets: Every part's file set (any order; committed in part order).
        state: The load's new state for ``plan.state_key`` (e.g. the maximum cursor over
            every part).
        max_in_flight: Data files rewritten concurrently (merge, drifted parts).

    Returns:
        What was committed.

    Raises:
        DestinationWriteError: COMMIT_CONFLICT, with nothing committed, when a pinned plan's
            table has moved (a concurrent load landed first).
        ValueError: A file set of another load.
        Exception: pyiceberg's commit failures raw, as for ``write_table``; the load's files
            are deleted unless the commit's outcome is unknown.
    """
    return settle(catalog, plan, file_sets, state=state, max_in_flight=max_in_flight, records=True)


def abandon_load(
    catalog: Catalog, plan: LoadPlan, file_sets: Sequence[FileSet], parts: Iterable[int] = ()
) -> list[str]:
    """Delete the files of a load that will not be committed (best effort).

    The files of ``file_sets`` and every file listed in the records of ``parts`` (workers that
    died before returning their file set) are deleted; the records stay, listing them, for
    ``floe maintain``.

    Args:
        catalog: The Iceberg catalog.
        plan: The load's plan.
        file_sets: The file sets the load's workers returned.
        parts: Part numbers of every worker that was started.

    Returns:
        The paths that were listed (deleted unless storage refused).
    """
    io = _io_of(catalog, plan)
    if io is None:
        return []
    listed: list[str] = []
    for part in {*parts, *(s.part for s in file_sets), COMMITTER_PART}:
        listed.extend(read_record(io, record_path(plan.location, plan.load_id, part)))
    discard_files(file_sets, io)
    writer = FileWriter(io, max_in_flight=1)
    for path in listed:
        writer.delete(path)
    writer.close()
    log.warning("load_abandoned", table=plan.table, load_id=plan.load_id, files=len(listed))
    return sorted({*listed, *(p for s in file_sets for p in s.paths)})
