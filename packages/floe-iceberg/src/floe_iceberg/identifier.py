"""The names floe-iceberg accepts: tables (``namespace.table``) and columns.

A table name is ``namespace.table`` or ``ns1.ns2.table``: at least two parts, each
letters, digits and ``_`` and not starting with ``_`` (the rule of
:data:`floe_core.ingestion.IDENTIFIER`, which validates ``IngestionConfig.destination_table``
by the same rule). Namespaces are created as needed by :func:`~floe_iceberg.write_table`.

A column name may be anything Iceberg and the engines reading it can tell apart: not empty,
no ``.`` (Iceberg's nested-field separator), no control character; two columns of one batch
must differ by more than case (Spark and Trino compare names ignoring case).
"""

from __future__ import annotations

from floe_core import DestinationWriteError, ErrorCode, PipelineConfigurationError
from floe_core.ingestion import IDENTIFIER

__all__ = ["check_column_name", "is_identifier", "split_table_name"]


def is_identifier(part: str) -> bool:
    """Tell whether ``part`` is a valid part of a table name.

    Args:
        part: One dot-separated part (a namespace level or the table).

    Returns:
        True for letters, digits and ``_``, not empty and not starting with ``_``.
    """
    return IDENTIFIER.fullmatch(part) is not None


def split_table_name(table: str) -> tuple[str, ...]:
    """Split ``namespace.table`` into the identifier pyiceberg takes.

    Args:
        table: ``namespace.table`` (namespaces may be nested: ``a.b.table``).

    Returns:
        The parts, e.g. ``("bronze", "orders")``.

    Raises:
        PipelineConfigurationError: DESTINATION_CONFIG_ERROR (field ``destination_table``) when
            there is no namespace or a part breaks :func:`is_identifier`.
    """
    namespace, sep, name = table.rpartition(".")
    parts = [*namespace.split("."), name] if sep else [name]
    if not sep or not all(is_identifier(p) for p in parts):
        raise PipelineConfigurationError(
            f"destination table {table!r} must be 'namespace.table': letters, digits and '_', "
            "each part not starting with '_'",
            code=ErrorCode.DESTINATION_CONFIG_ERROR,
            details={"field": "destination_table"},
        )
    return tuple(parts)


def check_column_name(name: str, path: str | None = None) -> None:
    """Refuse a column name an Iceberg table cannot take.

    Args:
        name: The column (or struct field) name.
        path: Its dotted path, for the message (defaults to ``name``).

    Raises:
        DestinationWriteError: SCHEMA_CORRUPTION, naming the column, when the name is empty,
            contains ``.`` or contains a control character.
    """
    path = name if path is None else path
    problem = None
    if not name:
        problem = "is empty"
    elif "." in name:
        problem = "contains '.', which Iceberg uses as its nested-field separator"
    elif any(ord(ch) < 32 for ch in name):
        problem = "contains a control character"
    if problem is not None:
        raise DestinationWriteError(
            f"column {path!r} {problem}; rename it in the source (e.g. a SQL alias or the "
            "source's column mapping) so the Iceberg table can take it",
            code=ErrorCode.SCHEMA_CORRUPTION,
            details={"column": path},
        )
