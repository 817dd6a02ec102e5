"""Rolling a load's conformed rows into data files of about ``target_file_bytes`` each.

Appends and replaces stream each piece into the open file (:meth:`FileWriter.open`), so
writing overlaps extraction; merge gathers a file's rows first and de-duplicates their keys
(:func:`._merge.dedupe`) before the file is written (:meth:`FileWriter.submit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

import pyarrow as pa
from pyiceberg.table.metadata import TableMetadata

from floe_iceberg import _merge
from floe_iceberg._files import FileWriter, StreamedFile, WrittenFile

__all__ = ["FileRoller"]


class FileRoller:
    """Cuts a stream of conformed batches into data files.

    Args:
        writer: The load's file writer.
        metadata: The table metadata files are written against (:attr:`metadata` is updated
            by the load when the schema evolves, after a :meth:`flush`).
        target_file_bytes: Arrow bytes per data file.
        target_file_rows: Optional row cap per data file.
        primary_key: The merge key; empty for append and replace (rows stream).

    Attributes:
        rows: Rows handed to files so far (after de-duplication).
        deduplicated: Rows dropped because a later row of the same file had the same key.
        futures: One pending result per data file, in order.
        keys: The merge's incoming keys by file (None for append and replace).
    """

    def __init__(
        self,
        writer: FileWriter,
        metadata: TableMetadata,
        *,
        target_file_bytes: int,
        target_file_rows: int | None,
        primary_key: Sequence[str] = (),
    ) -> None:
        self.writer = writer
        self.metadata = metadata
        self._target_bytes = target_file_bytes
        self._target_rows = target_file_rows
        self._primary_key = tuple(primary_key)
        self.keys = _merge.KeyIndex(primary_key) if primary_key else None
        self._buffer: list[pa.RecordBatch] = []
        self._streaming: StreamedFile | None = None
        self._bytes = 0
        self._rows = 0
        self.futures: list[Future[WrittenFile]] = []
        self.rows = 0
        self.deduplicated = 0

    def add(self, batch: pa.RecordBatch) -> None:
        """Add conformed rows, starting a new file whenever the current one is full.

        Args:
            batch: Rows in the table's Arrow schema (:attr:`metadata`).
        """
        if batch.num_rows == 0:
            return
        row_bytes = max(1.0, batch.nbytes / batch.num_rows)
        while batch.num_rows > 0:
            room_rows = int((self._target_bytes - self._bytes) / row_bytes)
            if self._target_rows is not None:
                room_rows = min(room_rows, self._target_rows - self._rows)
            room_rows = max(1, room_rows)
            piece = batch if batch.num_rows <= room_rows else batch.slice(0, room_rows)
            batch = batch.slice(piece.num_rows)
            self._take(piece)
            self._bytes += int(piece.num_rows * row_bytes)
            self._rows += piece.num_rows
            if self._bytes >= self._target_bytes or (
                self._target_rows is not None and self._rows >= self._target_rows
            ):
                self.flush()

    def _take(self, piece: pa.RecordBatch) -> None:
        if self.keys is not None:  # merge de-duplicates whole chunks: keep them until flush
            self._buffer.append(piece)
            return
        if self._streaming is None:
            self._streaming = self.writer.open(self.metadata)
        self._streaming.write(piece)

    def flush(self) -> None:
        """Finish the current file (it is written in the background)."""
        if self._streaming is not None:  # append / replace: the rows are already on their way
            streamed, self._streaming = self._streaming, None
            self.rows += self._rows
            self._bytes = self._rows = 0
            self.futures.append(streamed.close())
            return
        if not self._buffer:
            return
        batches, self._buffer = self._buffer, []
        self._bytes = self._rows = 0
        if self.keys is not None:
            chunk, dropped = _merge.dedupe(pa.Table.from_batches(batches), self._primary_key)
            self.deduplicated += dropped
            self.keys.add(len(self.futures), chunk)
            batches = chunk.to_batches()
        self.rows += sum(b.num_rows for b in batches)
        self.futures.append(self.writer.submit(self.metadata, batches))

    def finish(self) -> list[WrittenFile | None]:
        """Flush, wait for every file and return them in order.

        Returns:
            One entry per data file (merge later sets superseded ones to None).

        Raises:
            Exception: The first write failure (pyiceberg/pyarrow/IO errors propagate raw).
        """
        self.flush()
        self.writer.wait()
        return [f.result() for f in self.futures]

    def cancel(self) -> None:
        """Stop a file still being streamed (the load failed; its files are deleted)."""
        if self._streaming is not None:
            self._streaming.cancel()
            self._streaming = None
