"""floe-iceberg: the Iceberg engine of floe ingestion.

Arrow batches in, one atomic Iceberg commit per table per load out: catalogs, streaming Parquet
writes, type rules, schema contracts, merge, and load state stored in the snapshot summary.
No source or extraction framework is needed (or imported): any code that produces pyarrow
batches can load them.

Public API::

    load_catalog(config) -> pyiceberg Catalog          # sql (embedded default) or rest
    destination_settings(config) -> dict               # the catalog as settings; no secrets
    write_table(catalog, TableWrite(...), batches, state=...) -> CommittedWrite
    plan_load(catalog, TableWrite(...)) -> LoadPlan     # two-phase write (ADR-0027):
    write_files(catalog, plan, batches, part=n) -> FileSet   # in any process or machine
    commit_load(catalog, plan, file_sets, state=...) -> CommittedWrite   # one snapshot
    abandon_load(catalog, plan, file_sets, parts) -> [paths]  # a load that will not commit
    read_state(catalog, "ns.table", state_key) -> dict | None
    read_table_state(catalog, "ns.table", state_key) -> StateRead   # state + table version
    maintain_table(catalog, "ns.table", MaintenanceConfig(...)) -> TableMaintenance
    find_stray_files(catalog, "ns") -> [StrayFiles]    # files a killed first load left
    destination_tables(catalog, "ns.*") -> [str]       # the tables a destination names
    split_table_name("ns.table") -> ("ns", "table")    # the table-name rule
    is_identifier(part) / check_column_name(name)      # the identifier and column-name rules
    DETECTED_TIMESTAMP, TIMESTAMPTZ                     # constants a source plugin shares

Maintenance (compaction, expiry, orphans; ``floe maintain``): :mod:`floe_iceberg.maintenance`.
Type, drift and contract rules: :mod:`floe_iceberg.schema`. State storage:
:mod:`floe_iceberg.state`. Commit semantics: :mod:`floe_iceberg.writer`. Names:
:mod:`floe_iceberg.identifier`. pyiceberg privates relied on: :mod:`floe_iceberg._pyiceberg`.

Importing this package is cheap: a name's module (and pyiceberg with it) is imported the first
time the name is used, so a plugin may import the constants at discovery time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from floe_iceberg._constants import DETECTED_TIMESTAMP, TIMESTAMPTZ
    from floe_iceberg.catalog import destination_settings, load_catalog
    from floe_iceberg.distributed import (
        FileSet,
        LoadPlan,
        abandon_load,
        commit_load,
        plan_load,
        write_files,
    )
    from floe_iceberg.identifier import check_column_name, is_identifier, split_table_name
    from floe_iceberg.maintenance import (
        StrayFiles,
        TableMaintenance,
        destination_tables,
        find_stray_files,
        maintain_table,
        maintenance_error,
    )
    from floe_iceberg.state import StateRead, read_state, read_table_state
    from floe_iceberg.writer import (
        DEFAULT_TARGET_FILE_BYTES,
        CommittedWrite,
        TableWrite,
        write_table,
    )

__all__ = [
    "DEFAULT_TARGET_FILE_BYTES",
    "DETECTED_TIMESTAMP",
    "TIMESTAMPTZ",
    "CommittedWrite",
    "FileSet",
    "LoadPlan",
    "StateRead",
    "StrayFiles",
    "TableMaintenance",
    "TableWrite",
    "abandon_load",
    "check_column_name",
    "commit_load",
    "destination_settings",
    "destination_tables",
    "find_stray_files",
    "is_identifier",
    "load_catalog",
    "maintain_table",
    "maintenance_error",
    "plan_load",
    "read_state",
    "read_table_state",
    "split_table_name",
    "write_files",
    "write_table",
]

_LAZY = {
    "DEFAULT_TARGET_FILE_BYTES": "floe_iceberg.writer",
    "DETECTED_TIMESTAMP": "floe_iceberg._constants",
    "TIMESTAMPTZ": "floe_iceberg._constants",
    "CommittedWrite": "floe_iceberg.writer",
    "FileSet": "floe_iceberg.distributed",
    "LoadPlan": "floe_iceberg.distributed",
    "abandon_load": "floe_iceberg.distributed",
    "commit_load": "floe_iceberg.distributed",
    "plan_load": "floe_iceberg.distributed",
    "write_files": "floe_iceberg.distributed",
    "StateRead": "floe_iceberg.state",
    "StrayFiles": "floe_iceberg.maintenance",
    "TableMaintenance": "floe_iceberg.maintenance",
    "TableWrite": "floe_iceberg.writer",
    "check_column_name": "floe_iceberg.identifier",
    "destination_settings": "floe_iceberg.catalog",
    "find_stray_files": "floe_iceberg.maintenance",
    "maintain_table": "floe_iceberg.maintenance",
    "maintenance_error": "floe_iceberg.maintenance",
    "destination_tables": "floe_iceberg.maintenance",
    "is_identifier": "floe_iceberg.identifier",
    "load_catalog": "floe_iceberg.catalog",
    "read_state": "floe_iceberg.state",
    "read_table_state": "floe_iceberg.state",
    "split_table_name": "floe_iceberg.identifier",
    "write_table": "floe_iceberg.writer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'floe_iceberg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
