"""Checks the registry applies to a plugin class, and the messages it gives (internal).

Kept apart from :mod:`floe_core.registry` so each module stays small; see that module's
docstring for the rules.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from typing import TYPE_CHECKING, Any

from floe_core.errors import ErrorCode, PluginError
from floe_core.plugin import FLOE_API_VERSION, IngestionPlugin

if TYPE_CHECKING:
    from floe_core.registry import PluginEntry

__all__ = [
    "clash",
    "install_hint",
    "load_entry_point",
    "read_constant",
    "validate_plugin_class",
    "where",
]

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def where(entry: PluginEntry) -> str:
    version = f" {entry.version}" if entry.version else ""
    return f"entry point '{entry.name} = {entry.value}' from {entry.distribution}{version}"


def clash(name: str, entries: list[PluginEntry]) -> PluginError:
    listed = "; ".join(f"{e.distribution} ({e.value})" for e in entries)
    return PluginError(
        f"ingestion plugin name {name!r} is provided by more than one distribution: {listed}. "
        "Uninstall all but one of them",
        code=ErrorCode.PLUGIN_INCOMPATIBLE,
        details={"plugin": name, "distributions": [e.distribution for e in entries]},
    )


def load_entry_point(ep: importlib.metadata.EntryPoint, entry: PluginEntry) -> Any:
    try:
        return ep.load()
    except ImportError as exc:
        hint = install_hint(exc, entry)
        raise PluginError(
            f"cannot load {where(entry)}: {type(exc).__name__}: {exc}{hint}",
            code=ErrorCode.PLUGIN_LOAD_FAILED,
            details={"plugin": entry.name, "distribution": entry.distribution},
        ) from exc
    except Exception as exc:
        raise PluginError(
            f"cannot load {where(entry)}: {type(exc).__name__}: {exc}",
            code=ErrorCode.PLUGIN_LOAD_FAILED,
            details={"plugin": entry.name, "distribution": entry.distribution},
        ) from exc


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_hint(exc: ImportError, entry: PluginEntry) -> str:
    """Say which ``pip install`` provides the module an ImportError names, when we can tell."""
    module = (exc.name or "").split(".")[0]
    if not module or module == entry.value.split(".")[0].split(":")[0]:
        return ""
    wanted = _normalise(module)
    try:
        requires = importlib.metadata.requires(entry.distribution) or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    for requirement in requires:
        req_name = _normalise(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
        if not (req_name == wanted or req_name.startswith(wanted + "-")):
            continue
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        if extra:
            return (
                f". The optional dependency {module!r} is missing: "
                f"pip install '{entry.distribution}[{extra.group(1)}]'"
            )
        return f". The dependency {module!r} is missing: pip install {req_name}"
    return f". The module {module!r} is missing: pip install {module} (or the extra that has it)"


def read_constant(cls: type[Any], attribute: str, entry: PluginEntry) -> Any:
    """Read a metadata class attribute (or an older plugin's constant property); None if absent."""
    if inspect.getattr_static(cls, attribute, _ABSENT) is _ABSENT:
        return None
    try:
        return getattr(cls, attribute)
    except Exception as exc:
        raise PluginError(
            f"{where(entry)}: {cls.__qualname__}.{attribute} must return a constant without "
            f"needing __init__ (best: a class attribute, {attribute} = ...); it raised "
            f"{type(exc).__name__}: {exc}",
            code=ErrorCode.PLUGIN_INCOMPATIBLE,
            details={"plugin": entry.name, "distribution": entry.distribution},
        ) from exc


_ABSENT = object()


def _incompatible(entry: PluginEntry, reason: str) -> PluginError:
    return PluginError(
        f"{where(entry)} is not a usable ingestion plugin: {reason}",
        code=ErrorCode.PLUGIN_INCOMPATIBLE,
        details={"plugin": entry.name, "distribution": entry.distribution},
    )


def validate_plugin_class(obj: Any, entry: PluginEntry) -> type[IngestionPlugin]:
    if not inspect.isclass(obj):
        raise _incompatible(
            entry, f"it points at {type(obj).__name__} {obj!r}, not a class (want module:Class)"
        )
    if not issubclass(obj, IngestionPlugin):
        raise _incompatible(
            entry, f"{obj.__qualname__} does not subclass floe_core.plugin.IngestionPlugin"
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise _incompatible(
            entry, f"{obj.__qualname__} is abstract; it does not implement {missing}"
        )
    api = read_constant(obj, "floe_api_version", entry)
    _check_api(api, obj, entry)
    name = read_constant(obj, "name", entry)
    if name is None:
        raise _incompatible(
            entry, f"{obj.__qualname__} declares no name; add name = {entry.name!r} to the class"
        )
    if name != entry.name:
        raise _incompatible(
            entry,
            f"{obj.__qualname__}.name is {name!r} but the entry point is named {entry.name!r}; "
            "they must be equal",
        )
    return obj


def _check_api(api: Any, cls: type[Any], entry: PluginEntry) -> None:
    ours = _VERSION.match(FLOE_API_VERSION)
    assert ours is not None
    major, minor = int(ours.group(1)), int(ours.group(2))
    theirs = _VERSION.match(api) if isinstance(api, str) else None
    if theirs is None:
        raise _incompatible(
            entry,
            f"{cls.__qualname__}.floe_api_version is {api!r}; it must be 'MAJOR.MINOR' "
            f"(this floe-core speaks {FLOE_API_VERSION})",
        )
    if int(theirs.group(1)) != major or int(theirs.group(2)) > minor:
        raise _incompatible(
            entry,
            f"it needs floe plugin API {api} but this floe-core speaks {FLOE_API_VERSION} "
            f"(compatible: {major}.0 to {FLOE_API_VERSION}); upgrade floe-core or install a "
            f"{entry.distribution} release built for API {major}.x",
        )
