"""The contract suite fails a plugin that breaks a rule, and only the test for that rule.

Each case writes a test module in which ``Broken`` is :class:`floe_testing.ReferencePlugin`
with one thing done wrong, runs the whole suite on it with pytester (in process, so it is
quick) and checks which tests failed and that each failure names its rule. ``control`` runs
the unchanged reference plugin through the same template: every test passes.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path
from string import Template

import pyiceberg.catalog.sql
import pyiceberg.io.pyarrow
import pytest

from floe_testing import IngestionPluginContract

# pytester's in-process runs drop the modules an inner run imported; SQLAlchemy (under the SQL
# catalog) breaks when imported twice into one process, so the write path is imported here, once.
_IMPORTED_ONCE = (pyiceberg.catalog.sql, pyiceberg.io.pyarrow)

TESTS = sorted(name for name in dir(IngestionPluginContract) if name.startswith("test_"))

_MODULE = Template('''
import logging
import threading
import time
import warnings

import pytest
from floe_core import *
from floe_core.errors import *
from pydantic import BaseModel, ConfigDict, SecretStr

from floe_testing import IngestionPluginContract, ReferencePlugin, write_distribution
from floe_testing.reference import ReferencePluginConfig, StaticSourceConfig, _StaticPipeline

TOKEN = "reference-token-7f3a9c"


class Broken(ReferencePlugin):
    """Teaching example broken on purpose."""

$body


class TestBroken(IngestionPluginContract):
$entry_point

    @pytest.fixture(autouse=True)
    def _declared(self, tmp_path, monkeypatch):
        for number, (name, value) in enumerate($declared):
            site = tmp_path / f"site{number}"
            write_distribution(site, name, {"floe.ingestion": {"reference": value}})
            monkeypatch.syspath_prepend(site)

    @pytest.fixture
    def plugin(self, tmp_path):
        return $plugin(catalog=CatalogConfig.embedded(tmp_path / "warehouse"))

$iceberg_catalog

    def _config(self, incremental=None, **source_config):
        return IngestionConfig(
            name="people",
            source_type="static",
            source_config=source_config,
            destination_table="bronze.people",
            incremental=incremental,
            secrets=$secrets,
        )

    @pytest.fixture
    def valid_config(self):
        rows = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}]
        return self._config(rows=rows, incremental={"cursor_field": "id"})

    @pytest.fixture
    def invalid_config(self):
        return self._config(rows="not a list of rows")

    @pytest.fixture
    def failing_config(self):
        return self._config(rows=[{"id": 1}, {"id": 2}], fail_after=1)

$extra
''')

_OURS = [("floe-broken-example", "test_broken:Broken")]
_ICEBERG_CATALOG = """
    @pytest.fixture
    def iceberg_catalog(self, tmp_path):
        return CatalogConfig.embedded(tmp_path / "warehouse")
"""


def _module(
    body: str = "pass",
    *,
    entry_point: str | None = 'expected_entry_point = "reference"',
    declared: list[tuple[str, str]] = _OURS,
    secrets: str = "{'token': SecretStr(TOKEN)}",
    extra: str = "",
    plugin: str = "Broken",
    iceberg_catalog: str = _ICEBERG_CATALOG,
) -> str:
    return _MODULE.substitute(
        iceberg_catalog=textwrap.indent(textwrap.dedent(iceberg_catalog).strip(), "    "),
        body=textwrap.indent(textwrap.dedent(body).strip(), "    "),
        entry_point=f"    {entry_point}" if entry_point else "",
        declared=repr(declared),
        secrets=secrets,
        extra=textwrap.dedent(extra).strip(),
        plugin=plugin,
    )


# floe's structlog setup, configured before capsys starts (as an application would): its
# stream is the sys.stderr of that moment, which capsys does not see.
_STRUCTLOG = """
    import sys

    import structlog
    from floe_core.log import configure_logging, get_logger


    @pytest.fixture(autouse=True)
    def _floe_logging():
        previous = structlog.get_config()
        configure_logging("json", "DEBUG", stream=sys.stderr)
        yield
        structlog.configure(**previous)
