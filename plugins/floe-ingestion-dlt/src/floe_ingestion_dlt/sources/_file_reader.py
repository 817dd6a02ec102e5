"""``filesystem``: dlt's ``filesystem`` file listing piped into an Arrow reader.

Files are listed by dlt's ``filesystem`` resource (local folder, ``file://`` or ``s3://``) with an
incremental cursor on ``modification_date`` (so a file is loaded once; ``replace`` re-reads all
files). Each file is read with pyarrow: parquet in ``batch_rows`` record batches, csv with type
inference over the whole file (memory is bounded by the largest file, not by the folder), jsonl
as dicts converted by the JSON rule of :mod:`floe_ingestion_dlt._arrow`. A file that cannot be
parsed is a PERMANENT ``SOURCE_READ_FAILED`` naming the file. A glob that matches no file logs
the warning ``no_files_matched`` (the extract's ``details`` carry ``files_matched``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import structlog

from floe_core import (
    ErrorCategory,
    ErrorCode,
    IngestionConfig,
    PipelineConfigurationError,
    SourceConnectionError,
)

if TYPE_CHECKING:
    from floe_ingestion_dlt.sources.filesystem import FilesystemSourceConfig

__all__ = ["FILE_CURSOR", "check_folder", "count_matches", "fs_client", "local_folder", "reader"]

log = structlog.get_logger("floe_ingestion_dlt")

_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]*@")

FILE_CURSOR = "modification_date"
"""The file listing's cursor: a file is loaded when it is newer than the last loaded one."""


def local_folder(bucket_url: str) -> str | None:
    """Return the local folder of ``bucket_url``, or None for a remote URL.

    Args:
        bucket_url: A path, ``file://`` URL or remote URL.

    Returns:
        The folder path for local URLs.
    """
    if bucket_url.startswith("file://"):
        return bucket_url.removeprefix("file://")
    if "://" in bucket_url:
        return None
    return bucket_url


def fs_client(config: IngestionConfig, source: FilesystemSourceConfig) -> Any:
    if local_folder(source.bucket_url) is not None:
        import fsspec

        return fsspec.filesystem("file")
    if not source.bucket_url.startswith("s3://"):
        raise PipelineConfigurationError(
            f"source {config.name!r} (filesystem): bucket_url {source.bucket_url!r}: only local "
            "folders, file:// and s3:// URLs are supported",
            source=config.name,
            details={"field": "bucket_url"},
        )
    creds = dict(source.credentials or {})
    import s3fs

    client_kwargs: dict[str, Any] = {}
    if creds.get("region_name"):
        client_kwargs["region_name"] = creds["region_name"]
    return s3fs.S3FileSystem(
        key=creds.get("aws_access_key_id"),
        secret=creds.get("aws_secret_access_key"),
        endpoint_url=creds.get("endpoint_url"),
        client_kwargs=client_kwargs,
        skip_instance_cache=True,
    )


def check_folder(config: IngestionConfig, source: FilesystemSourceConfig) -> None:
    folder = local_folder(source.bucket_url)
    if folder is not None and not os.path.isdir(folder):
        raise PipelineConfigurationError(
            f"source {config.name!r} (filesystem): bucket_url {source.bucket_url!r} is not an "
            "existing folder",
            code=ErrorCode.SOURCE_NOT_FOUND,
            source=config.name,
            details={"field": "bucket_url"},
        )


class Rejected:
    """Rows ``on_bad_rows: skip`` left out, kept in the extract's details for the result."""

    def __init__(self, details: dict[str, Any]) -> None:
        self._details = details

    def add(self, file: str, where: int | None, reason: str) -> None:
        self._details["rows_rejected"] = self._details.get("rows_rejected", 0) + 1
        samples: list[dict[str, Any]] = self._details.setdefault("rejected_samples", [])
        if len(samples) < _REJECTED_SAMPLES:
            samples.append({"file": file, "line": where, "reason": reason[:200]})


_REJECTED_SAMPLES = 5
"""How many rejected rows the result describes (file, line, reason); all are counted."""


