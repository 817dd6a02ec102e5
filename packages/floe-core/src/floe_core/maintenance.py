"""Table maintenance settings: the manifest's ``maintenance:`` block and floe.yaml overrides.

The platform team sets defaults for every table in ``platform-manifest.yaml``; a data team may
override any of them per source in ``floe.yaml`` (``sources[].maintenance``). The engine that
acts on them (compaction, snapshot expiry, orphan-file removal) is floe-iceberg's
``floe_iceberg.maintenance``; this module only describes and checks the settings::

    maintenance:
      target_file_size_bytes: 134217728    # compacted Parquet files aim at this size on disk
      small_file_threshold_bytes: 33554432 # files below it are rewritten (default: target / 4)
      snapshot_retention_days: 7           # snapshots older than this are expired ...
      keep_last_snapshots: 5               # ... but the newest ones are always kept
      orphan_window_days: 3                # unreferenced files younger than this are kept
      schedule: "0 3 * * *"                # cron an orchestrator runs maintenance on (optional)
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from floe_core._cron import cron_problem
from floe_core._loader import ConfigFileError, Problem
from floe_core._scalar import YamlFloat, YamlInt

__all__ = [
    "DEFAULT_TARGET_FILE_SIZE_BYTES",
    "MaintenanceConfig",
    "MaintenanceOverride",
    "source_settings",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)

DEFAULT_TARGET_FILE_SIZE_BYTES = 128 * 1024 * 1024
"""Compacted data files aim at 128 MiB of Parquet on disk."""


class MaintenanceOverride(BaseModel):
    """``sources[].maintenance`` in floe.yaml: any subset of :class:`MaintenanceConfig`."""

    model_config = _STRICT

    target_file_size_bytes: YamlInt | None = Field(default=None, ge=1)
    small_file_threshold_bytes: YamlInt | None = Field(default=None, ge=1)
    snapshot_retention_days: YamlFloat | None = Field(default=None, ge=0)
    keep_last_snapshots: YamlInt | None = Field(default=None, ge=1)
    orphan_window_days: YamlFloat | None = Field(default=None, ge=0)


class MaintenanceConfig(BaseModel):
    """``maintenance``: how floe keeps the tables it writes healthy."""

    model_config = _STRICT

    target_file_size_bytes: YamlInt = Field(
        default=DEFAULT_TARGET_FILE_SIZE_BYTES,
        ge=1,
        description="Size on disk compaction aims at for each data file.",
    )
    small_file_threshold_bytes: YamlInt | None = Field(
        default=None,
        ge=1,
        description="Data files smaller than this are compacted; default target / 4.",
    )
    snapshot_retention_days: YamlFloat = Field(
        default=7.0, ge=0, description="Snapshots older than this many days are expired."
    )
    keep_last_snapshots: YamlInt = Field(
        default=5, ge=1, description="The newest snapshots of the table, never expired."
    )
    orphan_window_days: YamlFloat = Field(
        default=3.0,
        ge=0,
        description="Unreferenced files younger than this are kept (a load may be in flight).",
    )
    schedule: str | None = Field(
        default=None,
        description="Cron expression an orchestrator runs maintenance on, e.g. '0 3 * * *'.",
    )

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            problem = cron_problem(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _threshold_below_target(self) -> Self:
        if self.small_file_threshold_bytes is not None and (
            self.small_file_threshold_bytes > self.target_file_size_bytes
        ):
            raise PydanticCustomError(
                "small_file_threshold",
                "small_file_threshold_bytes ({small}) must not exceed target_file_size_bytes "
                "({target}): compacted files would count as small again",
                {
                    "small": self.small_file_threshold_bytes,
                    "target": self.target_file_size_bytes,
                    "field": ("small_file_threshold_bytes",),
                },
            )
        return self

    @property
    def small_file_bytes(self) -> int:
        """The small-file threshold in effect (a quarter of the target unless set)."""
        if self.small_file_threshold_bytes is not None:
            return self.small_file_threshold_bytes
        return max(1, self.target_file_size_bytes // 4)

    def with_override(self, override: MaintenanceOverride | None) -> MaintenanceConfig:
        """Return these settings with a source's overrides applied.

        Args:
            override: The source's ``maintenance`` block, or None.

        Returns:
            The merged settings.

        Raises:
            pydantic.ValidationError: The merged settings are inconsistent (a threshold above
                the target).
        """
        if override is None:
            return self
        given = override.model_dump(exclude_none=True)
        return MaintenanceConfig.model_validate({**self.model_dump(), **given})


def source_settings(
    platform: MaintenanceConfig,
    override: MaintenanceOverride | None,
    *,
    file: Path | str | None,
    index: int,
) -> MaintenanceConfig:
    """Return one source's maintenance settings: the manifest's, with the source's overrides.

    Args:
        platform: The manifest's ``maintenance`` block.
        override: The source's ``maintenance`` block in floe.yaml.
        file: The floe.yaml, for the message.
        index: The source's position in ``ingestion.sources``.

    Returns:
        The merged settings.

    Raises:
        ConfigFileError: INVALID_CONFIG naming ``ingestion.sources[<index>].maintenance`` when
            the merged settings are inconsistent.
    """
    try:
        return platform.with_override(override)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        field = f"ingestion.sources[{index}].maintenance"
        raise ConfigFileError.of(file or "floe.yaml", [Problem(field, message)]) from None
