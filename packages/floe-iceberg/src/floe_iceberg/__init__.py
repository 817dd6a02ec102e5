"""The Iceberg write path of the dlt plugin: catalogs, atomic streaming writes, load state.

Public API::

    load_catalog(config) -> pyiceberg Catalog          # sql (embedded default) or rest
    destination_settings(config) -> dict               # what the plugin uses; no secrets
    write_table(catalog, TableWrite(...), batches, state=...) -> CommittedWrite
    read_state(catalog, "ns.table", state_key) -> dict | None
    read_table_state(catalog, "ns.table", state_key) -> StateRead   # state + table version

Type and JSON rules: :mod:`floe_iceberg.schema`. State storage:
:mod:`floe_iceberg.state`. Commit semantics: :mod:`floe_iceberg.writer`.
This package imports pyarrow and pyiceberg: import it where a load runs, not at plugin discovery.
"""

from floe_iceberg.catalog import destination_settings, load_catalog
from floe_iceberg.state import StateRead, read_state, read_table_state
from floe_iceberg.writer import (
    DEFAULT_TARGET_FILE_BYTES,
    CommittedWrite,
    TableWrite,
    write_table,
)

__all__ = [
    "DEFAULT_TARGET_FILE_BYTES",
    "CommittedWrite",
    "StateRead",
    "TableWrite",
    "destination_settings",
    "load_catalog",
    "read_state",
    "read_table_state",
    "write_table",
]
