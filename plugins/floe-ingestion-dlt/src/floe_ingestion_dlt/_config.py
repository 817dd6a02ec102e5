"""Configuration models: the plugin's own settings and one model per source type.

Every model forbids unknown fields, so a typo is caught by :func:`parse_source_config` when the
pipeline is created (never during a run) and reported as a
:class:`~floe_core.PipelineConfigurationError` that names the source, the field and the fix.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from floe_core import IngestionConfig, PipelineConfigurationError

__all__ = [
    "SOURCE_TYPES",
    "DltPluginConfig",
    "FilesystemSourceConfig",
    "RestApiSourceConfig",
    "SqlDatabaseSourceConfig",
    "parse_source_config",
]

S3_CREDENTIAL_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "endpoint_url", "region_name")
"""The keys a filesystem source's ``credentials`` mapping takes (S3 and S3-compatible)."""

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
    sql_backend: SqlBackend = Field(
        default="auto",
        description="Default sql_database backend: 'auto' (connectorx for SQLite, PostgreSQL "
        "and MySQL/MariaDB, pyarrow for other databases), 'pyarrow' (SQLAlchemy cursor) or "
        "'connectorx' (streaming Rust reader; decimals restored from the reflected schema).",
    )


class _SourceModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlDatabaseSourceConfig(_SourceModel):
    """``source_type: sql_database``: tables of a database reachable through SQLAlchemy."""

    connection_string: str | None = Field(
        default=None,
        description="SQLAlchemy URL; put the password in a secret ref or ${VAR}, never inline.",
    )
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="drivername, host, port, username, password (secret ref), database, query.",
    )
    schema_: str | None = Field(default=None, alias="schema", description="Database schema.")
    tables: list[str] | None = Field(default=None, description="Tables to load; omitted: all.")
    chunk_size: int | None = Field(default=None, ge=1, description="Rows per extracted chunk.")
    backend: SqlBackend | None = Field(
        default=None, description="'auto', 'pyarrow' or 'connectorx' (default: the plugin's)."
    )
    reflection_level: Literal["minimal", "full", "full_with_precision"] = Field(
        default="full_with_precision",
        description="How much of the column types to reflect; the default keeps decimal "
        "precision/scale and text lengths.",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_way_to_connect(self) -> SqlDatabaseSourceConfig:
        if (self.connection_string is None) == (self.credentials is None):
            raise ValueError("give exactly one of 'connection_string' or 'credentials'")
        if self.tables is not None and not self.tables:
            raise ValueError("'tables' is empty: list tables, or omit it to load all tables")
        return self


class RestApiSourceConfig(_SourceModel):
    """``source_type: rest_api``: dlt's REST API source configuration, as plain YAML.

    ``client`` and ``resources`` follow dlt's ``RESTAPIConfig`` exactly; dlt validates their
    inner structure (paginators, auth, endpoints) when the pipeline is created.
    """

    client: dict[str, Any] = Field(description="base_url, headers, auth, paginator.")
    resources: list[str | dict[str, Any]] = Field(min_length=1, description="The endpoints.")
    resource_defaults: dict[str, Any] | None = Field(default=None)
    request_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Timeout of each HTTP request (connect and read). Each request is tried "
        "once; floe's runner retries the load by its retry policy.",
    )

    @field_validator("client")
    @classmethod
    def _base_url_is_http(cls, client: dict[str, Any]) -> dict[str, Any]:
        base_url = client.get("base_url")
        if "base_url" in client and not (
            isinstance(base_url, str) and base_url.startswith(("http://", "https://"))
        ):
            # the value is not echoed: it may come from a secret ref
            raise ValueError(
                "client.base_url must start with http:// or https:// "
                "(e.g. 'https://api.example.com/v1/')"
            )
        return client


