from __future__ import annotations

import io
import json
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import structlog
from openlineage.client import OpenLineageClient
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from floe_core import (
    ErrorCategory,
    ErrorCode,
    FloeProject,
    IngestionError,
    IngestionPipeline,
    IngestionResult,
    PlatformManifest,
    PluginError,
)
from floe_core._loader import ConfigFileError
from floe_core.lineage import LineageEmitter
from floe_core.log import configure_logging
from floe_core.metric import IngestionMetrics
from floe_core.registry import PluginRegistry
from floe_core.runner import Runner, SourceEvent
from floe_core_tests._fakes import FakePlugin
from floe_core_tests.conftest import metric_points
from floe_core_tests.test_lineage import ListTransport

PROJECT = """
ingestion:
  sources:
    - name: orders
      type: memory
      config: {rows: 5, credentials: {user: app}}
      destination: {table: bronze.orders}
      secret_refs: {credentials.password: env:FAKE_PASSWORD}
    - name: flaky
      type: memory
      config: {rows: 2, fail: [SOURCE_UNAVAILABLE, {code: RATE_LIMITED, retry_after: 7}]}
      destination: {table: bronze.flaky}
    - name: broken
      type: memory
      config: {invalid: true}
      destination: {table: bronze.broken}
    - name: denied
      type: memory
      config: {fail: [AUTH_FAILED, AUTH_FAILED]}
      destination: {table: bronze.denied}
"""
ENV = {"FAKE_PASSWORD": "pw-123"}


@pytest.fixture
def project(tmp_path: Path) -> FloeProject:
    path = tmp_path / "floe.yaml"
    path.write_text(textwrap.dedent(PROJECT))
    return FloeProject.load(path, environ={})


@pytest.fixture
def registry() -> PluginRegistry:
    reg = PluginRegistry(entry_points=[])
    reg.register("fake", FakePlugin)
    return reg


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    yield stream
    structlog.reset_defaults()


def manifest(**ingestion: Any) -> PlatformManifest:
    section = {"type": "fake", "retry": {"max_attempts": 3, "initial_delay_seconds": 1}}
    return PlatformManifest.model_validate({"plugins": {"ingestion": {**section, **ingestion}}})


def make_runner(
    registry: PluginRegistry, meter_provider: MeterProvider | None = None, **kwargs: Any
) -> tuple[Runner, list[float]]:
    sleeps: list[float] = []
    runner = Runner(
        kwargs.pop("manifest", manifest()),
        registry,
        sleep=sleeps.append,
        metrics=IngestionMetrics(meter_provider),
        environ=ENV,
        **kwargs,
    )
    return runner, sleeps


