"""The asset factory: one source of a floe.yaml becomes one (subsettable) multi-asset.

The step runs the source through floe-core's :class:`~floe_core.Runner` (any
:class:`~floe_core.IngestionPlugin`: dlt, Airbyte, an outside one), one asset (destination
table) at a time, each load exactly one attempt (``Runner.run_one(retry=False)``): Dagster owns
the retries (:mod:`floe_dagster.failure`). Each load records ``dagster.run-id`` and
``dagster.asset-key`` in the Iceberg snapshot it commits (``IngestionConfig.snapshot_properties``),
which is also how a retried step knows which of its tables an earlier attempt already committed:
those are reported again from the table, never loaded twice.

(No ``from __future__ import annotations`` here: Dagster reads the step function's ``context``
annotation at definition time.)

State lives in the Iceberg snapshot, not in the step's process, so parallel steps (the
multiprocess executor, one Kubernetes pod per step) need nothing shared but the catalog; two
runs of one asset at once meet at the catalog's commit check, where one lands and the other
fails TRANSIENT and is retried (an incremental retry then loads 0 new rows).

A source with ``partitions`` has time-window partitioned assets: a run of one partition (or,
with the single-run backfill policy, of a range) loads ``IngestionConfig.window`` = that time
window, and the plugin replaces exactly that slice of each table in one snapshot, so re-running
or backfilling a window is idempotent and distinct windows may run at once.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster import AssetExecutionContext

from floe_core import (
    ErrorCategory,
    FloeProject,
    IngestionConfig,
    IngestionError,
    IngestionResult,
    LoadWindow,
    RetryPolicy,
    Runner,
    TableResult,
)
from floe_core.project import SourceSpec
from floe_dagster._report import Loaded, check_specs, materialization
from floe_dagster._table import read_facts, snapshot_of_run
from floe_dagster.failure import raise_for
from floe_dagster.translator import FloeAsset, FloeTranslator

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

__all__ = ["ASSET_KEY_PROPERTY", "RUN_ID_PROPERTY", "SourceAssets", "build_source_assets"]

RUN_ID_PROPERTY = "dagster.run-id"
"""Snapshot-summary key holding the Dagster run that committed the snapshot."""
ASSET_KEY_PROPERTY = "dagster.asset-key"
"""Snapshot-summary key holding the asset key the snapshot materialized."""


@dataclass(frozen=True)
class SourceAssets:
    """A source's Dagster definitions.

    Attributes:
        source: The source name.
        assets: Its assets (one per destination table).
        definition: The multi-asset.
        pool: The Dagster pool its step runs in.
    """

    source: str
    assets: list[FloeAsset]
    definition: dg.AssetsDefinition
    pool: str


def _catalog(runner: Runner) -> "Catalog | None":
    from floe_iceberg import load_catalog

    try:
        return load_catalog(runner.catalog)
    except Exception:  # an external plugin's catalog may not be readable from here
        return None


def _earlier(
    context: dg.AssetExecutionContext,
    catalog: "Catalog | None",
    asset: FloeAsset,
    config: IngestionConfig,
    attempt: int,
) -> Loaded | None:
    """The table as an earlier attempt of this run committed it, or None."""
    if attempt == 1 or catalog is None:
        return None
    props = {RUN_ID_PROPERTY: context.run.run_id, ASSET_KEY_PROPERTY: asset.key.to_user_string()}
    found = snapshot_of_run(catalog, asset.table, props)
    if found is None:
        return None
    snapshot_id, summary = found
    table = TableResult(
        table=asset.table,
        rows_loaded=int(summary.get("floe.rows-loaded", "0")),
        snapshot_id=snapshot_id,
    )
    result = IngestionResult(source=config.name, success=True, tables=[table])
    facts = read_facts(catalog, asset.table, config.name, snapshot_id)
    return Loaded(asset, config, result, table, facts, attempt, earlier_attempt=True)


def _window(
    context: dg.AssetExecutionContext, project: FloeProject, source: str
) -> LoadWindow | None:
    """The load window of a partitioned run: its partition (or range) as [start, end)."""
    spec = project.sources[project.index_of(source)]
    if spec.partitions is None or not (
        context.has_partition_key or context.has_partition_key_range
    ):
        return None
    span = context.partition_time_window  # a range backfill spans its first to last window
    context.log.info(f"loading window [{span.start.isoformat()}, {span.end.isoformat()})")
    return LoadWindow(column=spec.partitions.column, start=span.start, end=span.end)


def _load(
    context: dg.AssetExecutionContext,
    project: FloeProject,
    runner: Runner,
    translator: FloeTranslator,
    assets: Sequence[FloeAsset],
) -> Iterator[dg.MaterializeResult[Any]]:
    attempt = context.retry_number + 1
    policy = RetryPolicy(runner.manifest.plugins.ingestion.retry)
    selected = [a for a in assets if a.key in context.selected_asset_keys]
    checks = set(context.selected_asset_check_keys)
    try:
        base = runner.configs(project, [assets[0].source])[0]
    except IngestionError as exc:  # a missing secret: CONFIGURATION, never retried
        failed = IngestionResult(source=assets[0].source, success=False, errors=[exc.to_detail()])
        raise_for(failed, policy, attempt=attempt)
    window = _window(context, project, assets[0].source)
    catalog = _catalog(runner)
    for asset in selected:
        earlier = _earlier(context, catalog, asset, base, attempt)
        if earlier is not None:
            context.log.info(f"{asset.table} was committed by an earlier attempt of this run")
            yield materialization(earlier, catalog, checks)
            continue
        config = translator.subset(base, [asset]).model_copy(
            update={
                "window": window,
                "snapshot_properties": {
                    **base.snapshot_properties,
                    RUN_ID_PROPERTY: context.run.run_id,
                    ASSET_KEY_PROPERTY: asset.key.to_user_string(),
                },
            }
        )
        try:
            result = runner.run_one(project, config, retry=False)
        except IngestionError as exc:  # the plugin or catalog is unusable before any load
            failed = IngestionResult(source=config.name, success=False, errors=[exc.to_detail()])
            raise_for(failed, policy, attempt=attempt)
        partial = bool(result.errors) and all(
            e.category is ErrorCategory.PARTIAL for e in result.errors
        )
        if not result.success and not partial:
            raise_for(result, policy, attempt=attempt)
        table = next((t for t in result.tables if t.table == asset.table), None)
        if table is None and len(result.tables) == 1:  # a plugin naming the table its own way
            table = result.tables[0]
        facts = None
        if catalog is not None:
            snapshot_id = table.snapshot_id if table is not None else None
            facts = read_facts(catalog, asset.table, config.name, snapshot_id)
        yield materialization(Loaded(asset, config, result, table, facts, attempt), catalog, checks)


def build_source_assets(
    project: FloeProject,
    spec: SourceSpec,
    *,
    plugin: str,
    translator: FloeTranslator,
    make_runner: Callable[[], Runner],
) -> SourceAssets:
    """Build the multi-asset of one source.

    Args:
        project: The floe.yaml.
        spec: The source.
        plugin: The manifest's ingestion plugin name (an asset kind).
        translator: Decides keys, specs and pools.
        make_runner: Builds the runner in the step's process.

    Returns:
        The source's assets: a graph-backed asset (plan, parts, commit) when the plugin loads
        the source in parts (:mod:`floe_dagster.distributed`).
    """
    from floe_dagster.distributed import build_distributed_assets, loads_in_parts

    if loads_in_parts(make_runner, project, spec):
        return build_distributed_assets(
            project, spec, plugin=plugin, translator=translator, make_runner=make_runner
        )
    config = spec.to_ingestion_config()
    assets = translator.assets(config)
    pool = translator.pool(spec, config)
    checks = [c for a in assets for c in check_specs(config, a)]

    @dg.multi_asset(
        name=translator.op_name(config),
        specs=[translator.asset_spec(spec, config, a, plugin) for a in assets],
        check_specs=checks,
        can_subset=True,
        pool=pool,
        description=spec.description,
        partitions_def=translator.partitions_def(spec),
        backfill_policy=translator.backfill_policy(spec),
    )
    def _source(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult[Any]]:
        yield from _load(context, project, make_runner(), translator, assets)

    return SourceAssets(source=spec.name, assets=assets, definition=_source, pool=pool)
