"""The contract rules about what a plugin is: discovery, metadata and the ABC's surface."""

from __future__ import annotations

import inspect
import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, SecretStr

from floe_core import (
    FLOE_API_VERSION,
    CatalogConfig,
    ErrorCategory,
    IngestionConfig,
    IngestionError,
    IngestionPlugin,
    PluginType,
)
from floe_testing._check import (
    API_VERSION,
    CANARY,
    NAME,
    SEMVER,
    broken,
    call,
    guarded,
    raised,
    secret_paths,
)


class SurfaceRules:
    """Rules checked without running a load; mixed into IngestionPluginContract."""

    expected_entry_point: ClassVar[str | None]

    def _entry_point_name(self) -> str:
        if not hasattr(type(self), "expected_entry_point"):
            broken(
                "discovery.entry-point",
                f"{type(self).__name__} does not set expected_entry_point",
                "set the class attribute expected_entry_point = '<your entry-point name>', or "
                "None when the plugin is not installed through a floe.ingestion entry point",
            )
        name = type(self).expected_entry_point
        if name is None:
            pytest.skip(
                f"{type(self).__name__}.expected_entry_point is None: the plugin is not installed "
                "through a floe.ingestion entry point; set it to the entry-point name to check "
                "discovery"
            )
        return name

    # Discovery -----------------------------------------------------------------------------

    def test_entry_point_declared_once(self, plugin: IngestionPlugin) -> None:
        """``discovery.entry-point``: the name appears once in the ``floe.ingestion`` group."""
        name = self._entry_point_name()
        group = PluginType.INGESTION.value
        found = [ep for ep in entry_points(group=group) if ep.name == name]
        if not found:
            broken(
                "discovery.entry-point",
                f"no entry point named {name!r} in group {group!r}",
                f'declare it in pyproject.toml: [project.entry-points."{group}"] '
                f'{name} = "your_package.module:{type(plugin).__name__}", then reinstall',
            )
        distributions = sorted({ep.dist.name if ep.dist else "(unknown)" for ep in found})
        if len(found) != 1:
            broken(
                "discovery.entry-point",
                f"entry point {name!r} is declared {len(found)} times in {group!r}, by "
                f"{', '.join(distributions)}",
                "declare it once: remove the duplicate declaration or uninstall the other "
                "distribution",
            )

    def test_entry_point_loads_plugin_class(self, plugin: IngestionPlugin) -> None:
        """``discovery.loads``: ``PluginRegistry().get(name)`` is the plugin's class."""
        from floe_core.registry import PluginRegistry

        name = self._entry_point_name()
        loaded = call(
            "discovery.loads",
            f"PluginRegistry().get({name!r})",
            lambda: PluginRegistry(PluginType.INGESTION).get(name),
            "make the entry point importable, pointing at a concrete IngestionPlugin subclass",
        )
        if loaded is not type(plugin):
            broken(
                "discovery.loads",
                f"entry point {name!r} loads {loaded.__module__}.{loaded.__qualname__}, but the "
                f"plugin fixture is a {type(plugin).__module__}.{type(plugin).__qualname__}",
                "point the entry point at the plugin's class, or build the fixture from it",
            )

    def test_registry_accepts_plugin(self, plugin: IngestionPlugin) -> None:
        """``registry.accepts``: ``PluginRegistry.register`` takes the class and gives it back."""
        from floe_core.registry import PluginRegistry

        registry = PluginRegistry(PluginType.INGESTION, entry_points=[])
        cls = type(plugin)
        call(
            "registry.accepts",
            f"PluginRegistry.register({plugin.name!r}, {cls.__qualname__})",
            lambda: registry.register(plugin.name, cls),
            "the message says what the registry rejected (name, floe_api_version, abstract "
            "methods); name and floe_api_version must be readable without __init__",
        )
        if registry.get(plugin.name) is not cls:
            broken(
                "registry.accepts",
                f"registry.get({plugin.name!r}) did not return {cls.__qualname__}",
                "report this to floe-core: the registry lost a registered class",
            )

    # Metadata ------------------------------------------------------------------------------

    def test_name_is_set(self, plugin: IngestionPlugin) -> None:
        """``metadata.name``: a lower-case identifier (it is the entry-point name)."""
        name = call("metadata.name", "name", lambda: plugin.name, "make name a constant")
        if not isinstance(name, str) or not NAME.match(name):
            broken(
                "metadata.name",
                f"name is {name!r}",
                "name must be a lower-case identifier ([a-z][a-z0-9_-]*) equal to the "
                "floe.ingestion entry-point name, e.g. name = 'dlt'",
            )
        expected = getattr(type(self), "expected_entry_point", None)
        if expected is not None and name != expected:
            broken(
                "metadata.name",
                f"name is {name!r} but the entry point is {expected!r}",
                "the plugin's name must equal its entry-point name",
            )

    def test_version_is_semver(self, plugin: IngestionPlugin) -> None:
        """``metadata.version``: a semantic version (https://semver.org)."""
        version = call("metadata.version", "version", lambda: plugin.version, "")
        if not isinstance(version, str) or not SEMVER.match(version):
            broken(
                "metadata.version",
                f"version is {version!r}, not a semantic version",
                "use MAJOR.MINOR.PATCH with optional -prerelease and +build, e.g. '1.4.0' or "
                "'1.4.0-rc.1' (PEP 440 forms like '1.4.0rc1' or '1.4' are not semver)",
            )

    def test_floe_api_version_is_compatible(self, plugin: IngestionPlugin) -> None:
        """``metadata.api-version``: same major as this floe-core, minor not newer."""
        api = call("metadata.api-version", "floe_api_version", lambda: plugin.floe_api_version, "")
        ours = API_VERSION.match(FLOE_API_VERSION)
        theirs = API_VERSION.match(api) if isinstance(api, str) else None
        assert ours is not None
        if theirs is None:
            broken(
                "metadata.api-version",
                f"floe_api_version is {api!r}, not 'MAJOR.MINOR'",
                f"set floe_api_version = {FLOE_API_VERSION!r} (the API this floe-core speaks)",
            )
        if theirs.group(1) != ours.group(1) or int(theirs.group(2)) > int(ours.group(2)):
            broken(
                "metadata.api-version",
                f"floe_api_version {api!r} is not compatible with floe-core's "
                f"FLOE_API_VERSION {FLOE_API_VERSION!r} (same major, minor not newer)",
                f"build the plugin against floe plugin API {ours.group(1)}.x, at most "
                f"{FLOE_API_VERSION}",
            )

    def test_description_is_set(self, plugin: IngestionPlugin) -> None:
        """``metadata.description``: one non-empty line."""
        text = call("metadata.description", "description", lambda: plugin.description, "")
        if not isinstance(text, str) or not text.strip() or "\n" in text.strip():
            broken(
                "metadata.description",
                f"description is {text!r}",
                "give the class a docstring whose first line says what the plugin does, or "
                "override description with one line",
            )

    # The ABC -------------------------------------------------------------------------------

    def test_is_concrete_ingestion_plugin(self, plugin: IngestionPlugin) -> None:
        """``abc.concrete``: a concrete subclass of ``floe_core.IngestionPlugin``."""
        cls = type(plugin)
        if not isinstance(plugin, IngestionPlugin):
            broken(
                "abc.concrete",
                f"{cls.__qualname__} does not subclass floe_core.IngestionPlugin",
                "subclass floe_core.IngestionPlugin",
            )
        if inspect.isabstract(cls):
            broken(
                "abc.concrete",
                f"{cls.__qualname__} leaves {sorted(cls.__abstractmethods__)} abstract",
                "implement every abstract method",
            )

    def test_is_external_is_bool(self, plugin: IngestionPlugin) -> None:
        """``abc.is-external``: ``is_external`` is a bool."""
        value = call("abc.is-external", "is_external", lambda: plugin.is_external, "")
        if not isinstance(value, bool):
            broken(
                "abc.is-external",
                f"is_external is {value!r} ({type(value).__name__})",
                "return True when the plugin drives an engine it does not run, else False",
            )

    def test_list_available_sources(
        self, plugin: IngestionPlugin, valid_config: IngestionConfig
    ) -> None:
        """``abc.sources``: a non-empty list of str that includes the valid config's type."""
        sources = call("abc.sources", "list_available_sources()", plugin.list_available_sources, "")
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(s, str) and s for s in sources)
        ):
            broken(
                "abc.sources",
                f"list_available_sources() returned {sources!r}",
                "return a non-empty list of source_type names, e.g. ['sql_database']",
            )
        if valid_config.source_type not in sources:
            broken(
                "abc.sources",
                f"valid_config.source_type {valid_config.source_type!r} is not in "
                f"list_available_sources() {sources!r}",
                "list every source type the plugin implements",
            )

    def test_config_schema_is_pydantic_model(self, plugin: IngestionPlugin) -> None:
        """``abc.config-schema``: a pydantic model class whose JSON schema renders."""
        schema = call("abc.config-schema", "get_config_schema()", plugin.get_config_schema, "")
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            broken(
                "abc.config-schema",
                f"get_config_schema() returned {schema!r}",
                "return the pydantic BaseModel subclass of plugins.ingestion.config",
            )
        call(
            "abc.config-schema",
            f"{schema.__qualname__}.model_json_schema()",
            schema.model_json_schema,
            "every field needs a JSON-schema-able type",
        )

    def test_destination_config_is_json_without_secrets(
        self, plugin: IngestionPlugin, tmp_path: Path
    ) -> None:
        """``abc.destination``: a JSON-serialisable dict with no secret values."""
        catalog = CatalogConfig.embedded(tmp_path / "warehouse")
        value = call(
            "abc.destination",
            "get_destination_config(CatalogConfig.embedded(...))",
            lambda: plugin.get_destination_config(catalog),
            "the embedded catalog must be usable by every plugin",
        )
        if not isinstance(value, dict):
            broken(
                "abc.destination",
                f"get_destination_config returned {type(value).__name__}",
                "return a dict",
            )
        secrets = list(secret_paths(value))
        if secrets:
            broken(
                "abc.destination",
                f"get_destination_config holds secret values at {secrets}",
                "leave secrets out; name where they come from instead (an env var, a file)",
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            broken(
                "abc.destination",
                f"get_destination_config is not JSON-serialisable: {exc}",
                "use only str, int, float, bool, None, lists and dicts with str keys",
            )

    def test_destination_config_keeps_catalog_secrets_out(self, plugin: IngestionPlugin) -> None:
        """``abc.destination``: a catalog's credentials never appear in the destination config."""
        catalog = CatalogConfig(
            type="rest", uri="http://127.0.0.1:9/catalog", token=SecretStr(CANARY)
        )
        try:
            value = guarded(
                "abc.destination",
                "get_destination_config(rest catalog)",
                lambda: plugin.get_destination_config(catalog),
            )
        except IngestionError as exc:
            if exc.category is not ErrorCategory.CONFIGURATION:
                broken(
                    "abc.destination",
                    f"get_destination_config raised {exc.category} {exc.code}",
                    "raise PipelineConfigurationError(code=DESTINATION_CONFIG_ERROR) for a "
                    "catalog the plugin cannot use",
                )
            text = f"{exc} {exc.details}"
        except Exception as exc:
            broken(
                "abc.destination",
                f"get_destination_config(rest catalog) raised {raised(exc)}",
                "return the settings, or raise PipelineConfigurationError("
                "code=DESTINATION_CONFIG_ERROR) for a catalog the plugin cannot use",
            )
        else:
            text = json.dumps(value, default=repr)
        if CANARY in text:
            broken(
                "abc.destination",
                "the catalog token appears in get_destination_config's output",
                "never copy catalog credentials into the destination config or its errors",
            )
