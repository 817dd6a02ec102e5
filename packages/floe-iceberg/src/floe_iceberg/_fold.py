"""Folding position deletes into compaction: which delete files apply where, which can go.

A merge-on-read table (:mod:`._mor`) holds position delete files next to its data files.
Compaction (:mod:`._compact`) rewrites every data file some delete applies to, reading it with
its deletes applied, so the new file holds only the live rows; a delete file whose every live
data file is rewritten is then removed in the same ``replace`` snapshot. A delete file that also
names a data file that is not rewritten stays.

Iceberg's rule for position deletes: a delete file applies to a data file it names whose data
sequence number is at most its own (a delete never applies to rows written after it). The data
files a delete file names come from its ``file_path`` bounds when they are equal (a file-scoped
delete, as floe and Iceberg Java write them), otherwise from its ``file_path`` column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntry

from floe_iceberg._deletes import FILE_PATH_ID

__all__ = ["Deletes", "match_deletes", "referenced_paths"]


def referenced_paths(io: FileIO, delete_file: DataFile) -> frozenset[str]:
    """Return the paths of the data files a position delete file names.

    Args:
        io: The table's FileIO.
        delete_file: A position delete file.

    Returns:
        The data file paths (from equal ``file_path`` bounds, else from the file's rows).
    """
    lower = (delete_file.lower_bounds or {}).get(FILE_PATH_ID)
    upper = (delete_file.upper_bounds or {}).get(FILE_PATH_ID)
    if lower is not None and lower == upper:
        return frozenset([bytes(lower).decode("utf-8")])
    with io.new_input(delete_file.file_path).open() as stream:
        paths = pq.read_table(stream, columns=["file_path"]).column("file_path")
    return frozenset(str(p) for p in pc.unique(paths).to_pylist())


@dataclass
class Deletes:
    """The live delete files of one table version, matched to the data files they apply to.

    Attributes:
        files: Position delete files by path.
        names: Delete file path → the data file paths it names.
        applied: Data file path → the delete files that apply to it (sequence numbers checked).
        equality: Equality delete files (floe never writes them; compaction refuses them).
    """

    files: dict[str, DataFile] = field(default_factory=dict)
    names: dict[str, frozenset[str]] = field(default_factory=dict)
    applied: dict[str, set[DataFile]] = field(default_factory=dict)
    equality: int = 0

    def removable(self, rewritten: Iterable[str], live: Iterable[str]) -> list[DataFile]:
        """Return the delete files with nothing left to apply to once ``rewritten`` is gone.

        Args:
            rewritten: Paths of the data files compaction removes.
            live: Paths of every live data file of the version.

        Returns:
            The delete files every live data file of which is rewritten (a delete file naming
            only files already gone is removable too), in path order.
        """
        gone = set(rewritten)
        staying = set(live) - gone
        return [self.files[path] for path in sorted(self.files) if not (self.names[path] & staying)]


def match_deletes(
    io: FileIO, data: Iterable[ManifestEntry], deletes: Iterable[ManifestEntry]
) -> Deletes:
    """Match a version's delete files to its data files.

    Args:
        io: The table's FileIO (delete files whose bounds do not name one file are read).
        data: The live data file entries.
        deletes: The live delete file entries.

    Returns:
        The matching.
    """
    out = Deletes()
    data_sequence = {e.data_file.file_path: e.sequence_number or 0 for e in data}
    for entry in deletes:
        delete_file = entry.data_file
        if delete_file.content == DataFileContent.EQUALITY_DELETES:
            out.equality += 1
            continue
        path = delete_file.file_path
        out.files[path] = delete_file
        out.names[path] = referenced_paths(io, delete_file)
        for named in out.names[path]:
            sequence = data_sequence.get(named)
            if sequence is not None and sequence <= (entry.sequence_number or 0):
                out.applied.setdefault(named, set()).add(delete_file)
    return out
