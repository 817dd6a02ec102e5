"""A source loaded in parts as a graph-backed asset: plan, one step per part, one commit.

A source whose plugin loads it in parts (:meth:`IngestionPlugin.supports_parts
<floe_core.IngestionPlugin.supports_parts>`: the dlt plugin's ``sql_database`` with
``parallel``) becomes a ``graph_multi_asset`` with one output per destination table::

    {op}_plan ──DynamicOut──▶ {op}_part[part_0], {op}_part[part_1], ... ──collect──▶ {op}_commit

- ``{op}_plan`` plans one load per table (:meth:`DistributedRun.plan
  <floe_core.DistributedRun.plan>`: the table's version, state and split) and fans out one
  :class:`dagster.DynamicOutput` per part. Only small JSON passes: the plans (each table's
  engine plan and stored state) and each part's number and range; never a row, never a
  secret (every step re-resolves the source's secrets from its own manifest and floe.yaml).
- ``{op}_part`` runs one part in its own step (on ``k8s_job_executor``, its own pod): it reads
  its range and writes its data files, returning their description (paths, sizes, counts,
  column statistics) as JSON. A retryable failure is retried alone (``RetryRequested`` with the
  manifest's ``retry`` policy, :mod:`floe_dagster.failure`); a retry first removes what the
  earlier attempt listed (a killed pod's files), since it rewrites the part's record. A
  failure for good removes the files the load's parts listed so far (best effort) and fails
  the step.
- ``{op}_commit`` runs only when every part succeeded (Dagster skips it otherwise): it commits
  each table once, every part's files and the maximum cursor in one snapshot, and materializes
  each asset with the metadata and checks of the one-step asset (:mod:`floe_dagster._report`).
  A failed commit abandons the files and fails without retry: its plan is pinned to the
  table version it read, so a new run (a new plan) is what can land.

A failed or cancelled run commits nothing: the tables stay as they were, and the files of
parts that never reached a commit are listed in abandoned-files records for ``floe maintain``.
The graph asset is not subsettable (one plan covers the source's tables). A source with
``partitions`` stays a one-step asset (a window is one bounded query per table).

The step outputs go through the job's IO manager: in-process and the multiprocess executor
use the instance's storage; across pods use a shared one (e.g. ``dagster_aws.s3``'s
``s3_pickle_io_manager``): each output is a few KiB.

(No ``from __future__ import annotations``: Dagster reads the op functions' annotations.)
"""

import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import TypeAdapter

from floe_core import (
    DistributedRun,
    ErrorCode,
    FloeProject,
    IngestionConfig,
    IngestionError,
    IngestionResult,
    PartOutcome,
    PartSpec,
    PartsPlan,
    RetryPolicy,
    Runner,
)
from floe_core.project import SourceSpec
from floe_dagster._report import Loaded, check_specs, materialization
from floe_dagster._table import read_facts
from floe_dagster.failure import failure_for, raise_for
from floe_dagster.translator import GROUP, FloeAsset, FloeTranslator

if TYPE_CHECKING:
    from floe_dagster.asset import SourceAssets

__all__ = ["build_distributed_assets", "loads_in_parts"]

_PLANS = TypeAdapter(list[PartsPlan])


def loads_in_parts(
    make_runner: Callable[[], Runner], project: FloeProject, spec: SourceSpec
) -> bool:
    """Say whether a source becomes a graph-backed asset (its plugin loads it in parts).

    Connects to nothing: the plugin answers from the source's configuration. A source with
    ``partitions`` never does.

    Args:
        make_runner: Builds the runner (its manifest names the plugin).
        project: The floe.yaml.
        spec: The source.

    Returns:
        True when the source's load is planned in parts; False also when the plugin cannot
        be built here (the one-step asset then reports that error when it runs).
    """
    if spec.partitions is not None:
        return False
    try:
        return DistributedRun(make_runner(), project).supports(spec.to_ingestion_config())
    except Exception:
        return False


