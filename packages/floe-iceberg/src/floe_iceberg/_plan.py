"""Phase one of a load: the :class:`LoadPlan`, what every worker writes against.

A plan records the table version the load starts from, the table's schema and location, the
write mode, key, contract and state key, and a fresh ``load_id``. It is a small JSON document
(:meth:`LoadPlan.to_json`), so the workers that write the load's files
(:func:`~floe_iceberg.distributed.write_files`) may run in other processes or on other machines,
and an orchestrator may pass it between steps. Planning writes nothing to the table: a table
that does not exist yet is only staged, for its location.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from floe_core import (
    ErrorCode,
    LoadWindow,
    MergeStrategy,
    PipelineConfigurationError,
    SchemaContract,
    WriteMode,
)
from floe_core.ingestion import merge_strategy_problem
from floe_iceberg._spec import TableWrite
from floe_iceberg.identifier import split_table_name
from floe_iceberg.state import StateRead, check_based_on

__all__ = ["NEW_TABLE_PROPERTIES", "LoadPlan", "ensure_namespace", "plan_load", "plan_with_table"]

NEW_TABLE_PROPERTIES = {
    # one metadata file per load would pile up forever; keep the last 100 (readers of older
    # snapshots are unaffected: snapshots live on until expire_snapshots)
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}
"""Properties of a table created by a load."""


@dataclass(frozen=True)
class LoadPlan:
    """One load of one table, planned against one table version.

    Attributes:
        load_id: Unique per load; recorded as ``floe.load-id`` in the committed snapshot and
            in the abandoned-files records of its workers.
        table: ``namespace.table``.
        write_mode: ``append``, ``replace`` or ``merge``.
        primary_key: The merge key.
        schema_contract: What new columns do to an existing table.
        state_key: Where the load's state is committed, or None.
        snapshot_properties: Extra snapshot summary properties.
        table_exists: Whether the table existed when the load was planned.
        snapshot_id: Its current snapshot then (None: no table, or no snapshot yet).
        location: The table's location (staged for a table the load will create).
        schema: The table's schema then (None for a new table).
        pinned: True when the commit must land on exactly this version (a load with state,
            or one based on a read version): it is never rebased onto a concurrent commit.
        required_columns: Columns the source declares NOT NULL (required fields of a table
            the load creates, see :mod:`._required`).
        replace_window: The slice the commit replaces (:attr:`TableWrite.replace_window`).
        partition_by: The partition spec (:attr:`TableWrite.partition_by`): workers write
            files split by it, the commit creates or evolves the table's spec.
        sort_by: The sort order (:attr:`TableWrite.sort_by`): workers sort each file by it,
            the commit sets it on the table.
        merge_strategy: How the commit replaces existing rows of a merge
            (:attr:`TableWrite.merge_strategy`).
    """

    load_id: str
    table: str
    write_mode: WriteMode
    primary_key: tuple[str, ...]
    schema_contract: SchemaContract
    state_key: str | None
    snapshot_properties: Mapping[str, str] = field(default_factory=dict)
    table_exists: bool = False
    snapshot_id: int | None = None
    location: str = ""
    schema: Schema | None = None
    pinned: bool = False
    required_columns: tuple[str, ...] = ()
    replace_window: LoadWindow | None = None
    partition_by: tuple[str, ...] = ()
    sort_by: tuple[str, ...] = ()
    merge_strategy: MergeStrategy = MergeStrategy.COPY_ON_WRITE

    @property
    def merging(self) -> bool:
        """Whether the load is a merge."""
        return self.write_mode is WriteMode.MERGE

    @property
    def merge_on_read(self) -> bool:
        """Whether the load is a merge that writes position delete files."""
        return self.merging and self.merge_strategy is MergeStrategy.MERGE_ON_READ

    @property
    def base(self) -> StateRead | None:
        """The version a pinned load must find (for :func:`~floe_iceberg.state.check_based_on`)."""
        if not self.pinned:
            return None
        return StateRead(state=None, table_exists=self.table_exists, snapshot_id=self.snapshot_id)

    def spec(self) -> TableWrite:
        """Return the load as a :class:`TableWrite` (``based_on`` set when pinned)."""
        return TableWrite(
            table=self.table,
            write_mode=self.write_mode,
            primary_key=self.primary_key,
            schema_contract=self.schema_contract,
            state_key=self.state_key,
            based_on=self.base if self.pinned else None,
            snapshot_properties=dict(self.snapshot_properties),
            required_columns=self.required_columns,
            replace_window=self.replace_window,
            partition_by=self.partition_by,
            sort_by=self.sort_by,
            merge_strategy=self.merge_strategy,
        )

    def to_json(self) -> str:
        """Serialise the plan.

        Returns:
            A small JSON document (:meth:`from_json` reads it).
        """
        value: dict[str, Any] = {
            "load_id": self.load_id,
            "table": self.table,
            "write_mode": self.write_mode.value,
            "primary_key": list(self.primary_key),
            "schema_contract": self.schema_contract.value,
            "state_key": self.state_key,
            "snapshot_properties": dict(self.snapshot_properties),
            "table_exists": self.table_exists,
            "snapshot_id": self.snapshot_id,
            "location": self.location,
            "schema": None if self.schema is None else self.schema.model_dump(mode="json"),
            "pinned": self.pinned,
            "required_columns": list(self.required_columns),
            "replace_window": (
                None if self.replace_window is None else self.replace_window.model_dump(mode="json")
            ),
            "partition_by": list(self.partition_by),
            "sort_by": list(self.sort_by),
            "merge_strategy": self.merge_strategy.value,
        }
        return json.dumps(value, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LoadPlan:
        """Read a plan written by :meth:`to_json`.

        Args:
            text: The JSON document.

        Returns:
            The plan.
        """
        value = json.loads(text)
        schema = value.pop("schema")
        window = value.pop("replace_window", None)
        return cls(
            **{
                **value,
                "write_mode": WriteMode(value["write_mode"]),
                "schema_contract": SchemaContract(value["schema_contract"]),
                "primary_key": tuple(value["primary_key"]),
                "required_columns": tuple(value.get("required_columns", ())),
                "schema": None if schema is None else Schema.model_validate(schema),
                "replace_window": None if window is None else LoadWindow.model_validate(window),
                "partition_by": tuple(value.get("partition_by", ())),
                "sort_by": tuple(value.get("sort_by", ())),
                "merge_strategy": MergeStrategy(
                    value.get("merge_strategy", MergeStrategy.COPY_ON_WRITE.value)
                ),
            }
        )


def ensure_namespace(catalog: Catalog, namespace: tuple[str, ...]) -> None:
    """Create a namespace unless it exists, also when a concurrent load creates it first.

    pyiceberg's SQL catalog checks, then inserts: two loads of one new namespace at once make
    the second fail on the catalog's unique key (an ``IntegrityError``) instead of finding it.

    Args:
        catalog: The Iceberg catalog.
        namespace: The namespace.

    Raises:
        Exception: The catalog's failure, raw, when the namespace still does not exist.
    """
    try:
        catalog.create_namespace_if_not_exists(namespace)
    except Exception:
        if not catalog.namespace_exists(namespace):
            raise


def _check_spec(spec: TableWrite) -> None:
    if spec.write_mode is WriteMode.MERGE and not spec.primary_key:
        raise PipelineConfigurationError(
            f"table {spec.table!r}: write_mode 'merge' needs primary_key",
            code=ErrorCode.INVALID_CONFIG,
            details={"field": "primary_key"},
        )
    if spec.merge_strategy is MergeStrategy.MERGE_ON_READ and spec.write_mode is not (
        WriteMode.MERGE
    ):
        raise PipelineConfigurationError(
            f"table {spec.table!r}: {merge_strategy_problem(spec.write_mode)}",
            code=ErrorCode.INVALID_CONFIG,
            details={"field": "merge_strategy"},
        )


def plan_with_table(catalog: Catalog, spec: TableWrite) -> tuple[LoadPlan, Table | None]:
    """Plan a load and return the table as it was found (the one-process path reuses it).

    Args:
        catalog: The Iceberg catalog.
        spec: The load.

    Returns:
        The plan and the loaded table (None when it does not exist).

    Raises:
        PipelineConfigurationError: See :func:`plan_load`.
        DestinationWriteError: See :func:`plan_load`.
    """
    identifier = split_table_name(spec.table)
    try:
        table: Table | None = catalog.load_table(identifier)
    except NoSuchTableError:
        table = None
    check_based_on(spec.based_on, spec.table, table)
    _check_spec(spec)
    if table is not None:
        snapshot = table.current_snapshot()
        location = table.location()
        schema: Schema | None = table.schema()
    else:
        snapshot = None
        ensure_namespace(catalog, identifier[:-1])
        staged = catalog.create_table_transaction(
            identifier, schema=Schema(), properties=dict(NEW_TABLE_PROPERTIES)
        )
        location = staged.table_metadata.location
        schema = None
    plan = LoadPlan(
        load_id=uuid.uuid4().hex,
        table=spec.table,
        write_mode=spec.write_mode,
        primary_key=tuple(spec.primary_key),
        schema_contract=spec.schema_contract,
        state_key=spec.state_key,
        snapshot_properties=dict(spec.snapshot_properties),
        table_exists=table is not None,
        snapshot_id=None if snapshot is None else snapshot.snapshot_id,
        location=location,
        schema=schema,
        pinned=spec.state_key is not None or spec.based_on is not None,
        required_columns=tuple(spec.required_columns),
        replace_window=spec.replace_window,
        partition_by=tuple(spec.partition_by),
        sort_by=tuple(spec.sort_by),
        merge_strategy=spec.merge_strategy,
    )
    return plan, table


def plan_load(catalog: Catalog, spec: TableWrite) -> LoadPlan:
    """Plan a load of one table: phase one of the two-phase write.

    Args:
        catalog: The Iceberg catalog.
        spec: The table, write mode, key, contract, state key and the version its state was
            read from.

    Returns:
        The plan, to hand to every worker and then to the commit.

    Raises:
        PipelineConfigurationError: A bad table name (DESTINATION_CONFIG_ERROR) or a merge
            without a primary key (INVALID_CONFIG).
        DestinationWriteError: COMMIT_CONFLICT when the table is not at ``spec.based_on``.
    """
    return plan_with_table(catalog, spec)[0]
