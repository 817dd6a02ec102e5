"""What one worker of a load wrote: a :class:`FileSet`, small and JSON-serialisable.

A file set names its data files with everything the commit needs to add them without reading
them (path, size, row count, per-column sizes, counts and bounds), and the Iceberg schema, with
field ids, that the files were written with. The commit compares that schema with the one it
commits and rewrites a set's files only when their field ids disagree (two workers that each
found a different new column; see :mod:`floe_iceberg._settle`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.schema import Schema
from pyiceberg.typedef import Record

from floe_iceberg._files import WrittenFile

__all__ = ["FileSet", "data_file_from_dict", "data_file_to_dict"]

_COUNTS = ("column_sizes", "value_counts", "null_value_counts", "nan_value_counts")
_BOUNDS = ("lower_bounds", "upper_bounds")


def _value_to_json(value: Any) -> Any:
    """One partition value as JSON (tagged when JSON has no such type)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    raise TypeError(f"partition value {value!r} of type {type(value).__name__} is not supported")


def _value_from_json(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((kind, text),) = value.items()
    if kind == "bytes":
        return base64.b64decode(text)
    if kind == "decimal":
        return Decimal(text)
    if kind == "uuid":
        return uuid.UUID(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    return dt.date.fromisoformat(text)


def data_file_to_dict(data_file: DataFile) -> dict[str, Any]:
    """Describe a data file as JSON-able values (bounds as base64, partition values tagged).

    Args:
        data_file: A data file written by this package (no delete content).

    Returns:
        The description :func:`data_file_from_dict` turns back into the DataFile.
    """
    partition = data_file.partition if data_file.partition is not None else Record()
    out: dict[str, Any] = {
        "file_path": data_file.file_path,
        "file_format": data_file.file_format.value,
        "record_count": data_file.record_count,
        "file_size_in_bytes": data_file.file_size_in_bytes,
        "split_offsets": list(data_file.split_offsets or []) or None,
        "sort_order_id": data_file.sort_order_id,
        "spec_id": data_file.spec_id,
        "partition": [_value_to_json(partition[i]) for i in range(len(partition))],
    }
    for name in _COUNTS:
        value = getattr(data_file, name) or {}
        out[name] = {str(k): int(v) for k, v in value.items()}
    for name in _BOUNDS:
        value = getattr(data_file, name) or {}
        out[name] = {str(k): base64.b64encode(v).decode("ascii") for k, v in value.items()}
    return out


def data_file_from_dict(value: dict[str, Any]) -> DataFile:
    """Rebuild a DataFile from :func:`data_file_to_dict`'s description.

    Args:
        value: The description.

    Returns:
        The DataFile, ready to be appended by a snapshot producer.
    """
    extra: dict[str, Any] = {
        **{name: {int(k): int(v) for k, v in value[name].items()} for name in _COUNTS},
        **{name: {int(k): base64.b64decode(v) for k, v in value[name].items()} for name in _BOUNDS},
    }
    data_file = DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=value["file_path"],
        file_format=FileFormat(value["file_format"]),
        partition=Record(*(_value_from_json(v) for v in value.get("partition", ()))),
        record_count=value["record_count"],
        file_size_in_bytes=value["file_size_in_bytes"],
        split_offsets=value.get("split_offsets"),
        sort_order_id=value.get("sort_order_id"),
        spec_id=value.get("spec_id", 0),
        equality_ids=None,
        key_metadata=None,
        **extra,
    )
    data_file.spec_id = value.get("spec_id", 0)
    return data_file


@dataclass
class FileSet:
    """The files one worker wrote for a load, not yet committed.

    Attributes:
        load_id: The plan's ``load_id``.
        part: The worker's part number (files are committed in part order).
        files: The data files, in the order they were written.
        schema: The table schema (with field ids) the files were written with; None when the
            worker saw no typed column (it wrote nothing).
        rows: Rows written (after the worker's de-duplication of merge keys).
        discarded: Rows the worker dropped (``discard_row``, a duplicate key in one file,
            all-null rows for a table that has no schema yet).
        keys: The merge keys of each file, in memory only (a file set read back from JSON
            has none: the commit reads the key columns from the files instead).
    """

    load_id: str
    part: int
    files: list[WrittenFile]
    schema: Schema | None
    rows: int = 0
    discarded: int = 0
    keys: list[pa.Table] | None = field(default=None, compare=False, repr=False)

    @property
    def paths(self) -> list[str]:
        """The data files' locations."""
        return [w.data_file.file_path for w in self.files]

    def to_json(self) -> str:
        """Serialise the file set (without the in-memory keys).

        Returns:
            A small JSON document (a few hundred bytes per file).
        """
        return json.dumps(
            {
                "load_id": self.load_id,
                "part": self.part,
                "rows": self.rows,
                "discarded": self.discarded,
                "schema": None if self.schema is None else self.schema.model_dump(mode="json"),
                "files": [
                    {"rows": w.rows, "data_file": data_file_to_dict(w.data_file)}
                    for w in self.files
                ],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> FileSet:
        """Read a file set written by :meth:`to_json`.

        Args:
            text: The JSON document.

        Returns:
            The file set.
        """
        value = json.loads(text)
        schema = value["schema"]
        return cls(
            load_id=value["load_id"],
            part=int(value["part"]),
            files=[
                WrittenFile(data_file=data_file_from_dict(f["data_file"]), rows=int(f["rows"]))
                for f in value["files"]
            ],
            schema=None if schema is None else Schema.model_validate(schema),
            rows=int(value["rows"]),
            discarded=int(value["discarded"]),
        )