def _config(
    context: dg.OpExecutionContext,
    runner: Runner,
    project: FloeProject,
    translator: FloeTranslator,
    asset: FloeAsset,
    policy: RetryPolicy,
) -> IngestionConfig:
    """The source narrowed to one asset, its secrets resolved in this step's process."""
    from floe_dagster.asset import ASSET_KEY_PROPERTY, RUN_ID_PROPERTY

    try:
        base = runner.configs(project, [asset.source])[0]
    except IngestionError as exc:  # a missing secret: CONFIGURATION, never retried
        failed = IngestionResult(source=asset.source, success=False, errors=[exc.to_detail()])
        raise_for(failed, policy, attempt=context.retry_number + 1)
    return translator.subset(base, [asset]).model_copy(
        update={
            "snapshot_properties": {
                **base.snapshot_properties,
                RUN_ID_PROPERTY: context.run.run_id,
                ASSET_KEY_PROPERTY: asset.key.to_user_string(),
            }
        }
    )


def _failed(source: str, error: IngestionError) -> IngestionResult:
    return IngestionResult(source=source, success=False, errors=[error.to_detail()])


def _output_name(asset: FloeAsset) -> str:
    return asset.key.to_python_identifier()


def build_distributed_assets(
    project: FloeProject,
    spec: SourceSpec,
    *,
    plugin: str,
    translator: FloeTranslator,
    make_runner: Callable[[], Runner],
) -> "SourceAssets":
    """Build the graph-backed asset of a source loaded in parts.

    Args:
        project: The floe.yaml.
        spec: The source (its plugin loads it in parts: :func:`loads_in_parts`).
        plugin: The manifest's ingestion plugin name (an asset kind).
        translator: Decides keys, specs and pools.
        make_runner: Builds the runner in each step's process.

    Returns:
        The source's :class:`~floe_dagster.asset.SourceAssets`.
    """
    from floe_dagster.asset import SourceAssets

    source = spec.to_ingestion_config()
    assets = translator.assets(source)
    by_table = {a.table: a for a in assets}
    pool = translator.pool(spec, source)
    name = translator.op_name(source)
    checks = [c for a in assets for c in check_specs(source, a)]

    def asset_of(plan: PartsPlan) -> FloeAsset:
        return by_table[plan.tables[0].table]

    @dg.op(name=f"{name}_plan", out={"plans": dg.Out(str), "parts": dg.DynamicOut(str)}, pool=pool)
    def plan_op(context: dg.OpExecutionContext) -> Iterator[Any]:
        runner = make_runner()
        policy = RetryPolicy(runner.manifest.plugins.ingestion.retry)
        attempt = context.retry_number + 1
        planner = DistributedRun(runner, project)
        plans: list[tuple[IngestionConfig, PartsPlan]] = []
        for asset in assets:
            config = _config(context, runner, project, translator, asset, policy)
            try:
                plan = planner.plan(config)
                if plan is None:
                    raise IngestionError(
                        f"plugin {plugin!r} said source {config.name!r} loads in parts, then "
                        "planned none",
                        code=ErrorCode.INTERNAL_ERROR,
                    )
            except IngestionError as exc:
                failed = _failed(config.name, exc)
                for earlier, planned in plans:  # their lineage START gets its FAIL
                    planner.abandon(earlier, planned, [], failed)
                raise_for(failed, policy, attempt=attempt)
            plans.append((config, plan))
        wire = _PLANS.dump_json([plan for _, plan in plans]).decode()
        parts = [(n, p) for n, (_, plan) in enumerate(plans) for p in plan.parts]
        yield dg.Output(
            wire, "plans", metadata={"floe/parts": len(parts), "floe/plan_bytes": len(wire)}
        )
        for number, part in parts:
            payload = json.dumps({"plan": number, "part": part.model_dump(mode="json")})
            key = f"t{number}_p{part.part}"
            yield dg.DynamicOutput(payload, output_name="parts", mapping_key=key)

    @dg.op(name=f"{name}_part", pool=pool)
    def part_op(context: dg.OpExecutionContext, plans: str, part: str) -> str:
        runner = make_runner()
        policy = RetryPolicy(runner.manifest.plugins.ingestion.retry)
        attempt = context.retry_number + 1
        message = json.loads(part)
        plan = _PLANS.validate_json(plans)[message["plan"]]
        spec = PartSpec.model_validate(message["part"])
        config = _config(context, runner, project, translator, asset_of(plan), policy)
        worker = DistributedRun(runner, project)
        if attempt > 1:  # an earlier attempt (a killed pod) may have left listed files
            only = plan.model_copy(update={"tables": [plan.table(spec.table)], "parts": [spec]})
            worker.abandon(config, only, [])
        outcome = worker.run_part(config, plan, spec)
        if outcome.error is not None:
            failed = IngestionResult(source=config.name, success=False, errors=[outcome.error])
            if not (policy.should_retry(failed) and attempt < policy.config.max_attempts):
                listed = worker.abandon(config, plan, [outcome], failed)
                context.log.warning(f"part failed for good; {len(listed)} files abandoned")
            raise_for(failed, policy, attempt=attempt)
        context.add_output_metadata(
            {"floe/table": spec.table, "floe/part": spec.part, "floe/rows": outcome.rows}
        )
        return json.dumps({"plan": message["plan"], "outcome": outcome.model_dump(mode="json")})

    outs: dict[str, dg.Out] = {_output_name(a): dg.Out(dg.Nothing) for a in assets}
    outs.update({c.get_python_identifier(): dg.Out(dg.Nothing, is_required=False) for c in checks})

    @dg.op(name=f"{name}_commit", out=outs)
    def commit_op(context: dg.OpExecutionContext, plans: str, outcomes: list[str]) -> Iterator[Any]:
        runner = make_runner()
        policy = RetryPolicy(runner.manifest.plugins.ingestion.retry)
        attempt = context.retry_number + 1
        committer = DistributedRun(runner, project)
        catalog = _catalog(runner)
        selected = set(context.selected_asset_check_keys)
        received = [json.loads(o) for o in outcomes]
        loads = _PLANS.validate_json(plans)

        def outcomes_of(number: int) -> list[PartOutcome]:
            return [
                PartOutcome.model_validate(o["outcome"]) for o in received if o["plan"] == number
            ]

        for number, plan in enumerate(loads):
            asset = asset_of(plan)
            config = _config(context, runner, project, translator, asset, policy)
            result = committer.commit(config, plan, outcomes_of(number))
            if not result.success:  # this table's load and every later one end here
                for later in range(number, len(loads)):
                    later_config = _config(
                        context, runner, project, translator, asset_of(loads[later]), policy
                    )
                    committer.abandon(later_config, loads[later], outcomes_of(later))
                raise failure_for(result, attempt=attempt, allow_retries=False)
            mine = outcomes_of(number)
            yield from _materialize(context, asset, config, result, catalog, selected, plan, mine)

    @dg.graph_multi_asset(
        name=name,
        outs={
            _output_name(a): dg.AssetOut.from_spec(translator.asset_spec(spec, source, a, plugin))
            for a in assets
        },
        check_specs=checks,
        group_name=GROUP,  # graph_multi_asset does not take it from the AssetOut's spec
        can_subset=False,
    )
    def _source() -> Any:
        plans, parts = plan_op()
        done = parts.map(lambda part: part_op(plans, part))
        return commit_op(plans, done.collect())

    return SourceAssets(source=spec.name, assets=assets, definition=_source, pool=pool)


