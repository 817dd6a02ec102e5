"""floe-orchestrator-dagster: every source of a floe.yaml as Dagster assets.

Public API::

    build_definitions(floe_yaml, manifest=None, ...) -> dagster.Definitions
    build_source_definitions(...) -> list[SourceAssets]     # the per-source pieces
    FloeTranslator                                           # keys, kinds, pools, subsets
    build_maintenance_job(project, manifest, ...)            # the ``ingestion_maintenance`` job

Dagster stays out of floe-core and the ingestion plugins: the assets run any
``IngestionPlugin`` through floe-core's runner and report the results it returns.
"""

from floe_dagster.asset import ASSET_KEY_PROPERTY, RUN_ID_PROPERTY, SourceAssets
from floe_dagster.definitions import build_definitions, build_source_definitions
from floe_dagster.failure import failure_for
from floe_dagster.maintenance import MAINTENANCE_JOB, MaintenanceDefinitions, build_maintenance_job
from floe_dagster.translator import GROUP, FloeAsset, FloeTranslator

__all__ = [
    "ASSET_KEY_PROPERTY",
    "GROUP",
    "MAINTENANCE_JOB",
    "RUN_ID_PROPERTY",
    "FloeAsset",
    "FloeTranslator",
    "MaintenanceDefinitions",
    "SourceAssets",
    "build_definitions",
    "build_maintenance_job",
    "build_source_definitions",
    "failure_for",
]
