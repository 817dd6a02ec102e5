"""The distributed-load capability: its default (not supported), its JSON, ``DistributedRun``.

``PartsFake`` loads a ``memory`` source in ``config.parts`` parts, each "writing" its share of
``config.rows``; a part listed in ``config.broken`` raises (a plugin bug). The runner side is
checked for what it adds around the plugin: secrets resolved in each call's process and never
in the plan, the plugin started and stopped per call, errors categorised, metrics and lineage.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from openlineage.client import OpenLineageClient
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from floe_core import (
    DistributedRun,
    ErrorCategory,
    ErrorCode,
    FloeProject,
    IngestionConfig,
    IngestionError,
    IngestionPipeline,
    IngestionResult,
    PartOutcome,
    PartSpec,
    PartsPlan,
    PlatformManifest,
    TablePlan,
    TableResult,
)
from floe_core.lineage import LineageEmitter
from floe_core.metric import IngestionMetrics
from floe_core.registry import PluginRegistry
from floe_core.runner import Runner
from floe_core_tests._fakes import FakePlugin
from floe_core_tests.conftest import metric_points
from floe_core_tests.test_lineage import ListTransport

PROJECT = """
ingestion:
  sources:
    - name: orders
      type: memory
      config: {rows: 10, parts: 3, credentials: {user: app}}
      destination: {table: bronze.orders}
      secret_refs: {credentials.password: env:FAKE_PASSWORD}
    - name: whole
      type: memory
      config: {rows: 2}
      destination: {table: bronze.whole}
