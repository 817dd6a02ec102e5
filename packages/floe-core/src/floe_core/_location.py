"""Pointing a plugin's configuration error at the floe.yaml field it is about.

A plugin sees an :class:`~floe_core.ingestion.IngestionConfig`, not the file: its errors say
``unknown field 'tabels'`` with ``details={"field": "tabels"}`` (or ``"fields": [...]``). The
runner knows the file and the source's index, so it prefixes the message with
``floe.yaml: ingestion.sources[0].config.tabels: `` the way file errors read.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from floe_core._validation import Problem, format_loc
from floe_core.errors import ErrorCategory, IngestionError, PipelineConfigurationError
from floe_core.ingestion import IngestionConfig, WriteMode

__all__ = ["check_merge_key", "check_source_type", "check_window", "point_at", "yaml_field"]

_INGESTION_CONFIG_FIELDS = {
    "name": ("name",),
    "source_type": ("type",),
    "destination_table": ("destination", "table"),
    "write_mode": ("destination", "write_disposition"),
    "primary_key": ("destination", "primary_key"),
    "partition_by": ("destination", "partition_by"),
    "sort_by": ("destination", "sort_by"),
    "merge_strategy": ("destination", "merge_strategy"),
    "schema_contract": ("schema_contract",),
    "incremental": ("incremental",),
    "window": ("partitions",),
    "secret_refs": ("secret_refs",),
}
"""IngestionConfig field → where floe.yaml spells it inside a source; the rest is ``config``."""


def yaml_field(index: int, field: str | None = None) -> str:
    """Return the floe.yaml path of a plugin-reported field of source ``index``.

    Args:
        index: The source's position in ``ingestion.sources``.
        field: The field as the plugin named it: an IngestionConfig field (``destination_table``,
            ``incremental.cursor_field``) or a dotted path inside ``source_config``.

    Returns:
        e.g. ``ingestion.sources[0].config.credentials.host`` or
        ``ingestion.sources[2].destination.table``; the source itself when ``field`` is empty.
    """
    base: tuple[str | int, ...] = ("ingestion", "sources", index)
    if not field:
        return format_loc(base)
    head, *rest = field.split(".")
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in rest]
    if head in _INGESTION_CONFIG_FIELDS:
        return format_loc((*base, *_INGESTION_CONFIG_FIELDS[head], *parts))
    if head in ("config", "source_config"):
        return format_loc((*base, "config", *parts))
    return format_loc((*base, "config", int(head) if head.isdigit() else head, *parts))


def _field_of(error: IngestionError) -> str | None:
    field = error.details.get("field")
    if isinstance(field, str) and field:
        return field
    fields = error.details.get("fields")
    if isinstance(fields, list) and len(fields) == 1 and isinstance(fields[0], str):
        return fields[0]
    return None


def point_at(error: IngestionError, file: Path | str, index: int) -> IngestionError:
    """Prefix a CONFIGURATION error of source ``index`` with its file and field path.

    The error is changed in place (it is the plugin's own, just raised) and returned; other
    categories, and an error already naming the file, are left alone.

    Args:
        error: What ``create_pipeline`` raised.
        file: The floe.yaml.
        index: The source's position in ``ingestion.sources``.

    Returns:
        ``error``, its message now ``<file>: <field path>: <message>`` and its details carrying
        ``file`` and ``field_path``.
    """
    if error.category is not ErrorCategory.CONFIGURATION:
        return error
    path = yaml_field(index, _field_of(error))
    if not error.message.startswith(f"{file}: "):
        error.message = f"{file}: {path}: {error.message}"
        error.args = (error.message,)
    error.details = {**error.details, "file": str(file), "field_path": path}
    return error


def check_source_type(
    source: str,
    source_type: str,
    available: Sequence[str],
    *,
    plugin: str,
    file: Path | str,
    index: int,
) -> PipelineConfigurationError | None:
    """Return the error for a source ``type`` the plugin does not implement, else None.

    Args:
        source: The source's name.
        source_type: The source's ``type``.
        available: The plugin's ``list_available_sources()``.
        plugin: The plugin's name.
        file: The floe.yaml.
        index: The source's position in ``ingestion.sources``.

    Returns:
        A CONFIGURATION error naming the file, ``ingestion.sources[i].type`` and the valid
        types, or None when the type is implemented.
    """
    if source_type in available:
        return None
    close = difflib.get_close_matches(source_type, available, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    problem = Problem(
        yaml_field(index, "source_type"),
        f"source type {source_type!r} is not implemented by plugin {plugin!r}{hint} "
        f"(its source types: {', '.join(sorted(available)) or 'none'}; `floe sources` lists "
        "every plugin's)",
    )
    return PipelineConfigurationError(
        f"{file}: {problem}",
        source=source,
        details={"file": str(file), "field_path": problem.field},
    )


def check_merge_key(
    config: IngestionConfig, supplies_key: bool, *, file: Path | str, index: int
) -> PipelineConfigurationError | None:
    """Return the error for a merge that has no key to upsert on, else None.

    The one rule: ``write_disposition: merge`` needs ``primary_key``, unless the plugin says
    its source type supplies the key (``IngestionPlugin.source_supplies_primary_key``, e.g. a
    database table's own primary key).

    Args:
        config: The source.
        supplies_key: What the plugin answered for ``config.source_type``.
        file: The floe.yaml.
        index: The source's position in ``ingestion.sources``.

    Returns:
        A CONFIGURATION error naming the file and ``ingestion.sources[i].destination.
        primary_key``, or None when the source has or supplies a key (or does not merge).
    """
    if config.write_mode is not WriteMode.MERGE or config.primary_key or supplies_key:
        return None
    problem = Problem(
        yaml_field(index, "primary_key"),
        f"write_disposition 'merge' needs primary_key (the column or columns to upsert on), "
        f"e.g. primary_key: [id]; source type {config.source_type!r} does not supply one",
    )
    return PipelineConfigurationError(
        f"{file}: {problem}",
        source=config.name,
        details={"file": str(file), "field_path": problem.field},
    )


def check_window(
    config: IngestionConfig,
    partitioned: bool,
    supported: bool,
    *,
    plugin: str,
    file: Path | str,
    index: int,
) -> PipelineConfigurationError | None:
    """Return the error for a partitioned source the plugin cannot load by window, else None.

    Args:
        config: The source.
        partitioned: Whether floe.yaml gives the source ``partitions`` (or it has a window).
        supported: What ``IngestionPlugin.supports_window`` answered for its type.
        plugin: The plugin's name.
        file: The floe.yaml.
        index: The source's position in ``ingestion.sources``.

    Returns:
        A CONFIGURATION error naming the file and ``ingestion.sources[i].partitions``, or None.
    """
    if not (partitioned or config.window is not None) or supported:
        return None
    problem = Problem(
        yaml_field(index, "window"),
        f"plugin {plugin!r} cannot load source type {config.source_type!r} by time window; "
        "remove partitions (the incremental cursor then applies) or use a plugin that "
        "supports windows for this type",
    )
    return PipelineConfigurationError(
        f"{file}: {problem}",
        source=config.name,
        details={"file": str(file), "field_path": problem.field},
    )
