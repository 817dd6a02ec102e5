"""Declare entry points without installing anything: :func:`write_distribution`.

``importlib.metadata`` finds distributions by scanning ``sys.path`` for ``*.dist-info``
folders. Writing one into a folder on ``sys.path`` (``monkeypatch.syspath_prepend``) makes its
entry points visible to :class:`floe_core.registry.PluginRegistry`, which lets a test check the
discovery rules of a plugin that lives in a test tree, or declare clashing plugins on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_distribution"]


def write_distribution(
    directory: Path,
    name: str,
    entry_points: Mapping[str, Mapping[str, str]],
    *,
    version: str = "0.0.0",
) -> Path:
    """Write a minimal ``<name>-<version>.dist-info`` declaring ``entry_points``.

    Args:
        directory: A folder that is (or will be put) on ``sys.path``.
        name: The distribution name, e.g. ``floe-ingestion-example``.
        entry_points: Entry points by group, e.g.
            ``{"floe.ingestion": {"example": "example_plugin:ExamplePlugin"}}``.
        version: The distribution version.

    Returns:
        The ``.dist-info`` folder written.
    """
    folder = directory / f"{re.sub(r'[-.]+', '_', name)}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines: list[str] = []
    for group, names in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{ep_name} = {value}" for ep_name, value in names.items())
        lines.append("")
    (folder / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder
