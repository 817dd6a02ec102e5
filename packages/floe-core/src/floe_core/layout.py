"""A table's layout as floe.yaml writes it: ``partition_by`` transforms and ``sort_by`` fields.

Parsed here, in floe-core, so ``floe validate`` rejects a bad entry naming the field; the engine
(floe-iceberg) turns the parsed fields into an Iceberg partition spec and sort order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "PARTITION_TRANSFORMS",
    "PartitionField",
    "SortField",
    "parse_partition_field",
    "parse_sort_field",
]

PARTITION_TRANSFORMS = ("identity", "year", "month", "day", "hour", "bucket", "truncate")
"""The Iceberg partition transforms ``partition_by`` takes."""

_TIME_TRANSFORM = re.compile(r"^\s*(year|month|day|hour)\s*\(\s*(\w+)\s*\)\s*$")
_WIDTH_TRANSFORM = re.compile(r"^\s*(bucket|truncate)\s*\(\s*(\d+)\s*,\s*(\w+)\s*\)\s*$")
_COLUMN = re.compile(r"^\s*\w+\s*$")
_ANY_CALL = re.compile(r"^\s*(\w+)\s*\(")


@dataclass(frozen=True)
class PartitionField:
    """One parsed ``partition_by`` entry.

    Attributes:
        text: The entry, normalised (``day(ts)``, ``bucket(16, id)``, ``region``).
        transform: One of :data:`PARTITION_TRANSFORMS`.
        column: The source column.
        width: ``bucket``'s number of buckets or ``truncate``'s width; None otherwise.
    """

    text: str
    transform: str
    column: str
    width: int | None = None


def parse_partition_field(text: str) -> PartitionField:
    """Parse one ``partition_by`` entry.

    Args:
        text: ``column``, ``year(c)``, ``month(c)``, ``day(c)``, ``hour(c)``,
            ``bucket(N, c)`` or ``truncate(W, c)``.

    Returns:
        The parsed field.

    Raises:
        ValueError: An unknown transform, a missing argument, or a width below 1.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a partition transform (a string)")
    if _COLUMN.match(text):
        column = text.strip()
        return PartitionField(column, "identity", column)
    if match := _TIME_TRANSFORM.match(text):
        transform, column = match.groups()
        return PartitionField(f"{transform}({column})", transform, column)
    if match := _WIDTH_TRANSFORM.match(text):
        transform, width_text, column = match.groups()
        width = int(width_text)
        if width < 1:
            raise ValueError(f"{text!r}: {transform} needs a width of at least 1")
        return PartitionField(f"{transform}({width}, {column})", transform, column, width)
    call = _ANY_CALL.match(text)
    if call and call.group(1) not in PARTITION_TRANSFORMS:
        raise ValueError(
            f"{text!r}: unknown partition transform {call.group(1)!r}; use a column name, "
            "year(c), month(c), day(c), hour(c), bucket(N, c) or truncate(W, c)"
        )
    raise ValueError(
        f"{text!r} is not a partition transform; use a column name, year(c), month(c), "
        "day(c), hour(c), bucket(N, c) or truncate(W, c)"
    )


_SORT = re.compile(r"^\s*(\w+)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SortField:
    """One parsed ``sort_by`` entry.

    Attributes:
        text: The entry, normalised (``ts desc nulls last``).
        column: The column.
        descending: True for ``desc``.
        nulls_first: Where nulls go (Iceberg's default: first ascending, last descending).
    """

    text: str
    column: str
    descending: bool
    nulls_first: bool


def parse_sort_field(text: str) -> SortField:
    """Parse one ``sort_by`` entry: ``column [asc|desc] [nulls first|nulls last]``.

    Args:
        text: The entry.

    Returns:
        The parsed field.

    Raises:
        ValueError: Anything else.
    """
    match = _SORT.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a sort field; use 'column', 'column desc' or 'column asc nulls last'"
        )
    column, direction, nulls = match.groups()
    descending = (direction or "asc").lower() == "desc"
    nulls_first = (nulls or ("last" if descending else "first")).lower() == "first"
    order = "desc" if descending else "asc"
    where = "first" if nulls_first else "last"
    return SortField(f"{column} {order} nulls {where}", column, descending, nulls_first)
