"""The dlt plugin's loads in parts: ``parallel`` sources in this process's pool or as steps.

A source whose type loads in parts (``sql_database`` with ``parallel``) runs in one of two ways,
both on the same three phases of :mod:`.sources._sql_parallel` (plan and split a table,
:func:`~.sources._sql_part.run_part` once per part, commit once or abandon):

- ``run`` (``floe ingest``): :func:`~._table_load.load_parallel_table`, the parts in the worker
  pool of the plugin (or one after another in this process);
- an orchestrator's steps (:class:`floe_core.DistributedRun`): :func:`plan_parts` returns a
  :class:`~floe_core.PartsPlan` (each table's ``LoadPlan`` JSON, its stored state, each part's
  range as typed JSON), :func:`run_part` runs one part in any process, :func:`commit_parts`
  commits each table once with the maximum cursor over its parts, :func:`abandon_parts`
  removes the files of a load that will not be committed.

The per-table spec and result (:mod:`._table_load`) are shared with the
one-stream path of :meth:`DltIngestionPlugin._load_table
<floe_ingestion_dlt.plugin.DltIngestionPlugin._load_table>`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from floe_core import (
    ErrorDetail,
    IngestionConfig,
    IngestionResult,
    PartOutcome,
    PartSpec,
    PartsPlan,
    PipelineConfigurationError,
    TablePlan,
    TableResult,
)
from floe_core.telemetry import span
from floe_ingestion_dlt._errors import translate
from floe_ingestion_dlt._sides import PASS_THROUGH, load_step, on_side
from floe_ingestion_dlt._table_load import table_result, table_spec
from floe_ingestion_dlt.plugin import DltPipeline, state_key
from floe_ingestion_dlt.sources import REGISTRY
from floe_ingestion_dlt.sources._sql_part import PartDone, part_task
from floe_ingestion_dlt.sources._sql_part import run_part as run_sql_part
from floe_ingestion_dlt.sources._sql_ranges import PartRange

if TYPE_CHECKING:
    from floe_ingestion_dlt.plugin import DltIngestionPlugin

__all__ = [
    "abandon_parts",
    "commit_parts",
    "decode_range",
    "encode_range",
    "plan_parts",
    "run_part",
    "supports_parts",
]

log = structlog.get_logger("floe_ingestion_dlt")

_LOAD_ID = "floe.load-id"
"""The snapshot-summary key of the load that committed it (``LoadPlan.load_id``)."""


def supports_parts(config: IngestionConfig) -> bool:
    """Whether a source loads in parts: a type that can, with ``parallel``, and no window."""
    kind = REGISTRY.get(config.source_type)
    parallel = config.source_config.get("parallel")
    return (
        kind is not None
        and kind.load_parallel is not None
        and bool(parallel)
        and (config.window is None)
    )


def encode_range(part: PartRange) -> str:
    """Return a part's range as typed JSON (decimals, dates and timestamps kept exact)."""
    from dlt.common.json import json

    fields = {"column": part.column, "low": part.low, "high": part.high, "nulls": part.nulls}
    return str(json.typed_dumps(fields))


def decode_range(text: str) -> PartRange:
    """Read a range written by :func:`encode_range`."""
    from dlt.common.json import json

    fields = json.typed_loads(text)
    return PartRange(fields["column"], fields["low"], fields["high"], bool(fields["nulls"]))


def _pipeline(pipeline: Any, plan: PartsPlan | None, plugin: DltIngestionPlugin) -> DltPipeline:
    if not isinstance(pipeline, DltPipeline):
        raise PipelineConfigurationError(
            "the parts of a load need the pipeline returned by DltIngestionPlugin.create_pipeline",
            source=pipeline.config.name,
        )
    if plan is not None and (plan.plugin != plugin.name or plan.source != pipeline.config.name):
        raise PipelineConfigurationError(
            f"the parts plan is of source {plan.source!r} by plugin {plan.plugin!r}, not of "
            f"{pipeline.config.name!r} by {plugin.name!r}",
            source=pipeline.config.name,
        )
    return pipeline


