"""The runner's side of a load in parts: each step its own process, with the platform around it.

:class:`DistributedRun` is what an orchestrator calls in each of its steps (a plan step, one
step per part, a commit step; each may be its own process or pod). Every call builds the
manifest's plugin, starts it, builds the source's pipeline from the config the caller resolved
in *its* process (secrets included: they never travel in the plan), runs one plugin method of
:class:`~floe_core.parts.DistributedLoading` under a ``floe.ingestion.*`` span, and shuts the
plugin down. Lineage START is emitted when the load is planned (its run id travels in the
plan), COMPLETE or FAIL when it is committed or a part fails for good; metrics and the
``source_finished`` / ``source_failed`` log line come with the commit, as for
:meth:`Runner.run_one <floe_core.runner.Runner.run_one>`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from floe_core._plugin_calls import call_hook, create_pipeline_at, internal_error, log_result
from floe_core.errors import IngestionError
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.log import get_logger
from floe_core.parts import PartOutcome, PartSpec, PartsPlan
from floe_core.plugin import IngestionPlugin
from floe_core.telemetry import span

if TYPE_CHECKING:
    from floe_core.lineage import LineageEmitter
    from floe_core.project import FloeProject
    from floe_core.runner import Runner

__all__ = ["DistributedRun"]

_log = get_logger("floe_core.distributed")


class DistributedRun:
    """Plan, run and commit one source's load in parts, one call per process.

    Args:
        runner: The runner (manifest, registry, metrics, lineage) of this process.
        project: The floe.yaml the sources come from (for error locations).
    """

    def __init__(self, runner: Runner, project: FloeProject) -> None:
        self.runner = runner
        self.project = project

    def supports(self, config: IngestionConfig) -> bool:
        """Say whether the manifest's plugin loads ``config`` in parts (connects to nothing).

        Args:
            config: The source (secrets may be unresolved).

        Returns:
            The plugin's ``supports_parts``; False when it raises.

        Raises:
            PipelineConfigurationError: The plugin is missing, broken or misconfigured.
        """
        plugin = self.runner.create_plugin()
        try:
            return bool(plugin.supports_parts(config))
        except Exception:
            return False

    def plan(self, config: IngestionConfig, *, workers: int | None = None) -> PartsPlan | None:
        """Plan the load of ``config`` in parts (emits lineage START).

        Args:
            config: The source, secrets resolved (:meth:`Runner.configs`), adjusted by the
                caller (``snapshot_properties``) as for :meth:`Runner.run_one`.
            workers: The parallelism to plan for (None: the plugin's setting).

        Returns:
            The plan, or None when the plugin does not load this source in parts.

        Raises:
            PipelineConfigurationError: As :meth:`Runner.run_one`, before anything is read.
            IngestionError: The plan failed (the pipeline's config, the source, the catalog).
        """
        self.project.select([config.name])
        with self._started(check=True) as plugin, self._lineage() as lineage:
            pipeline = create_pipeline_at(plugin, config, self.project, self.runner.catalog)
            with span(
                "plan_parts",
                pipeline_name=config.name,
                source_type=config.source_type,
                destination_table=config.destination_table,
                **{"ingestion.plugin": plugin.name},
            ) as current:
                try:
                    plan = plugin.plan_parts(pipeline, workers=workers)
                except IngestionError as exc:
                    raise _sourced(exc, config) from None
                except Exception as exc:
                    raise internal_error(plugin, "plan_parts", exc) from exc
                if plan is None:
                    return None
                current.set_attribute("ingestion.parts", len(plan.parts))
            if lineage is not None:
                plan = plan.model_copy(update={"lineage_run_id": lineage.start(config)})
        _log.info(
            "parts_planned",
            source=config.name,
            plugin=plan.plugin,
            tables=[t.table for t in plan.tables],
            parts=len(plan.parts),
        )
        return plan

    def run_part(self, config: IngestionConfig, plan: PartsPlan, part: PartSpec) -> PartOutcome:
        """Run one part (in this process); never raises for a failed part.

        Args:
            config: The source, secrets resolved in this process.
            plan: The load's plan.
            part: The part to run.

        Returns:
            Its outcome; a failure (of the plugin's startup, the pipeline, the part) carries
            the categorised error.

        Raises:
            PipelineConfigurationError: The manifest's plugin cannot be built.
        """
        started = time.monotonic()
        with self._started() as plugin:
            with span(
                "part",
                pipeline_name=config.name,
                source_type=config.source_type,
                destination_table=part.table,
                **{"ingestion.plugin": plugin.name, "ingestion.part": part.index},
            ) as current:
                try:
                    pipeline = create_pipeline_at(plugin, config, self.project, self.runner.catalog)
                    outcome = plugin.run_part(pipeline, plan, part)
                except IngestionError as exc:
                    outcome = _failed(part, _sourced(exc, config))
                except Exception as exc:
                    outcome = _failed(part, internal_error(plugin, "run_part", exc))
                current.set_attribute("ingestion.rows_loaded", outcome.rows)
        fields = {"source": config.name, "table": part.table, "part": part.index}
        seconds = round(time.monotonic() - started, 3)
        if outcome.error is None:
            _log.info("part_finished", **fields, rows=outcome.rows, duration_seconds=seconds)
        else:
            _log.warning(
                "part_failed",
                **fields,
                code=str(outcome.error.code),
                category=str(outcome.error.category),
                error=outcome.error.message,
            )
        return outcome

    def commit(
        self, config: IngestionConfig, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> IngestionResult:
        """Commit every part (emits lineage COMPLETE or FAIL, records the metrics).

        Args:
            config: The source, secrets resolved in this process.
            plan: The load's plan.
            outcomes: Every part's outcome.

        Returns:
            The load's result; a failure is ``success=False`` with its errors.

        Raises:
            PipelineConfigurationError: The manifest's plugin cannot be built.
        """
        started = time.monotonic()
        log = _log.bind(source=config.name, source_type=config.source_type)
        with self._started() as plugin, self._lineage() as lineage:
            with span(
                "commit_parts",
                pipeline_name=config.name,
                source_type=config.source_type,
                destination_table=config.destination_table,
                **{"ingestion.plugin": plugin.name, "ingestion.parts": len(outcomes)},
            ) as current:
                try:
                    pipeline = create_pipeline_at(plugin, config, self.project, self.runner.catalog)
                    result = plugin.commit_parts(pipeline, plan, outcomes)
                except IngestionError as exc:
                    result = IngestionPlugin.failure(config, exc, started=started)
                except Exception as exc:
                    failure = internal_error(plugin, "commit_parts", exc)
                    result = IngestionPlugin.failure(config, failure, started=started)
                result = result.model_copy(update={"duration_seconds": time.monotonic() - started})
                current.set_attribute("ingestion.rows_loaded", result.rows_loaded)
            self.runner.metrics.record_result(result, source_type=config.source_type)
            if lineage is not None and plan.lineage_run_id is not None:
                lineage.finish(plan.lineage_run_id, config, result)
        log_result(log, result)
        return result

    def abandon(
        self,
        config: IngestionConfig,
        plan: PartsPlan,
        outcomes: Sequence[PartOutcome],
        result: IngestionResult | None = None,
    ) -> list[str]:
        """Remove the files of a load that will not be committed.

        Best effort: never raises for a failure to delete (the files stay listed for
        ``floe maintain``). A table the load did commit is left alone.

        Args:
            config: The source, secrets resolved in this process.
            plan: The load's plan.
            outcomes: The outcomes known.
            result: The failure that ends the load when nothing reported it yet (a part's):
                recorded in the metrics and emitted as lineage FAIL. None: already reported
                (by :meth:`commit`).

        Returns:
            The paths listed.
        """
        listed: list[str] = []
        try:
            with self._started() as plugin, self._lineage() as lineage:
                pipeline = create_pipeline_at(plugin, config, self.project, self.runner.catalog)
                listed = plugin.abandon_parts(pipeline, plan, outcomes)
                if result is not None:
                    self.runner.metrics.record_result(result, source_type=config.source_type)
                    if lineage is not None and plan.lineage_run_id is not None:
                        lineage.finish(plan.lineage_run_id, config, result)
        except Exception as exc:
            _log.warning(
                "parts_abandon_failed", source=config.name, error=f"{type(exc).__name__}: {exc}"
            )
        _log.warning("parts_abandoned", source=config.name, files=len(listed))
        return listed

    @contextmanager
    def _started(self, *, check: bool = False) -> Iterator[IngestionPlugin]:
        """The manifest's plugin, started, shut down after; a startup error raised."""
        plugin = self.runner.create_plugin()
        if check:
            self.runner.check_destination(plugin)
        try:
            startup_error = call_hook(plugin.startup)
            if startup_error is not None:
                raise startup_error
            yield plugin
        finally:
            shutdown_error = call_hook(plugin.shutdown)
            if shutdown_error is not None:
                _log.warning(
                    "plugin_shutdown_failed", plugin=plugin.name, error=str(shutdown_error)
                )

    @contextmanager
    def _lineage(self) -> Iterator[LineageEmitter | None]:
        """The runner's lineage emitter, or the manifest's (closed after)."""
        own = self.runner.lineage is None
        lineage = self.runner._own_lineage() if own else self.runner.lineage
        try:
            yield lineage
        finally:
            if own and lineage is not None:
                lineage.close()


def _sourced(error: IngestionError, config: IngestionConfig) -> IngestionError:
    if error.source is None:
        error.source = config.name
    return error


def _failed(part: PartSpec, error: IngestionError) -> PartOutcome:
    return PartOutcome(index=part.index, table=part.table, part=part.part, error=error.to_detail())
