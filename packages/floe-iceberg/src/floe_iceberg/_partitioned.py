"""Rolling a load's rows into data files per partition, with bounded memory.

Each batch is split by the table's default partition spec (pyiceberg's own split, see
:func:`._pyiceberg.split_by_partition`); each partition's rows gather in memory until they make a
file of about ``target_file_bytes``, which is then written in the background
(:meth:`FileWriter.submit`, with the partition's key: its value tuple and its path). Memory stays
bounded: at most ``max_open`` partitions gather rows at once and their rows together stay under
``max_buffered_bytes``; past either cap the largest gathering partition is written as a smaller
file (rolled) rather than growing. With a sort order (``sort_by``) each file's rows are sorted
before it is written; an unpartitioned sorted table goes through here too (one partition).

A merge (``primary_key``, merge-on-read, :mod:`._mor`) de-duplicates each file's rows on the
key before it is written. Files are not written in arrival order (each partition fills at its
own pace) and a key may arrive in two partitions (its partition column changed), so every row
carries its arrival number until its file is written, and :meth:`PartitionedRoller.finish`
drops the rows a later arrival of the same key superseded (rewriting those files): the part's
files then hold each key once.

The one-field split cuts a batch into zero-copy slices of one sorted copy, and a slice keeps
that whole copy alive: a partition that gathers slow (an edge month) would otherwise pin every
batch it has a slice of. So once :data:`COMPACT_BYTES` of batches have been sliced, every
gathering partition's slices are copied into one batch of their own and the sliced batches
are freed; a file's rows are handed to the writer as one batch (each batch costs the file
writer a schema conversion of its own, and thousands of small ones dominated the load).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.metadata import TableMetadata

from floe_iceberg import _merge
from floe_iceberg._files import FileWriter, WrittenFile
from floe_iceberg._partition import sort_rows
from floe_iceberg._pyiceberg import split_by_partition

__all__ = [
    "COMPACT_BYTES",
    "DEFAULT_MAX_BUFFERED_BYTES",
    "DEFAULT_MAX_OPEN",
    "PartitionedRoller",
    "write_rows",
]

DEFAULT_MAX_OPEN = 4096
"""Partitions gathering rows at once before the largest one is rolled into a file (the byte cap
bounds memory; this bounds the bookkeeping: 128 wrote one tiny file per day per batch)."""
DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024
"""Arrow bytes gathered across partitions before the largest one is rolled into a file."""
_ONE_FILE = 1 << 62
"""A target no rewrite reaches: :func:`write_rows` writes one file per partition."""
_SEQ = "__floe_seq"
"""A merge row's arrival number in the load, until its file is written."""
COMPACT_BYTES = 64 * 1024 * 1024
"""Arrow bytes of batches split into slices before the gathered slices are copied (freed)."""


@dataclass
class _Open:
    key: PartitionKey | None
    batches: list[pa.RecordBatch] = field(default_factory=list)
    slices: list[pa.RecordBatch] = field(default_factory=list)
    """Zero-copy slices of a split batch, not yet copied into one batch of their own."""
    bytes: int = 0
    rows: int = 0

    def compact(self) -> None:
        """Copy the slices into one batch (freeing the batches they were cut from)."""
        if self.slices:
            self.batches.append(pa.concat_batches(self.slices))  # copies, even just one
            self.slices = []


def _split(
    spec: PartitionSpec, schema: Schema, batch: pa.RecordBatch
) -> tuple[list[tuple[PartitionKey, pa.RecordBatch]], bool]:
    """Split rows by a one-field spec with one sort and slices; pyiceberg's split otherwise.

    pyiceberg's split filters the whole batch once per partition present (a month-partitioned
    batch spanning 80 months is scanned 80 times); one transform, one sort and run-end
    encoding do it in one pass.

    Returns:
        The ``(partition key, rows)`` pairs, and whether the rows are slices of one sorted
        copy of the batch (which they keep alive until copied, see :meth:`_Open.compact`).
    """
    field = spec.fields[0] if len(spec.fields) == 1 else None
    name = schema.find_column_name(field.source_id) if field is not None else None
    if field is None or name is None or "." in name:
        rows = pa.Table.from_batches([batch])
        return [
            (key, piece)
            for key, table in split_by_partition(spec, schema, rows)
            for piece in table.to_batches()
        ], False
    source = schema.find_field(field.source_id)
    values = field.transform.pyarrow_transform(source.field_type)(batch.column(name))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    order = pc.sort_indices(values)
    runs = pc.run_end_encode(pc.take(values, order))
    ends = runs.run_ends.to_pylist()

    def key(value: object) -> PartitionKey:
        return PartitionKey(
            field_values=[PartitionFieldValue(field=field, value=value)],
            partition_spec=spec,
            schema=schema,
        )

    if len(ends) == 1:  # one partition (e.g. rows ordered by time): no copy at all
        return [(key(runs.values[0].as_py()), batch)], False
    ordered = batch.take(order)
    parts = []
    start = 0
    for end, value in zip(ends, runs.values.to_pylist(), strict=True):
        parts.append((key(value), ordered.slice(start, end - start)))
        start = end
    return parts, True