def test_runs_every_source_with_retries_and_never_retries_configuration(
    project: FloeProject,
    registry: PluginRegistry,
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
    spans: InMemorySpanExporter,
    logs: io.StringIO,
) -> None:
    runner, sleeps = make_runner(registry, meter_provider)
    events: list[SourceEvent] = []
    orders, flaky, broken, denied = runner.run_sources(project, on_event=events.append)

    assert orders.success and orders.rows_loaded == 5 and orders.attempts == 1
    assert flaky.success and flaky.rows_loaded == 2 and flaky.attempts == 3
    assert sleeps == [1.0, 7.0]  # backoff, then the RATE_LIMITED retry_after floor
    assert not broken.success and broken.attempts == 1
    assert broken.errors[0].code is ErrorCode.INVALID_CONFIG
    assert broken.errors[0].category is ErrorCategory.CONFIGURATION
    assert broken.errors[0].source == "broken"
    assert not denied.success and denied.attempts == 1
    assert denied.errors[0].code is ErrorCode.AUTH_FAILED
    assert FakePlugin.attempts == {"orders": 1, "flaky": 3, "denied": 1}
    assert FakePlugin.calls[:2] == ["destination", "startup"]
    assert FakePlugin.calls[-1] == "shutdown"
    assert FakePlugin.calls.count("startup") == 1 and FakePlugin.calls.count("shutdown") == 1
    assert FakePlugin.seen_secrets["orders"]["credentials"] == {"user": "app", "password": "pw-123"}

    kinds = [(e.kind, e.source, e.attempt) for e in events if e.source == "flaky"]
    assert kinds == [
        ("started", "flaky", 1),
        ("retrying", "flaky", 1),
        ("retrying", "flaky", 2),
        ("finished", "flaky", 3),
    ]

    run_spans = [s for s in spans.get_finished_spans() if s.name == "floe.ingestion.run"]
    assert [s.attributes["ingestion.pipeline_name"] for s in run_spans] == [  # type: ignore[index]
        "orders",
        "flaky",
        "broken",
        "denied",
    ]
    ok_span, flaky_span, broken_span, _ = run_spans
    assert ok_span.attributes["ingestion.rows_loaded"] == 5  # type: ignore[index]
    assert ok_span.attributes["ingestion.destination_table"] == "bronze.orders"  # type: ignore[index]
    assert flaky_span.attributes["ingestion.attempts"] == 3  # type: ignore[index]
    assert broken_span.attributes["error.category"] == "CONFIGURATION"  # type: ignore[index]
    assert broken_span.attributes["error.type"] == "PipelineConfigurationError"  # type: ignore[index]
    assert broken_span.attributes["error.code"] == "INVALID_CONFIG"  # type: ignore[index]
    assert broken_span.status.status_code.name == "ERROR"
    denied_span = run_spans[3]
    assert denied_span.attributes["error.type"] == "IngestionError"  # type: ignore[index]
    assert denied_span.attributes["error.code"] == "AUTH_FAILED"  # type: ignore[index]

    points = metric_points(metric_reader)
    assert points["floe_ingestion_retry_total"] == [({"source": "flaky"}, 2)]
    assert sorted(points["floe_ingestion_errors_total"], key=str) == sorted(
        [
            ({"source": "broken", "category": "CONFIGURATION", "code": "INVALID_CONFIG"}, 1),
            ({"source": "denied", "category": "PERMANENT", "code": "AUTH_FAILED"}, 1),
        ],
        key=str,
    )
    assert ({"source": "orders", "table": "bronze.orders"}, 5) in points[
        "floe_ingestion_rows_loaded_total"
    ]

    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    names = [line["event"] for line in lines]
    assert names.count("source_started") == 4 and names.count("source_retrying") == 2
    failed = [line for line in lines if line["event"] == "source_failed"]
    assert {f["code"] for f in failed} == {"INVALID_CONFIG", "AUTH_FAILED"}
    assert "pw-123" not in logs.getvalue()


def test_only_selects_sources(project: FloeProject, registry: PluginRegistry) -> None:
    runner, _ = make_runner(registry)
    [result] = runner.run_sources(project, only=["flaky"])
    assert result.source == "flaky" and FakePlugin.attempts == {"flaky": 3}


def test_retries_exhausted(project: FloeProject, registry: PluginRegistry) -> None:
    runner, sleeps = make_runner(registry, manifest=manifest(retry={"max_attempts": 2}))
    [flaky] = runner.run_sources(project, only=["flaky"])
    assert not flaky.success and flaky.attempts == 2
    assert flaky.errors[0].code is ErrorCode.RATE_LIMITED and sleeps == [1.0]