class FilesystemSourceConfig(_SourceModel):
    """``source_type: filesystem``: files under a local folder or an ``s3://`` URL."""

    bucket_url: str = Field(description="A local folder, file:// or s3:// URL.")
    file_glob: str = Field(default="*", description="Glob relative to bucket_url, e.g. '**/*.csv'.")
    format: Literal["csv", "jsonl", "parquet"] | None = Field(
        default=None, description="File format; inferred from file_glob's extension if omitted."
    )
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="s3: aws_access_key_id, aws_secret_access_key (secret refs), endpoint_url, "
        "region_name.",
    )
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    on_bad_rows: Literal["fail", "skip"] = Field(
        default="fail",
        description="A CSV row with the wrong number of fields or a JSONL line that is not "
        "JSON: 'fail' the load (nothing lands), or 'skip' it, load the rest and report the load "
        "PARTIAL with the rows rejected.",
    )

    @model_validator(mode="after")
    def _format_known(self) -> FilesystemSourceConfig:
        if "://" in self.bucket_url and not self.bucket_url.startswith(("file://", "s3://")):
            raise ValueError(
                f"bucket_url {self.bucket_url!r}: use a local folder, a file:// or an s3:// URL"
            )
        unknown = sorted(set(self.credentials or {}) - set(S3_CREDENTIAL_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown credentials field(s) {unknown}; allowed: "
                + ", ".join(S3_CREDENTIAL_FIELDS)
            )
        if self.format is None and _format_from_glob(self.file_glob) is None:
            raise ValueError(
                f"cannot infer the file format from file_glob {self.file_glob!r}: "
                "set format: csv, jsonl or parquet"
            )
        return self

    @property
    def file_format(self) -> Literal["csv", "jsonl", "parquet"]:
        """The configured or inferred file format."""
        found = self.format or _format_from_glob(self.file_glob)
        assert found is not None
        return found


def _format_from_glob(glob: str) -> Literal["csv", "jsonl", "parquet"] | None:
    lowered = glob.lower()
    for suffix, fmt in (
        (".csv", "csv"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".parquet", "parquet"),
        (".pq", "parquet"),
    ):
        if lowered.endswith(suffix):
            return fmt  # type: ignore[return-value]
    return None


_MODELS: dict[str, type[_SourceModel]] = {
    "filesystem": FilesystemSourceConfig,
    "rest_api": RestApiSourceConfig,
    "sql_database": SqlDatabaseSourceConfig,
}

SOURCE_TYPES: tuple[str, ...] = tuple(sorted(_MODELS))
"""The source types this plugin implements."""


def _fields_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _describe(err: Any, model: type[BaseModel]) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    if err["type"] == "extra_forbidden":
        field = str(err["loc"][-1])
        if len(err["loc"]) == 1:
            allowed = _fields_of(model)
            close = difflib.get_close_matches(field, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return f"unknown field {field!r}: {hint}allowed fields are {', '.join(allowed)}"
        return f"unknown field {loc!r}"
    if err["type"] == "missing":
        return f"field {loc!r} is required"
    return f"field {loc!r}: {err['msg']}"


def parse_source_config(config: IngestionConfig) -> _SourceModel:
    """Validate ``config.source_config``, with its resolved secrets, for its source type.

    ``${VAR}`` is interpolated by floe-core when it reads ``floe.yaml`` (with ``$$`` as the
    escape), so it is not interpolated again here.

    Args:
        config: The source to load.

    Returns:
        The validated per-source model (secrets in place; never log it).

    Raises:
        PipelineConfigurationError: The source type is unknown, or a field is wrong.
    """
    model = _MODELS.get(config.source_type)
    if model is None:
        close = difflib.get_close_matches(config.source_type, SOURCE_TYPES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PipelineConfigurationError(
            f"source {config.name!r}: source_type {config.source_type!r} is not implemented by "
            f"the dlt plugin{hint}; use one of {', '.join(SOURCE_TYPES)}",
            source=config.name,
            details={"field": "source_type", "allowed": list(SOURCE_TYPES)},
        )
    try:
        with_secrets = config.source_config_with_secrets()
    except ValueError as exc:
        raise PipelineConfigurationError(
            f"source {config.name!r}: {exc}", source=config.name
        ) from None
    try:
        return model.model_validate(with_secrets)
    except ValidationError as exc:
        problems = "; ".join(_describe(e, model) for e in exc.errors())
        fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        raise PipelineConfigurationError(
            f"source {config.name!r} ({config.source_type}): {problems}",
            source=config.name,
            details={"fields": fields, "source_type": config.source_type},
        ) from None
