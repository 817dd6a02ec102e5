"""Find, load and check ingestion plugins: :class:`PluginRegistry`.

Plugins register under the ``floe.ingestion`` entry-point group::

    [project.entry-points."floe.ingestion"]
    dlt = "floe_ingestion_dlt.plugin:DltIngestionPlugin"

Discovery is lazy: :meth:`PluginRegistry.names` and :meth:`PluginRegistry.entries` read only
package metadata; a plugin's module is imported the first time :meth:`PluginRegistry.get` asks
for it, then checked and cached. Every rejection is a :class:`~floe_core.errors.PluginError`:

- ``PLUGIN_NOT_FOUND``: no plugin of that name (lists the installed ones, "did you mean").
- ``PLUGIN_LOAD_FAILED``: importing the entry point failed (names ``name = value`` and its
  distribution, says which ``pip install`` fixes a missing optional dependency).
- ``PLUGIN_INCOMPATIBLE``: not a concrete :class:`~floe_core.plugin.IngestionPlugin` subclass,
  a ``floe_api_version`` this floe-core cannot speak, a ``name`` that differs from the entry
  point's, or one name claimed by two distributions.

``name``, ``floe_api_version``, ``version`` and ``is_external`` are class attributes
(:class:`~floe_core.plugin.PluginMetadata`), read without running the plugin's ``__init__``; an
older plugin's constant-returning properties are read the same way. ``version`` defaults to the
version of the distribution that declares the entry point.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from floe_core._plugin_check import (
    clash,
    load_entry_point,
    read_constant,
    validate_plugin_class,
)
from floe_core.catalog import CatalogConfig
from floe_core.errors import ErrorCode, IngestionError, PluginError
from floe_core.plugin import IngestionPlugin, PluginType, _DistributionVersion

__all__ = ["MANUAL_DISTRIBUTION", "PluginEntry", "PluginInfo", "PluginRegistry"]

MANUAL_DISTRIBUTION = "(manual)"
"""The distribution recorded for plugins added with :meth:`PluginRegistry.register`."""

_UNKNOWN_DISTRIBUTION = "(unknown distribution)"


@dataclass(frozen=True)
class PluginEntry:
    """One plugin as found in package metadata (or registered in process); nothing imported.

    Attributes:
        name: The entry-point name, which is the plugin's name (``dlt``).
        value: Where the class lives, ``module:Class``.
        distribution: The installed distribution that declares it, e.g. ``floe-ingestion-dlt``.
        version: That distribution's version, or None when unknown.
    """

    name: str
    value: str
    distribution: str
    version: str | None


@dataclass(frozen=True)
class PluginInfo:
    """What a loaded plugin class declares, read without running its ``__init__``.

    Attributes:
        entry: Where it came from.
        version: The plugin's own ``version``.
        floe_api_version: The plugin API it speaks.
        is_external: True when it drives an engine it does not run.
        description: One line about it.
    """

    entry: PluginEntry
    version: str | None
    floe_api_version: str
    is_external: bool | None
    description: str


@dataclass(frozen=True)
class _Candidate:
    entry: PluginEntry
    entry_point: importlib.metadata.EntryPoint | None = None
    cls: type[IngestionPlugin] | None = None


class PluginRegistry:
    """The ingestion plugins installed in this environment, loaded on demand.

    Args:
        group: The plugin group; its value is the entry-point group searched.
        entry_points: Entry points to use instead of the installed ones (for tests).
    """

    def __init__(
        self,
        group: PluginType = PluginType.INGESTION,
        *,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    ) -> None:
        self.group = group
        self._given = list(entry_points) if entry_points is not None else None
        self._discovered: dict[str, list[_Candidate]] | None = None
        self._manual: dict[str, _Candidate] = {}
        self._loaded: dict[str, type[IngestionPlugin]] = {}

    # Discovery (metadata only) -----------------------------------------------------------

    def _candidates(self) -> dict[str, list[_Candidate]]:
        if self._discovered is None:
            found = (
                self._given
                if self._given is not None
                else list(importlib.metadata.entry_points(group=self.group.value))
            )
            discovered: dict[str, list[_Candidate]] = {}
            for ep in found:
                candidate = _Candidate(_entry_of(ep), entry_point=ep)
                same = discovered.setdefault(ep.name, [])
                # The same distribution seen twice on sys.path is one plugin, not a clash.
                if all(c.entry.distribution != candidate.entry.distribution for c in same):
                    same.append(candidate)
            self._discovered = discovered
        return self._discovered

    def _all_candidates(self, name: str) -> list[_Candidate]:
        found = list(self._candidates().get(name, []))
        manual = self._manual.get(name)
        return [manual, *found] if manual is not None else found

    def names(self) -> list[str]:
        """Return the names of every plugin, sorted, without importing any.

        Returns:
            Plugin names, e.g. ``["airbyte", "dlt"]``.
        """
        return sorted({*self._candidates(), *self._manual})

    def entries(self) -> list[PluginEntry]:
        """Return what package metadata says about every plugin, without importing any.

        Returns:
            One entry per (name, distribution), sorted by name then distribution.
        """
        every = [c.entry for name in self.names() for c in self._all_candidates(name)]
        return sorted(every, key=lambda e: (e.name, e.distribution))

    # Registration and loading ------------------------------------------------------------

    def register(
        self,
        name: str,
        cls: type[IngestionPlugin],
        *,
        distribution: str = MANUAL_DISTRIBUTION,
    ) -> None:
        """Add an in-process plugin (tests, embedding applications).

        Registering a name again from the same ``distribution`` replaces the earlier class.

        Args:
            name: The plugin name; must equal the class's ``name``.
            cls: A concrete IngestionPlugin subclass.
            distribution: Who provides it, shown in listings and clash messages.

        Raises:
            PluginError: PLUGIN_INCOMPATIBLE when ``cls`` is not a usable plugin, its ``name``
                differs, or another distribution already provides ``name``.
        """
        value = f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', cls)!s}"
        entry = PluginEntry(name, value, distribution, None)
        others = [c for c in self._all_candidates(name) if c.entry.distribution != distribution]
        if others:
            raise clash(name, [entry, *(c.entry for c in others)])
        checked = validate_plugin_class(cls, entry)
        self._manual[name] = _Candidate(entry, cls=checked)
        self._loaded.pop(name, None)

    def get(self, name: str) -> type[IngestionPlugin]:
        """Return the plugin class called ``name``, importing and checking it on first use.

        Args:
            name: The plugin name (entry-point name).

        Returns:
            The plugin class.

        Raises:
            PluginError: PLUGIN_NOT_FOUND, PLUGIN_LOAD_FAILED or PLUGIN_INCOMPATIBLE.
        """
        if name in self._loaded:
            return self._loaded[name]
        candidates = self._all_candidates(name)
        if not candidates:
            raise self._not_found(name)
        if len(candidates) > 1:
            raise clash(name, [c.entry for c in candidates])
        candidate = candidates[0]
        if candidate.cls is not None:
            cls = candidate.cls
        else:
            assert candidate.entry_point is not None
            loaded = load_entry_point(candidate.entry_point, candidate.entry)
            cls = validate_plugin_class(loaded, candidate.entry)
        self._loaded[name] = cls
        return cls

    def create(
        self,
        name: str,
        config: Mapping[str, Any] | BaseModel | None = None,
        *,
        catalog: CatalogConfig | None = None,
    ) -> IngestionPlugin:
        """Instantiate the plugin called ``name``.

        Args:
            name: The plugin name.
            config: The plugin's configuration (``plugins.ingestion.config``).
            catalog: The Iceberg catalog; the plugin's default (embedded) when None.

        Returns:
            A plugin instance, not yet started.

        Raises:
            PluginError: As :meth:`get`, or PLUGIN_LOAD_FAILED when the constructor fails
                unexpectedly.
            PipelineConfigurationError: ``config`` does not match the plugin's schema.
        """
        cls = self.get(name)
        try:
            return cls(config, catalog=catalog)
        except IngestionError:
            raise
        except Exception as exc:
            raise PluginError(
                f"ingestion plugin {name!r} ({cls.__module__}:{cls.__qualname__}) failed to "
                f"initialise: {type(exc).__name__}: {exc}",
                code=ErrorCode.PLUGIN_LOAD_FAILED,
                details={"plugin": name},
            ) from exc

    def describe(self, name: str) -> PluginInfo:
        """Load the plugin called ``name`` and return what it declares.

        Args:
            name: The plugin name.

        Returns:
            Its metadata; ``version``/``is_external`` are None when an older plugin's property
            for them needs ``__init__``.

        Raises:
            PluginError: As :meth:`get`.
        """
        cls = self.get(name)
        entry = next(c.entry for c in self._all_candidates(name))

        def soft(attribute: str) -> Any:
            try:
                return read_constant(cls, attribute, entry)
            except PluginError:
                return None

        version = soft("version")
        if version in (None, "unknown") or _default_version(cls):
            version = entry.version or version

        doc = (cls.__doc__ or "").strip()
        return PluginInfo(
            entry=entry,
            version=version,
            floe_api_version=str(read_constant(cls, "floe_api_version", entry)),
            is_external=soft("is_external"),
            description=doc.splitlines()[0] if doc else "",
        )

    def all(self) -> dict[str, type[IngestionPlugin]]:
        """Load every plugin.

        Returns:
            Plugin classes by name.

        Raises:
            PluginError: The first plugin that cannot be loaded.
        """
        return {name: self.get(name) for name in self.names()}

    def _not_found(self, name: str) -> PluginError:
        installed = self.names()
        message = f"no ingestion plugin named {name!r}"
        close = difflib.get_close_matches(name, installed, n=1)
        message += f"; did you mean {close[0]!r}?" if close else "."
        message += f" Installed plugins: {', '.join(installed) or '(none)'}"
        if not close:
            message += f". Plugins register under the {self.group.value!r} entry-point group"
            distribution = KNOWN_DISTRIBUTIONS.get(name)
            if distribution is not None:
                message += f"; this one installs as `pip install {distribution}`"
        return PluginError(
            message,
            code=ErrorCode.PLUGIN_NOT_FOUND,
            details={"plugin": name, "installed": installed},
        )


# Helpers ---------------------------------------------------------------------------------

KNOWN_DISTRIBUTIONS = {
    "dlt": "floe-ingestion-dlt",
    "airbyte": "floe-ingestion-airbyte",
}
"""The floe plugin distributions that exist, by plugin name: the only ``pip install`` floe
suggests (guessing ``floe-ingestion-<name>`` would invite a typosquatted package)."""


def _default_version(cls: type[IngestionPlugin]) -> bool:
    """Whether the class left ``version`` to its distribution (the entry point knows it)."""
    return isinstance(inspect.getattr_static(cls, "version", None), _DistributionVersion)


def _entry_of(ep: importlib.metadata.EntryPoint) -> PluginEntry:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return PluginEntry(ep.name, ep.value, _UNKNOWN_DISTRIBUTION, None)
    return PluginEntry(ep.name, ep.value, dist.name, dist.version)
