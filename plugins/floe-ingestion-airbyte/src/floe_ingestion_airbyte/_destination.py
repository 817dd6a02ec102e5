"""What an Airbyte admin sets so a connection writes into the platform's Iceberg catalog.

Airbyte writes Iceberg through its own destination connector, *S3 Data Lake*
(``airbyte/destination-s3-data-lake``), which supports REST, Glue, Nessie and Polaris catalogs.
The plugin cannot configure it (it only triggers syncs); this module produces the settings to
enter, informational, with placeholders where a secret goes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from floe_core.catalog import CatalogConfig

__all__ = ["DESTINATION_CONNECTOR", "destination_config"]

DESTINATION_CONNECTOR = "airbyte/destination-s3-data-lake"
"""Airbyte's Iceberg destination connector."""

_SECRET = "<set in Airbyte: {what}>"


def destination_config(catalog: CatalogConfig) -> dict[str, Any]:
    """Return the S3 Data Lake destination settings matching ``catalog``.

    Args:
        catalog: The platform's catalog.

    Returns:
        ``{"connector", "informational", "supported", "configuration", "notes", ...}``,
        JSON-serialisable and free of secret values. For a catalog Airbyte cannot write to
        (pyiceberg's SQL catalog, the embedded default) ``supported`` is False,
        ``configuration`` None and ``notes`` say what to change.
    """
    if catalog.type != "rest":
        # Informational, not an error: the embedded default must stay usable by every plugin,
        # but an admin must know Airbyte cannot write a pyiceberg SQL catalog.
        return {
            "connector": DESTINATION_CONNECTOR,
            "informational": True,
            "supported": False,
            "catalog_name": catalog.name,
            "catalog_type": catalog.type,
            "configuration": None,
            "notes": [
                f"Catalog {catalog.name!r} is pyiceberg's SQL catalog (type 'sql'), which "
                "Airbyte cannot write to: its Iceberg destination (S3 Data Lake) needs a REST, "
                "Glue, Nessie or Polaris catalog.",
                "Run the platform with catalog type 'rest' (uri, warehouse) on S3-compatible "
                "storage so Airbyte and floe write the same tables.",
            ],
        }
    props = catalog.properties
    warehouse = props.get("warehouse.location") or _s3_location(catalog.warehouse)
    bucket = urlparse(warehouse).netloc if warehouse else None
    configuration: dict[str, Any] = {
        "catalog_type": {
            "catalog_type": "REST",
            "server_uri": catalog.uri,
            "namespace": "<the Bronze namespace of the pipeline's destination_table>",
        },
        "warehouse_location": warehouse
        or "<s3://bucket/path where the catalog keeps this warehouse's data>",
        "main_branch_name": "main",
        "s3_bucket_name": bucket or "<the warehouse bucket>",
        "s3_bucket_region": props.get("s3.region") or props.get("client.region") or "us-east-1",
        "access_key_id": _SECRET.format(what="the platform's S3 access key id"),
        "secret_access_key": _SECRET.format(what="the platform's S3 secret access key"),
    }
    if props.get("s3.endpoint"):
        configuration["s3_endpoint"] = props["s3.endpoint"]
    notes = [
        "Airbyte writes the tables itself; floe only triggers and watches the sync.",
        "Set the connection's destination namespace to the pipeline's destination namespace "
        "so floe's lineage and Airbyte's tables agree.",
    ]
    if catalog.warehouse and not warehouse:
        notes.append(
            f"The catalog's warehouse is named {catalog.warehouse!r}; give Airbyte its s3:// "
            "location as warehouse_location."
        )
    if catalog.credential is not None or catalog.token is not None:
        notes.append(
            "The catalog requires authentication (OAuth credential or token); give Airbyte "
            "its own catalog credentials rather than floe's."
        )
    return {
        "connector": DESTINATION_CONNECTOR,
        "informational": True,
        "supported": True,
        "catalog_name": catalog.name,
        "catalog_type": catalog.type,
        "configuration": configuration,
        "notes": notes,
    }


def _s3_location(warehouse: str | None) -> str | None:
    if warehouse and warehouse.startswith(("s3://", "s3a://")):
        return warehouse
    return None
