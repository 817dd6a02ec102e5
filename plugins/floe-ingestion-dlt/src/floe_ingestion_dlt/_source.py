"""What a source becomes at run time: one dlt resource per destination table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_core.errors import PartialLoadError

__all__ = ["Extract", "destination_for", "iceberg_name", "raise_if_rows_rejected"]

_BAD = re.compile(r"[^a-z0-9_]+")


@dataclass
class Extract:
    """One dlt resource and the Iceberg table it lands in.

    Attributes:
        name: The resource name (dlt's).
        resource: The dlt resource to iterate.
        table: ``namespace.table``.
        primary_key: Columns to merge on (configured, or reflected from the source).
        details: Facts about the extract for the result's per-table details (e.g. the
            filesystem source's ``files_matched``).
        required: Columns the source declares NOT NULL (a database reflects them): they
            become ``required`` Iceberg fields when the load creates the table.
    """

    name: str
    resource: Any
    table: str
    primary_key: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


def iceberg_name(name: str) -> str:
    """Turn a resource name into an Iceberg table name: lower case, ``[a-z0-9_]``.

    Leading underscores are dropped (some REST catalogs reject them).

    Args:
        name: The resource name.

    Returns:
        A safe table name.
    """
    cleaned = _BAD.sub("_", name.lower()).strip("_")
    return cleaned or "table"


def destination_for(config: IngestionConfig, resource_name: str, how_many: int) -> str:
    """Return the destination table for one of ``how_many`` resources.

    Args:
        config: The source.
        resource_name: The resource.
        how_many: How many resources the source yields.

    Returns:
        ``namespace.table``.

    Raises:
        PipelineConfigurationError: ``namespace.table`` given for several resources.
    """
    if config.table is None:
        return f"{config.namespace}.{iceberg_name(resource_name)}"
    if how_many > 1:
        raise PipelineConfigurationError(
            f"source {config.name!r}: destination_table {config.destination_table!r} names one "
            f"table but the source yields {how_many} resources; use "
            f"'{config.namespace}.*' (one table per resource) or select a single one",
            source=config.name,
            details={"field": "destination_table"},
        )
    return config.destination_table


def raise_if_rows_rejected(config: IngestionConfig, details: dict[str, Any]) -> None:
    """Report rows a source skipped (``on_bad_rows: skip``) as PARTIAL; what did load stays.

    Args:
        config: The source.
        details: The run's details; ``tables.<table>.rows_rejected`` and ``rejected_samples``
            are what extracts recorded.

    Raises:
        PartialLoadError: Some rows were rejected.
    """
    per_table = {t: d.get("rows_rejected", 0) for t, d in details["tables"].items()}
    rejected = sum(per_table.values())
    if rejected:
        samples = [s for d in details["tables"].values() for s in d.get("rejected_samples", [])]
        raise PartialLoadError(
            f"source {config.name!r}: {rejected} row(s) rejected and skipped (on_bad_rows: "
            "skip); the other rows were committed. First: "
            + "; ".join(f"{s['file']} line {s['line']}: {s['reason']}" for s in samples[:3]),
            failed_records=rejected,
            source=config.name,
            details={"rows_rejected": per_table, "samples": samples},
        )
