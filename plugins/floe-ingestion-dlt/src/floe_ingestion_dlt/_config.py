"""Configuration: the plugin's own settings, the base of every source model, and validation.

Each source type's model lives with its source type (:mod:`floe_ingestion_dlt.sources`). Every
model forbids unknown fields, so a typo is caught by :func:`validate_source` when the pipeline
is created (never during a run) and reported as a :class:`~floe_core.PipelineConfigurationError`
that names the source, the field and the fix.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_core.config_errors import format_validation_error

__all__ = ["DltPluginConfig", "SourceModel", "SqlBackend", "validate_source"]

SqlBackend = Literal["auto", "pyarrow", "connectorx"]


class DltPluginConfig(BaseModel):
    """The ``plugins.ingestion.config`` section for the ``dlt`` plugin.

    dlt resources are iterated directly (no dlt pipeline, no ``~/.dlt`` state, no scratch
    folder): the Arrow batches go to floe's Iceberg writer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_rows: int = Field(
        default=50_000,
        ge=1,
        le=10_000_000,
        description="Rows per Arrow batch handed to the Iceberg writer (and SQL chunk size).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Worker processes for a source with 'parallel' (floe ingest --workers "
        "overrides it); 1 reads the parts one after another.",
    )
    sql_backend: SqlBackend = Field(
        default="auto",
        description="Default sql_database backend: 'auto' (connectorx for SQLite, PostgreSQL "
        "and MySQL/MariaDB, pyarrow for other databases), 'pyarrow' (SQLAlchemy cursor) or "
        "'connectorx' (streaming Rust reader; decimals restored from the reflected schema).",
    )


class SourceModel(BaseModel):
    """The base of every source type's config model: unknown fields rejected, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


SourceModelT = TypeVar("SourceModelT", bound=BaseModel)


def validate_source(config: IngestionConfig, model: type[SourceModelT]) -> SourceModelT:
    """Validate ``config.source_config``, with its resolved secrets, against a source's model.

    ``${VAR}`` is interpolated by floe-core when it reads ``floe.yaml`` (with ``$$`` as the
    escape), so it is not interpolated again here.

    Args:
        config: The source to load.
        model: The model of its source type.

    Returns:
        The validated per-source model (secrets in place; never log it).

    Raises:
        PipelineConfigurationError: A field is wrong, or a secret cannot be placed.
    """
    try:
        with_secrets = config.source_config_with_secrets()
    except ValueError as exc:
        raise PipelineConfigurationError(
            f"source {config.name!r}: {exc}", source=config.name
        ) from None
    try:
        return model.model_validate(with_secrets)
    except ValidationError as exc:
        problems = format_validation_error(exc, model)
        fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        raise PipelineConfigurationError(
            f"source {config.name!r} ({config.source_type}): {problems}",
            source=config.name,
            details={"fields": fields, "source_type": config.source_type},
        ) from None
