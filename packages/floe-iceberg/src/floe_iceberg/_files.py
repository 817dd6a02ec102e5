"""Write Parquet data files for a table in the background, bounded in memory.

Two ways in: :meth:`FileWriter.submit` writes one file from batches already in memory (merge
needs whole chunks to de-duplicate keys), and :meth:`FileWriter.open` streams batches into a
file as they arrive, row group by row group, so encoding overlaps extraction and only the last
row group is written after the source ends. Both go through pyiceberg's Parquet format writer
and build the DataFile (statistics, field ids) the way ``pyiceberg.io.pyarrow.write_file`` does.
"""

from __future__ import annotations

import itertools
import queue
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import structlog
from pyiceberg.io import FileIO
from pyiceberg.io.fileformat import FileFormatFactory
from pyiceberg.io.pyarrow import write_file
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.partitioning import PartitionKey
from pyiceberg.schema import Schema, sanitize_column_names
from pyiceberg.table import WriteTask
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.typedef import Record
from pyiceberg.utils.config import Config

from floe_iceberg._pyiceberg import ensure_spec_id, to_file_schema

log = structlog.get_logger(__name__)

ROW_GROUP_BYTES = 16 * 1024 * 1024
"""Arrow bytes a streamed file gathers before writing them as one Parquet row group."""
_QUEUE_DEPTH = 4
"""Batches waiting for a streamed file's writer before :meth:`StreamedFile.write` blocks."""
_DONE = object()
_CANCEL = object()


