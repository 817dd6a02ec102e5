"""floe-orchestrator-dagster: every source of a floe.yaml as Dagster assets.

Public API::

    build_definitions(floe_yaml, manifest=None, ...) -> dagster.Definitions
    build_source_definitions(...) -> list[SourceAssets]     # the per-source pieces
    FloeTranslator                                           # keys, kinds, pools, subsets

Dagster stays out of floe-core and the ingestion plugins: the assets run any
``IngestionPlugin`` through floe-core's runner and report the results it returns.
"""

from floe_dagster.asset import ASSET_KEY_PROPERTY, RUN_ID_PROPERTY, SourceAssets
from floe_dagster.definitions import build_definitions, build_source_definitions
from floe_dagster.failure import failure_for
from floe_dagster.translator import GROUP, FloeAsset, FloeTranslator

__all__ = [
    "ASSET_KEY_PROPERTY",
    "GROUP",
    "RUN_ID_PROPERTY",
    "FloeAsset",
    "FloeTranslator",
    "SourceAssets",
    "build_definitions",
    "build_source_definitions",
    "failure_for",
]