"""


class PartsFake(FakePlugin):
    """FakePlugin that loads a source with ``parts`` in parts."""

    name = "parts_fake"  # type: ignore[assignment]
    abandoned: ClassVar[list[list[int]]] = []
    passwords: ClassVar[list[str]] = []

    def supports_parts(self, config: IngestionConfig) -> bool:
        return "parts" in config.source_config

    def plan_parts(
        self, pipeline: IngestionPipeline, *, workers: int | None = None
    ) -> PartsPlan | None:
        config = pipeline.config
        if not self.supports_parts(config):
            return None
        count = int(config.source_config["parts"])
        table = config.destination_table
        return PartsPlan(
            source=config.name,
            plugin=self.name,
            tables=[TablePlan(table=table, load_plan="{}", state={"cursor": 0})],
            parts=[PartSpec(index=n, table=table, part=n, payload={"n": n}) for n in range(count)],
        )

    def run_part(self, pipeline: IngestionPipeline, plan: PartsPlan, part: PartSpec) -> PartOutcome:
        source = pipeline.config.source_config_with_secrets()
        PartsFake.passwords.append(source["credentials"]["password"])
        if part.index in source.get("broken", []):
            raise RuntimeError(f"part {part.index} bug")
        rows = int(source["rows"]) // len(plan.parts) + (part.index == 0) * (
            int(source["rows"]) % len(plan.parts)
        )
        return PartOutcome(
            index=part.index,
            table=part.table,
            part=part.part,
            file_set=f"files-{part.index}",
            rows=rows,
        )

    def commit_parts(
        self, pipeline: IngestionPipeline, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> IngestionResult:
        if len(outcomes) != len(plan.parts) or not all(o.ok for o in outcomes):
            raise IngestionError("a part is missing", code=ErrorCode.INTERNAL_ERROR)
        rows = sum(o.rows for o in outcomes)
        table = TableResult(table=plan.tables[0].table, rows_loaded=rows, snapshot_id=7)
        return IngestionResult(source=plan.source, success=True, rows_loaded=rows, tables=[table])

    def abandon_parts(
        self, pipeline: IngestionPipeline, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> list[str]:
        PartsFake.abandoned.append([o.index for o in outcomes])
        return [o.file_set or "" for o in outcomes]


@pytest.fixture
def distributed(tmp_path: Path) -> tuple[DistributedRun, Runner]:
    FakePlugin.reset()
    PartsFake.abandoned.clear()
    PartsFake.passwords.clear()
    path = tmp_path / "floe.yaml"
    path.write_text(textwrap.dedent(PROJECT))
    project = FloeProject.load(path, environ={})
    registry = PluginRegistry(entry_points=[])
    registry.register("parts_fake", PartsFake)
    manifest = PlatformManifest.model_validate({"plugins": {"ingestion": {"type": "parts_fake"}}})
    runner = Runner(manifest, registry, environ={"FAKE_PASSWORD": "pw-123"})
    return DistributedRun(runner, project), runner


def test_the_default_plugin_loads_nothing_in_parts() -> None:
    plugin = FakePlugin()
    config = IngestionConfig(
        name="x", source_type="memory", source_config={}, destination_table="bronze.x"
    )
    pipeline = plugin.create_pipeline(config)
    plan = PartsPlan(source="x", plugin="fake", tables=[], parts=[])
    part = PartSpec(index=0, table="bronze.x", part=0)
    assert plugin.supports_parts(config) is False
    assert plugin.plan_parts(pipeline) is None
    with pytest.raises(NotImplementedError, match="FakePlugin does not run load parts"):
        plugin.run_part(pipeline, plan, part)
    with pytest.raises(NotImplementedError, match="FakePlugin"):
        plugin.commit_parts(pipeline, plan, [])
    with pytest.raises(NotImplementedError, match="FakePlugin"):
        plugin.abandon_parts(pipeline, plan, [])


def test_plans_and_outcomes_travel_as_json() -> None:
    plan = PartsPlan(
        source="s",
        plugin="p",
        tables=[TablePlan(table="b.t", load_plan='{"load_id": "1"}', state={"c": 1})],
        parts=[PartSpec(index=0, table="b.t", part=0, payload={"range": "[1, 5)"})],
    )
    assert PartsPlan.from_json(plan.to_json()) == plan
    assert plan.table("b.t").state == {"c": 1} and plan.parts_of("b.t") == plan.parts
    with pytest.raises(KeyError):
        plan.table("b.u")
    failed = PartOutcome(
        index=0,
        table="b.t",
        part=0,
        error=IngestionError("down", code=ErrorCode.SOURCE_UNAVAILABLE).to_detail(),
    )
    again = PartOutcome.from_json(failed.to_json())
    assert again == failed and not again.ok
    assert again.error is not None and again.error.category is ErrorCategory.TRANSIENT
    assert PartSpec.from_json(plan.parts[0].to_json()) == plan.parts[0]


def test_a_load_in_parts_is_planned_run_and_committed_one_call_at_a_time(
    distributed: tuple[DistributedRun, Runner],
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
) -> None:
    run, runner = distributed
    runner.metrics = IngestionMetrics(meter_provider)
    transport = ListTransport()
    runner.lineage = LineageEmitter(namespace="t", client=OpenLineageClient(transport=transport))
    (orders, whole) = runner.configs(run.project)

    assert run.supports(orders) and not run.supports(whole)
    assert run.plan(whole) is None
    plan = run.plan(orders)
    assert plan is not None and len(plan.parts) == 3 and plan.lineage_run_id is not None
    assert "pw-123" not in plan.to_json()  # secrets are resolved by each step, never sent
    outcomes = [run.run_part(orders, plan, part) for part in plan.parts]
    result = run.commit(orders, plan, outcomes)

    assert result.success and result.rows_loaded == 10
    assert [o.rows for o in outcomes] == [4, 3, 3]
    assert PartsFake.passwords == ["pw-123"] * 3
    # each call (two plans, three parts, the commit) started and stopped the plugin
    assert FakePlugin.calls.count("startup") == FakePlugin.calls.count("shutdown") == 6
    states = [e["eventType"] for e in transport.events]
    assert states == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in transport.events} == {plan.lineage_run_id}
    runs = metric_points(metric_reader)["floe_ingestion_runs_total"]
    assert [value for _, value in runs] == [1]


def test_a_broken_part_is_an_internal_error_and_the_load_is_abandoned(
    distributed: tuple[DistributedRun, Runner],
) -> None:
    run, runner = distributed
    (orders, _) = runner.configs(run.project)
    broken = orders.model_copy(update={"source_config": {**orders.source_config, "broken": [1]}})
    plan = run.plan(broken)
    assert plan is not None

    outcomes = [run.run_part(broken, plan, part) for part in plan.parts]
    assert [o.ok for o in outcomes] == [True, False, True]
    error = outcomes[1].error
    assert error is not None and error.code is ErrorCode.INTERNAL_ERROR
    assert "run_part() raised RuntimeError: part 1 bug" in error.message
    failed = run.commit(broken, plan, outcomes)
    assert not failed.success and failed.errors[0].code is ErrorCode.INTERNAL_ERROR
    listed = run.abandon(broken, plan, [o for o in outcomes if o.ok], failed)
    assert listed == ["files-0", "files-2"] and PartsFake.abandoned == [[0, 2]]
    assert json.loads(outcomes[0].to_json())["file_set"] == "files-0"