def reader(
    config: IngestionConfig,
    source: FilesystemSourceConfig,
    batch_rows: int,
    rejected: Rejected | None,
    *,
    stamp: str | None = None,
) -> Any:
    """Return the transformer reading each listed file into Arrow batches or JSON rows.

    Args:
        config: The source.
        source: Its validated filesystem config.
        batch_rows: Rows per batch.
        rejected: Where skipped bad rows are counted (``on_bad_rows: skip``), or None.
        stamp: A column to set on every row to its file's modification time (a windowed
            load's ``partitions.column``, which the window replace slices the table on).

    Returns:
        The dlt transformer.
    """
    import dlt
    import pyarrow as pa

    fmt = source.file_format
    delimiter = source.csv_delimiter

    @dlt.transformer(name=f"read_{fmt}")
    def read_files(items: list[Any]) -> Iterator[Any]:
        for file_obj in items:
            name = str(file_obj.get("relative_path") or file_obj.get("file_name"))
            try:
                with file_obj.open() as handle:
                    for item in _read(handle, fmt, delimiter, batch_rows, name, rejected):
                        yield item if stamp is None else _stamped(item, stamp, file_obj)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
                text = str(exc).strip().splitlines()
                raise SourceConnectionError(
                    f"source {config.name!r} (filesystem): cannot read {fmt} file {name!r}: "
                    f"{type(exc).__name__}: {text[0][:300] if text else ''}",
                    code=ErrorCode.SOURCE_READ_FAILED,
                    category=ErrorCategory.PERMANENT,
                    source=config.name,
                    details={"file": name, "format": fmt, "error_type": type(exc).__name__},
                ) from exc

    return read_files


def _stamped(item: Any, column: str, file_obj: Any) -> Any:
    """Set ``column`` of every row of a batch (Arrow or JSON rows) to the file's mtime."""
    import pyarrow as pa

    modified = file_obj["modification_date"]
    if isinstance(item, pa.RecordBatch):
        values = pa.array([modified] * item.num_rows, pa.timestamp("us", tz="UTC"))
        if column in item.schema.names:
            item = item.drop_columns([column])
        return item.append_column(column, values)
    for row in item:
        row[column] = modified
    return item


def count_matches(config: IngestionConfig, source: FilesystemSourceConfig, fs: Any) -> int:
    """Count the files the glob matches; warn ``no_files_matched`` when there are none."""
    from dlt.common.storages.fsspec_filesystem import glob_files

    matched = sum(1 for _ in glob_files(fs, source.bucket_url, source.file_glob))
    if matched == 0:
        log.warning(
            "no_files_matched",
            source=config.name,
            bucket_url=_URL_CREDENTIALS.sub(r"\1***@", source.bucket_url),
            file_glob=source.file_glob,
            files_matched=0,
        )
    return matched


def _read(
    handle: Any,
    fmt: str,
    delimiter: str,
    batch_rows: int,
    name: str,
    rejected: Rejected | None,
) -> Iterator[Any]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(handle).iter_batches(batch_size=batch_rows)
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        def skip(row: Any) -> str:
            assert rejected is not None
            reason = f"expected {row.expected_columns} fields, got {row.actual_columns}"
            rejected.add(name, row.number, reason)
            return "skip"

        options = pcsv.ParseOptions(
            delimiter=delimiter, invalid_row_handler=skip if rejected is not None else None
        )
        # pyarrow numbers the rows it hands to the handler only when it reads on one thread
        read = pcsv.ReadOptions(use_threads=rejected is None)
        table = pcsv.read_csv(handle, read_options=read, parse_options=options)
        yield from table.to_batches(max_chunksize=batch_rows)
    else:
        from floe_ingestion_dlt._arrow import loads_exact

        chunk: list[Any] = []
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if rejected is None:
                chunk.append(loads_exact(line))
            else:
                try:
                    chunk.append(loads_exact(line))
                except ValueError as exc:
                    rejected.add(name, number, f"not JSON: {exc}")
            if len(chunk) >= batch_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
