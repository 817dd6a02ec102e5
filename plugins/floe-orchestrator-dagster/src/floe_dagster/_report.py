"""Materialization metadata and asset-check results of one loaded table.

Counts come from the plugin's :class:`~floe_core.TableResult`; snapshot, files added, location,
column schema and cursor from the Iceberg table (:mod:`floe_dagster._table`). Dagster's standard
keys (``dagster/row_count``, ``dagster/table_name``, ``dagster/column_schema``) are used where
they exist, so the UI shows them without custom code; floe's own start with ``floe/``.

Checks:

- ``rows_landed``: rows were written, or the source is incremental and its committed cursor
  says there was nothing new. An empty load without a cursor (a renamed table, a changed
  filter, a schema change that emptied the extract) fails instead of passing silently.
- ``no_rejected_rows``: a PARTIAL load materializes what landed, and this check fails with
  the rejected-row count.
- ``primary_key_unique`` (merge tables): no key value occurs twice, computed by reading only
  the key columns of the Iceberg table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from floe_core import ErrorCategory, IngestionConfig, IngestionResult, TableResult, WriteMode
from floe_dagster._table import TableFacts, duplicate_keys

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from floe_dagster.translator import FloeAsset

__all__ = ["CHECKS", "Loaded", "check_specs", "materialization"]

ROWS_LANDED = "rows_landed"
NO_REJECTED_ROWS = "no_rejected_rows"
PRIMARY_KEY_UNIQUE = "primary_key_unique"
CHECKS = (ROWS_LANDED, NO_REJECTED_ROWS, PRIMARY_KEY_UNIQUE)


@dataclass(frozen=True)
class Loaded:
    """One table's share of a load.

    Attributes:
        asset: The asset.
        config: The source config that was run.
        result: The whole load's result.
        table: The table's result (None: the plugin reported none for it).
        facts: The Iceberg table after the load (None: not in this catalog).
        attempt: Dagster's attempt (1-based).
        earlier_attempt: The table was committed by an earlier attempt of this run.
    """

    asset: FloeAsset
    config: IngestionConfig
    result: IngestionResult
    table: TableResult | None
    facts: TableFacts | None
    attempt: int
    earlier_attempt: bool = False


def check_specs(config: IngestionConfig, asset: FloeAsset) -> list[dg.AssetCheckSpec]:
    """Return the checks of one asset.

    Args:
        config: The source.
        asset: The asset.

    Returns:
        ``rows_landed``, ``no_rejected_rows`` and, for merge tables, ``primary_key_unique``.
    """
    specs = [
        dg.AssetCheckSpec(
            ROWS_LANDED,
            asset=asset.key,
            description="Rows were written, or the incremental cursor says nothing was new.",
        ),
        dg.AssetCheckSpec(
            NO_REJECTED_ROWS, asset=asset.key, description="The load rejected no source rows."
        ),
    ]
    if config.write_mode is WriteMode.MERGE:
        specs.append(
            dg.AssetCheckSpec(
                PRIMARY_KEY_UNIQUE,
                asset=asset.key,
                description="No primary-key value occurs twice in the Iceberg table.",
            )
        )
    return specs


def _rejected(loaded: Loaded) -> int:
    partial = [e for e in loaded.result.errors if e.category is ErrorCategory.PARTIAL]
    if not partial:
        return 0
    per_table = partial[0].details.get("rows_rejected")
    if isinstance(per_table, dict) and loaded.asset.table in per_table:
        return int(per_table[loaded.asset.table])
    return sum(e.failed_records or 0 for e in partial)


def _cursor(facts: TableFacts | None) -> str | None:
    if facts is None or not facts.cursors:
        return None
    values = [v for v in facts.cursors.values() if v is not None]
    if len(facts.cursors) == 1:
        return values[0] if values else None
    return ", ".join(f"{k}={v}" for k, v in facts.cursors.items())


def _metadata(loaded: Loaded) -> dict[str, Any]:
    table, facts = loaded.table, loaded.facts
    rows = table.rows_loaded if table is not None else 0
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "dagster/table_name": loaded.asset.table,
        "floe/bytes_written": dg.MetadataValue.int(table.bytes_written if table else 0),
        "floe/attempts": dg.MetadataValue.int(loaded.attempt),
        "floe/duration_seconds": dg.MetadataValue.float(round(loaded.result.duration_seconds, 3)),
        "floe/write_mode": loaded.config.write_mode.value,
    }
    window = loaded.config.window
    if window is not None:  # the slice this partition run replaced
        metadata["floe/window"] = (
            f"{window.column} in [{window.start.isoformat()}, {window.end.isoformat()})"
        )
    snapshot_id = table.snapshot_id if table is not None else None
    if facts is not None:
        committed = snapshot_id is not None and snapshot_id == facts.snapshot_id
        added = int(facts.summary.get("added-data-files", "0")) if committed else 0
        metadata.update(
            {
                "floe/snapshot_id": str(snapshot_id if snapshot_id is not None else "none"),
                "floe/data_files_added": dg.MetadataValue.int(added),
                "floe/table_location": facts.location,
                "floe/cursor": _cursor(facts) or dg.MetadataValue.null(),
                "dagster/column_schema": dg.MetadataValue.table_schema(
                    dg.TableSchema(
                        columns=[
                            dg.TableColumn(
                                name,
                                kind,
                                constraints=dg.TableColumnConstraints(nullable=not required),
                            )
                            for name, kind, required in facts.columns
                        ]
                    )
                ),
            }
        )
    elif snapshot_id is not None:
        metadata["floe/snapshot_id"] = str(snapshot_id)
    for key in ("job_id", "status", "attached"):  # an external plugin's sync facts
        if loaded.result.details.get(key) is not None:
            metadata[f"floe/{key}"] = str(loaded.result.details[key])
    rejected = _rejected(loaded)
    if rejected or loaded.result.error_category is ErrorCategory.PARTIAL:
        metadata["floe/rows_rejected"] = dg.MetadataValue.int(rejected)
    if loaded.earlier_attempt:
        metadata["floe/committed_by_earlier_attempt"] = True
    return metadata


def _key_columns(loaded: Loaded) -> list[str]:
    if loaded.facts is not None and loaded.facts.identifier_columns:
        return loaded.facts.identifier_columns
    if loaded.config.primary_key:
        return list(loaded.config.primary_key)
    table_details = loaded.result.details.get("tables", {}).get(loaded.asset.table, {})
    return [str(k) for k in table_details.get("primary_key", [])]


def _check_results(
    loaded: Loaded, catalog: Catalog | None, selected: set[dg.AssetCheckKey]
) -> list[dg.AssetCheckResult]:
    key = loaded.asset.key
    out: list[dg.AssetCheckResult] = []
    rows = loaded.table.rows_loaded if loaded.table is not None else 0
    cursor = _cursor(loaded.facts)
    if dg.AssetCheckKey(key, ROWS_LANDED) in selected:
        nothing_new = loaded.config.incremental is not None and cursor is not None
        out.append(
            dg.AssetCheckResult(
                check_name=ROWS_LANDED,
                asset_key=key,
                passed=rows > 0 or nothing_new or loaded.earlier_attempt,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"rows_loaded": rows, "cursor": cursor or dg.MetadataValue.null()},
                description=None
                if rows > 0
                else (
                    "no new rows past the cursor"
                    if nothing_new
                    else "0 rows loaded and no incremental cursor says why"
                ),
            )
        )
    if dg.AssetCheckKey(key, NO_REJECTED_ROWS) in selected:
        rejected = _rejected(loaded)
        out.append(
            dg.AssetCheckResult(
                check_name=NO_REJECTED_ROWS,
                asset_key=key,
                passed=rejected == 0,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"rows_rejected": rejected},
            )
        )
    if dg.AssetCheckKey(key, PRIMARY_KEY_UNIQUE) in selected:
        out.append(_key_check(loaded, catalog))
    return out


def _key_check(loaded: Loaded, catalog: Catalog | None) -> dg.AssetCheckResult:
    key = loaded.asset.key
    columns = _key_columns(loaded)
    if catalog is None or loaded.facts is None or not columns:
        why = "no key columns known" if not columns else "the table is not in this catalog"
        return dg.AssetCheckResult(
            check_name=PRIMARY_KEY_UNIQUE, asset_key=key, passed=False, description=why
        )
    rows, duplicated = duplicate_keys(catalog, loaded.asset.table, columns)
    return dg.AssetCheckResult(
        check_name=PRIMARY_KEY_UNIQUE,
        asset_key=key,
        passed=duplicated == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"key_columns": ", ".join(columns), "rows": rows, "duplicated_keys": duplicated},
    )


def materialization(
    loaded: Loaded, catalog: Catalog | None, selected: set[dg.AssetCheckKey]
) -> dg.MaterializeResult[Any]:
    """Return the MaterializeResult of one loaded table, its check results attached.

    Args:
        loaded: The table's share of the load.
        catalog: The catalog to read keys from (None: not readable).
        selected: The check keys selected in this run.

    Returns:
        The materialization.
    """
    return dg.MaterializeResult(
        asset_key=loaded.asset.key,
        metadata=_metadata(loaded),
        check_results=_check_results(loaded, catalog, selected),
    )