def _catalog(runner: Runner) -> Any:
    from floe_dagster.asset import _catalog as catalog_of

    return catalog_of(runner)


def _materialize(
    context: dg.OpExecutionContext,
    asset: FloeAsset,
    config: IngestionConfig,
    result: IngestionResult,
    catalog: Any,
    selected: set[dg.AssetCheckKey],
    plan: PartsPlan,
    outcomes: Sequence[PartOutcome],
) -> Iterator[Any]:
    """The asset's output with the one-step asset's metadata, then its check results."""
    table = next((t for t in result.tables if t.table == asset.table), None)
    facts = None
    if catalog is not None:
        snapshot_id = table.snapshot_id if table is not None else None
        facts = read_facts(catalog, asset.table, config.name, snapshot_id)
    attempt = context.retry_number + 1
    reported = materialization(
        Loaded(asset, config, result, table, facts, attempt), catalog, selected
    )
    metadata: dict[str, Any] = dict(reported.metadata or {})
    metadata["floe/parts"] = dg.MetadataValue.int(len(plan.parts))
    if len(outcomes) <= 64:  # the rows of each part, in part order
        ordered = sorted(outcomes, key=lambda o: o.index)
        metadata["floe/part_rows"] = ", ".join(str(o.rows) for o in ordered)
    yield dg.Output(None, output_name=_output_name(asset), metadata=metadata)
    yield from reported.check_results or []
