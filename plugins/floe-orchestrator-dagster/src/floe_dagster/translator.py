"""How a floe source maps to Dagster: one small object decides keys, kinds, pools and subsets.

Like dagster-dlt's ``DagsterDltTranslator``, :class:`FloeTranslator` holds every naming
decision, so the asset factory (:mod:`floe_dagster.asset`) stays generic; subclass it to
change one decision.

- Resources: a source whose destination is ``namespace.table`` has one resource, named after
  the table. A ``namespace.*`` source has one per listed SQL table (``config.tables``) or REST
  resource (``config.resources``), each landing in ``namespace.<resource>``.
- Asset key ``ingestion__{source}__{resource}``, group ``ingestion``, kinds
  ``{<plugin>, iceberg}``, ``dagster/table_name`` = the Iceberg ``namespace.table``.
- Partitions: a source with ``partitions`` in floe.yaml gets a time-window partitions
  definition (``hourly``, ``daily``, ``monthly`` from ``partitions.start``, UTC) and a
  single-run backfill policy: a range backfill is one run loading the range as one window.
- Pool: the source's ``pool`` from floe.yaml, else one derived from the source system (the
  database's scheme, host and name; a REST API's host; a bucket), so all tables read from one
  database share one Dagster concurrency limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_core.project import SourceSpec

__all__ = ["GROUP", "FloeAsset", "FloeTranslator"]

GROUP = "ingestion"
"""The asset group of every ingestion asset."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class FloeAsset:
    """One destination table of a source, as one Dagster asset.

    Attributes:
        source: The source name.
        resource: The table or REST resource name the asset key carries.
        table: The Iceberg ``namespace.table``.
        key: The asset key.
    """

    source: str
    resource: str
    table: str
    key: dg.AssetKey


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_").lower()


