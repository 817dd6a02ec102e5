"""The ingestion plugin contract: :class:`IngestionPluginContract`, a base test class.

A plugin author subclasses it in a ``Test*`` class, sets :attr:`expected_entry_point` and
provides four fixtures; pytest then runs every rule below against the plugin::

    class TestMyPlugin(IngestionPluginContract):
        expected_entry_point = "my"          # or None when not installed via an entry point

        @pytest.fixture
        def plugin(self, tmp_path): ...      # a configured instance, not started
        @pytest.fixture
        def valid_config(self): ...          # an IngestionConfig that loads successfully
        @pytest.fixture
        def invalid_config(self): ...        # create_pipeline must raise CONFIGURATION
        @pytest.fixture
        def failing_config(self): ...        # create_pipeline succeeds, run fails

Each test checks one rule and, when it breaks, fails with the rule's id, what happened and how
to fix it (``contract rule 'run.never-raises' broken: ...``). The rules:

=========================  ========================================================
``discovery.entry-point``  declared exactly once in the ``floe.ingestion`` group
``discovery.loads``        the registry loads the entry point to the plugin's class
``registry.accepts``       ``PluginRegistry.register`` accepts the class
``metadata.name``          ``name`` is a non-empty identifier
``metadata.version``       ``version`` is semver (``1.2.3``, ``1.2.3-rc.1``)
``metadata.api-version``   ``floe_api_version`` is compatible with this floe-core
``metadata.description``   ``description`` is a non-empty line
``abc.concrete``           a concrete subclass of ``IngestionPlugin``
``abc.is-external``        ``is_external`` is a bool
``abc.sources``            ``list_available_sources()`` is a non-empty list of str
``abc.config-schema``      ``get_config_schema()`` is a pydantic model class
``abc.destination``        ``get_destination_config`` is JSON, no secrets
``lifecycle.idempotent``   ``startup``/``shutdown`` twice each, shutdown without startup
``health.status``          ``health_check`` returns a ``HealthStatus``
``health.timeout``         ``health_check(timeout=t)`` returns within ``t`` + slack
``health.never-raises``    ``health_check`` never raises, whatever the state
``config.invalid``         ``create_pipeline(invalid)`` raises CONFIGURATION
``config.source-type``     an unknown ``source_type`` raises CONFIGURATION
``run.success``            ``run`` on the valid config succeeds with sane counts
``run.failure``            ``run`` on the failing config returns ``success=False``
``run.errors``             failure errors are categorised, ``retryable`` consistent
``run.never-raises``       ``run`` catches everything, even a foreign pipeline
``secrets.never-leak``     no secret value in results, errors, health or logs
=========================  ========================================================
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, NoReturn, TypeVar

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from floe_core import (
    FLOE_API_VERSION,
    CatalogConfig,
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
    PluginType,
)

__all__ = ["IngestionPluginContract"]

_T = TypeVar("_T")

# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_API_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_MIN_SECRET_LENGTH = 8
_UNKNOWN_SOURCE_TYPE = "floe-contract-no-such-source"
_CANARY = "floe-contract-canary-5c1e7a"


def _broken(rule: str, problem: str, fix: str) -> NoReturn:
    """Fail the current test, naming the rule, what happened and how to fix it."""
    message = f"contract rule {rule!r} broken: {problem}\nFix: {fix}"
    # from None: the report is the message alone, not the plugin exception it was raised during.
    raise pytest.fail.Exception(message, pytrace=False) from None


def _raised(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def _call(rule: str, what: str, fn: Callable[[], _T], fix: str) -> _T:
    """Call ``fn``; an exception fails ``rule`` with the exception's type and message."""
    try:
        return fn()
    except Exception as exc:
        _broken(rule, f"{what} raised {_raised(exc)}", fix)


