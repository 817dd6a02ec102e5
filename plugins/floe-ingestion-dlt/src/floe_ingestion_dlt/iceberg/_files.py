"""Write Parquet data files for a table in the background, bounded in memory."""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import structlog
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import write_file
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import WriteTask
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata

log = structlog.get_logger(__name__)


@dataclass
class WrittenFile:
    """A data file this load wrote (not yet committed).

    Attributes:
        data_file: The Iceberg DataFile.
        rows: Its row count.
    """

    data_file: DataFile
    rows: int


class FileWriter:
    """Writes data files on worker threads; at most ``max_in_flight`` chunks wait in memory.

    Every path a task may create is recorded before the task starts, so :meth:`discard` can
    delete what a failed load left behind, even a half-written file.

    Args:
        io: The table's FileIO.
        max_in_flight: Chunks being written at once (each holds its batches until written).
    """

    def __init__(self, io: FileIO, *, max_in_flight: int = 2) -> None:
        self._io = io
        self._uuid = uuid.uuid4()
        self._counter = itertools.count(0)
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="floe-write")
        self._max_in_flight = max_in_flight
        self._pending: deque[Future[WrittenFile]] = deque()
        self.paths: list[str] = []

    def submit(self, metadata: TableMetadata, batches: list[pa.RecordBatch]) -> Future[WrittenFile]:
        """Start writing one data file from ``batches`` (all with the table's Arrow schema).

        Blocks while more than ``max_in_flight`` files are being written.

        Args:
            metadata: The table metadata (schema, location, properties) to write against.
            batches: The rows of the file.

        Returns:
            The pending file; ``result()`` raises the write's failure.
        """
        schema: Schema = metadata.schema()
        task = WriteTask(
            write_uuid=self._uuid,
            task_id=next(self._counter),
            schema=schema,
            record_batches=batches,
        )
        provider = load_location_provider(metadata.location, metadata.properties)
        self.paths.append(
            provider.new_data_location(data_file_name=task.generate_data_file_filename("parquet"))
        )
        rows = sum(b.num_rows for b in batches)
        future = self._pool.submit(self._write, metadata, task, rows)
        self._pending.append(future)
        while len(self._pending) > self._max_in_flight:
            self._pending.popleft().result()
        return future

    def _write(self, metadata: TableMetadata, task: WriteTask, rows: int) -> WrittenFile:
        (data_file,) = list(write_file(self._io, metadata, iter([task])))
        if not hasattr(data_file, "_spec_id"):  # needed to read the file back before commit
            data_file.spec_id = metadata.default_spec_id
        task.record_batches.clear()  # release the rows as soon as they are on storage
        return WrittenFile(data_file=data_file, rows=rows)

    def wait(self) -> None:
        """Wait for every submitted file.

        Raises:
            Exception: The first write failure (pyiceberg/pyarrow/IO errors propagate raw).
        """
        while self._pending:
            self._pending.popleft().result()

    def delete(self, path: str) -> None:
        """Delete one uncommitted file this writer wrote (best effort).

        Args:
            path: The file's location.
        """
        try:
            self._io.delete(path)
        except Exception as exc:
            text = str(exc).lower()
            if not isinstance(exc, FileNotFoundError) and "not found" not in text:
                if "no such" not in text:
                    log.warning("orphan_file_not_deleted", path=path, error=type(exc).__name__)

    def close(self) -> None:
        """Stop the worker threads (waiting for running writes)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def discard(self) -> None:
        """Delete every file this writer wrote or started, best effort, and stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for path in self.paths:
            self.delete(path)
