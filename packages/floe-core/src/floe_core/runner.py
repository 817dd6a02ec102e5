"""Run the sources of a floe.yaml with the plugin, catalog and policies of a platform manifest.

For each source: open the ``floe.ingestion.run`` span, emit lineage START, ``create_pipeline``,
``run`` under the :class:`~floe_core.retry.RetryPolicy`, then record metrics, lineage
COMPLETE/FAIL and a log line. The plugin is started once before the first source and shut down
after the last, always.

What raises and what comes back as a result: problems found before any load starts (a file,
a secret, the plugin or its config, a catalog the plugin cannot use, the lineage transport) raise
:class:`~floe_core.errors.PipelineConfigurationError`;
everything about one source, a ``create_pipeline`` CONFIGURATION error included, comes back in
its :class:`~floe_core.ingestion.IngestionResult`, so one bad source does not stop the others.
A CONFIGURATION failure is never retried. ``IngestionResult.duration_seconds`` is the source's
wall time including retries and waits; ``attempts`` says how many runs it took.

The catalog passed to the plugin is :meth:`PlatformManifest.catalog_config
<floe_core.manifest.PlatformManifest.catalog_config>`: ``storage`` folded into pyiceberg
properties (``s3.endpoint``, ``s3.access-key-id``, ...) or the local ``warehouse`` folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import structlog

from floe_core._plugin_calls import (
    as_error,
    call_hook,
    check_source_at,
    create_pipeline_at,
    create_plugin_at,
    destination_config_at,
    internal_error,
    log_result,
    run_once,
)
from floe_core._preflight import check_catalog_driver, read_only_catalog
from floe_core.errors import (
    IngestionError,
    PipelineConfigurationError,
)
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.log import configure_logging, get_logger
from floe_core.manifest import PlatformManifest
from floe_core.metric import IngestionMetrics
from floe_core.plugin import IngestionPlugin
from floe_core.project import FloeProject
from floe_core.registry import PluginRegistry
from floe_core.retry import RetryAttempt, RetryPolicy
from floe_core.telemetry import record_error, span

if TYPE_CHECKING:
    from floe_core.lineage import LineageEmitter

__all__ = ["Runner", "SourceEvent"]

_log = get_logger("floe_core.runner")


@dataclass(frozen=True)
class SourceEvent:
    """Progress of one source, passed to ``run_sources(on_event=...)``.

    Attributes:
        kind: ``started``, ``retrying`` (an attempt failed; another follows after
            ``delay_seconds``) or ``finished`` (``result`` is final).
        source: The source name.
        attempt: The attempt the event is about (1-based).
        result: The failed attempt's result (``retrying``) or the final one (``finished``).
        delay_seconds: The wait before the next attempt (``retrying``).
    """

    kind: Literal["started", "retrying", "finished"]
    source: str
    attempt: int = 1
    result: IngestionResult | None = None
    delay_seconds: float | None = None


class Runner:
    """Runs floe.yaml sources.

    Args:
        manifest: The platform manifest; :meth:`PlatformManifest.default` when None.
        registry: Where plugins come from; the installed ones when None.
        sleep: Used for retry waits (tests pass a recorder).
        metrics: The metric instruments; built on the global meter provider when None.
        lineage: The lineage emitter (the caller closes it); when None and
            ``observability.lineage.enabled``, each :meth:`run_sources` builds one from the
            manifest and closes it (flushing the transport) when it ends.
        environ: Environment for ``env:`` secrets; ``os.environ`` when None.
    """

    def __init__(
        self,
        manifest: PlatformManifest | None = None,
        registry: PluginRegistry | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        metrics: IngestionMetrics | None = None,
        lineage: LineageEmitter | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.manifest = manifest if manifest is not None else PlatformManifest.default()
        self.registry = registry if registry is not None else PluginRegistry()
        self.metrics = metrics if metrics is not None else IngestionMetrics()
        self.catalog = self.manifest.catalog_config()
        self._sleep = sleep
        self._environ = environ
        self.lineage = lineage
        if not structlog.is_configured():
            logs = self.manifest.observability.logs
            configure_logging(logs.format, logs.level)

    def create_plugin(self, *, read_only: bool = False) -> IngestionPlugin:
        """Instantiate the manifest's ingestion plugin with its config and the catalog.

        Args:
            read_only: Give the plugin a catalog that opening creates nothing for
                (:func:`~floe_core._preflight.read_only_catalog`), for checks
                (``floe health``, ``floe validate``) that must leave the disk as it was.

        Returns:
            The plugin, not started.

        Raises:
            PluginError: The plugin is missing, broken or incompatible (names the manifest
                field ``plugins.ingestion.type``).
            ConfigFileError: ``plugins.ingestion.config`` does not match the plugin's schema.
        """
        catalog = read_only_catalog(self.catalog)[0] if read_only else self.catalog
        return create_plugin_at(self.registry, self.manifest, catalog)

    def catalog_not_created(self) -> list[str]:
        """Return the catalog's SQLite file / warehouse folder paths that do not exist yet.

        Returns:
            The paths the first load creates (empty for a catalog that exists or is remote).
        """
        return read_only_catalog(self.catalog)[1]

    def check_destination(self, plugin: IngestionPlugin) -> dict[str, Any]:
        """Ask the plugin whether it can use the catalog (``get_destination_config``).

        An external plugin answers with settings for an admin to enter (informational); only
        a raised CONFIGURATION error means the catalog is unusable.

        Args:
            plugin: The manifest's plugin (it need not be started).

        Returns:
            The plugin's destination settings.

        Raises:
            ConfigFileError: The plugin cannot use the catalog; names the manifest file and
                the ``catalog`` field (or the sub-field the plugin names).
            IngestionError: Another failure; INTERNAL_ERROR when the plugin raised something
                outside the taxonomy.
        """
        return destination_config_at(plugin, self.catalog, self.manifest.file)

    def configs(
        self, project: FloeProject, only: Collection[str] | None = None
    ) -> list[IngestionConfig]:
        """Return the sources to run, secrets resolved with the manifest's ``secrets_dir``.

        Args:
            project: The floe.yaml.
            only: Source names (all when None).

        Returns:
            The configs in file order.

        Raises:
            PipelineConfigurationError: A missing secret or an unknown name in ``only``.
        """
        return project.to_ingestion_configs(
            secrets_dir=self.manifest.secrets_dir, environ=self._environ, only=only
        )

    def validate(
        self,
        project: FloeProject,
        only: Collection[str] | None = None,
        *,
        offline: bool = False,
        timeout: float = 10.0,
    ) -> list[tuple[IngestionConfig, IngestionError | None]]:
        """Check the catalog, the lineage transport and every source, loading nothing.

        The catalog goes through :meth:`check_destination`; each source through the plugin's
        ``create_pipeline`` and then, unless ``offline``, its ``check_source`` (which
        connects to the source, e.g. to reflect tables and columns).

        Args:
            project: The floe.yaml.
            only: Source names (all when None).
            offline: Skip ``check_source``: connect to no source.
            timeout: Seconds each ``check_source`` may take to connect.

        Returns:
            Each source with the error ``create_pipeline`` raised, or None when valid.

        Raises:
            PipelineConfigurationError: As :meth:`create_plugin`, :meth:`check_destination`
                and :meth:`configs`, or an ``observability.lineage.transport`` that cannot be
                built.
            IngestionError: The plugin's ``startup`` failed.
        """
        configs = self.configs(project, only)
        plugin = self.create_plugin(read_only=True)
        self.check_destination(plugin)
        check_catalog_driver(self.manifest, self.catalog)
        if self.lineage is None:
            lineage = self._own_lineage()  # proves the transport config; sends nothing
            if lineage is not None:
                lineage.close()
        checked: list[tuple[IngestionConfig, IngestionError | None]] = []
        try:
            startup_error = call_hook(plugin.startup)
            if startup_error is not None:
                raise startup_error
            for config in configs:
                try:
                    pipeline = create_pipeline_at(plugin, config, project, self.catalog)
                    if not offline:
                        check_source_at(plugin, pipeline, project, timeout)
                    checked.append((config, None))
                except IngestionError as exc:
                    checked.append((config, exc))
                except Exception as exc:
                    checked.append((config, internal_error(plugin, "create_pipeline", exc)))
        finally:
            call_hook(plugin.shutdown)
        return checked

    def run_sources(
        self,
        project: FloeProject,
        only: Collection[str] | None = None,
        on_event: Callable[[SourceEvent], None] | None = None,
        workers: int | None = None,
    ) -> list[IngestionResult]:
        """Load the sources of ``project`` one after another (up to ``workers`` at a time).

        Args:
            project: The floe.yaml.
            only: Source names to run (all when None).
            on_event: Called with progress events (for a CLI progress display).
            workers: Sources loaded at once (threads; each source is an independent load),
                also passed to the plugin's ``run`` as ``workers`` (the dlt plugin runs a
                ``parallel`` source's parts in that many processes). None: one at a time, and
                the plugin's own setting.

        Returns:
            One result per source, in file order.

        Raises:
            PipelineConfigurationError: Before any load starts: a missing secret, an unknown
                source name, a missing, broken or misconfigured plugin, a catalog the plugin
                cannot use (:meth:`check_destination`), or a lineage transport that cannot be
                built.
        """
        configs = self.configs(project, only)
        plugin = self.create_plugin()
        self.check_destination(plugin)
        check_catalog_driver(self.manifest, self.catalog)
        notify = on_event or (lambda event: None)
        lineage = self.lineage if self.lineage is not None else self._own_lineage()
        results: list[IngestionResult] = []
        try:
            startup_error = call_hook(plugin.startup)

            def one(config: IngestionConfig) -> IngestionResult:
                return self._run_source(
                    plugin, config, project, notify, startup_error, lineage, workers
                )

            if workers is not None and workers > 1 and len(configs) > 1:
                with ThreadPoolExecutor(workers, thread_name_prefix="floe-source") as pool:
                    results.extend(pool.map(one, configs))
            else:
                results.extend(one(config) for config in configs)
        finally:
            shutdown_error = call_hook(plugin.shutdown)
            if shutdown_error is not None:
                _log.warning(
                    "plugin_shutdown_failed", plugin=plugin.name, error=str(shutdown_error)
                )
            if lineage is not None and lineage is not self.lineage:
                lineage.close()
        return results

    def run_one(
        self, project: FloeProject, config: IngestionConfig, *, retry: bool = True
    ) -> IngestionResult:
        """Load one source, as :meth:`run_sources` does, from a config the caller may adjust.

        An orchestrator takes the config from :meth:`configs`, adds ``snapshot_properties``
        (its run id) or narrows ``source_config``, and passes ``retry=False`` when it owns the
        retries itself: one attempt, whose result says whether another may help.

        Args:
            project: The floe.yaml ``config`` comes from (for error locations).
            config: The source to load; its name must be a source of ``project``.
            retry: Apply the manifest's retry policy (False: exactly one attempt).

        Returns:
            The result, with ``attempts`` and ``duration_seconds`` as in :meth:`run_sources`.

        Raises:
            PipelineConfigurationError: As :meth:`run_sources`, before the load starts.
        """
        project.select([config.name])
        plugin = self.create_plugin()
        self.check_destination(plugin)
        lineage = self.lineage if self.lineage is not None else self._own_lineage()
        try:
            startup_error = call_hook(plugin.startup)
            return self._run_source(
                plugin, config, project, lambda event: None, startup_error, lineage, retry=retry
            )
        finally:
            shutdown_error = call_hook(plugin.shutdown)
            if shutdown_error is not None:
                _log.warning(
                    "plugin_shutdown_failed", plugin=plugin.name, error=str(shutdown_error)
                )
            if lineage is not None and lineage is not self.lineage:
                lineage.close()

    def _own_lineage(self) -> LineageEmitter | None:
        """Build the manifest's lineage emitter (None when lineage is off).

        Raises:
            ConfigFileError: The transport cannot be built (names the manifest field).
        """
        config = self.manifest.observability.lineage
        if not config.enabled:
            return None
        from floe_core.lineage import LineageEmitter

        try:
            return LineageEmitter.from_config(config, self.catalog)
        except PipelineConfigurationError as exc:
            raise self.manifest.error("observability.lineage.transport", exc.message) from exc

    def _run_source(
        self,
        plugin: IngestionPlugin,
        config: IngestionConfig,
        project: FloeProject,
        notify: Callable[[SourceEvent], None],
        startup_error: IngestionError | None,
        lineage: LineageEmitter | None,
        workers: int | None = None,
        *,
        retry: bool = True,
    ) -> IngestionResult:
        started = time.monotonic()
        log = _log.bind(source=config.name, source_type=config.source_type, plugin=plugin.name)
        with span(
            "run",
            pipeline_name=config.name,
            source_type=config.source_type,
            destination_table=config.destination_table,
            write_mode=config.write_mode.value,
            schema_contract=config.schema_contract.value,
            **{"ingestion.plugin": plugin.name},
        ) as current:
            notify(SourceEvent("started", config.name))
            log.info("source_started", destination_table=config.destination_table)
            run_id = lineage.start(config) if lineage is not None else None
            try:
                if startup_error is not None:
                    error = IngestionError.from_detail(startup_error.to_detail())
                    error.source = config.name
                    result = IngestionPlugin.failure(config, error, started=started)
                else:
                    result = self._load(plugin, config, project, notify, log, workers, retry=retry)
            except BaseException as exc:  # Ctrl-C, SystemExit: tell lineage, then go
                if lineage is not None and run_id is not None:
                    lineage.abort(run_id, config)
                log.warning("source_aborted", reason=type(exc).__name__)
                raise
            result = result.model_copy(update={"duration_seconds": time.monotonic() - started})
            current.set_attribute("ingestion.rows_loaded", result.rows_loaded)
            current.set_attribute("ingestion.bytes_written", result.bytes_written)
            current.set_attribute("ingestion.duration_seconds", result.duration_seconds)
            current.set_attribute("ingestion.attempts", result.attempts)
            if not result.success:
                record_error(current, as_error(result))
            self.metrics.record_result(result, source_type=config.source_type)
            if lineage is not None and run_id is not None:
                lineage.finish(run_id, config, result)
            log_result(log, result)
            notify(SourceEvent("finished", config.name, result.attempts, result))
            return result

    def _load(
        self,
        plugin: IngestionPlugin,
        config: IngestionConfig,
        project: FloeProject,
        notify: Callable[[SourceEvent], None],
        log: Any,
        workers: int | None = None,
        *,
        retry: bool = True,
    ) -> IngestionResult:
        started = time.monotonic()
        try:
            pipeline = create_pipeline_at(plugin, config, project, self.catalog)
        except IngestionError as exc:
            return IngestionPlugin.failure(config, exc, started=started)
        except Exception as exc:
            return IngestionPlugin.failure(config, internal_error(plugin, "create_pipeline", exc))
        extra = {"workers": workers} if workers is not None else {}
        if not retry:
            return run_once(plugin, pipeline, **extra)

        def on_retry(attempt: RetryAttempt) -> None:
            first = attempt.result.errors[0]
            self.metrics.record_retry(config.name)
            log.warning(
                "source_retrying",
                attempt=attempt.attempt,
                delay_seconds=round(attempt.delay_seconds, 3),
                code=str(first.code),
                category=str(first.category),
                error=first.message,
            )
            notify(
                SourceEvent(
                    "retrying", config.name, attempt.attempt, attempt.result, attempt.delay_seconds
                )
            )

        policy = RetryPolicy(
            self.manifest.plugins.ingestion.retry, sleep=self._sleep, on_retry=on_retry
        )
        return policy.call(lambda: run_once(plugin, pipeline, **extra))
