"""A teaching example: the smallest honest :class:`~floe_core.IngestionPlugin`.

:class:`ReferencePlugin` passes the whole contract suite, so it shows what every rule asks for
in the fewest lines. It is **not** a real loader: its one source type, ``static``, takes the
rows to load from the source config itself, and "loading" appends them to tables the plugin keeps
in memory (:attr:`ReferencePlugin.tables`). Nothing is written to Iceberg, and every result says
so (``details["writes_to_iceberg"] is False``, no ``snapshot_id``).

What it demonstrates:

- ``create_pipeline`` validates the source config with a pydantic model and turns a bad config
  into a :class:`~floe_core.PipelineConfigurationError` that names the field and the fix, without
  echoing the input (it may hold a secret).
- ``run`` never raises: expected failures are :class:`~floe_core.IngestionError` subclasses with
  the right category, anything unexpected becomes ``INTERNAL_ERROR``; both come back as a failed
  :class:`~floe_core.IngestionResult`.
- secrets arrive through ``IngestionConfig.secrets`` and are read only with
  ``source_config_with_secrets()``; any text that leaves the plugin is redacted first.
- write modes (append, replace, merge on ``primary_key``), schema contracts and an incremental
  cursor, applied to the in-memory tables; a load commits all its rows or none.

A ``static`` source config::

    source_type: static
    source_config:
      rows: [{id: 1, name: ada}, {id: 2, name: grace}]
      fail_after: 1        # optional: simulate a source dropping the connection after 1 row
    secret_refs:
      token: env:STATIC_TOKEN   # optional: a stand-in for a real source's credential
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from typing_extensions import override

from floe_core import (
    CatalogConfig,
    ErrorCode,
    HealthState,
    HealthStatus,
    IngestionConfig,
    IngestionError,
    IngestionPipeline,
    IngestionPlugin,
    IngestionResult,
    PipelineConfigurationError,
    SchemaContract,
    SchemaContractViolation,
    SourceConnectionError,
    TableResult,
    WriteMode,
)
from floe_core.redact import mask_values

__all__ = ["ReferencePlugin", "ReferencePluginConfig", "StaticSourceConfig"]

Row = dict[str, Any]


class ReferencePluginConfig(BaseModel):
    """The reference plugin's own configuration (``plugins.ingestion.config``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rows: int = Field(
        default=10_000, ge=1, description="The most rows one static source may carry."
    )