class _Cancelled(Exception):
    """A streamed file was abandoned by its load (the load deletes the file)."""


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
        on_path: Called with each new file's location before the file is created (a
            distributed load lists it in its abandoned-files record first).
    """

    def __init__(
        self,
        io: FileIO,
        *,
        max_in_flight: int = 2,
        on_path: Callable[[str], None] | None = None,
    ) -> None:
        self._io = io
        self._on_path = on_path
        self._uuid = uuid.uuid4()
        self._counter = itertools.count(0)
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="floe-write")
        self._max_in_flight = max_in_flight
        self._pending: deque[Future[WrittenFile]] = deque()
        self.paths: list[str] = []

    def submit(
        self,
        metadata: TableMetadata,
        batches: list[pa.RecordBatch],
        *,
        partition_key: PartitionKey | None = None,
    ) -> Future[WrittenFile]:
        """Start writing one data file from ``batches`` (all with the table's Arrow schema).

        Blocks while more than ``max_in_flight`` files are being written.

        Args:
            metadata: The table metadata (schema, location, properties) to write against.
            batches: The rows of the file.
            partition_key: The partition every row belongs to (partitioned tables,
                :mod:`._partitioned`); None for an unpartitioned table.

        Returns:
            The pending file; ``result()`` raises the write's failure.
        """
        schema: Schema = metadata.schema()
        task = WriteTask(
            write_uuid=self._uuid,
            task_id=next(self._counter),
            schema=schema,
            record_batches=batches,
            partition_key=partition_key,  # floe: partitioned writes
        )
        provider = load_location_provider(metadata.location, metadata.properties)
        self._record(
            provider.new_data_location(
                data_file_name=task.generate_data_file_filename("parquet"),
                partition_key=partition_key,
            )
        )
        rows = sum(b.num_rows for b in batches)
        future = self._pool.submit(self._write, metadata, task, rows)
        self._pending.append(future)
        while len(self._pending) > self._max_in_flight:
            self._pending.popleft().result()
        return future

    def open(self, metadata: TableMetadata) -> StreamedFile:
        """Start a data file that takes batches as they come (see :class:`StreamedFile`).

        Args:
            metadata: The table metadata (schema, location, properties) to write against.

        Returns:
            The open file; :meth:`StreamedFile.close` returns its pending result.
        """
        provider = load_location_provider(metadata.location, metadata.properties)
        name = f"00000-{next(self._counter)}-{self._uuid}.parquet"
        path = provider.new_data_location(data_file_name=name)
        self._record(path)
        streamed = StreamedFile(self._io, metadata, path)
        future = self._pool.submit(streamed.run)
        streamed.future = future
        self._pending.append(future)
        while len(self._pending) > self._max_in_flight:
            self._pending.popleft().result()
        return streamed

    @property
    def io(self) -> FileIO:
        """The table's FileIO the files are written through."""
        return self._io

    def track(self, path: str) -> None:
        """Record a file the load writes itself (a delete file), before it is created.

        Args:
            path: The file's location; :meth:`discard` deletes it if the load fails.
        """
        self._record(path)

    def _record(self, path: str) -> None:
        if self._on_path is not None:
            self._on_path(path)
        self.paths.append(path)

    def _write(self, metadata: TableMetadata, task: WriteTask, rows: int) -> WrittenFile:
        (data_file,) = list(write_file(self._io, metadata, iter([task])))
        ensure_spec_id(data_file, metadata.default_spec_id)
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


class StreamedFile:
    """One data file written on a worker thread from batches handed to it one by one.

    The worker gathers about :data:`ROW_GROUP_BYTES` of batches and writes them as one Parquet
    row group; at most :data:`_QUEUE_DEPTH` batches wait for it, so a fast source is held back
    instead of filling memory.

    Args:
        io: The table's FileIO.
        metadata: The table metadata the batches conform to.
        path: Where the file goes (already recorded by the :class:`FileWriter`).
    """

    def __init__(self, io: FileIO, metadata: TableMetadata, path: str) -> None:
        self._io = io
        self._metadata = metadata
        self._path = path
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self.future: Future[WrittenFile] | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        """Hand one batch to the file (blocks while the worker is behind).

        Args:
            batch: Rows in the table's Arrow schema.

        Raises:
            Exception: The worker's failure, if it stopped (pyiceberg/pyarrow/IO errors raw).
        """
        self._put(batch)

    def close(self) -> Future[WrittenFile]:
        """Finish the file.

        Returns:
            The pending file; ``result()`` raises the write's failure.
        """
        self._put(_DONE)
        assert self.future is not None
        return self.future

    def cancel(self) -> None:
        """Stop the worker without finishing the file (the load failed; it deletes the file)."""
        assert self.future is not None
        while not self.future.done():
            try:
                self._queue.put(_CANCEL, timeout=0.05)
                break
            except queue.Full:
                continue
        try:
            self.future.result()
        except Exception:
            pass  # the load is failing for its own reason

    def _put(self, item: object) -> None:
        assert self.future is not None
        while True:
            if self.future.done():
                self.future.result()  # raises the worker's failure
                raise RuntimeError(f"data file {self._path} was already closed")
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def run(self) -> WrittenFile:
        """Write the file from the queue until :meth:`close` (runs on a worker thread)."""
        from pyiceberg.table import DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE, TableProperties

        metadata = self._metadata
        schema = metadata.schema()
        file_schema = sanitize_column_names(schema)  # as write_file does
        downcast = Config().get_bool(DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE) or False
        fmt = FileFormat(
            metadata.properties.get(
                TableProperties.WRITE_FILE_FORMAT, TableProperties.WRITE_FILE_FORMAT_DEFAULT
            )
        )
        model = FileFormatFactory.get(fmt)
        output = self._io.new_output(self._path)
        writer = model.create_writer(output, file_schema, metadata.properties)
        gathered: list[pa.RecordBatch] = []
        gathered_bytes = rows = 0

        def write_gathered() -> None:
            nonlocal gathered, gathered_bytes
            if gathered:
                writer.write(pa.Table.from_batches(gathered))
                gathered, gathered_bytes = [], 0

        with writer:
            while (item := self._queue.get()) is not _DONE:
                if item is _CANCEL:
                    raise _Cancelled(self._path)
                assert isinstance(item, pa.RecordBatch)
                batch = to_file_schema(
                    item,
                    requested_schema=file_schema,
                    file_schema=schema,
                    downcast_ns_timestamp_to_us=downcast,
                    format_model=model,
                )
                gathered.append(batch)
                gathered_bytes += batch.nbytes
                rows += batch.num_rows
                if gathered_bytes >= ROW_GROUP_BYTES:
                    write_gathered()
            write_gathered()
        statistics = writer.result()
        data_file = DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=self._path,
            file_format=fmt,
            partition=Record(),
            file_size_in_bytes=len(output),
            sort_order_id=None,
            spec_id=metadata.default_spec_id,
            equality_ids=None,
            key_metadata=None,
            **statistics.to_serialized_dict(),
        )
        ensure_spec_id(data_file, metadata.default_spec_id)  # from_args does not keep it
        return WrittenFile(data_file=data_file, rows=rows)