"""

# A test class whose run() may take 0.1 s; run-hangs releases its hung threads after each test.
_HUNG_TIMEOUT = 'expected_entry_point = "reference"\n    run_timeout = 0.1'
_RELEASE_HUNG = """
    HUNG = []


    @pytest.fixture(autouse=True)
    def _release_hung_threads():
        yield
        for release in HUNG:
            release.set()
"""

# (case id, module source, {failing test: rule it must name})
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("control", _module(), {}),
    # Discovery
    (
        "entry-point-missing",
        _module(declared=[]),
        {
            "test_entry_point_declared_once": "discovery.entry-point",
            "test_entry_point_loads_plugin_class": "discovery.loads",
        },
    ),
    (
        "entry-point-declared-twice",
        _module(declared=[*_OURS, ("floe-broken-copy", "test_broken:Broken")]),
        {
            "test_entry_point_declared_once": "discovery.entry-point",
            "test_entry_point_loads_plugin_class": "discovery.loads",
        },
    ),
    (
        "entry-point-names-another-class",
        _module(declared=[("floe-broken-example", "floe_testing.reference:ReferencePlugin")]),
        {"test_entry_point_loads_plugin_class": "discovery.loads"},
    ),
    (
        "expected-entry-point-unset",
        _module(entry_point=None),
        {
            "test_entry_point_declared_once": "discovery.entry-point",
            "test_entry_point_loads_plugin_class": "discovery.entry-point",
        },
    ),
    # The ABC
    (
        "duck-typed-not-an-ingestion-plugin",
        _module(
            extra="""
            class Duck:
                \"\"\"Looks like a plugin, but is no IngestionPlugin subclass.\"\"\"

                def __init__(self, **kwargs):
                    self._inner = Broken(**kwargs)

                def __getattr__(self, name):
                    return getattr(self._inner, name)
            """,
            plugin="Duck",
        ),
        {
            "test_entry_point_loads_plugin_class": "discovery.loads",
            "test_registry_accepts_plugin": "registry.accepts",
            "test_is_concrete_ingestion_plugin": "abc.concrete",
        },
    ),
    # Metadata
    (
        "name-not-an-identifier",
        _module('name = "Reference Plugin"'),
        {
            "test_name_is_set": "metadata.name",
            "test_entry_point_loads_plugin_class": "discovery.loads",
        },
    ),
    (
        "version-not-semver",
        _module('version = "1.0"'),
        {"test_version_is_semver": "metadata.version"},
    ),
    (
        "version-pep440-not-semver",
        _module('version = "1.0.0rc1"'),
        {"test_version_is_semver": "metadata.version"},
    ),
    (
        "api-version-newer-minor",
        _module('floe_api_version = "1.9"'),
        {
            "test_floe_api_version_is_compatible": "metadata.api-version",
            "test_entry_point_loads_plugin_class": "discovery.loads",
            "test_registry_accepts_plugin": "registry.accepts",
        },
    ),
    (
        "api-version-other-major",
        _module('floe_api_version = "2.0"'),
        {
            "test_floe_api_version_is_compatible": "metadata.api-version",
            "test_entry_point_loads_plugin_class": "discovery.loads",
            "test_registry_accepts_plugin": "registry.accepts",
        },
    ),
    (
        "description-empty",
        _module("""
            @property
            def description(self):
                return ""
        """),
        {"test_description_is_set": "metadata.description"},
    ),
    (
        "is-external-not-bool",
        _module("""
            @property
            def is_external(self):
                return "no"
        """),
        {"test_is_external_is_bool": "abc.is-external"},
    ),
    (
        "sources-not-a-list",
        _module("""
            def list_available_sources(self):
                return ("static",)
        """),
        {"test_list_available_sources": "abc.sources"},
    ),
    (
        "config-schema-without-json-schema",
        _module("""
            class _Config(ReferencePluginConfig):
                model_config = ConfigDict(arbitrary_types_allowed=True)
                client: logging.Logger | None = None  # no JSON schema for a Logger

            def get_config_schema(self):
                return self._Config
        """),
        {"test_config_schema_is_pydantic_model": "abc.config-schema"},
    ),
    (
        "destination-config-holds-secretstr",
        _module("""
            def get_destination_config(self, catalog_config):
                return {"destination": "memory", "token": SecretStr("x")}
        """),
        {"test_destination_config_is_json_without_secrets": "abc.destination"},
    ),
    (
        "destination-config-copies-catalog-token",
        _module("""
            def get_destination_config(self, catalog_config):
                token = catalog_config.token
                return {"token": token.get_secret_value() if token else None}
        """),
        {"test_destination_config_keeps_catalog_secrets_out": "abc.destination"},
    ),
    # Lifecycle
    (
        "startup-not-idempotent",
        _module("""
            def startup(self):
                if self._started:
                    raise RuntimeError("already started")
                self._started = True
        """),
        {"test_startup_and_shutdown_are_idempotent": "lifecycle.idempotent"},
    ),
    (
        "shutdown-needs-startup",
        _module("""
            def shutdown(self):
                if not self._started:
                    raise RuntimeError("not started")
                self._started = False
        """),
        {
            "test_startup_and_shutdown_are_idempotent": "lifecycle.idempotent",
            "test_shutdown_without_startup": "lifecycle.idempotent",
        },
    ),
    # Health
    (
        "health-check-raises",
        _module("""
            def health_check(self, timeout=None):
                raise ConnectionError("catalog unreachable")
        """),
        {
            "test_health_check_returns_status": "health.status",
            "test_health_check_honours_timeout": "health.timeout",
            "test_health_check_never_raises": "health.never-raises",
        },
    ),
    (
        "health-check-raises-before-startup",
        _module("""
            def health_check(self, timeout=None):
                if not self._started:
                    raise RuntimeError("no client yet")
                return super().health_check(timeout)
        """),
        {"test_health_check_never_raises": "health.never-raises"},
    ),
    (
        "health-check-returns-dict",
        _module("""
            def health_check(self, timeout=None):
                return {"state": "healthy"}
        """),
        {
            "test_health_check_returns_status": "health.status",
            "test_health_check_honours_timeout": "health.timeout",
            "test_health_check_never_raises": "health.never-raises",
        },
    ),
    (
        "health-check-ignores-timeout",
        _module("""
            def health_check(self, timeout=None):
                if timeout:
                    time.sleep(timeout * 10)  # waits on a socket far past its timeout
                return super().health_check(timeout)
        """),
        {"test_health_check_honours_timeout": "health.timeout"},
    ),
    # Configuration
    (
        "create-pipeline-accepts-invalid-config",
        _module("""
            def create_pipeline(self, config):
                if config.source_type not in self.list_available_sources():
                    return super().create_pipeline(config)
                try:
                    return super().create_pipeline(config)
                except PipelineConfigurationError:  # "be lenient": load nothing instead
                    return _StaticPipeline(config=config, source=StaticSourceConfig(rows=[]))
        """),
        {"test_create_pipeline_rejects_invalid_config": "config.invalid"},
    ),
    (
        "create-pipeline-raises-raw-exception",
        _module("""
            def create_pipeline(self, config):
                if not isinstance(config.source_config.get("rows"), list):
                    raise ValueError("rows must be a list")
                return super().create_pipeline(config)
        """),
        {"test_create_pipeline_rejects_invalid_config": "config.invalid"},
    ),
    (
        "create-pipeline-wrong-category",
        _module("""
            def create_pipeline(self, config):
                try:
                    return super().create_pipeline(config)
                except PipelineConfigurationError as exc:
                    raise SourceConnectionError(exc.message) from exc
        """),
        {
            "test_create_pipeline_rejects_invalid_config": "config.invalid",
            "test_create_pipeline_rejects_unknown_source_type": "config.source-type",
        },
    ),
    (
        "create-pipeline-ignores-source-type",
        _module("""
            def create_pipeline(self, config):
                return super().create_pipeline(config.model_copy(update={"source_type": "static"}))
        """),
        {"test_create_pipeline_rejects_unknown_source_type": "config.source-type"},
    ),
    # Run
    (
        "run-raises",
        _module("""
            def run(self, pipeline, **kwargs):
                table, _ = self._load(pipeline)  # no boundary: every exception escapes
                name = pipeline.config.name
                return IngestionResult(source=name, success=True, rows_loaded=table.rows_loaded)
        """),
        {
            "test_run_failing_config_returns_failure": "run.failure",
            "test_run_failure_errors_are_categorised": "run.errors",
            "test_run_never_raises": "run.never-raises",
        },
    ),
    (
        "run-trusts-its-pipeline",
        _module("""
            def run(self, pipeline, **kwargs):
                pipeline.source.rows  # AttributeError for a pipeline it did not build
                return super().run(pipeline, **kwargs)
        """),
        {"test_run_never_raises": "run.never-raises"},
    ),
    (
        "run-valid-config-fails",
        _module("""
            def run(self, pipeline, **kwargs):
                return self.failure(pipeline.config, SourceConnectionError("refused"))
        """),
        {
            "test_run_valid_config_succeeds": "run.success",
            "test_rows_read_back_equal_rows_loaded": "iceberg.read-back",
            "test_rerun_without_new_data_commits_nothing": "iceberg.read-back",
        },
    ),
    (
        "run-result-names-wrong-source",
        _module("""
            def run(self, pipeline, **kwargs):
                return super().run(pipeline, **kwargs).model_copy(update={"source": "static"})
        """),
        {"test_run_valid_config_succeeds": "run.success"},
    ),
    (
        "run-table-counts-disagree",
        _module("""
            def run(self, pipeline, **kwargs):
                result = super().run(pipeline, **kwargs)
                return result.model_copy(update={"rows_loaded": result.rows_loaded + 1})
        """),
        {
            "test_run_valid_config_succeeds": "run.success",
            "test_rows_read_back_equal_rows_loaded": "iceberg.read-back",
            "test_rerun_without_new_data_commits_nothing": "iceberg.read-back",
        },
    ),
    (
        "run-failure-reported-as-success",
        _module("""
            def run(self, pipeline, **kwargs):
                result = super().run(pipeline, **kwargs)
                return result.model_copy(update={"success": True, "errors": []})
        """),
        {"test_run_failing_config_returns_failure": "run.failure"},
    ),
    (
        "run-failure-without-errors",
        _module("""
            def run(self, pipeline, **kwargs):
                return super().run(pipeline, **kwargs).model_copy(update={"errors": []})
        """),
        {
            "test_run_failing_config_returns_failure": "run.failure",
            "test_run_never_raises": "run.never-raises",
        },
    ),
    (
        "run-transient-error-not-retryable",
        _module("""
            def run(self, pipeline, **kwargs):
                result = super().run(pipeline, **kwargs)
                errors = [e.model_copy(update={"retryable": False}) for e in result.errors]
                return result.model_copy(update={"errors": errors})
        """),
        {"test_run_failure_errors_are_categorised": "run.errors"},
    ),
    # Secrets
    (
        "secret-in-run-error",
        _module("""
            def run(self, pipeline, **kwargs):
                result = super().run(pipeline, **kwargs)
                if result.success:
                    return result
                config = pipeline.config.source_config_with_secrets()
                error = SourceConnectionError(f"cannot read with {config}")
                return self.failure(pipeline.config, error)
        """),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-in-config-error",
        _module("""
            def create_pipeline(self, config):
                try:
                    return super().create_pipeline(config)
                except PipelineConfigurationError as exc:
                    given = config.source_config_with_secrets()
                    raise PipelineConfigurationError(f"{exc.message}; given {given}") from exc
        """),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-logged",
        _module("""
            def run(self, pipeline, **kwargs):
                given = pipeline.config.source_config_with_secrets()
                logging.getLogger("broken").debug("connecting with %s", given)
                return super().run(pipeline, **kwargs)
        """),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-printed",
        _module("""
            def run(self, pipeline, **kwargs):
                print("token:", pipeline.config.secrets["token"].get_secret_value())
                return super().run(pipeline, **kwargs)
        """),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-structlogged",
        _module(
            """
            def run(self, pipeline, **kwargs):
                token = pipeline.config.secrets["token"].get_secret_value()
                get_logger(__name__).debug("connecting", note=f"using {token}")
                return super().run(pipeline, **kwargs)
            """,
            extra=_STRUCTLOG,
        ),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-structlogged-under-a-secret-key-is-redacted",
        _module(
            """
            def run(self, pipeline, **kwargs):
                token = pipeline.config.secrets["token"].get_secret_value()
                get_logger(__name__).debug("connecting", token=token)
                return super().run(pipeline, **kwargs)
            """,
            extra=_STRUCTLOG,
        ),
        {},
    ),
    (
        "secret-in-span-attribute",
        _module("""
            def run(self, pipeline, **kwargs):
                from floe_core.telemetry import span

                token = pipeline.config.secrets["token"].get_secret_value()
                with span("connect", **{"reference.auth": f"Bearer {token}"}):
                    return super().run(pipeline, **kwargs)
        """),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-in-span-event-through-opentelemetry-directly",
        _module("""
            def run(self, pipeline, **kwargs):
                from opentelemetry import trace

                token = pipeline.config.secrets["token"].get_secret_value()
                with trace.get_tracer("broken").start_as_current_span("sync") as current:
                    current.add_event("connecting", {"dsn": f"app:{token}@127.0.0.1/db"})
                    return super().run(pipeline, **kwargs)
        """),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "configs-without-secrets",
        _module(secrets="{}"),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-in-warning",
        _module(
            """
            def run(self, pipeline, **kwargs):
                result = super().run(pipeline, **kwargs)
                if not result.success:
                    token = pipeline.config.secrets["token"].get_secret_value()
                    warnings.warn(f"will retry with token {token}", UserWarning, stacklevel=1)
                return result
            """,
            # warnings shown, not raised, as in production: only the leak rule can see it
            extra='pytestmark = pytest.mark.filterwarnings("default::UserWarning")',
        ),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    (
        "secret-in-unknown-source-type-error",
        _module("""
            def create_pipeline(self, config):
                if config.source_type not in self.list_available_sources():
                    given = config.source_config_with_secrets()
                    raise PipelineConfigurationError(f"no source {config.source_type!r}: {given}")
                return super().create_pipeline(config)
        """),
        {"test_secrets_never_leak": "secrets.never-leak"},
    ),
    # The watchdog
    (
        "run-hangs",
        _module(
            """
            def run(self, pipeline, **kwargs):
                release = threading.Event()
                HUNG.append(release)
                release.wait()  # a socket read without a timeout
                raise RuntimeError("released after the test")
            """,
            entry_point=_HUNG_TIMEOUT,
            extra=_RELEASE_HUNG,
        ),
        {
            "test_run_valid_config_succeeds": "run.success",
            "test_run_failing_config_returns_failure": "run.failure",
            "test_run_failure_errors_are_categorised": "run.errors",
            "test_run_never_raises": "run.never-raises",
            "test_secrets_never_leak": "secrets.never-leak",
            "test_rows_read_back_equal_rows_loaded": "iceberg.read-back",
            "test_rerun_without_new_data_commits_nothing": "iceberg.read-back",
        },
    ),
    # Iceberg read-back
    (
        "reports-more-rows-than-written",
        _module("""
            def run(self, pipeline, **kwargs):
                result = super().run(pipeline, **kwargs)
                if not result.success:
                    return result
                tables = [t.model_copy(update={"rows_loaded": t.rows_loaded + 1})
                          for t in result.tables]
                return result.model_copy(
                    update={"rows_loaded": result.rows_loaded + 1, "tables": tables}
                )
        """),
        {
            "test_rows_read_back_equal_rows_loaded": "iceberg.read-back",
            "test_rerun_without_new_data_commits_nothing": "iceberg.read-back",
        },
    ),
    (
        "rerun-commits-an-empty-snapshot",
        _module("""
            def run(self, pipeline, **kwargs):
                result = super().run(pipeline, **kwargs)
                if result.success and result.rows_loaded == 0:
                    # "remember when we last ran": a state that changes on every run
                    from floe_iceberg import TableWrite, load_catalog, write_table

                    table = pipeline.config.destination_table
                    spec = TableWrite(table, WriteMode.APPEND, state_key="last-run")
                    state = {"at": time.time()}
                    write_table(load_catalog(self.catalog), spec, [], state=lambda: state)
                return result
        """),
        {"test_rerun_without_new_data_commits_nothing": "iceberg.read-back"},
    ),
    (
        "embedded-plugin-without-iceberg-catalog",
        _module(iceberg_catalog=""),
        {
            "test_rows_read_back_equal_rows_loaded": "iceberg.read-back",
            "test_rerun_without_new_data_commits_nothing": "iceberg.read-back",
        },
    ),
    (
        "iceberg-catalog-is-another-catalog",
        _module(
            iceberg_catalog="""
            @pytest.fixture
            def iceberg_catalog(self, tmp_path):
                return CatalogConfig.embedded(tmp_path / "elsewhere")
            """
        ),
        {
            "test_rows_read_back_equal_rows_loaded": "iceberg.read-back",
            "test_rerun_without_new_data_commits_nothing": "iceberg.read-back",
        },
    ),
]


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> object:
    # The suite needs no third-party pytest plugin: keep inner runs free of whatever is installed.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeini("[pytest]\nfilterwarnings = error\naddopts = -p no:cacheprovider\n")

    def run(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_broken=source)
        return pytester.runpytest("-rfEs", *args)

    return run


@pytest.mark.parametrize(("source", "failing"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_suite_fails_exactly_the_broken_rule(
    run_suite: object, source: str, failing: dict[str, str]
) -> None:
    assert callable(run_suite)
    result = run_suite(source)
    unknown = set(failing) - set(TESTS)
    assert not unknown, f"case names tests the suite does not have: {unknown}"
    result.assert_outcomes(passed=len(TESTS) - len(failing), failed=len(failing))
    for test, rule in failing.items():
        result.stdout.fnmatch_lines(
            [f"*_ TestBroken.{test} _*", f"contract rule '{rule}' broken: *"], consecutive=True
        )
        result.stdout.re_match_lines([rf"FAILED test_broken\.py::TestBroken::{test}( - .*)?$"])


def test_expected_entry_point_none_skips_only_discovery(run_suite: object) -> None:
    assert callable(run_suite)
    result = run_suite(_module(entry_point="expected_entry_point = None", declared=[]))
    result.assert_outcomes(passed=len(TESTS) - 2, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED *expected_entry_point is None*"])


def test_external_plugin_without_iceberg_catalog_skips_read_back(run_suite: object) -> None:
    assert callable(run_suite)
    body = """
        @property
        def is_external(self):
            return True
    """
    result = run_suite(_module(body, iceberg_catalog=""))
    result.assert_outcomes(passed=len(TESTS) - 2, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED *iceberg.read-back does not apply*'iceberg_catalog'*"])


def test_hung_run_fails_fast_naming_rule_and_deadline(run_suite: object) -> None:
    assert callable(run_suite)
    case = dict((c[0], c[1]) for c in CASES)["run-hangs"]
    started = time.monotonic()
    result = run_suite(case, "-k", "test_run_valid_config_succeeds")
    assert time.monotonic() - started < 2
    result.assert_outcomes(failed=1, deselected=len(TESTS) - 1)
    result.stdout.fnmatch_lines(
        [
            "contract rule 'run.success' broken: run(create_pipeline(valid_config)) did not "
            "return within 0.1 s",
            "Fix: every plugin call must return*",
        ]
    )


def test_failure_tells_how_to_fix(run_suite: object) -> None:
    assert callable(run_suite)
    result = run_suite(_module('version = "1.0"'))
    result.stdout.fnmatch_lines(
        [
            "*contract rule 'metadata.version' broken: version is '1.0', not a semantic version",
            "Fix: use MAJOR.MINOR.PATCH*",
        ]
    )


def test_leak_report_names_the_secret_not_its_value(run_suite: object) -> None:
    assert callable(run_suite)
    case = dict((c[0], c[1]) for c in CASES)["secret-in-run-error"]
    result = run_suite(case)
    leaked = re.escape("failing_config.secrets['token'] appears in run(failing_config) result")
    result.stdout.re_match_lines([f".*the value of .*{leaked}$"])
    assert "reference-token-7f3a9c" not in result.stdout.str()


def test_span_leak_is_reported_as_spans(run_suite: object) -> None:
    assert callable(run_suite)
    case = dict((c[0], c[1]) for c in CASES)["secret-in-span-attribute"]
    result = run_suite(case)
    result.stdout.re_match_lines(
        [r".*the value of .*failing_config\.secrets\['token'\] appears in spans$"]
    )
    assert "reference-token-7f3a9c" not in result.stdout.str()


def test_every_rule_has_a_broken_variant() -> None:
    covered = {test for _, _, failing in CASES for test in failing}
    assert set(TESTS) - covered == set()


def test_readme_lists_every_test() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert [test for test in TESTS if f"`{test}`" not in readme] == []