class StaticSourceConfig(BaseModel):
    """``source_config`` of a ``static`` source: the rows themselves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: list[Row] = Field(description="The rows to load, each a JSON object.")
    fail_after: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Simulate a source that drops the connection after this many rows, to show how a "
            "failed load is reported. Nothing is committed."
        ),
    )
    token: SecretStr | None = Field(
        default=None,
        description=(
            "A stand-in for a real source's credential; give it with secret_refs. The static "
            "source sends it nowhere: it only shows how a plugin receives a secret."
        ),
    )


@dataclass
class _StaticPipeline(IngestionPipeline):
    """A validated static source: the rows to load, copied out of the config."""

    source: StaticSourceConfig = field(default_factory=lambda: StaticSourceConfig(rows=[]))


def _redact(text: str, config: IngestionConfig) -> str:
    """Replace every secret value of ``config`` in ``text`` with ``floe_core.redact.MASK``."""
    return mask_values(text, [secret.get_secret_value() for secret in config.secrets.values()])


def _describe(error: ValidationError) -> str:
    # Field paths and messages only: pydantic's str() would echo input values, secrets included.
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in error.errors()
    )


class ReferencePlugin(IngestionPlugin):
    """Teaching example: loads rows given in the config into in-memory tables, not Iceberg."""

    name = "reference"
    version = "0.1.0"
    floe_api_version = "1.0"
    is_external = False

    def __init__(
        self,
        config: Mapping[str, Any] | BaseModel | None = None,
        *,
        catalog: CatalogConfig | None = None,
    ) -> None:
        super().__init__(config, catalog=catalog)
        # Loaded rows by 'namespace.table': the reference plugin's whole "warehouse".
        self.tables: dict[str, list[Row]] = {}
        self._cursors: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._started = False

    @override
    def get_config_schema(self) -> type[BaseModel]:
        return ReferencePluginConfig

    @override
    def list_available_sources(self) -> list[str]:
        return ["static"]

    @override
    def startup(self) -> None:
        self._started = True

    @override
    def shutdown(self) -> None:
        self._started = False

    @override
    def health_check(self, timeout: float | None = None) -> HealthStatus:
        # Nothing to reach, so the check is instant and trivially within any timeout.
        if not self._started:
            return HealthStatus(HealthState.UNHEALTHY, "not started: call startup() first")
        return HealthStatus(
            HealthState.HEALTHY, "in-memory tables ready", {"tables": len(self.tables)}
        )

    @override
    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        return {
            "destination": "memory",
            "writes_to_iceberg": False,
            "catalog": {"name": catalog_config.name, "type": catalog_config.type},
        }

    @override
    def create_pipeline(self, config: IngestionConfig) -> IngestionPipeline:
        if config.source_type not in self.list_available_sources():
            raise PipelineConfigurationError(
                f"source_type {config.source_type!r} is not supported by plugin {self.name!r}; "
                f"use one of {self.list_available_sources()}",
                source=config.name,
            )
        if config.table is None:
            raise PipelineConfigurationError(
                f"destination_table {config.destination_table!r}: a static source yields one "
                "table; name it 'namespace.table'",
                source=config.name,
            )
        try:
            source = StaticSourceConfig.model_validate(config.source_config_with_secrets())
        except (ValidationError, ValueError) as exc:
            reason = _describe(exc) if isinstance(exc, ValidationError) else str(exc)
            raise PipelineConfigurationError(
                f"source_config of {config.name!r} is invalid: {_redact(reason, config)}",
                source=config.name,
            ) from None
        assert isinstance(self.config, ReferencePluginConfig)  # IngestionPlugin.__init__ made it
        limit = self.config.max_rows
        if len(source.rows) > limit:
            raise PipelineConfigurationError(
                f"source_config.rows of {config.name!r} has {len(source.rows)} rows; the "
                f"plugin's max_rows is {limit}",
                source=config.name,
            )
        for number, row in enumerate(source.rows):
            missing = [key for key in config.primary_key if key not in row]
            if missing:
                raise PipelineConfigurationError(
                    f"source_config.rows[{number}] of {config.name!r} lacks primary_key "
                    f"column(s) {missing}",
                    source=config.name,
                )
        if config.incremental is not None:
            cursor = config.incremental.cursor_field
            if any(cursor not in row for row in source.rows):
                raise PipelineConfigurationError(
                    f"incremental.cursor_field {cursor!r} is missing from some rows of "
                    f"{config.name!r}",
                    source=config.name,
                )
        return _StaticPipeline(config=config, source=source)

    @override
    def run(self, pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
        started = time.monotonic()
        config = getattr(pipeline, "config", None)
        if not isinstance(config, IngestionConfig):
            return IngestionResult(
                source="(unknown)",
                success=False,
                errors=[
                    PipelineConfigurationError(
                        f"run() takes what create_pipeline() returned, not {type(pipeline)!r}"
                    ).to_detail()
                ],
            )
        try:
            if not isinstance(pipeline, _StaticPipeline):
                raise PipelineConfigurationError(
                    f"run() takes what {self.name!r}.create_pipeline() returned, not "
                    f"{type(pipeline).__name__}"
                )
            if kwargs:
                raise PipelineConfigurationError(
                    f"run() of plugin {self.name!r} takes no options; got {sorted(kwargs)}"
                )
            table, rows = self._load(pipeline)
        except IngestionError as exc:
            exc.message = _redact(exc.message, config)
            return self.failure(config, exc, started=started)
        except Exception as exc:  # run never raises: anything unexpected is INTERNAL_ERROR
            error = IngestionError(
                f"unexpected {type(exc).__name__} in plugin {self.name!r}: "
                + _redact(str(exc), config),
                code=ErrorCode.INTERNAL_ERROR,
            )
            return self.failure(config, error, started=started)
        size = len(json.dumps(rows, default=str).encode()) if rows else 0
        return IngestionResult(
            source=config.name,
            success=True,
            rows_loaded=len(rows),
            bytes_written=size,
            tables=[
                TableResult(
                    table=table,
                    rows_loaded=len(rows),
                    bytes_written=size,
                    write_mode=config.write_mode,
                )
            ],
            duration_seconds=time.monotonic() - started,
            details={"destination": "memory", "writes_to_iceberg": False},
        )

    def _load(self, pipeline: _StaticPipeline) -> tuple[str, list[Row]]:
        """Stage the rows, then commit them all at once: a failure commits nothing."""
        config = pipeline.config
        table = config.destination_table
        rows = [dict(row) for row in pipeline.source.rows]
        if config.incremental is not None:
            rows = self._past_cursor(config, rows)
        fail_after = pipeline.source.fail_after
        if fail_after is not None and fail_after < len(rows):
            raise SourceConnectionError(
                f"static source of {config.name!r} dropped the connection after {fail_after} of "
                f"{len(rows)} rows (simulated by fail_after); nothing was committed",
                source=config.name,
            )
        with self._lock:
            existing = self.tables.get(table)
            if existing is not None and config.write_mode is not WriteMode.REPLACE:
                rows = self._apply_contract(config, existing, rows)
            if config.write_mode is WriteMode.REPLACE or existing is None:
                self.tables[table] = rows
            elif config.write_mode is WriteMode.APPEND:
                existing.extend(rows)
            else:
                self.tables[table] = _merge(existing, rows, config.primary_key)
            if config.incremental is not None and rows:
                self._cursors[config.name] = max(
                    row[config.incremental.cursor_field] for row in rows
                )
        return table, rows

    def _past_cursor(self, config: IngestionConfig, rows: list[Row]) -> list[Row]:
        assert config.incremental is not None
        cursor = config.incremental.cursor_field
        last = self._cursors.get(config.name, config.incremental.initial_value)
        if last is None:
            return rows
        try:
            return [row for row in rows if row[cursor] > last]
        except TypeError as exc:
            raise SchemaContractViolation(
                f"incremental cursor {cursor!r} of {config.name!r} cannot be compared with the "
                f"last value: {exc}",
                source=config.name,
            ) from exc

    @staticmethod
    def _apply_contract(config: IngestionConfig, existing: list[Row], rows: list[Row]) -> list[Row]:
        known = {key for row in existing for key in row}
        new = sorted({key for row in rows for key in row} - known)
        if not new or config.schema_contract is SchemaContract.EVOLVE:
            return rows
        if config.schema_contract is SchemaContract.FREEZE:
            raise SchemaContractViolation(
                f"rows of {config.name!r} bring new column(s) {new} but "
                f"{config.destination_table} has schema_contract 'freeze'; the table is unchanged",
                source=config.name,
            )
        if config.schema_contract is SchemaContract.DISCARD_VALUE:
            return [{k: v for k, v in row.items() if k in known} for row in rows]
        return [row for row in rows if not any(row.get(k) is not None for k in new)]


def _merge(existing: list[Row], rows: list[Row], key: tuple[str, ...]) -> list[Row]:
    """Upsert ``rows`` into ``existing`` on ``key``; the last row of a key wins."""
    merged = {tuple(row[k] for k in key): row for row in existing}
    for row in rows:
        merged[tuple(row[k] for k in key)] = row
    return list(merged.values())
