"""Constants of the engine that a source plugin uses too (this module imports only pyarrow).

A plugin importing them (``from floe_iceberg import DETECTED_TIMESTAMP``) does not import
pyiceberg: :mod:`floe_iceberg` loads its heavy modules only when one of their names is used.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["DETECTED_KEY", "DETECTED_TIMESTAMP", "TIMESTAMPTZ"]

DETECTED_KEY = b"floe.detected"
"""Arrow field-metadata key a source sets on a text column whose values it recognised."""

DETECTED_TIMESTAMP = {DETECTED_KEY: b"timestamp"}
"""Field metadata of a text column whose every value is an ISO-8601 timestamp with a zone.

A new column carrying it becomes ``timestamptz`` (:func:`floe_iceberg.schema.coerce_types`);
a column the table already has keeps the table's type.
"""

TIMESTAMPTZ = pa.timestamp("us", tz="UTC")
"""The Arrow type of an Iceberg ``timestamptz`` column: UTC, microseconds."""