class FloeTranslator:
    """Decides the Dagster shape of floe sources; override a method to change one decision."""

    def resources(self, config: IngestionConfig) -> list[str]:
        """Return the resources (destination tables) of a source.

        Args:
            config: The source, secrets unresolved.

        Returns:
            Resource names in load order.

        Raises:
            PipelineConfigurationError: A ``namespace.*`` source that lists no tables or
                resources (they cannot be known without connecting).
        """
        if config.table is not None:
            return [config.table]
        listed: Any = config.source_config.get("tables") or config.source_config.get("resources")
        names = [r if isinstance(r, str) else r.get("name") for r in listed or []]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise PipelineConfigurationError(
                f"source {config.name!r}: destination {config.destination_table!r} lands one "
                "table per resource, so Dagster needs them listed: give config.tables "
                "(sql_database) or named config.resources (rest_api)",
                source=config.name,
                details={"field": "config.tables"},
            )
        return [str(n) for n in names]

    def asset_key(self, config: IngestionConfig, resource: str) -> dg.AssetKey:
        """Return the asset key of one resource.

        Args:
            config: The source.
            resource: One of :meth:`resources`.

        Returns:
            ``ingestion__{source}__{resource}``.
        """
        return dg.AssetKey(f"{GROUP}__{_safe(config.name)}__{_safe(resource)}")

    def op_name(self, config: IngestionConfig) -> str:
        """Return the name of a source's multi-asset (its op, job and schedule derive from it).

        Args:
            config: The source.

        Returns:
            ``ingestion__{source}``.
        """
        return f"{GROUP}__{_safe(config.name)}"

    def assets(self, config: IngestionConfig) -> list[FloeAsset]:
        """Return one :class:`FloeAsset` per resource of a source.

        Args:
            config: The source.

        Returns:
            The assets in load order.
        """
        return [
            FloeAsset(
                source=config.name,
                resource=resource,
                table=config.destination_table
                if config.table is not None
                else f"{config.namespace}.{resource}",
                key=self.asset_key(config, resource),
            )
            for resource in self.resources(config)
        ]

    def asset_spec(
        self, spec: SourceSpec, config: IngestionConfig, asset: FloeAsset, plugin: str
    ) -> dg.AssetSpec:
        """Return the Dagster spec of one asset.

        Args:
            spec: The floe.yaml entry (description, schedule, pool).
            config: Its IngestionConfig.
            asset: The asset.
            plugin: The ingestion plugin's name (a kind).

        Returns:
            The spec: group ``ingestion``, kinds ``{plugin, iceberg}``, ``dagster/table_name``.
        """
        description = spec.description or (
            f"{config.source_type} source {config.name!r} ({plugin}) into Iceberg {asset.table}"
        )
        return dg.AssetSpec(
            key=asset.key,
            group_name=GROUP,
            kinds={plugin, "iceberg"},
            description=description,
            metadata={
                "dagster/table_name": asset.table,
                "floe/source": config.name,
                "floe/source_type": config.source_type,
                "floe/write_mode": config.write_mode.value,
            },
            tags={"floe/source": _safe(config.name)},
        )

    def partitions_def(self, spec: SourceSpec) -> dg.TimeWindowPartitionsDefinition | None:
        """Return the partitions of a source's assets: its ``partitions`` block, else None.

        Args:
            spec: The floe.yaml entry.

        Returns:
            Hourly, daily or monthly partitions from ``partitions.start`` (UTC), or None.
        """
        if spec.partitions is None:
            return None
        start = spec.partitions.start
        if spec.partitions.schedule == "hourly":
            return dg.HourlyPartitionsDefinition(start_date=start, timezone="UTC")
        if spec.partitions.schedule == "monthly":
            return dg.MonthlyPartitionsDefinition(start_date=start, timezone="UTC")
        return dg.DailyPartitionsDefinition(start_date=start, timezone="UTC")

    def backfill_policy(self, spec: SourceSpec) -> dg.BackfillPolicy | None:
        """Return how a backfill of a partitioned source runs.

        A range of windows is one window to the plugin ([first start, last end)), loaded and
        replaced in one snapshot per table, so a backfill is a single run.

        Args:
            spec: The floe.yaml entry.

        Returns:
            ``BackfillPolicy.single_run()`` for a partitioned source, else None.
        """
        return dg.BackfillPolicy.single_run() if spec.partitions is not None else None

    def pool(self, spec: SourceSpec, config: IngestionConfig) -> str:
        """Return the Dagster pool of a source's assets.

        Args:
            spec: The floe.yaml entry; its ``pool`` wins.
            config: The source, secrets unresolved (a secret connection string is not read).

        Returns:
            A pool name: ``floe_<system>``, e.g. ``floe_postgresql_db_example_com_5432_shop``.
        """
        if spec.pool:
            return spec.pool
        source = config.source_config
        parts: Sequence[Any]
        if isinstance(source.get("connection_string"), str):
            url = urlsplit(source["connection_string"])
            database = url.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            parts = [url.scheme.split("+")[0], url.hostname, url.port, database]
        elif isinstance(source.get("credentials"), dict) and "drivername" in source["credentials"]:
            creds = source["credentials"]
            parts = [
                str(creds.get("drivername", "")).split("+")[0],
                creds.get("host"),
                creds.get("port"),
                creds.get("database"),
            ]
        elif isinstance(source.get("client"), dict) and "base_url" in source["client"]:
            parts = ["http", urlsplit(str(source["client"]["base_url"])).hostname]
        elif isinstance(source.get("bucket_url"), str):
            url = urlsplit(source["bucket_url"])
            parts = [url.scheme or "file", url.hostname or url.path]
        elif "connection_id" in source or "connection_id" in config.secret_refs:
            parts = ["airbyte"]
        else:
            parts = [config.source_type, config.name]
        return "floe_" + _safe("_".join(str(p) for p in parts if p not in (None, "")))

    def subset(self, config: IngestionConfig, assets: Sequence[FloeAsset]) -> IngestionConfig:
        """Narrow a ``namespace.*`` source to the selected assets' resources.

        Args:
            config: The source (secrets resolved or not).
            assets: The selected assets of this source.

        Returns:
            The config that loads only those tables (itself when nothing is left out).
        """
        wanted = {a.resource for a in assets}
        if config.table is not None or set(self.resources(config)) <= wanted:
            return config
        source = dict(config.source_config)
        if "tables" in source:
            source["tables"] = [t for t in source["tables"] if t in wanted]
        else:
            source["resources"] = [
                r
                for r in source.get("resources", [])
                if (r if isinstance(r, str) else r.get("name")) in wanted
            ]
        return config.model_copy(update={"source_config": source})