def test_plugin_that_raises_becomes_internal_error(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text(
        "ingestion:\n  sources:\n    - {name: a, type: memory, config: {explode: true},"
        " destination: {table: b.a}}\n"
    )
    runner, sleeps = make_runner(registry)
    [result] = runner.run_sources(FloeProject.load(path))
    assert result.errors[0].code is ErrorCode.INTERNAL_ERROR
    assert "RuntimeError: plugin bug" in result.errors[0].message
    assert result.attempts == 1 and sleeps == []


def test_startup_failure_fails_every_source_and_still_shuts_down(
    project: FloeProject, registry: PluginRegistry, spans: InMemorySpanExporter
) -> None:
    runner, _ = make_runner(registry, manifest=manifest(config={"fail_startup": True}))
    results = runner.run_sources(project, only=["orders", "flaky"])
    assert [r.errors[0].error_type for r in results] == ["SourceConnectionError"] * 2
    run_spans = [s for s in spans.get_finished_spans() if s.name == "floe.ingestion.run"]
    assert [s.attributes["error.type"] for s in run_spans] == ["SourceConnectionError"] * 2  # type: ignore[index]
    assert {s.attributes["error.code"] for s in run_spans} == {"SOURCE_UNAVAILABLE"}  # type: ignore[index]
    assert [r.success for r in results] == [False, False]
    assert [r.errors[0].source for r in results] == ["orders", "flaky"]
    assert {r.errors[0].code for r in results} == {ErrorCode.SOURCE_UNAVAILABLE}
    assert FakePlugin.calls == ["destination", "startup", "shutdown"]


def test_shutdown_runs_when_the_callback_raises(
    project: FloeProject, registry: PluginRegistry
) -> None:
    runner, _ = make_runner(registry)

    def explode(event: SourceEvent) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_sources(project, on_event=explode)
    assert FakePlugin.calls[-1] == "shutdown"


def test_unknown_plugin_names_manifest_field(project: FloeProject) -> None:
    runner, _ = make_runner(PluginRegistry(entry_points=[]), manifest=manifest(type="fkae"))
    with pytest.raises(PluginError) as info:
        runner.run_sources(project)
    assert info.value.code is ErrorCode.PLUGIN_NOT_FOUND
    assert "plugins.ingestion.type: no ingestion plugin named 'fkae'" in info.value.message


def test_bad_plugin_config_names_manifest_field(
    project: FloeProject, registry: PluginRegistry
) -> None:
    runner, _ = make_runner(registry, manifest=manifest(config={"greting": "x"}))
    with pytest.raises(ConfigFileError) as info:
        runner.run_sources(project)
    assert info.value.field == "plugins.ingestion.config.greting"
    assert "did you mean 'greeting'?" in info.value.message


def test_missing_secret_raises_before_anything_runs(
    project: FloeProject, registry: PluginRegistry
) -> None:
    runner = Runner(manifest(), registry, sleep=lambda s: None, environ={})
    with pytest.raises(ConfigFileError) as info:
        runner.run_sources(project)
    assert info.value.code is ErrorCode.SECRET_NOT_FOUND
    assert FakePlugin.calls == []


def test_catalog_with_storage_folded_reaches_the_plugin(
    project: FloeProject, registry: PluginRegistry
) -> None:
    m = PlatformManifest.model_validate(
        {
            "plugins": {"ingestion": {"type": "fake"}},
            "catalog": {"type": "rest", "uri": "http://127.0.0.1:8181"},
            "storage": {
                "type": "s3",
                "endpoint": "http://127.0.0.1:9000",
                "access_key_id": "ak",
                "secret_access_key": "sk",
            },
        }
    )
    runner, _ = make_runner(registry, manifest=m)
    runner.run_sources(project, only=["orders"])
    [catalog] = FakePlugin.seen_catalogs
    assert catalog.uri == "http://127.0.0.1:8181"
    assert catalog.properties["s3.endpoint"] == "http://127.0.0.1:9000"
    assert catalog.properties["s3.access-key-id"] == "ak"


def test_lineage_events_per_source(project: FloeProject, registry: PluginRegistry) -> None:
    transport = ListTransport()
    lineage = LineageEmitter(namespace="t", client=OpenLineageClient(transport=transport))
    runner, _ = make_runner(registry, lineage=lineage)
    runner.run_sources(project, only=["orders", "denied"])
    summary = [(e["job"]["name"], e["eventType"]) for e in transport.events]
    assert summary == [
        ("ingestion.orders", "START"),
        ("ingestion.orders", "COMPLETE"),
        ("ingestion.denied", "START"),
        ("ingestion.denied", "FAIL"),
    ]
    assert transport.events[-1]["run"]["facets"]["ingestionError"]["code"] == "AUTH_FAILED"


def test_lineage_built_from_manifest(
    tmp_path: Path, project: FloeProject, registry: PluginRegistry
) -> None:
    target = tmp_path / "ol.jsonl"
    m = manifest().model_copy(
        update={
            "observability": PlatformManifest.model_validate(
                {
                    "observability": {
                        "lineage": {
                            "enabled": True,
                            "transport": {
                                "type": "file",
                                "log_file_path": str(target),
                                "append": True,
                            },
                        }
                    }
                }
            ).observability
        }
    )
    runner, _ = make_runner(registry, manifest=m)
    runner.run_sources(project, only=["orders"])
    runner.run_sources(project, only=["denied"])  # a second run gets a fresh emitter
    events = [json.loads(x) for x in target.read_text().splitlines()]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("ingestion.orders", "START"),
        ("ingestion.orders", "COMPLETE"),
        ("ingestion.denied", "START"),
        ("ingestion.denied", "FAIL"),
    ]


