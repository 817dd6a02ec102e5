"""``build_definitions``: a floe.yaml (and platform manifest) as Dagster definitions.

A two-line ``defs.py`` is a Dagster project::

    from floe_dagster import build_definitions
    defs = build_definitions("floe.yaml", "platform-manifest.yaml")

``dagster dev -f defs.py`` shows the assets; ``dagster asset materialize -f defs.py --select '*'``
loads every source. Besides the assets: a job ``ingestion`` over all of them, one job
``ingestion__{source}_job`` per source (a job may not share its op's name), and a schedule
``ingestion__{source}_schedule`` for each source with a ``schedule`` (cron) in floe.yaml;
the maintenance job ``ingestion_maintenance`` (:mod:`floe_dagster.maintenance`) and, with a
cron, its schedule.
A source with ``partitions`` is left out of the ``ingestion`` job (a job has one partitions
definition); its own job is partitioned, and its schedule runs each window once it has ended,
at the ``schedule`` cron's minute (and, for daily/monthly windows, hour).
Paths are resolved when the definitions are built, so a step process started in another
folder finds the same files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from floe_core import FloeProject, PlatformManifest, Runner
from floe_dagster.asset import SourceAssets, build_source_assets
from floe_dagster.maintenance import build_maintenance_job
from floe_dagster.translator import GROUP, FloeTranslator

__all__ = ["build_definitions", "build_source_definitions"]


def _runner_factory(manifest: Path | PlatformManifest | None) -> Callable[[], Runner]:
    def make() -> Runner:
        if isinstance(manifest, Path):
            return Runner(PlatformManifest.load(manifest))
        return Runner(manifest)

    return make


def _offsets(cron: str, every: str) -> tuple[int | None, int | None]:
    """When in its window a partitioned schedule ticks: the cron's plain minute and hour."""
    fields = cron.split()
    if len(fields) != 5:
        return None, None
    minute = int(fields[0]) if fields[0].isdigit() else None
    hour = int(fields[1]) if fields[1].isdigit() and every != "hourly" else None
    return minute, hour


def build_source_definitions(
    floe_yaml: Path | str,
    manifest: Path | str | PlatformManifest | None = None,
    *,
    translator: FloeTranslator | None = None,
    runner_factory: Callable[[], Runner] | None = None,
) -> list[SourceAssets]:
    """Build each source's assets (what :func:`build_definitions` assembles).

    Args:
        floe_yaml: The floe.yaml.
        manifest: The platform manifest file or model; the default manifest when None.
        translator: Decides keys, specs and pools; :class:`FloeTranslator` when None.
        runner_factory: Builds the runner in each step's process (tests, embedding); by
            default a :class:`~floe_core.Runner` over ``manifest``.

    Returns:
        One entry per source, in file order.

    Raises:
        ConfigFileError: floe.yaml or the manifest is invalid.
        PipelineConfigurationError: A source's resources cannot be listed.
    """
    project = FloeProject.load(Path(floe_yaml).absolute())
    loaded: Path | PlatformManifest | None
    if isinstance(manifest, str | Path):
        path = Path(manifest).absolute()
        loaded, plugin_type = path, PlatformManifest.load(path).plugins.ingestion.type
    else:
        loaded = manifest
        plugin_type = (manifest or PlatformManifest.default()).plugins.ingestion.type
    make_runner = runner_factory or _runner_factory(loaded)
    chosen = translator or FloeTranslator()
    return [
        build_source_assets(
            project, spec, plugin=plugin_type, translator=chosen, make_runner=make_runner
        )
        for spec in project.sources
    ]


def build_definitions(
    floe_yaml: Path | str,
    manifest: Path | str | PlatformManifest | None = None,
    *,
    translator: FloeTranslator | None = None,
    runner_factory: Callable[[], Runner] | None = None,
    executor: dg.ExecutorDefinition | None = None,
    maintenance: bool = True,
    maintenance_schedule: str | None = None,
) -> dg.Definitions:
    """Build the Dagster definitions of a floe.yaml.

    Args:
        floe_yaml: The floe.yaml.
        manifest: The platform manifest file or model; the default manifest when None.
        translator: Decides keys, specs and pools; :class:`FloeTranslator` when None.
        runner_factory: Builds the runner in each step's process; see
            :func:`build_source_definitions`.
        executor: The executor of every job; Dagster's default (multiprocess) when None,
            e.g. ``dagster_k8s.k8s_job_executor`` for one pod per step.
        maintenance: Add the job ``ingestion_maintenance`` over the assets' tables.
        maintenance_schedule: Cron of its schedule; the manifest's ``maintenance.schedule``
            when None; no schedule when neither is set.

    Returns:
        Assets, checks, the ``ingestion`` job, one job per source, the maintenance job and
        the schedules.

    Raises:
        ConfigFileError: floe.yaml or the manifest is invalid.
        PipelineConfigurationError: A source's resources cannot be listed, or
            ``maintenance_schedule`` is not a cron expression.
    """
    sources = build_source_definitions(
        floe_yaml, manifest, translator=translator, runner_factory=runner_factory
    )
    project = FloeProject.load(Path(floe_yaml).absolute())
    # A job holds one partitions definition: partitioned sources run in their own jobs only.
    windowed = [
        a.key
        for s, x in zip(project.sources, sources, strict=True)
        if s.partitions
        for a in x.assets
    ]
    jobs: list[dg.UnresolvedAssetJobDefinition | dg.JobDefinition] = [
        dg.define_asset_job(
            GROUP, selection=dg.AssetSelection.groups(GROUP) - dg.AssetSelection.assets(*windowed)
        )
    ]
    schedules: list[Any] = []
    for spec, source in zip(project.sources, sources, strict=True):
        name = source.definition.node_def.name
        job = dg.define_asset_job(
            f"{name}_job", selection=dg.AssetSelection.assets(*(a.key for a in source.assets))
        )
        jobs.append(job)
        if spec.schedule is not None and spec.partitions is not None:
            # each tick runs the window that just ended (the latest complete partition)
            minute, hour = _offsets(spec.schedule, spec.partitions.schedule)
            schedules.append(
                dg.build_schedule_from_partitioned_job(
                    job, name=f"{name}_schedule", minute_of_hour=minute, hour_of_day=hour
                )
            )
        elif spec.schedule is not None:
            schedules.append(
                dg.ScheduleDefinition(name=f"{name}_schedule", job=job, cron_schedule=spec.schedule)
            )
    if maintenance:
        upkeep = build_maintenance_job(
            project,
            manifest,
            translator=translator,
            runner_factory=runner_factory,
            schedule=maintenance_schedule,
        )
        jobs.append(upkeep.job)
        schedules.extend(upkeep.schedules)
    return dg.Definitions(
        assets=[s.definition for s in sources],
        jobs=jobs,
        schedules=schedules,
        executor=executor,
    )
