"""``filesystem``: files under a local folder or an ``s3://`` URL, one destination table.

The file listing and the readers are in :mod:`floe_ingestion_dlt.sources._file_reader` (its
docstring says how each format is read and which rows ``on_bad_rows: skip`` leaves out).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_ingestion_dlt._config import DltPluginConfig, SourceModel
from floe_ingestion_dlt._source import Extract, destination_for
from floe_ingestion_dlt._window import window_incremental
from floe_ingestion_dlt.sources._base import Built, SourceType
from floe_ingestion_dlt.sources._file_reader import (
    FILE_CURSOR,
    Rejected,
    check_folder,
    count_matches,
    fs_client,
    reader,
)

__all__ = ["FILESYSTEM", "S3_CREDENTIAL_FIELDS", "FilesystemSourceConfig"]

S3_CREDENTIAL_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "endpoint_url", "region_name")
"""The keys a filesystem source's ``credentials`` mapping takes (S3 and S3-compatible)."""


class FilesystemSourceConfig(SourceModel):
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


def build_file_extracts(
    config: IngestionConfig, source: FilesystemSourceConfig, plugin: DltPluginConfig
) -> Built:
    """Build the file listing → reader resource.

    Args:
        config: The source.
        source: Its validated filesystem config.
        plugin: The plugin settings (``batch_rows``: rows per Arrow batch).

    Returns:
        One extract.

    Raises:
        PipelineConfigurationError: SOURCE_NOT_FOUND when a local folder does not exist.
    """
    import dlt
    from dlt.sources.filesystem import filesystem

    check_folder(config, source)
    row_cursor = config.incremental.cursor_field if config.incremental else None
    listing_incremental = None
    if config.window is not None:  # the files modified within the window, no cursor state
        listing_incremental = window_incremental(config.window, FILE_CURSOR)
    elif config.write_mode != "replace":
        initial = None
        if row_cursor == FILE_CURSOR and config.incremental is not None:
            initial = config.incremental.initial_value
        listing_incremental = dlt.sources.incremental(FILE_CURSOR, initial_value=initial)
    fs = fs_client(config, source)
    matched = count_matches(config, source, fs)
    listing = filesystem(
        bucket_url=source.bucket_url,
        credentials=fs,
        file_glob=source.file_glob,
        incremental=listing_incremental,
    )
    details: dict[str, Any] = {"files_matched": matched}
    rejected = Rejected(details) if source.on_bad_rows == "skip" else None
    stamp = config.window.column if config.window is not None else None
    resource = listing | reader(config, source, plugin.batch_rows, rejected, stamp=stamp)
    if config.window is None and config.incremental is not None and row_cursor != FILE_CURSOR:
        resource.apply_hints(
            incremental=dlt.sources.incremental(
                config.incremental.cursor_field, initial_value=config.incremental.initial_value
            )
        )
    name = config.table or config.name
    return Built(
        [
            Extract(
                name=name,
                resource=resource,
                table=destination_for(config, name, 1),
                primary_key=config.primary_key,
                details=details,
            )
        ]
    )


def _check(config: IngestionConfig, source: FilesystemSourceConfig) -> None:
    """A filesystem source lands in one table: ``destination_table`` must name it."""
    if config.table is None:
        raise PipelineConfigurationError(
            f"source {config.name!r} (filesystem): destination_table must name one table "
            f"('{config.namespace}.<table>'), not '{config.destination_table}'",
            source=config.name,
            details={"field": "destination_table"},
        )


FILESYSTEM = SourceType(
    name="filesystem",
    model=FilesystemSourceConfig,
    check=_check,
    build=build_file_extracts,
    supports_window=True,
)
"""``source_type: filesystem``: no table of its own; its readers raise floe errors naming the
file, and what fsspec/s3fs raise are builtin OSErrors, judged by the plugin-wide table."""
