"""One part of a parallel ``sql_database`` load: read a range of a table, write its files.

:func:`run_part` is what every runner of a part calls: a worker of the in-process pool
(:mod:`._sql_pool`), the parent itself with one worker, or an orchestrator's step in another
process or pod (:mod:`floe_ingestion_dlt._parts`). It reads the range on its own connection,
the incremental cursor seeded from the stored state, writes the rows with
:func:`floe_iceberg.write_files` against the table's plan (JSON), and returns only the file
set's JSON, its state and its translated error: no row leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from floe_core import CatalogConfig, IngestionConfig, IngestionError
from floe_ingestion_dlt.sources._sql_ranges import PartRange

__all__ = ["PartDone", "PartTask", "part_task", "run_part"]


@dataclass(frozen=True)
class PartTask:
    """One part to run (picklable, for a worker process).

    The source (secrets resolved; never log it), its table plan's JSON, the part's number and
    range, the table (dlt resource) and the state the parts start from.
    """

    config: IngestionConfig
    plugin: Any
    catalog: CatalogConfig
    plan: str
    part: int
    range: PartRange
    resource: str
    saved: dict[str, Any] | None


@dataclass(frozen=True)
class PartDone:
    """What a part returns (small, picklable).

    Its file set and state as JSON, or its error (``ErrorDetail`` JSON); the process and its
    peak RSS (KiB), and the rows it wrote.
    """

    file_set: str | None
    state: dict[str, Any] | None
    error: str | None = None
    pid: int = 0
    maxrss_kib: int = 0
    rows: int = 0


def run_part(task: PartTask) -> PartDone:
    """Read one part and write its files (in a worker process, or in the parent)."""
    from floe_iceberg import LoadPlan, load_catalog, write_files
    from floe_ingestion_dlt._arrow import to_batches
    from floe_ingestion_dlt._errors import translate
    from floe_ingestion_dlt._state import ResourceState
    from floe_ingestion_dlt.sources._sql_errors import sql_errors
    from floe_ingestion_dlt.sources.sql_database import SQL_DATABASE, build_sql_extracts

    name = task.config.name
    side: Any = "source"
    try:
        source = SQL_DATABASE.parse(task.config).model_copy(update={"tables": [task.resource]})
        built = build_sql_extracts(task.config, source, task.plugin, part=task.range)
        try:
            (extract,) = built.extracts
            state = ResourceState(extract.resource, task.saved)
            side = "destination"
            catalog = load_catalog(task.catalog)
            plan = LoadPlan.from_json(task.plan)
            side = "source"
            batches = to_batches(state.iterate(), task.plugin.batch_rows)
            file_set = write_files(catalog, plan, _sided(batches), part=task.part)
        finally:
            built.release()
        return PartDone(file_set.to_json(), state.committed(), None, *_peak(), rows=file_set.rows)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        if isinstance(exc, _SourceFailure):
            exc, side = exc.cause, "source"
        elif side == "source" and not isinstance(exc, IngestionError):
            side = "destination"  # raised by the writer, not by the rows
        error = translate(exc, side=side, source=name, source_errors=sql_errors)
        return PartDone(None, None, error.to_detail().model_dump_json(), *_peak())


def _peak() -> tuple[int, int]:
    """This process's id and peak RSS (KiB, Linux ``ru_maxrss``)."""
    import os
    import resource

    return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class _SourceFailure(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _sided(batches: Any) -> Any:
    """Mark failures of the source's iterator, so that the writer's are told apart."""
    try:
        yield from batches
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        raise _SourceFailure(exc) from exc


def part_task(
    config: IngestionConfig,
    plugin: Any,
    catalog: CatalogConfig,
    plan: str,
    part: int,
    part_range: PartRange,
    resource: str,
    saved: dict[str, Any] | None,
) -> PartTask:
    """Describe one part for :func:`run_part` (in this process or another)."""
    return PartTask(config, plugin, catalog, plan, part, part_range, resource, saved)
