"""Listing the files under a location through a table's FileIO (local disk and S3 alike).

pyiceberg's ``FileIO`` reads, writes and deletes but does not list; orphan-file removal needs
a listing. Both FileIO implementations expose the filesystem they write through
(``PyArrowFileIO.fs_by_scheme``, ``FsspecFileIO.get_fs``), configured by the same catalog
properties (endpoint, keys, region), so the listing sees exactly what the writes wrote.
Locations are compared by :func:`location_key`: ``/a/b``, ``file:/a/b`` and ``file:///a/b``
are one file, and so are ``s3://b/k`` and ``s3a://b/k``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO

from floe_core import DestinationWriteError, ErrorCode

__all__ = ["StoredFile", "list_files", "location_key"]

_S3_SCHEMES = {"s3", "s3a", "s3n"}


@dataclass(frozen=True)
class StoredFile:
    """One file found on storage.

    Attributes:
        location: Its URI, usable with the FileIO (``s3://bucket/key``, ``file:///path``).
        size: Bytes.
        modified: Last modification time (UTC), or None when the storage does not say.
    """

    location: str
    size: int
    modified: dt.datetime | None

    @property
    def key(self) -> str:
        """The file's :func:`location_key`."""
        return location_key(self.location)


def _split(location: str) -> tuple[str, str, str]:
    scheme, netloc, path = PyArrowFileIO.parse_location(location)
    return ("s3" if scheme in _S3_SCHEMES else scheme), netloc, path


def location_key(location: str) -> str:
    """Return a location in one canonical spelling, to compare locations written differently.

    Args:
        location: A path or URI.

    Returns:
        ``<scheme>://<path>`` with the path as the filesystem sees it.
    """
    scheme, _, path = _split(location)
    return f"{scheme}://{path}"


def _uri(scheme: str, path: str) -> str:
    return f"file://{path}" if scheme == "file" else f"{scheme}://{path}"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def list_files(io: FileIO, location: str) -> Iterator[StoredFile]:
    """Yield every file under ``location`` (recursively); nothing when it does not exist.

    Args:
        io: The table's FileIO.
        location: A folder (a table or namespace location).

    Yields:
        The files.

    Raises:
        DestinationWriteError: DESTINATION_CONFIG_ERROR when the FileIO cannot list.
    """
    scheme, netloc, path = _split(location)
    folder = path.rstrip("/")
    if isinstance(io, PyArrowFileIO):
        from pyarrow import fs as pafs

        filesystem = io.fs_by_scheme(scheme, netloc)
        selector = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
        for info in filesystem.get_file_info(selector):
            if info.type == pafs.FileType.File:
                yield StoredFile(_uri(scheme, info.path), int(info.size or 0), _utc(info.mtime))
        return
    get_fs = getattr(io, "get_fs", None)  # FsspecFileIO
    if get_fs is None:
        raise DestinationWriteError(
            f"cannot list {location}: the FileIO {type(io).__name__} has no listing; use "
            "pyiceberg's PyArrowFileIO or FsspecFileIO (py-io-impl)",
            code=ErrorCode.DESTINATION_CONFIG_ERROR,
            details={"location": location},
        )
    filesystem = get_fs(scheme)
    if not filesystem.exists(folder):
        return
    for name, info in filesystem.find(folder, detail=True).items():
        modified = info.get("LastModified") or info.get("mtime")
        if isinstance(modified, int | float):
            modified = dt.datetime.fromtimestamp(modified, tz=dt.UTC)
        stamp = modified if isinstance(modified, dt.datetime) else None
        yield StoredFile(_uri(scheme, name), int(info.get("size") or 0), _utc(stamp))
