"""A teaching example: the smallest honest :class:`~floe_core.IngestionPlugin`.

:class:`ReferencePlugin` passes the whole contract suite, so it shows what every rule asks for
in the fewest lines. Its one source type, ``static``, takes the rows to load from the source
config itself; everything after that is real: the rows become an Arrow table and
:func:`floe_iceberg.write_table` commits them to the Iceberg catalog the plugin was given, one
snapshot per load, so results carry the real ``snapshot_id`` and data-file bytes.

What it demonstrates:

- ``create_pipeline`` validates the source config with a pydantic model and turns a bad config
  into a :class:`~floe_core.PipelineConfigurationError` that names the field and the fix, without
  echoing the input (it may hold a secret).
- ``run`` never raises: expected failures are :class:`~floe_core.IngestionError` subclasses with
  the right category, a lost commit race is a TRANSIENT ``COMMIT_CONFLICT``, anything unexpected
  becomes ``INTERNAL_ERROR``; all come back as a failed :class:`~floe_core.IngestionResult`.
- secrets arrive through ``IngestionConfig.secrets`` and are read only with
  ``source_config_with_secrets()``; any text that leaves the plugin is redacted first.
- the engine does the loading: write modes (append, replace, merge on ``primary_key``) and
  schema contracts are :class:`floe_iceberg.TableWrite` fields, and a load commits all its rows
  or none (``fail_after`` shows it: the source fails mid-stream and nothing lands).
- the incremental cursor lives in the table, not in the plugin: it is read with
  :func:`floe_iceberg.read_table_state` and committed in the same snapshot as the rows, so a
  fresh plugin (or machine) resumes where the last successful load stopped, and a re-run with
  nothing new commits nothing.

A ``static`` source config::

    source_type: static
    source_config:
      rows: [{id: 1, name: ada}, {id: 2, name: grace}]
      fail_after: 1        # optional: simulate a source dropping the connection after 1 row
    secret_refs:
      token: env:STATIC_TOKEN   # optional: a stand-in for a real source's credential
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from typing_extensions import override

from floe_core import (
    CatalogConfig,
    DestinationWriteError,
    ErrorCode,
    HealthState,
    HealthStatus,
    IngestionConfig,
    IngestionError,
    IngestionPipeline,
    IngestionPlugin,
    IngestionResult,
    PipelineConfigurationError,
    SchemaContractViolation,
    SourceConnectionError,
    TableResult,
)
from floe_core.redact import mask_values

if TYPE_CHECKING:
    import pyarrow as pa

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


def state_key(config: IngestionConfig) -> str:
    """Return the key under which a static source's cursor is committed in its table.

    Args:
        config: The source.

    Returns:
        ``floe.reference.<pipeline name>``.
    """
    return f"floe.reference.{config.name}"


def _translate(exc: Exception, plugin: str, config: IngestionConfig) -> IngestionError:
    """The error boundary: what floe_iceberg lets through becomes a categorised error."""
    from pyiceberg.exceptions import (
        CommitFailedException,
        TableAlreadyExistsError,
        ValidationException,
    )

    if isinstance(exc, CommitFailedException | ValidationException | TableAlreadyExistsError):
        return DestinationWriteError(
            f"a concurrent commit to {config.destination_table} won ({type(exc).__name__}); "
            "nothing was committed, re-run the load",
            code=ErrorCode.COMMIT_CONFLICT,
        )
    if isinstance(exc, OSError):
        return DestinationWriteError(
            f"storage of {config.destination_table} failed: " + _redact(str(exc), config),
            code=ErrorCode.DESTINATION_UNAVAILABLE,
        )
    return IngestionError(
        f"unexpected {type(exc).__name__} in plugin {plugin!r}: " + _redact(str(exc), config),
        code=ErrorCode.INTERNAL_ERROR,
    )


class ReferencePlugin(IngestionPlugin):
    """Teaching example: loads rows given in the config into Iceberg tables."""

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
        # All the plugin keeps between calls: tables, cursors and snapshots live in the catalog.
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
        # The source is the config itself; the one thing to reach is the catalog. The embedded
        # (SQLite) catalog answers locally; a plugin talking to servers passes `timeout` on.
        if not self._started:
            return HealthStatus(HealthState.UNHEALTHY, "not started: call startup() first")
        try:
            from floe_iceberg import load_catalog

            namespaces = load_catalog(self.catalog).list_namespaces()
        except Exception as exc:  # health_check never raises
            return HealthStatus(
                HealthState.UNHEALTHY,
                f"catalog {self.catalog.name!r} unreachable ({type(exc).__name__})",
            )
        return HealthStatus(
            HealthState.HEALTHY,
            f"catalog {self.catalog.name!r} answers",
            {"namespaces": len(namespaces)},
        )

    @override
    def get_destination_config(self, catalog_config: CatalogConfig) -> dict[str, Any]:
        from floe_iceberg import destination_settings

        return destination_settings(catalog_config)

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
        _arrow(source.rows, config)  # rows that do not form a table fail here, not in run()
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
            table, discarded = self._load(pipeline)
        except IngestionError as exc:
            exc.message = _redact(exc.message, config)
            return self.failure(config, exc, started=started)
        except Exception as exc:  # run never raises: translate at this one boundary
            return self.failure(config, _translate(exc, self.name, config), started=started)
        return IngestionResult(
            source=config.name,
            success=True,
            rows_loaded=table.rows_loaded,
            bytes_written=table.bytes_written,
            tables=[table],
            duration_seconds=time.monotonic() - started,
            details={"destination": "iceberg", "rows_discarded": discarded},
        )

    def _load(self, pipeline: _StaticPipeline) -> tuple[TableResult, int]:
        """Write the rows (past the cursor) in one commit: a failure commits nothing."""
        from floe_iceberg import TableWrite, load_catalog, read_table_state, write_table

        config = pipeline.config
        catalog = load_catalog(self.catalog)
        rows = pipeline.source.rows
        key = state_key(config)
        saved = read_table_state(catalog, config.destination_table, key)
        state: dict[str, Any] | None = None
        if config.incremental is not None:
            rows, state = _past_cursor(config, rows, saved.state)
        spec = TableWrite(
            table=config.destination_table,
            write_mode=config.write_mode,
            primary_key=config.primary_key,
            schema_contract=config.schema_contract,
            state_key=key,
            based_on=saved,  # the rows were chosen by that state: commit on that version only
        )
        batches = _batches(config, rows, pipeline.source.fail_after)
        committed = write_table(catalog, spec, batches, state=lambda: state)
        table = TableResult(
            table=config.destination_table,
            rows_loaded=committed.rows_loaded,
            bytes_written=committed.bytes_written,
            snapshot_id=committed.snapshot_id,
            write_mode=config.write_mode,
        )
        return table, committed.rows_discarded


def _arrow(rows: list[Row], config: IngestionConfig) -> pa.Table:
    import pyarrow as pa

    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise PipelineConfigurationError(
            f"source_config.rows of {config.name!r} do not form a table (a column's values "
            f"must share one type): {_redact(str(exc), config)}",
            source=config.name,
        ) from None


def _batches(config: IngestionConfig, rows: list[Row], fail_after: int | None) -> Iterator[Any]:
    """Yield the rows as Arrow; with ``fail_after``, fail mid-stream like a dropped source."""
    if fail_after is None or fail_after >= len(rows):
        if rows:
            yield _arrow(rows, config)
        return
    if fail_after:
        yield _arrow(rows[:fail_after], config)
    raise SourceConnectionError(
        f"static source of {config.name!r} dropped the connection after {fail_after} of "
        f"{len(rows)} rows (simulated by fail_after); nothing was committed",
        source=config.name,
    )


def _past_cursor(
    config: IngestionConfig, rows: list[Row], saved: dict[str, Any] | None
) -> tuple[list[Row], dict[str, Any] | None]:
    """Return the rows past the committed cursor, and the state to commit with them."""
    assert config.incremental is not None
    cursor = config.incremental.cursor_field
    last = saved["cursor"] if saved is not None else config.incremental.initial_value
    try:
        new = rows if last is None else [row for row in rows if row[cursor] > last]
    except TypeError as exc:
        raise SchemaContractViolation(
            f"incremental cursor {cursor!r} of {config.name!r} cannot be compared with the "
            f"last value: {exc}",
            source=config.name,
        ) from exc
    if not new:
        return [], saved  # the same state: write_table commits no snapshot for it
    return new, {"cursor": max(row[cursor] for row in new)}
