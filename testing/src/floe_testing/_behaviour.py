"""The contract rules about what a plugin does: lifecycle, health, config and run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from floe_core import (
    ErrorCategory,
    ErrorCode,
    ErrorDetail,
    HealthState,
    HealthStatus,
    IngestionConfig,
    IngestionError,
    IngestionPipeline,
    IngestionPlugin,
    IngestionResult,
)
from floe_testing._check import (
    TIMEOUTS,
    UNKNOWN_SOURCE_TYPE,
    Timeouts,
    broken,
    call,
    guarded,
    raised,
    within,
)


class BehaviourRules:
    """Rules checked by starting the plugin and running loads; mixed into the contract."""

    health_check_timeout: ClassVar[float]
    health_check_slack: ClassVar[float]
    call_timeout: ClassVar[float]
    run_timeout: ClassVar[float]

    @pytest.fixture(autouse=True)
    def _watchdog(self) -> Iterator[None]:
        """Give every plugin call of the test its class's deadline (see ``_check.guarded``)."""
        previous = TIMEOUTS.get()
        TIMEOUTS.set(Timeouts(call=type(self).call_timeout, run=type(self).run_timeout))
        try:
            yield
        finally:
            TIMEOUTS.set(previous)

    @pytest.fixture
    def started_plugin(self, plugin: IngestionPlugin) -> Iterator[IngestionPlugin]:
        """The ``plugin`` fixture after ``startup()``; shut down after the test."""
        call(
            "lifecycle.idempotent",
            "startup()",
            plugin.startup,
            "startup() must succeed in the test environment; make the plugin fixture usable",
        )
        try:
            yield plugin
        finally:
            guarded("lifecycle.idempotent", "shutdown() after the test", plugin.shutdown)

    def _create(self, plugin: IngestionPlugin, config: IngestionConfig, role: str) -> Any:
        return call(
            "run.success" if role == "valid_config" else "run.failure",
            f"create_pipeline({role})",
            lambda: plugin.create_pipeline(config),
            f"{role} must pass create_pipeline; fix the fixture or the plugin's validation",
        )

    def _run(self, rule: str, plugin: IngestionPlugin, pipeline: Any, role: str) -> Any:
        result = call(
            rule,
            f"run(create_pipeline({role}))",
            lambda: plugin.run(pipeline),
            "run() must never raise: catch every exception at one boundary and return "
            "IngestionResult(success=False, errors=[err.to_detail()]) "
            "(see IngestionPlugin.failure)",
            timeout=TIMEOUTS.get().run,
        )
        if not isinstance(result, IngestionResult):
            broken(
                rule,
                f"run(create_pipeline({role})) returned {type(result).__name__}, not "
                "IngestionResult",
                "return a floe_core.IngestionResult",
            )
        return result

    # Lifecycle -----------------------------------------------------------------------------

    def test_startup_and_shutdown_are_idempotent(self, plugin: IngestionPlugin) -> None:
        """``lifecycle.idempotent``: startup twice, then shutdown twice, without errors."""
        fix = "make startup() a no-op when started and shutdown() a no-op when stopped"
        call("lifecycle.idempotent", "the first startup()", plugin.startup, fix)
        try:
            call("lifecycle.idempotent", "a second startup()", plugin.startup, fix)
        finally:
            call("lifecycle.idempotent", "the first shutdown()", plugin.shutdown, fix)
        call("lifecycle.idempotent", "a second shutdown()", plugin.shutdown, fix)

    def test_shutdown_without_startup(self, plugin: IngestionPlugin) -> None:
        """``lifecycle.idempotent``: shutdown on a never-started plugin is safe."""
        call(
            "lifecycle.idempotent",
            "shutdown() without startup()",
            plugin.shutdown,
            "release only what startup() acquired; do nothing when nothing was acquired",
        )

    # Health --------------------------------------------------------------------------------

    def _health(self, plugin: IngestionPlugin, rule: str, when: str, timeout: float | None) -> None:
        status = call(
            rule,
            f"health_check(timeout={timeout}) {when}",
            lambda: plugin.health_check(timeout=timeout),
            "health_check must never raise: catch failures and return "
            "HealthStatus(HealthState.UNHEALTHY, '<what is wrong>')",
        )
        if not isinstance(status, HealthStatus) or not isinstance(status.state, HealthState):
            broken(
                rule,
                f"health_check {when} returned {status!r}",
                "return floe_core.HealthStatus(state=HealthState.<...>, message=...)",
            )

    def test_health_check_returns_status(self, started_plugin: IngestionPlugin) -> None:
        """``health.status``: a started plugin's health check returns a ``HealthStatus``."""
        self._health(started_plugin, "health.status", "after startup()", None)

    def test_health_check_honours_timeout(self, started_plugin: IngestionPlugin) -> None:
        """``health.timeout``: ``health_check(timeout=t)`` returns within ``t`` plus slack."""
        timeout = type(self).health_check_timeout
        bound = timeout + type(self).health_check_slack
        finished, value, error = within(bound, lambda: started_plugin.health_check(timeout=timeout))
        if not finished:
            broken(
                "health.timeout",
                f"health_check(timeout={timeout}) did not return within {bound:.1f} s",
                "pass the timeout to every network call (connect and read) and stop waiting "
                "when it runs out; report UNHEALTHY with 'timed out after ...'",
            )
        if error is not None:
            broken(
                "health.timeout",
                f"health_check(timeout={timeout}) raised {raised(error)}",
                "catch failures and return HealthStatus(HealthState.UNHEALTHY, ...)",
            )
        if not isinstance(value, HealthStatus):
            broken(
                "health.timeout",
                f"health_check(timeout={timeout}) returned {value!r}",
                "return floe_core.HealthStatus",
            )

    def test_health_check_never_raises(self, plugin: IngestionPlugin) -> None:
        """``health.never-raises``: before startup, after shutdown and with a zero timeout."""
        rule = "health.never-raises"
        self._health(plugin, rule, "before startup()", None)
        call(rule, "startup()", plugin.startup, "startup() must succeed in the test environment")
        try:
            self._health(plugin, rule, "after startup()", 0.0)
        finally:
            guarded(rule, "shutdown()", plugin.shutdown)
        self._health(plugin, rule, "after shutdown()", None)

    # Configuration -------------------------------------------------------------------------

    def _expect_configuration_error(
        self, rule: str, plugin: IngestionPlugin, config: IngestionConfig, what: str, fix: str
    ) -> IngestionError:
        try:
            pipeline = guarded(
                rule, f"create_pipeline({what})", lambda: plugin.create_pipeline(config)
            )
        except IngestionError as exc:
            if exc.category is not ErrorCategory.CONFIGURATION:
                broken(
                    rule,
                    f"create_pipeline({what}) raised {type(exc).__name__} with category "
                    f"{exc.category} ({exc.code}), not CONFIGURATION",
                    "raise floe_core.PipelineConfigurationError for a bad configuration",
                )
            return exc
        except Exception as exc:
            broken(
                rule,
                f"create_pipeline({what}) raised {raised(exc)}, not an IngestionError",
                "validate the config and raise floe_core.PipelineConfigurationError naming "
                "the field and the fix (translate pydantic's ValidationError)",
            )
        broken(rule, f"create_pipeline({what}) accepted it and returned {pipeline!r}", fix)

    def test_create_pipeline_rejects_invalid_config(
        self, started_plugin: IngestionPlugin, invalid_config: IngestionConfig
    ) -> None:
        """``config.invalid``: ``create_pipeline(invalid_config)`` raises CONFIGURATION."""
        self._expect_configuration_error(
            "config.invalid",
            started_plugin,
            invalid_config,
            "invalid_config",
            "validate source_config in create_pipeline and raise PipelineConfigurationError "
            "(or check that the invalid_config fixture really is invalid)",
        )

    def test_create_pipeline_rejects_unknown_source_type(
        self, started_plugin: IngestionPlugin, valid_config: IngestionConfig
    ) -> None:
        """``config.source-type``: a source type the plugin does not list raises CONFIGURATION."""
        config = valid_config.model_copy(update={"source_type": UNKNOWN_SOURCE_TYPE})
        self._expect_configuration_error(
            "config.source-type",
            started_plugin,
            config,
            f"source_type={UNKNOWN_SOURCE_TYPE!r}",
            "reject a source_type that is not in list_available_sources() with "
            "PipelineConfigurationError listing the supported ones",
        )

    # Run -----------------------------------------------------------------------------------

    def test_run_valid_config_succeeds(
        self, started_plugin: IngestionPlugin, valid_config: IngestionConfig
    ) -> None:
        """``run.success``: success, counts not negative and adding up, no errors."""
        rule = "run.success"
        pipeline = self._create(started_plugin, valid_config, "valid_config")
        result = self._run(rule, started_plugin, pipeline, "valid_config")
        if not result.success:
            errors = "; ".join(f"{e.category}/{e.code}: {e.message}" for e in result.errors)
            broken(
                rule,
                f"run on valid_config returned success=False: {errors or '(no errors given)'}",
                "fix the plugin, or make valid_config load in the test environment",
            )
        counts = {
            "rows_loaded": result.rows_loaded,
            "bytes_written": result.bytes_written,
            "duration_seconds": result.duration_seconds,
        }
        bad = {k: v for k, v in counts.items() if not isinstance(v, int | float) or v < 0}
        if bad:
            broken(rule, f"the result has negative or missing counts {bad}", "report real counts")
        per_table = sum(table.rows_loaded for table in result.tables)
        if result.tables and per_table != result.rows_loaded:
            broken(
                rule,
                f"rows_loaded is {result.rows_loaded} but its tables add up to {per_table}",
                "report rows_loaded as the sum of tables[*].rows_loaded (or leave tables empty "
                "when per-table counts are unknown)",
            )
        if result.errors:
            broken(
                rule,
                f"a successful result carries errors {[e.code for e in result.errors]}",
                "success=True means no errors; report failures with success=False",
            )
        if result.source != valid_config.name:
            broken(
                rule,
                f"result.source is {result.source!r}, not the pipeline name {valid_config.name!r}",
                "set IngestionResult.source to IngestionConfig.name",
            )

    def test_run_failing_config_returns_failure(
        self, started_plugin: IngestionPlugin, failing_config: IngestionConfig
    ) -> None:
        """``run.failure``: the failing config comes back as ``success=False`` with errors."""
        rule = "run.failure"
        pipeline = self._create(started_plugin, failing_config, "failing_config")
        result = self._run(rule, started_plugin, pipeline, "failing_config")
        if result.success:
            broken(
                rule,
                "run on failing_config returned success=True",
                "report a failed load as success=False (or make failing_config really fail)",
            )
        if not result.errors:
            broken(
                rule,
                "run on failing_config returned success=False without errors",
                "put the cause in IngestionResult.errors as an ErrorDetail",
            )

    def test_run_failure_errors_are_categorised(
        self, started_plugin: IngestionPlugin, failing_config: IngestionConfig
    ) -> None:
        """``run.errors``: each error is an ``ErrorDetail``; ``retryable`` fits the category."""
        rule = "run.errors"
        pipeline = self._create(started_plugin, failing_config, "failing_config")
        result = self._run(rule, started_plugin, pipeline, "failing_config")
        for index, error in enumerate(result.errors):
            where = f"errors[{index}]"
            if not isinstance(error, ErrorDetail):
                broken(
                    rule,
                    f"{where} is {type(error).__name__}",
                    "use IngestionError(...).to_detail()",
                )
            if not isinstance(error.code, ErrorCode) or not isinstance(
                error.category, ErrorCategory
            ):
                broken(rule, f"{where} has no valid code/category", "use the ErrorCode enum")
            if not error.message.strip():
                broken(rule, f"{where} ({error.code}) has an empty message", "say what failed")
            must = {
                ErrorCategory.TRANSIENT: True,
                ErrorCategory.PERMANENT: False,
                ErrorCategory.CONFIGURATION: False,
            }.get(error.category)
            if must is not None and error.retryable is not must:
                broken(
                    rule,
                    f"{where} is {error.category}/{error.code} with retryable={error.retryable}",
                    f"{error.category} errors are {'' if must else 'never '}retryable; leave "
                    "retryable to its default or choose the category that matches",
                )

    def test_run_never_raises(
        self, started_plugin: IngestionPlugin, valid_config: IngestionConfig
    ) -> None:
        """``run.never-raises``: even a pipeline the plugin did not build comes back as a result.

        A bare ``IngestionPipeline`` makes most plugins fail inside ``run`` in a way nobody
        planned for; the rule is that such a failure still returns an ``IngestionResult``.
        """
        rule = "run.never-raises"
        foreign = IngestionPipeline(config=valid_config)
        result = self._run(rule, started_plugin, foreign, "a bare IngestionPipeline")
        if not result.success and not result.errors:
            broken(
                rule,
                "run on a foreign pipeline returned success=False without errors",
                "report the unexpected failure as an INTERNAL_ERROR ErrorDetail",
            )
