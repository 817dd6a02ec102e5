"""Maintenance failures in floe's taxonomy: the one boundary for ``maintain`` and its callers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from floe_core import IngestionError

__all__ = ["maintenance_error"]


def maintenance_error(exc: Exception) -> IngestionError:
    """Translate a maintenance failure into floe's taxonomy (the one boundary).

    Args:
        exc: What :func:`maintain_table` or :func:`find_stray_files` raised.

    Returns:
        ``exc`` itself when it is an :class:`~floe_core.IngestionError`; COMMIT_CONFLICT for
        a lost commit race, DESTINATION_UNAVAILABLE for storage, else an IngestionError.
    """
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    from floe_core import DestinationWriteError, ErrorCode, IngestionError

    if isinstance(exc, IngestionError):
        return exc
    if isinstance(exc, CommitFailedException | ValidationException):
        return DestinationWriteError(
            f"a concurrent commit won ({type(exc).__name__}: {exc}); run maintenance again",
            code=ErrorCode.COMMIT_CONFLICT,
        )
    if isinstance(exc, OSError):
        return DestinationWriteError(
            f"storage failed ({type(exc).__name__}: {exc})",
            code=ErrorCode.DESTINATION_UNAVAILABLE,
        )
    return IngestionError(f"unexpected {type(exc).__name__}: {exc}")