def plan_parts(plugin: DltIngestionPlugin, pipeline: Any, workers: int | None) -> PartsPlan | None:
    """Reflect the tables, read each one's state, split it and plan its load.

    Args:
        plugin: The plugin.
        pipeline: From ``create_pipeline``.
        workers: Parts per table for ``partitions: auto`` (None: the plugin's ``workers``).

    Returns:
        The plan, or None for a source that does not load in parts.

    Raises:
        IngestionError: Translated as ``run`` would report it.
    """
    from floe_iceberg import load_catalog, read_table_state
    from floe_ingestion_dlt.sources._sql_parallel import plan_table

    dlt = _pipeline(pipeline, None, plugin)
    config = dlt.config
    if not supports_parts(config):
        return None
    count = workers or plugin.settings.workers
    source: Any = dlt.source  # a SqlDatabaseSourceConfig with ``parallel``
    tables: list[TablePlan] = []
    parts: list[PartSpec] = []
    try:
        with span("extract", source_type=config.source_type, pipeline_name=config.name):
            with on_side("source", config.name, dlt.kind.errors):
                extracts, cleanup = plugin._extracts(dlt)
        try:
            with on_side("destination", config.name):
                catalog = load_catalog(plugin.catalog)
            for extract in extracts:
                with on_side("destination", config.name):
                    saved = read_table_state(catalog, extract.table, state_key(config))
                    plan, ranges, column = plan_table(
                        catalog,
                        config=config,
                        source=source,
                        resource=extract.name,
                        primary_key=extract.primary_key,
                        spec=table_spec(config, extract, saved),
                        workers=count,
                    )
                payload = {
                    "resource": extract.name,
                    "column": column,
                    "split": source.parallel.split,
                    "primary_key": list(extract.primary_key),
                    "details": extract.details,
                }
                tables.append(
                    TablePlan(
                        table=extract.table,
                        load_plan=plan.to_json(),
                        state=saved.state,
                        payload=payload,
                    )
                )
                for number, part_range in enumerate(ranges):
                    spec = PartSpec(
                        index=len(parts),
                        table=extract.table,
                        part=number,
                        payload={"range": encode_range(part_range)},
                    )
                    parts.append(spec)
        finally:
            cleanup()
    except PASS_THROUGH:
        raise
    except BaseException as exc:
        error = translate(exc, side="source", source=config.name, source_errors=dlt.kind.errors)
        raise error from exc
    return PartsPlan(
        source=config.name,
        plugin=plugin.name,
        tables=tables,
        parts=parts,
        details={"workers": count},
    )


def run_part(
    plugin: DltIngestionPlugin, pipeline: Any, plan: PartsPlan, part: PartSpec
) -> PartOutcome:
    """Read one part and write its files, as a worker of the pool does.

    Returns:
        Its outcome (its error translated, never raised).
    """
    dlt = _pipeline(pipeline, plan, plugin)
    table = plan.table(part.table)
    task = part_task(
        dlt.config,
        plugin.settings,
        plugin.catalog,
        table.load_plan,
        part.part,
        decode_range(str(part.payload["range"])),
        str(table.payload["resource"]),
        table.state,
    )
    done = run_sql_part(task)
    return PartOutcome(
        index=part.index,
        table=part.table,
        part=part.part,
        file_set=done.file_set,
        state=done.state,
        rows=done.rows,
        error=ErrorDetail.model_validate_json(done.error) if done.error else None,
        pid=done.pid,
        maxrss_kib=done.maxrss_kib,
    )


def _done(outcome: PartOutcome) -> PartDone:
    error = outcome.error.model_dump_json() if outcome.error is not None else None
    return PartDone(
        outcome.file_set,
        outcome.state,
        error,
        outcome.pid,
        outcome.maxrss_kib,
        rows=outcome.rows,
    )


