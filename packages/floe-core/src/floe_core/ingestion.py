"""What a plugin is asked to load (IngestionConfig) and what it reports (IngestionResult)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from floe_core.errors import ErrorCategory, ErrorDetail
from floe_core.layout import (
    PARTITION_TRANSFORMS,
    PartitionField,
    SortField,
    parse_partition_field,
    parse_sort_field,
)
from floe_core.secret import SecretRef

__all__ = [
    "IDENTIFIER",
    "PARTITION_TRANSFORMS",
    "IncrementalConfig",
    "IngestionConfig",
    "IngestionResult",
    "LoadWindow",
    "MergeStrategy",
    "PartitionField",
    "SchemaContract",
    "SortField",
    "TableResult",
    "WriteMode",
    "merge_strategy_problem",
    "parse_partition_field",
    "parse_sort_field",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
"""One part of a table name: letters, digits and '_', not starting with '_' (floe-iceberg too)."""


class WriteMode(StrEnum):
    """How a load changes the destination table (dlt's write dispositions)."""

    APPEND = "append"
    REPLACE = "replace"
    MERGE = "merge"


class MergeStrategy(StrEnum):
    """How ``merge`` replaces the existing rows of incoming keys (ADR-0028).

    - ``copy_on_write``: rewrite every data file that holds an incoming key, without those rows.
    - ``merge_on_read``: leave existing data files alone and write Iceberg position delete
      files for the replaced rows (readers apply them); a format-version 2 table.
    """

    COPY_ON_WRITE = "copy_on_write"
    MERGE_ON_READ = "merge_on_read"


class SchemaContract(StrEnum):
    """What happens when data brings columns the table does not have (dlt's contract modes).

    - ``evolve``: add the columns.
    - ``freeze``: fail with a PERMANENT SchemaContractViolation; the table is unchanged.
    - ``discard_value``: load the row without the new columns' values.
    - ``discard_row``: drop rows that carry a value in a new column.
    """

    EVOLVE = "evolve"
    FREEZE = "freeze"
    DISCARD_VALUE = "discard_value"
    DISCARD_ROW = "discard_row"


class IncrementalConfig(BaseModel):
    """Load only rows whose cursor is past the last loaded value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cursor_field: str = Field(description="Column (or JSON path, for REST) holding the cursor.")
    initial_value: Any = Field(
        default=None, description="Where the first run starts; None loads everything."
    )


class LoadWindow(BaseModel):
    """One time slice of a partitioned source: rows whose ``column`` lies in [start, end).

    A windowed load reads exactly those source rows and replaces exactly that slice of the
    destination table in one snapshot (rows of other windows untouched), so re-running a
    window is idempotent. It neither reads nor advances the incremental cursor state.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1, description="The source column the window slices on.")
    start: datetime = Field(description="Inclusive start (timezone-aware; naive means UTC).")
    end: datetime = Field(description="Exclusive end (timezone-aware; naive means UTC).")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _ordered(self) -> LoadWindow:
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} is not after its start {self.start}")
        return self


def merge_strategy_problem(write_mode: WriteMode) -> str:
    """Say why ``merge_on_read`` does not go with a write mode other than ``merge``.

    Args:
        write_mode: The configured write mode.

    Returns:
        The message (one rule for IngestionConfig and floe.yaml).
    """
    return (
        f"merge_strategy 'merge_on_read' applies to write_mode 'merge' only, not "
        f"{write_mode.value!r}: append and replace write no delete files (remove the "
        "merge_strategy or use merge)"
    )