def _within(seconds: float, fn: Callable[[], _T]) -> tuple[bool, _T | None, BaseException | None]:
    """Run ``fn`` in a daemon thread and wait at most ``seconds``.

    Returns:
        (finished, value, exception); a hung call is left running in its daemon thread.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="floe-contract-health-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return False, None, None
    return True, outcome.get("value"), outcome.get("error")


def _secret_values(value: Any, path: str = "") -> Iterator[str]:
    """Yield the paths of every SecretStr/SecretBytes inside a JSON-like value."""
    if isinstance(value, SecretStr | SecretBytes):
        yield path or "(root)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_values(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _secret_values(item, f"{path}[{index}]")


@contextmanager
def _structlog_into(stream: io.StringIO) -> Iterator[None]:
    """Send structlog output to ``stream`` for a while, keeping the configured processors.

    structlog's print logger holds the stream it was configured with (often a ``sys.stderr``
    captured before the test), which capsys cannot see; the processors, redaction included,
    stay as the application configured them.
    """
    try:
        import structlog
    except ImportError:  # pragma: no cover - floe-core depends on structlog
        yield
        return
    was_configured = structlog.is_configured()
    previous = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stream))
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**previous)
        else:
            structlog.reset_defaults()


class IngestionPluginContract:
    """The behaviour every :class:`~floe_core.IngestionPlugin` must show.

    Subclass it in a class whose name starts with ``Test`` and provide, in that class or a
    ``conftest.py``:

    - ``plugin``: a configured plugin instance, not started (the suite starts and stops it).
    - ``valid_config``: an :class:`~floe_core.IngestionConfig` that runs successfully in your
      test environment.
    - ``invalid_config``: one whose ``create_pipeline`` must raise a CONFIGURATION error.
    - ``failing_config``: one for which ``create_pipeline`` succeeds and ``run`` fails.

    At least one of the three configs must carry a secret (``IngestionConfig.secrets``, a
    distinctive value of 8 characters or more), so :meth:`test_secrets_never_leak` can check
    it never leaves the plugin; a real failing config with a password is ideal.

    Attributes:
        expected_entry_point: The plugin's ``floe.ingestion`` entry-point name, or None for a
            plugin not installed through an entry point (the discovery rules are then skipped).
        health_check_timeout: The timeout :meth:`test_health_check_honours_timeout` passes.
        health_check_slack: Seconds allowed on top of the timeout before the rule breaks.
    """

    expected_entry_point: ClassVar[str | None]
    health_check_timeout: ClassVar[float] = 0.5
    health_check_slack: ClassVar[float] = 1.5

    # Helpers and fixtures the suite provides ---------------------------------------------

    def _entry_point_name(self) -> str:
        if not hasattr(type(self), "expected_entry_point"):
            _broken(
                "discovery.entry-point",
                f"{type(self).__name__} does not set expected_entry_point",
                "set the class attribute expected_entry_point = '<your entry-point name>', or "
                "None when the plugin is not installed through a floe.ingestion entry point",
            )
        name = type(self).expected_entry_point
        if name is None:
            pytest.skip(
                f"{type(self).__name__}.expected_entry_point is None: the plugin is not installed "
                "through a floe.ingestion entry point; set it to the entry-point name to check "
                "discovery"
            )
        return name

    @pytest.fixture
    def started_plugin(self, plugin: IngestionPlugin) -> Iterator[IngestionPlugin]:
        """The ``plugin`` fixture after ``startup()``; shut down after the test."""
        _call(
            "lifecycle.idempotent",
            "startup()",
            plugin.startup,
            "startup() must succeed in the test environment; make the plugin fixture usable",
        )
        try:
            yield plugin
        finally:
            plugin.shutdown()

    def _create(self, plugin: IngestionPlugin, config: IngestionConfig, role: str) -> Any:
        return _call(
            "run.success" if role == "valid_config" else "run.failure",
            f"create_pipeline({role})",
            lambda: plugin.create_pipeline(config),
            f"{role} must pass create_pipeline; fix the fixture or the plugin's validation",
        )

    def _run(self, rule: str, plugin: IngestionPlugin, pipeline: Any, role: str) -> Any:
        result = _call(
            rule,
            f"run(create_pipeline({role}))",
            lambda: plugin.run(pipeline),
            "run() must never raise: catch every exception at one boundary and return "
            "IngestionResult(success=False, errors=[err.to_detail()]) "
            "(see IngestionPlugin.failure)",
        )
        if not isinstance(result, IngestionResult):
            _broken(
                rule,
                f"run(create_pipeline({role})) returned {type(result).__name__}, not "
                "IngestionResult",
                "return a floe_core.IngestionResult",
            )
        return result

    # Discovery -----------------------------------------------------------------------------

    def test_entry_point_declared_once(self, plugin: IngestionPlugin) -> None:
        """``discovery.entry-point``: the name appears once in the ``floe.ingestion`` group."""
        name = self._entry_point_name()
        group = PluginType.INGESTION.value
        found = [ep for ep in entry_points(group=group) if ep.name == name]
        if not found:
            _broken(
                "discovery.entry-point",
                f"no entry point named {name!r} in group {group!r}",
                f'declare it in pyproject.toml: [project.entry-points."{group}"] '
                f'{name} = "your_package.module:{type(plugin).__name__}", then reinstall',
            )
        distributions = sorted({ep.dist.name if ep.dist else "(unknown)" for ep in found})
        if len(found) != 1:
            _broken(
                "discovery.entry-point",
                f"entry point {name!r} is declared {len(found)} times in {group!r}, by "
                f"{', '.join(distributions)}",
                "declare it once: remove the duplicate declaration or uninstall the other "
                "distribution",
            )

    def test_entry_point_loads_plugin_class(self, plugin: IngestionPlugin) -> None:
        """``discovery.loads``: ``PluginRegistry().get(name)`` is the plugin's class."""
        from floe_core.registry import PluginRegistry

        name = self._entry_point_name()
        loaded = _call(
            "discovery.loads",
            f"PluginRegistry().get({name!r})",
            lambda: PluginRegistry(PluginType.INGESTION).get(name),
            "make the entry point importable, pointing at a concrete IngestionPlugin subclass",
        )
        if loaded is not type(plugin):
            _broken(
                "discovery.loads",
                f"entry point {name!r} loads {loaded.__module__}.{loaded.__qualname__}, but the "
                f"plugin fixture is a {type(plugin).__module__}.{type(plugin).__qualname__}",
                "point the entry point at the plugin's class, or build the fixture from it",
            )

    def test_registry_accepts_plugin(self, plugin: IngestionPlugin) -> None:
        """``registry.accepts``: ``PluginRegistry.register`` takes the class and gives it back."""
        from floe_core.registry import PluginRegistry

        registry = PluginRegistry(PluginType.INGESTION, entry_points=[])
        cls = type(plugin)
        _call(
            "registry.accepts",
            f"PluginRegistry.register({plugin.name!r}, {cls.__qualname__})",
            lambda: registry.register(plugin.name, cls),
            "the message says what the registry rejected (name, floe_api_version, abstract "
            "methods); name and floe_api_version must be readable without __init__",
        )
        if registry.get(plugin.name) is not cls:
            _broken(
                "registry.accepts",
                f"registry.get({plugin.name!r}) did not return {cls.__qualname__}",
                "report this to floe-core: the registry lost a registered class",
            )

    # Metadata ------------------------------------------------------------------------------

    def test_name_is_set(self, plugin: IngestionPlugin) -> None:
        """``metadata.name``: a lower-case identifier (it is the entry-point name)."""
        name = _call("metadata.name", "name", lambda: plugin.name, "make name a constant")
        if not isinstance(name, str) or not _NAME.match(name):
            _broken(
                "metadata.name",
                f"name is {name!r}",
                "name must be a lower-case identifier ([a-z][a-z0-9_-]*) equal to the "
                "floe.ingestion entry-point name, e.g. name = 'dlt'",
            )
        expected = getattr(type(self), "expected_entry_point", None)
        if expected is not None and name != expected:
            _broken(
                "metadata.name",
                f"name is {name!r} but the entry point is {expected!r}",
                "the plugin's name must equal its entry-point name",
            )

    def test_version_is_semver(self, plugin: IngestionPlugin) -> None:
        """``metadata.version``: a semantic version (https://semver.org)."""
        version = _call("metadata.version", "version", lambda: plugin.version, "")
        if not isinstance(version, str) or not _SEMVER.match(version):
            _broken(
                "metadata.version",
                f"version is {version!r}, not a semantic version",
                "use MAJOR.MINOR.PATCH with optional -prerelease and +build, e.g. '1.4.0' or "
                "'1.4.0-rc.1' (PEP 440 forms like '1.4.0rc1' or '1.4' are not semver)",
            )

    def test_floe_api_version_is_compatible(self, plugin: IngestionPlugin) -> None:
        """``metadata.api-version``: same major as this floe-core, minor not newer."""
        api = _call("metadata.api-version", "floe_api_version", lambda: plugin.floe_api_version, "")
        ours = _API_VERSION.match(FLOE_API_VERSION)
        theirs = _API_VERSION.match(api) if isinstance(api, str) else None
        assert ours is not None
        if theirs is None:
            _broken(
                "metadata.api-version",
                f"floe_api_version is {api!r}, not 'MAJOR.MINOR'",
                f"set floe_api_version = {FLOE_API_VERSION!r} (the API this floe-core speaks)",
            )
        if theirs.group(1) != ours.group(1) or int(theirs.group(2)) > int(ours.group(2)):
            _broken(
                "metadata.api-version",
                f"floe_api_version {api!r} is not compatible with floe-core's "
                f"FLOE_API_VERSION {FLOE_API_VERSION!r} (same major, minor not newer)",
                f"build the plugin against floe plugin API {ours.group(1)}.x, at most "
                f"{FLOE_API_VERSION}",
            )

    def test_description_is_set(self, plugin: IngestionPlugin) -> None:
        """``metadata.description``: one non-empty line."""
        text = _call("metadata.description", "description", lambda: plugin.description, "")
        if not isinstance(text, str) or not text.strip() or "\n" in text.strip():
            _broken(
                "metadata.description",
                f"description is {text!r}",
                "give the class a docstring whose first line says what the plugin does, or "
                "override description with one line",
            )

    # The ABC -------------------------------------------------------------------------------

    def test_is_concrete_ingestion_plugin(self, plugin: IngestionPlugin) -> None:
        """``abc.concrete``: a concrete subclass of ``floe_core.IngestionPlugin``."""
        cls = type(plugin)
        if not isinstance(plugin, IngestionPlugin):
            _broken(
                "abc.concrete",
                f"{cls.__qualname__} does not subclass floe_core.IngestionPlugin",
                "subclass floe_core.IngestionPlugin",
            )
        if inspect.isabstract(cls):
            _broken(
                "abc.concrete",
                f"{cls.__qualname__} leaves {sorted(cls.__abstractmethods__)} abstract",
                "implement every abstract method",
            )

    def test_is_external_is_bool(self, plugin: IngestionPlugin) -> None:
        """``abc.is-external``: ``is_external`` is a bool."""
        value = _call("abc.is-external", "is_external", lambda: plugin.is_external, "")
        if not isinstance(value, bool):
            _broken(
                "abc.is-external",
                f"is_external is {value!r} ({type(value).__name__})",
                "return True when the plugin drives an engine it does not run, else False",
            )

    def test_list_available_sources(
        self, plugin: IngestionPlugin, valid_config: IngestionConfig
    ) -> None:
        """``abc.sources``: a non-empty list of str that includes the valid config's type."""
        sources = _call(
            "abc.sources", "list_available_sources()", plugin.list_available_sources, ""
        )
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(s, str) and s for s in sources)
        ):
            _broken(
                "abc.sources",
                f"list_available_sources() returned {sources!r}",
                "return a non-empty list of source_type names, e.g. ['sql_database']",
            )
        if valid_config.source_type not in sources:
            _broken(
                "abc.sources",
                f"valid_config.source_type {valid_config.source_type!r} is not in "
                f"list_available_sources() {sources!r}",
                "list every source type the plugin implements",
            )

    def test_config_schema_is_pydantic_model(self, plugin: IngestionPlugin) -> None:
        """``abc.config-schema``: a pydantic model class whose JSON schema renders."""
        schema = _call("abc.config-schema", "get_config_schema()", plugin.get_config_schema, "")
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            _broken(
                "abc.config-schema",
                f"get_config_schema() returned {schema!r}",
                "return the pydantic BaseModel subclass of plugins.ingestion.config",
            )
        _call(
            "abc.config-schema",
            f"{schema.__qualname__}.model_json_schema()",
            schema.model_json_schema,
            "every field needs a JSON-schema-able type",
        )

    def test_destination_config_is_json_without_secrets(
        self, plugin: IngestionPlugin, tmp_path: Path
    ) -> None:
        """``abc.destination``: a JSON-serialisable dict with no secret values."""
        catalog = CatalogConfig.embedded(tmp_path / "warehouse")
        value = _call(
            "abc.destination",
            "get_destination_config(CatalogConfig.embedded(...))",
            lambda: plugin.get_destination_config(catalog),
            "the embedded catalog must be usable by every plugin",
        )
        if not isinstance(value, dict):
            _broken(
                "abc.destination",
                f"get_destination_config returned {type(value).__name__}",
                "return a dict",
            )
        secrets = list(_secret_values(value))
        if secrets:
            _broken(
                "abc.destination",
                f"get_destination_config holds secret values at {secrets}",
                "leave secrets out; name where they come from instead (an env var, a file)",
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            _broken(
                "abc.destination",
                f"get_destination_config is not JSON-serialisable: {exc}",
                "use only str, int, float, bool, None, lists and dicts with str keys",
            )

    def test_destination_config_keeps_catalog_secrets_out(self, plugin: IngestionPlugin) -> None:
        """``abc.destination``: a catalog's credentials never appear in the destination config."""
        catalog = CatalogConfig(
            type="rest", uri="http://127.0.0.1:9/catalog", token=SecretStr(_CANARY)
        )
        try:
            value = plugin.get_destination_config(catalog)
        except IngestionError as exc:
            if exc.category is not ErrorCategory.CONFIGURATION:
                _broken(
                    "abc.destination",
                    f"get_destination_config raised {exc.category} {exc.code}",
                    "raise PipelineConfigurationError(code=DESTINATION_CONFIG_ERROR) for a "
                    "catalog the plugin cannot use",
                )
            text = f"{exc} {exc.details}"
        except Exception as exc:
            _broken(
                "abc.destination",
                f"get_destination_config(rest catalog) raised {_raised(exc)}",
                "return the settings, or raise PipelineConfigurationError("
                "code=DESTINATION_CONFIG_ERROR) for a catalog the plugin cannot use",
            )
        else:
            text = json.dumps(value, default=repr)
        if _CANARY in text:
            _broken(
                "abc.destination",
                "the catalog token appears in get_destination_config's output",
                "never copy catalog credentials into the destination config or its errors",
            )

    # Lifecycle -----------------------------------------------------------------------------

    def test_startup_and_shutdown_are_idempotent(self, plugin: IngestionPlugin) -> None:
        """``lifecycle.idempotent``: startup twice, then shutdown twice, without errors."""
        fix = "make startup() a no-op when started and shutdown() a no-op when stopped"
        _call("lifecycle.idempotent", "the first startup()", plugin.startup, fix)
        try:
            _call("lifecycle.idempotent", "a second startup()", plugin.startup, fix)
        finally:
            _call("lifecycle.idempotent", "the first shutdown()", plugin.shutdown, fix)
        _call("lifecycle.idempotent", "a second shutdown()", plugin.shutdown, fix)

    def test_shutdown_without_startup(self, plugin: IngestionPlugin) -> None:
        """``lifecycle.idempotent``: shutdown on a never-started plugin is safe."""
        _call(
            "lifecycle.idempotent",
            "shutdown() without startup()",
            plugin.shutdown,
            "release only what startup() acquired; do nothing when nothing was acquired",
        )

    # Health --------------------------------------------------------------------------------

    def _health(self, plugin: IngestionPlugin, rule: str, when: str, timeout: float | None) -> None:
        status = _call(
            rule,
            f"health_check(timeout={timeout}) {when}",
            lambda: plugin.health_check(timeout=timeout),
            "health_check must never raise: catch failures and return "
            "HealthStatus(HealthState.UNHEALTHY, '<what is wrong>')",
        )
        if not isinstance(status, HealthStatus) or not isinstance(status.state, HealthState):
            _broken(
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
        finished, value, error = _within(
            bound, lambda: started_plugin.health_check(timeout=timeout)
        )
        if not finished:
            _broken(
                "health.timeout",
                f"health_check(timeout={timeout}) did not return within {bound:.1f} s",
                "pass the timeout to every network call (connect and read) and stop waiting "
                "when it runs out; report UNHEALTHY with 'timed out after ...'",
            )
        if error is not None:
            _broken(
                "health.timeout",
                f"health_check(timeout={timeout}) raised {_raised(error)}",
                "catch failures and return HealthStatus(HealthState.UNHEALTHY, ...)",
            )
        if not isinstance(value, HealthStatus):
            _broken(
                "health.timeout",
                f"health_check(timeout={timeout}) returned {value!r}",
                "return floe_core.HealthStatus",
            )

    def test_health_check_never_raises(self, plugin: IngestionPlugin) -> None:
        """``health.never-raises``: before startup, after shutdown and with a zero timeout."""
        rule = "health.never-raises"
        self._health(plugin, rule, "before startup()", None)
        plugin.startup()
        try:
            self._health(plugin, rule, "after startup()", 0.0)
        finally:
            plugin.shutdown()
        self._health(plugin, rule, "after shutdown()", None)

    # Configuration -------------------------------------------------------------------------

    def _expect_configuration_error(
        self, rule: str, plugin: IngestionPlugin, config: IngestionConfig, what: str, fix: str
    ) -> IngestionError:
        try:
            pipeline = plugin.create_pipeline(config)
        except IngestionError as exc:
            if exc.category is not ErrorCategory.CONFIGURATION:
                _broken(
                    rule,
                    f"create_pipeline({what}) raised {type(exc).__name__} with category "
                    f"{exc.category} ({exc.code}), not CONFIGURATION",
                    "raise floe_core.PipelineConfigurationError for a bad configuration",
                )
            return exc
        except Exception as exc:
            _broken(
                rule,
                f"create_pipeline({what}) raised {_raised(exc)}, not an IngestionError",
                "validate the config and raise floe_core.PipelineConfigurationError naming "
                "the field and the fix (translate pydantic's ValidationError)",
            )
        _broken(rule, f"create_pipeline({what}) accepted it and returned {pipeline!r}", fix)

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
        config = valid_config.model_copy(update={"source_type": _UNKNOWN_SOURCE_TYPE})
        self._expect_configuration_error(
            "config.source-type",
            started_plugin,
            config,
            f"source_type={_UNKNOWN_SOURCE_TYPE!r}",
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
            _broken(
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
            _broken(rule, f"the result has negative or missing counts {bad}", "report real counts")
        per_table = sum(table.rows_loaded for table in result.tables)
        if result.tables and per_table != result.rows_loaded:
            _broken(
                rule,
                f"rows_loaded is {result.rows_loaded} but its tables add up to {per_table}",
                "report rows_loaded as the sum of tables[*].rows_loaded (or leave tables empty "
                "when per-table counts are unknown)",
            )
        if result.errors:
            _broken(
                rule,
                f"a successful result carries errors {[e.code for e in result.errors]}",
                "success=True means no errors; report failures with success=False",
            )
        if result.source != valid_config.name:
            _broken(
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
            _broken(
                rule,
                "run on failing_config returned success=True",
                "report a failed load as success=False (or make failing_config really fail)",
            )
        if not result.errors:
            _broken(
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
                _broken(
                    rule,
                    f"{where} is {type(error).__name__}",
                    "use IngestionError(...).to_detail()",
                )
            if not isinstance(error.code, ErrorCode) or not isinstance(
                error.category, ErrorCategory
            ):
                _broken(rule, f"{where} has no valid code/category", "use the ErrorCode enum")
            if not error.message.strip():
                _broken(rule, f"{where} ({error.code}) has an empty message", "say what failed")
            must = {
                ErrorCategory.TRANSIENT: True,
                ErrorCategory.PERMANENT: False,
                ErrorCategory.CONFIGURATION: False,
            }.get(error.category)
            if must is not None and error.retryable is not must:
                _broken(
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
            _broken(
                rule,
                "run on a foreign pipeline returned success=False without errors",
                "report the unexpected failure as an INTERNAL_ERROR ErrorDetail",
            )

    @staticmethod
    def _leak_candidates(
        plugin: IngestionPlugin, configs: dict[str, IngestionConfig]
    ) -> dict[str, str]:
        """Run the plugin through every outcome; return the text each one let out."""
        texts: dict[str, str] = {}
        for role in ("valid_config", "failing_config"):
            try:
                result = plugin.run(plugin.create_pipeline(configs[role]))
            except Exception as exc:  # other rules report the raise; here only leaks count
                texts[f"{role} error"] = f"{exc} {exc!r} {getattr(exc, 'details', None)!r}"
            else:
                dumped = result.model_dump_json() if isinstance(result, IngestionResult) else ""
                texts[f"run({role}) result"] = dumped + repr(result)
        try:
            plugin.create_pipeline(configs["invalid_config"])
        except Exception as exc:
            details = getattr(exc, "details", None)
            texts["create_pipeline(invalid_config) error"] = f"{exc} {exc!r} {details!r}"
        try:
            texts["health_check()"] = repr(plugin.health_check())
        except Exception as exc:  # health.never-raises reports this; here only leaks count
            texts["health_check() error"] = f"{exc} {exc!r}"
        return texts

    # Secrets -------------------------------------------------------------------------------

    def test_secrets_never_leak(
        self,
        started_plugin: IngestionPlugin,
        valid_config: IngestionConfig,
        invalid_config: IngestionConfig,
        failing_config: IngestionConfig,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """``secrets.never-leak``: no secret value in results, errors, health, logs or output."""
        rule = "secrets.never-leak"
        configs = {
            "valid_config": valid_config,
            "invalid_config": invalid_config,
            "failing_config": failing_config,
        }
        secrets = {
            f"{role}.secrets[{path!r}]": value.get_secret_value()
            for role, config in configs.items()
            for path, value in config.secrets.items()
            if len(value.get_secret_value()) >= _MIN_SECRET_LENGTH
        }
        if not secrets:
            _broken(
                rule,
                "none of valid_config, invalid_config and failing_config carries a secret of "
                f"{_MIN_SECRET_LENGTH}+ characters, so leaks cannot be checked",
                "give failing_config (ideally) a distinctive secret, e.g. "
                "secrets={'credentials.password': SecretStr('s3cret-canary-42')}, at a path "
                "the plugin really uses",
            )
        caplog.set_level(logging.DEBUG)
        structlog_output = io.StringIO()
        with _structlog_into(structlog_output):
            texts = self._leak_candidates(started_plugin, configs)
        captured = capsys.readouterr()
        texts["log records"] = caplog.text + repr([r.__dict__ for r in caplog.records])
        texts["stdout/stderr"] = captured.out + captured.err
        texts["structlog output"] = structlog_output.getvalue()
        for where, text in texts.items():
            leaked = [name for name, value in secrets.items() if value in text]
            if leaked:
                _broken(
                    rule,
                    f"the value of {', '.join(leaked)} appears in {where}",
                    "never put source_config_with_secrets() or a credential-bearing DSN into a "
                    "message, log field or result; redact secret values from dependency errors",
                )
