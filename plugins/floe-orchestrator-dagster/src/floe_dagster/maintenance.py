"""The maintenance job: compaction, snapshot expiry and orphan removal over the assets' tables.

:func:`build_maintenance_job` builds a job ``ingestion_maintenance`` with one op per source
(``maintain__ingestion__{source}``). Each op runs :func:`floe_iceberg.maintain_table` on the
source's tables with the manifest's ``maintenance:`` settings and the source's overrides
(:func:`floe_core.maintenance.source_settings`), the same tables and settings ``floe maintain``
uses (:func:`floe_iceberg.destination_tables`), keeping those that are assets of the source; a
table not loaded yet is skipped. Each maintained table gets an :class:`dagster.AssetObservation`
on its asset key whose metadata is the :class:`~floe_iceberg.TableMaintenance` report: every
field as ``floe/<field>`` (``floe/files_before``, ``floe/bytes_after``,
``floe/snapshots_expired``, ``floe/orphan_files``, ``floe/duration_seconds``, ...) plus
``dagster/table_name``. Maintenance changes no rows, so it observes the assets rather than
materializing them.

A table that fails does not stop the source's other tables; afterwards the op fails through
:func:`floe_dagster.failure.raise_for` (the ``dagster.Failure`` carrying ``floe/category`` and
``floe/code``; a COMMIT_CONFLICT is TRANSIENT, so Dagster retries it under the manifest's retry
policy, and maintenance is safe to run again). The schedule ``ingestion_maintenance_schedule``
runs the job on the cron given to :func:`build_maintenance_job`, else on the manifest's
``maintenance.schedule``.

(No ``from __future__ import annotations`` here: Dagster reads the op function's ``context``
annotation at definition time.)
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import OpExecutionContext

from floe_core import (
    ErrorCode,
    FloeProject,
    IngestionResult,
    PipelineConfigurationError,
    PlatformManifest,
    RetryPolicy,
    Runner,
)
from floe_core._cron import cron_problem
from floe_core.log import redact_text
from floe_core.project import SourceSpec
from floe_dagster.failure import raise_for
from floe_dagster.translator import FloeAsset, FloeTranslator

__all__ = ["MAINTENANCE_JOB", "MaintenanceDefinitions", "build_maintenance_job"]

MAINTENANCE_JOB = "ingestion_maintenance"
"""The name of the maintenance job (its schedule is ``ingestion_maintenance_schedule``)."""


@dataclass(frozen=True)
class MaintenanceDefinitions:
    """The maintenance job and its schedule.

    Attributes:
        job: The job ``ingestion_maintenance``, one op per source.
        schedules: ``[ingestion_maintenance_schedule]``, or none without a cron.
    """

    job: dg.JobDefinition
    schedules: list[dg.ScheduleDefinition]


def _metadata(table: str, report: dict[str, Any]) -> dict[str, Any]:
    """Return the observation metadata of one table's maintenance report.

    Args:
        table: ``namespace.table``.
        report: :meth:`floe_iceberg.TableMaintenance.to_dict`.

    Returns:
        ``dagster/table_name`` and every report field as ``floe/<field>`` (None as null).
    """
    metadata: dict[str, Any] = {"dagster/table_name": table}
    for name, value in report.items():
        metadata[f"floe/{name}"] = dg.MetadataValue.null() if value is None else value
    return metadata


def _maintain(
    context: OpExecutionContext,
    project: FloeProject,
    index: int,
    spec: SourceSpec,
    assets: Sequence[FloeAsset],
    runner: Runner,
) -> None:
    from pyiceberg.exceptions import NoSuchTableError

    from floe_core import IngestionError
    from floe_core.maintenance import source_settings
    from floe_iceberg import destination_tables, load_catalog, maintain_table, maintenance_error

    attempt = context.retry_number + 1
    policy = RetryPolicy(runner.manifest.plugins.ingestion.retry)
    keys = {a.table: a.key for a in assets}
    errors: list[IngestionError] = []
    try:
        settings = source_settings(
            runner.manifest.maintenance, spec.maintenance, file=project.file, index=index
        )
        catalog = load_catalog(runner.catalog)
        tables = [t for t in destination_tables(catalog, spec.destination.table) if t in keys]
    except Exception as exc:  # a bad override or an unreachable catalog: nothing to maintain
        errors.append(maintenance_error(exc))
        tables = []
    for table in tables:
        try:
            report = maintain_table(catalog, table, settings)
        except NoSuchTableError:
            context.log.info(f"{table}: no such table yet, nothing to maintain")
            continue
        except Exception as exc:
            error = maintenance_error(exc)
            message = redact_text(error.message)
            context.log.error(f"{table}: maintenance failed [{error.code}] {message}")
            errors.append(error)
            continue
        done = report.to_dict()
        context.log.info(
            f"{table}: {done['files_before']} -> {done['files_after']} files, "
            f"{done['snapshots_expired']} snapshots expired, {done['orphan_files']} orphans removed"
        )
        context.log_event(
            dg.AssetObservation(asset_key=keys[table], metadata=_metadata(table, done))
        )
    if errors:
        failed = IngestionResult(
            source=spec.name, success=False, errors=[e.to_detail() for e in errors]
        )
        raise_for(failed, policy, attempt=attempt)


def _op(
    project: FloeProject,
    index: int,
    spec: SourceSpec,
    translator: FloeTranslator,
    make_runner: Callable[[], Runner],
) -> dg.OpDefinition:
    config = spec.to_ingestion_config()
    assets = translator.assets(config)

    @dg.op(
        name=f"maintain__{translator.op_name(config)}",
        description=f"Compact, expire snapshots and remove orphans: {spec.destination.table}",
        tags={"floe/source": spec.name},
    )
    def _source(context: OpExecutionContext) -> None:
        _maintain(context, project, index, spec, assets, make_runner())

    return _source


def _runner_factory(manifest: Path | PlatformManifest | None) -> Callable[[], Runner]:
    def make() -> Runner:
        if isinstance(manifest, Path):
            return Runner(PlatformManifest.load(manifest))
        return Runner(manifest)

    return make


def build_maintenance_job(
    project: FloeProject,
    manifest: Path | str | PlatformManifest | None = None,
    *,
    translator: FloeTranslator | None = None,
    runner_factory: Callable[[], Runner] | None = None,
    schedule: str | None = None,
) -> MaintenanceDefinitions:
    """Build the maintenance job of a floe.yaml and, with a cron, its schedule.

    Args:
        project: The floe.yaml.
        manifest: The platform manifest file or model (the default manifest when None): its
            ``maintenance`` settings, catalog, retry policy and ``maintenance.schedule``.
        translator: Decides asset keys and op names; :class:`FloeTranslator` when None.
        runner_factory: Builds the runner (manifest and catalog) in each step's process; by
            default a :class:`~floe_core.Runner` over ``manifest``.
        schedule: Cron of the schedule; the manifest's ``maintenance.schedule`` when None.

    Returns:
        The job and its schedule (none when neither gives a cron).

    Raises:
        ConfigFileError: The manifest is invalid.
        PipelineConfigurationError: ``schedule`` is not a cron expression.
    """
    loaded = manifest if isinstance(manifest, PlatformManifest) else None
    if isinstance(manifest, str | Path):
        manifest = Path(manifest).absolute()
        loaded = PlatformManifest.load(manifest)
    cron = (
        schedule
        if schedule is not None
        else (loaded or PlatformManifest.default()).maintenance.schedule
    )
    problem = cron_problem(cron) if cron is not None else None
    if problem is not None:
        raise PipelineConfigurationError(
            f"maintenance schedule {cron!r}: {problem}",
            code=ErrorCode.INVALID_CONFIG,
            details={"field": "maintenance.schedule"},
        )
    make_runner = runner_factory or _runner_factory(manifest)
    chosen = translator or FloeTranslator()
    ops = [
        _op(project, index, spec, chosen, make_runner) for index, spec in enumerate(project.sources)
    ]

    @dg.job(
        name=MAINTENANCE_JOB,
        description="Iceberg table maintenance of every ingestion asset's table.",
        tags={"floe/kind": "maintenance"},
    )
    def _job() -> None:
        for op in ops:
            op()

    schedules = []
    if cron is not None:
        name = f"{MAINTENANCE_JOB}_schedule"
        schedules.append(dg.ScheduleDefinition(name=name, job=_job, cron_schedule=cron))
    return MaintenanceDefinitions(job=_job, schedules=schedules)