class PartitionedRoller:
    """Cuts a stream of conformed batches into data files, one partition per file.

    The same surface as :class:`._roll.FileRoller`.

    Args:
        writer: The load's file writer.
        metadata: The table metadata (its default spec partitions the rows; :attr:`metadata`
            is updated by the load after a :meth:`flush`).
        target_file_bytes: Arrow bytes per data file.
        target_file_rows: Optional row cap per data file.
        max_open: Partitions gathering rows at once (:data:`DEFAULT_MAX_OPEN`).
        max_buffered_bytes: Arrow bytes gathered across partitions
            (:data:`DEFAULT_MAX_BUFFERED_BYTES`).
        sort_by: The table's sort order: each file's rows are sorted by it.
        primary_key: The merge key; empty for append and replace.

    Attributes:
        rows: Rows handed to files so far (after de-duplication).
        deduplicated: Rows dropped because a later row had the same key (merge).
        futures: One pending result per data file, in order.
        keys: The merge's incoming keys by file, as :meth:`finish` returns the files (None for
            append and replace).
    """

    def __init__(
        self,
        writer: FileWriter,
        metadata: TableMetadata,
        *,
        target_file_bytes: int,
        target_file_rows: int | None,
        max_open: int | None = None,
        max_buffered_bytes: int | None = None,
        sort_by: tuple[str, ...] = (),
        primary_key: tuple[str, ...] = (),
    ) -> None:
        self.writer = writer
        self.metadata = metadata
        self._target_bytes = target_file_bytes
        self._target_rows = target_file_rows
        self._max_open = max(1, DEFAULT_MAX_OPEN if max_open is None else max_open)
        self._max_buffered = max(
            1, DEFAULT_MAX_BUFFERED_BYTES if max_buffered_bytes is None else max_buffered_bytes
        )
        self._sort_by = sort_by
        self._open: dict[tuple[object, ...], _Open] = {}
        self._buffered = 0
        self._sliced = 0  # bytes of split batches whose slices may still be gathering
        self.futures: list[Future[WrittenFile]] = []
        self.rows = 0
        self.deduplicated = 0
        self._primary_key = tuple(primary_key)
        self.keys: _merge.KeyIndex | None = None
        self._arrivals = _merge.KeyIndex(primary_key) if primary_key else None
        self._seq = 0
        self._file_keys: list[PartitionKey | None] = []
        self._key_tables: list[pa.Table] = []

    def add(self, batch: pa.RecordBatch) -> None:
        """Add conformed rows, writing a partition's file whenever it is full.

        Args:
            batch: Rows in the table's Arrow schema (:attr:`metadata`).
        """
        if batch.num_rows == 0:
            return
        spec = self.metadata.spec()
        if self._arrivals is not None:
            arrival = _merge.row_numbers(batch.num_rows, start=self._seq)
            batch = batch.append_column(_SEQ, arrival)
            self._seq += batch.num_rows
        parts: Iterable[tuple[PartitionKey | None, pa.RecordBatch]]
        if spec.is_unpartitioned():
            parts, sliced = [(None, batch)], False
        else:
            parts, sliced = _split(spec, self.metadata.schema(), batch)
        if sliced:
            self._sliced += batch.nbytes
        for key, piece in parts:
            values = tuple(v.value for v in key.field_values) if key is not None else ()
            current = self._open.get(values)
            if current is None:
                while len(self._open) >= self._max_open:
                    self._roll_largest()
                current = self._open[values] = _Open(key)
            (current.slices if sliced else current.batches).append(piece)
            current.bytes += piece.nbytes
            current.rows += piece.num_rows
            self._buffered += piece.nbytes
            full = current.bytes >= self._target_bytes or (
                self._target_rows is not None and current.rows >= self._target_rows
            )
            if full:
                self._write(values)
            while self._buffered > self._max_buffered and self._open:
                self._roll_largest()
        if self._sliced >= COMPACT_BYTES:
            for gathering in self._open.values():
                gathering.compact()
            self._sliced = 0

    def _roll_largest(self) -> None:
        largest = max(self._open, key=lambda v: self._open[v].bytes)
        self._write(largest)

    def _write(self, values: tuple[object, ...]) -> None:
        current = self._open.pop(values)
        self._buffered -= current.bytes
        batches = current.batches + current.slices
        current.batches, current.slices = [], []
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        del batches
        if self._arrivals is not None:
            # copied slices and whole batches gather apart: restore arrival order, last wins
            table = table.take(pc.sort_indices(table[_SEQ]))
            table, dropped = _merge.dedupe(table, self._primary_key)
            self.deduplicated += dropped
        self.rows += table.num_rows
        # One batch per file: the file writer converts each batch to the file schema on its own.
        table = sort_rows(table, self._sort_by).combine_chunks()
        step = self._target_rows or table.num_rows
        for start in range(0, table.num_rows, step):
            part = table.slice(start, step)
            if self._arrivals is not None:
                self._arrivals.add(len(self.futures), part, order=part[_SEQ])
                self._key_tables.append(part.select(list(self._primary_key)))
                self._file_keys.append(current.key)
                part = part.drop_columns([_SEQ])
            self.futures.append(
                self.writer.submit(self.metadata, part.to_batches(), partition_key=current.key)
            )

    def flush(self) -> None:
        """Write every gathering partition (before a schema or spec change, and at the end)."""
        for values in list(self._open):
            self._write(values)

    def finish(self) -> list[WrittenFile | None]:
        """Flush, wait for every file and return them in order.

        Returns:
            One entry per data file.

        Raises:
            Exception: The first write failure (pyiceberg/pyarrow/IO errors propagate raw).
        """
        self.flush()
        self.writer.wait()
        written: list[WrittenFile | None] = [f.result() for f in self.futures]
        if self._arrivals is not None:
            written = self._drop_superseded(written)
        return written

    def _drop_superseded(self, written: list[WrittenFile | None]) -> list[WrittenFile | None]:
        """Rewrite the files holding a row a later arrival of its key superseded."""
        assert self._arrivals is not None
        _, losers = self._arrivals.resolve()
        for file_no, positions in losers.items():
            old = written[file_no]
            assert old is not None
            rows = _merge.read_file(
                self.metadata, self.writer.io, old.data_file, self.metadata.schema()
            )
            kept = _merge.without(rows, positions)
            self.writer.delete(old.data_file.file_path)
            self.deduplicated += len(positions)
            self.rows -= len(positions)
            self._key_tables[file_no] = _merge.without(self._key_tables[file_no], positions)
            written[file_no] = (
                self.writer.submit(
                    self.metadata, kept.to_batches(), partition_key=self._file_keys[file_no]
                ).result()
                if kept.num_rows
                else None
            )
        self.keys = _merge.KeyIndex(self._primary_key)
        kept_files: list[WrittenFile | None] = [w for w in written if w is not None]
        tables = [t for w, t in zip(written, self._key_tables, strict=True) if w is not None]
        for file_no, table in enumerate(tables):
            self.keys.add(file_no, table)
        return kept_files

    def cancel(self) -> None:
        """Drop the gathered rows (the load failed; its files are deleted)."""
        self._open.clear()
        self._buffered = 0


def write_rows(
    writer: FileWriter, metadata: TableMetadata, rows: pa.Table
) -> list[Future[WrittenFile]]:
    """Start writing rows a merge rewrites: one file per partition of the table's spec.

    Args:
        writer: The load's file writer.
        metadata: The table metadata (its default spec; the rows follow its schema).
        rows: The rows (all of an existing or incoming file, less the rows a merge drops).

    Returns:
        The pending files (one for an unpartitioned table).
    """
    if metadata.spec().is_unpartitioned():
        return [writer.submit(metadata, rows.to_batches())]
    roller = PartitionedRoller(writer, metadata, target_file_bytes=_ONE_FILE, target_file_rows=None)
    for batch in rows.to_batches():
        roller.add(batch)
    roller.flush()
    return roller.futures