class IngestionConfig(BaseModel):
    """One source to load into one destination (or one namespace, for multi-resource sources).

    ``destination_table`` is ``namespace.table``. A source that yields several resources (several
    SQL tables, several REST endpoints) takes ``namespace.*``: each resource lands in a table
    named after it.

    ``secret_refs`` maps a dotted path inside ``source_config`` (``credentials.password``) to where
    the secret lives; the runner resolves them into ``secrets`` and only
    :meth:`source_config_with_secrets` puts plain values where the plugin needs them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Pipeline (source) name, unique within floe.yaml.")
    source_type: str = Field(description="A type from the plugin's list_available_sources().")
    source_config: dict[str, Any] = Field(default_factory=dict)
    destination_table: str = Field(description="'namespace.table', or 'namespace.*'.")
    write_mode: WriteMode = WriteMode.APPEND
    primary_key: tuple[str, ...] = ()
    merge_strategy: MergeStrategy = Field(
        default=MergeStrategy.COPY_ON_WRITE,
        description="How 'merge' replaces existing rows: copy_on_write (rewrite their files) "
        "or merge_on_read (position delete files); merge_on_read needs write_mode 'merge'.",
    )
    schema_contract: SchemaContract = SchemaContract.EVOLVE
    incremental: IncrementalConfig | None = None
    window: LoadWindow | None = Field(
        default=None,
        description="Load only this time slice and replace only it (a partition run); the "
        "plugin must support windows for the source type (IngestionPlugin.supports_window).",
    )
    secret_refs: dict[str, SecretRef] = Field(default_factory=dict)
    secrets: dict[str, SecretStr] = Field(default_factory=dict, exclude=True, repr=False)
    snapshot_properties: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Extra properties a plugin that writes Iceberg records in the summary of every "
            "snapshot this load commits (e.g. an orchestrator's run id). Keys starting with "
            "'floe.' are reserved for the write path's own."
        ),
    )
    partition_by: tuple[str, ...] = Field(
        default=(),
        description=(
            "Iceberg partition transforms: a column name (identity), year(c), month(c), day(c), "
            "hour(c), bucket(N, c) or truncate(W, c)."
        ),
    )

    sort_by: tuple[str, ...] = Field(
        default=(),
        description="The table's sort order: 'column [asc|desc] [nulls first|nulls last]'.",
    )

    @field_validator("sort_by")
    @classmethod
    def _check_sort_by(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        fields = [parse_sort_field(text) for text in value]
        columns = [f.column for f in fields]
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            raise ValueError(f"column {twice[0]!r} is listed twice")
        return tuple(f.text for f in fields)

    @field_validator("partition_by")
    @classmethod
    def _check_partition_by(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        fields = [parse_partition_field(text) for text in value]
        seen: set[tuple[str, str]] = set()
        for parsed in fields:
            key = (parsed.transform, parsed.column)
            if key in seen:
                raise ValueError(f"{parsed.text!r} is listed twice")
            seen.add(key)
        return tuple(f.text for f in fields)

    @model_validator(mode="after")
    def _check_merge_strategy(self) -> IngestionConfig:
        if self.merge_strategy is MergeStrategy.MERGE_ON_READ and self.write_mode is not (
            WriteMode.MERGE
        ):
            raise ValueError(merge_strategy_problem(self.write_mode))
        return self

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid name: use letters, digits, '_', '-' or '.', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("snapshot_properties")
    @classmethod
    def _check_snapshot_properties(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in value if k.startswith("floe."))
        if reserved:
            raise ValueError(f"snapshot property keys {reserved} use the reserved prefix 'floe.'")
        return value

    @field_validator("primary_key", "sort_by", "partition_by", mode="before")
    @classmethod
    def _one_item_is_a_list(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("destination_table")
    @classmethod
    def _check_table(cls, value: str) -> str:
        namespace, sep, table = value.rpartition(".")
        if not sep or not namespace or not table:
            raise ValueError(
                f"{value!r} must be 'namespace.table' (or 'namespace.*' for one table per resource)"
            )
        parts = [*namespace.split("."), table]
        bad = [p for p in parts if p != "*" and not IDENTIFIER.match(p)]
        if bad or "*" in parts[:-1]:
            raise ValueError(
                f"{value!r}: each part must be letters, digits and '_' and not start with '_'"
            )
        return value

    @property
    def namespace(self) -> str:
        """The destination namespace (everything before the last dot)."""
        return self.destination_table.rpartition(".")[0]

    @property
    def table(self) -> str | None:
        """The destination table name, or None for ``namespace.*``."""
        table = self.destination_table.rpartition(".")[2]
        return None if table == "*" else table

    def source_config_with_secrets(self) -> dict[str, Any]:
        """Return a deep copy of ``source_config`` with resolved secrets at their dotted paths.

        Only a plugin should call this, right where it builds its client; never log the result.
        """
        config = copy.deepcopy(self.source_config)
        for path, value in self.secrets.items():
            node: dict[str, Any] = config
            *parents, leaf = path.split(".")
            for part in parents:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ValueError(f"secret path {path!r} crosses non-mapping field {part!r}")
                node = child
            node[leaf] = value.get_secret_value()
        return config


class TableResult(BaseModel):
    """What one load did to one destination table."""

    model_config = ConfigDict(extra="forbid")

    table: str = Field(description="'namespace.table'")
    rows_loaded: int = Field(default=0, ge=0)
    bytes_written: int = Field(default=0, ge=0)
    snapshot_id: int | None = Field(default=None, description="The committed snapshot, if any.")
    write_mode: WriteMode | None = None


class IngestionResult(BaseModel):
    """The outcome of one ``IngestionPlugin.run``: success, counts, tables and errors."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The pipeline (source) name.")
    success: bool
    rows_loaded: int = Field(default=0, ge=0)
    bytes_written: int = Field(default=0, ge=0)
    tables: list[TableResult] = Field(default_factory=list)
    duration_seconds: float = Field(default=0.0, ge=0)
    errors: list[ErrorDetail] = Field(default_factory=list)
    attempts: int = Field(default=1, ge=1)
    details: dict[str, Any] = Field(
        default_factory=dict, description="Plugin-specific facts: job id, final status, cursor."
    )

    @property
    def error_category(self) -> ErrorCategory | None:
        """The category of the first error, or None when there is none."""
        return self.errors[0].category if self.errors else None

    @property
    def retryable(self) -> bool:
        """True when the load failed and every error says a retry may succeed."""
        return (not self.success) and bool(self.errors) and all(e.retryable for e in self.errors)