def commit_parts(
    plugin: DltIngestionPlugin, pipeline: Any, plan: PartsPlan, outcomes: Sequence[PartOutcome]
) -> IngestionResult:
    """Commit each table's parts once (the maximum cursor with them); abandon on failure.

    A table whose parts did not all succeed is not committed; neither is any table after a
    failure (their files are abandoned). Tables committed before it stay committed and are
    listed in ``details["committed_before_failure"]``, as ``run`` reports them.

    Returns:
        The load's result, as ``run`` reports it.
    """
    from floe_iceberg import LoadPlan, load_catalog
    from floe_ingestion_dlt.sources._sql_parallel import facts, settle_parts

    started = time.monotonic()
    dlt = _pipeline(pipeline, plan, plugin)
    config = dlt.config
    tables: list[TableResult] = []
    details: dict[str, Any] = {"source_type": config.source_type, "tables": {}}
    pending = list(plan.tables)
    try:
        with on_side("destination", config.name):
            catalog = load_catalog(plugin.catalog)
        while pending:
            table = pending[0]
            mine = sorted((o for o in outcomes if o.table == table.table), key=lambda o: o.part)
            done = [_done(o) for o in mine]
            with load_step(config, table.table) as current:
                load_plan = LoadPlan.from_json(table.load_plan)
                pending.pop(0)
                committed, state = settle_parts(
                    catalog, load_plan, done, len(plan.parts_of(table.table))
                )
                current.set_attribute("ingestion.rows_loaded", committed.rows_loaded)
            processes = len({d.pid for d in done})  # the workers: the processes that ran parts
            split = facts(
                done, str(table.payload["column"]), str(table.payload["split"]), processes
            )
            extra = {**dict(table.payload.get("details") or {}), "parallel": split}
            tables.append(
                table_result(
                    config,
                    table.table,
                    committed,
                    cursors=dict((state or {}).get("cursors", {})),
                    primary_key=list(table.payload.get("primary_key") or []),
                    extra=extra,
                    details=details,
                )
            )
    except PASS_THROUGH:
        raise
    except BaseException as exc:
        error = translate(exc, side="destination", source=config.name)
        if error.source is None:
            error.source = config.name
        if pending:  # the tables after the failure will not be committed by this load
            rest = plan.model_copy(update={"tables": pending})
            abandon_parts(plugin, dlt, rest, outcomes)
        if tables:
            details["committed_before_failure"] = [t.table for t in tables]
        log.warning(
            "load_failed",
            source=config.name,
            code=str(error.code),
            category=str(error.category),
            error=error.message,
        )
        return plugin._result(config, started, tables, details, errors=[error])
    return plugin._result(config, started, tables, details, errors=[])


def abandon_parts(
    plugin: DltIngestionPlugin, pipeline: Any, plan: PartsPlan, outcomes: Sequence[PartOutcome]
) -> list[str]:
    """Remove the files of every table of the plan that its load did not commit.

    A table whose snapshots carry the plan's ``floe.load-id`` was committed (its files are
    live) and is left alone.

    Returns:
        The paths listed (deleted unless storage refused).

    Raises:
        IngestionError: The catalog cannot be opened (translated).
    """
    from floe_iceberg import LoadPlan, load_catalog
    from floe_iceberg.distributed import FileSet, abandon_load

    dlt = _pipeline(pipeline, plan, plugin)
    with on_side("destination", dlt.config.name):
        catalog = load_catalog(plugin.catalog)
    listed: list[str] = []
    for table in plan.tables:
        load_plan = LoadPlan.from_json(table.load_plan)
        with on_side("destination", dlt.config.name):
            if _committed(catalog, load_plan):
                continue
            file_sets = [
                FileSet.from_json(o.file_set)
                for o in outcomes
                if o.table == table.table and o.file_set is not None
            ]
            numbers = [p.part for p in plan.parts_of(table.table)]
            listed.extend(abandon_load(catalog, load_plan, file_sets, parts=numbers))
    return listed


def _committed(catalog: Any, plan: Any) -> bool:
    """Whether a snapshot of the plan's table was committed by the plan's load."""
    from pyiceberg.exceptions import NoSuchTableError

    try:
        table = catalog.load_table(plan.table)
    except NoSuchTableError:
        return False
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        if summary.get(_LOAD_ID) == plan.load_id:
            return True
    return False
