"""Iceberg position delete files: write one per data file, read the positions already deleted.

A position delete file (Iceberg spec, "Position Delete Files") is a Parquet file of rows
``(file_path, pos)``: ``file_path`` a string with field id 2147483546, ``pos`` a long with field
id 2147483545, sorted by file path, then position. floe writes one delete file per data file it
deletes rows from (file-scoped, what Iceberg Java writes by default since 1.8): the DataFile has
content POSITION_DELETES, the data file's partition and spec id, equal lower and upper bounds
of ``file_path``, which pyiceberg, Java, DuckDB and Trino read as "this data file only". The
spec's optional ``referenced_data_file`` (field 143) says the same; pyiceberg 0.12's v2 manifest
schema has no such field, so the bounds carry it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.conversions import to_bytes
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.types import LongType, StringType

from floe_iceberg._files import FileWriter

__all__ = ["FILE_PATH_ID", "POS_ID", "deleted_positions", "write_position_deletes"]

FILE_PATH_ID = 2147483546
"""Field id of ``file_path`` in a position delete file (Iceberg's reserved id)."""
POS_ID = 2147483545
"""Field id of ``pos`` in a position delete file (Iceberg's reserved id)."""

_SCHEMA = pa.schema(
    [
        pa.field(
            "file_path", pa.string(), nullable=False, metadata={"PARQUET:field_id": "2147483546"}
        ),
        pa.field("pos", pa.int64(), nullable=False, metadata={"PARQUET:field_id": "2147483545"}),
    ]
)


def write_position_deletes(
    writer: FileWriter,
    metadata: TableMetadata,
    io: FileIO,
    data_file: DataFile,
    positions: pa.Array,
) -> DataFile:
    """Write the position delete file that deletes ``positions`` of ``data_file``.

    Args:
        writer: The load's file writer (the path is recorded, so a failed load deletes it).
        metadata: The table metadata (location, properties).
        io: The table's FileIO.
        data_file: The committed data file the rows are in.
        positions: Row positions in that file (0-based, distinct), any order.

    Returns:
        The delete file's DataFile, ready for :func:`~floe_iceberg._pyiceberg.row_delta_producer`.
    """
    pos = pc.cast(positions, pa.int64())
    pos = pc.take(pos, pc.sort_indices(pos))
    n = len(pos)
    rows = pa.table([pa.array([data_file.file_path] * n, pa.string()), pos], schema=_SCHEMA)
    provider = load_location_provider(metadata.location, metadata.properties)
    path = provider.new_data_location(data_file_name=f"{uuid.uuid4()}-deletes.parquet")
    writer.track(path)
    buffer = pa.BufferOutputStream()
    pq.write_table(rows, buffer, compression="zstd")
    content = buffer.getvalue()
    parquet = pq.read_metadata(pa.BufferReader(content))
    sizes = {FILE_PATH_ID: 0, POS_ID: 0}
    for group in range(parquet.num_row_groups):
        row_group = parquet.row_group(group)
        sizes[FILE_PATH_ID] += row_group.column(0).total_compressed_size
        sizes[POS_ID] += row_group.column(1).total_compressed_size
    output = io.new_output(path)
    with output.create(overwrite=True) as stream:
        stream.write(content.to_pybytes())
    low, high = pc.min_max(pos).values()
    path_bytes = to_bytes(StringType(), data_file.file_path)
    delete_file = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=data_file.partition,
        record_count=n,
        file_size_in_bytes=len(content),
        column_sizes=sizes,
        value_counts={FILE_PATH_ID: n, POS_ID: n},
        null_value_counts={FILE_PATH_ID: 0, POS_ID: 0},
        nan_value_counts={},
        lower_bounds={FILE_PATH_ID: path_bytes, POS_ID: to_bytes(LongType(), low.as_py())},
        upper_bounds={FILE_PATH_ID: path_bytes, POS_ID: to_bytes(LongType(), high.as_py())},
        key_metadata=None,
        split_offsets=None,
        equality_ids=None,
        sort_order_id=None,
    )
    delete_file.spec_id = data_file.spec_id
    return delete_file


def deleted_positions(io: FileIO, delete_files: Iterable[DataFile], data_path: str) -> pa.Array:
    """Return the positions of ``data_path`` that position delete files already delete.

    Args:
        io: The table's FileIO.
        delete_files: Position delete files that may apply to the data file (a scan task's
            ``delete_files``; a partition-scoped one may name other files too).
        data_path: The data file's path, as the manifests hold it.

    Returns:
        The deleted positions (int64; may repeat when two delete files name one row).
    """
    parts: list[pa.Array] = []
    for delete_file in delete_files:
        if delete_file.content != DataFileContent.POSITION_DELETES:
            continue
        with io.new_input(delete_file.file_path).open() as stream:
            rows = pq.read_table(stream, columns=["file_path", "pos"])
        mine = rows.filter(pc.equal(rows["file_path"], data_path))
        parts.extend(pc.cast(mine["pos"], pa.int64()).chunks)
    if not parts:
        return pa.array([], pa.int64())
    return pa.concat_arrays(parts)