def test_validate_reports_each_source(project: FloeProject, registry: PluginRegistry) -> None:
    runner, _ = make_runner(registry)
    checked = runner.validate(project)
    assert [(c.name, e.code if e else None) for c, e in checked] == [
        ("orders", None),
        ("flaky", None),
        ("broken", ErrorCode.INVALID_CONFIG),
        ("denied", None),
    ]
    assert FakePlugin.attempts == {}


def test_validate_reports_plugin_bugs_and_startup_failures(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text(
        "ingestion:\n  sources:\n    - {name: a, type: memory, config: {explode_create: true},"
        " destination: {table: b.a}}\n"
    )
    runner, _ = make_runner(registry)
    [(_config, error)] = runner.validate(FloeProject.load(path))
    assert error is not None and error.code is ErrorCode.INTERNAL_ERROR
    assert "create_pipeline bug" in error.message
    runner, _ = make_runner(registry, manifest=manifest(config={"fail_startup": True}))
    with pytest.raises(Exception, match="engine unreachable") as info:
        runner.validate(FloeProject.load(path))
    assert getattr(info.value, "code", None) is ErrorCode.SOURCE_UNAVAILABLE
    assert FakePlugin.calls[-1] == "shutdown"


def test_interrupted_load_emits_abort_and_shuts_down(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text(
        "ingestion:\n  sources:\n    - {name: a, type: memory, config: {interrupt: true},"
        " destination: {table: b.a}}\n"
    )
    transport = ListTransport()
    lineage = LineageEmitter(namespace="t", client=OpenLineageClient(transport=transport))
    runner, _ = make_runner(registry, lineage=lineage)
    with pytest.raises(KeyboardInterrupt):
        runner.run_sources(FloeProject.load(path))
    assert [e["eventType"] for e in transport.events] == ["START", "ABORT"]
    assert FakePlugin.calls[-1] == "shutdown"


def with_catalog(reject: str) -> PlatformManifest:
    m = manifest()
    catalog = {"type": "sql", "properties": {"fake.reject": reject}}
    catalog_section = PlatformManifest.model_validate({"catalog": catalog}).catalog
    return m.model_copy(update={"catalog": catalog_section})


@pytest.mark.parametrize("method", ["validate", "run_sources"])
@pytest.mark.parametrize(
    ("reject", "field", "message"),
    [
        (
            "message",
            "catalog",
            "(default platform manifest): catalog: the fake plugin cannot write to this catalog",
        ),
        (
            "field",
            "catalog.warehouse",
            "(default platform manifest): catalog.warehouse must be a folder for the fake plugin",
        ),
    ],
)
def test_a_catalog_the_plugin_cannot_use_is_a_manifest_error(
    project: FloeProject,
    registry: PluginRegistry,
    method: str,
    reject: str,
    field: str,
    message: str,
) -> None:
    runner, _ = make_runner(registry, manifest=with_catalog(reject))
    with pytest.raises(ConfigFileError) as info:
        getattr(runner, method)(project)
    assert info.value.code is ErrorCode.DESTINATION_CONFIG_ERROR
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert info.value.field == field
    assert info.value.message == message
    assert FakePlugin.calls == ["destination"]  # before startup, before any source


def test_a_plugin_bug_in_get_destination_config_is_internal(
    project: FloeProject, registry: PluginRegistry
) -> None:
    runner, _ = make_runner(registry, manifest=with_catalog("bug"))
    with pytest.raises(IngestionError) as info:
        runner.validate(project)
    assert info.value.code is ErrorCode.INTERNAL_ERROR
    assert "get_destination_config() raised RuntimeError: destination bug" in info.value.message


def test_validate_with_the_airbyte_plugin_passes_on_the_embedded_catalog(
    tmp_path: Path,
) -> None:
    """Airbyte cannot write a SQL catalog, but its destination config is informational."""
    from floe_ingestion_airbyte import AirbyteIngestionPlugin
    from floe_ingestion_airbyte.testing import FakeAirbyte

    fake = FakeAirbyte()
    connection = "5f0c8a52-7c1e-4d8b-9a3e-1b2c3d4e5f60"
    fake.add_connection(connection, script=["succeeded"])

    class WiredAirbyte(AirbyteIngestionPlugin):
        def __init__(self, config: Any = None, *, catalog: Any = None) -> None:
            super().__init__(config, catalog=catalog, transport=fake.transport)

    registry = PluginRegistry(entry_points=[])
    registry.register("airbyte", WiredAirbyte)
    path = tmp_path / "floe.yaml"
    path.write_text(
        "ingestion:\n  sources:\n    - {name: orders, type: airbyte_connection,"
        f" config: {{connection_id: {connection}}}, destination: {{table: bronze.orders}}}}\n"
    )
    m = PlatformManifest.model_validate(
        {"plugins": {"ingestion": {"type": "airbyte", "config": fake.config()}}}
    )
    runner = Runner(m, registry, sleep=lambda s: None)
    assert runner.check_destination(runner.create_plugin())["supported"] is False
    [(config, error)] = runner.validate(FloeProject.load(path))
    assert config.name == "orders" and error is None


def test_permanent_listed_in_retryable_categories_is_retried(
    project: FloeProject, registry: PluginRegistry
) -> None:
    retry = {"max_attempts": 3, "initial_delay_seconds": 1, "retryable_categories": ["PERMANENT"]}
    runner, sleeps = make_runner(registry, manifest=manifest(retry=retry))
    [denied] = runner.run_sources(project, only=["denied"])
    assert denied.success and denied.attempts == 3 and sleeps == [1.0, 2.0]


class _MeetingPlugin(FakePlugin):
    """Each run waits for another source's run: only loads running at once get past it."""

    barrier: Any = None
    workers_seen: ClassVar[list[object]] = []

    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        _MeetingPlugin.workers_seen.append(kwargs.get("workers"))
        _MeetingPlugin.barrier.wait()
        return super().run(pipeline, **kwargs)


def test_workers_run_independent_sources_at_once_and_reach_the_plugin(
    tmp_path: Path,
) -> None:
    path = tmp_path / "floe.yaml"
    sources = "".join(
        f"""
    - name: s{n}
      type: memory
      config: {{rows: {n + 1}}}
      destination: {{table: bronze.s{n}}}"""
        for n in range(4)
    )
    path.write_text(f"ingestion:\n  sources:{sources}\n")
    project = FloeProject.load(path, environ={})
    registry = PluginRegistry(entry_points=[])
    registry.register("fake", _MeetingPlugin)
    _MeetingPlugin.barrier = threading.Barrier(2, timeout=20)
    _MeetingPlugin.workers_seen.clear()
    runner, _ = make_runner(registry)

    results = runner.run_sources(project, workers=2)

    assert [r.source for r in results] == ["s0", "s1", "s2", "s3"]  # file order
    assert all(r.success for r in results), [r.errors for r in results]
    assert [r.rows_loaded for r in results] == [1, 2, 3, 4]
    assert _MeetingPlugin.workers_seen == [2, 2, 2, 2]
