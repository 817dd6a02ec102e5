from __future__ import annotations

import sys
from importlib.metadata import EntryPoint
from types import SimpleNamespace

import pytest

from floe_core import ErrorCode, PipelineConfigurationError, PluginError
from floe_core.registry import MANUAL_DISTRIBUTION, PluginEntry, PluginRegistry
from floe_core_tests import _fakes
from floe_core_tests._fakes import FakePlugin

GROUP = "floe.ingestion"
FAKES = "floe_core_tests._fakes"


def ep(name: str, value: str, dist: str | None = None, version: str = "1.2.3") -> EntryPoint:
    point = EntryPoint(name, value, GROUP)
    if dist is not None:
        point._for(SimpleNamespace(name=dist, version=version))  # type: ignore[arg-type]
    return point


def registry(*points: EntryPoint) -> PluginRegistry:
    return PluginRegistry(entry_points=points)


def test_names_are_sorted_and_import_nothing() -> None:
    reg = registry(ep("zeta", "floe_core_never_imported_a:X"), ep("alpha", "never_b:Y"))
    assert reg.names() == ["alpha", "zeta"]
    assert "floe_core_never_imported_a" not in sys.modules


def test_entries_carry_distribution_and_version() -> None:
    reg = registry(ep("fake", f"{FAKES}:FakePlugin", "floe-fake", "0.4.0"))
    assert reg.entries() == [PluginEntry("fake", f"{FAKES}:FakePlugin", "floe-fake", "0.4.0")]


def test_real_installed_plugins_are_discovered_without_import() -> None:
    reg = PluginRegistry()
    assert {"dlt", "airbyte"} <= set(reg.names())
    by_name = {e.name: e for e in reg.entries()}
    assert by_name["dlt"].distribution == "floe-ingestion-dlt"
    assert by_name["dlt"].value == "floe_ingestion_dlt.plugin:DltIngestionPlugin"
    assert by_name["airbyte"].distribution == "floe-ingestion-airbyte"
    assert by_name["airbyte"].version


def test_get_loads_validates_and_caches() -> None:
    reg = registry(ep("fake", f"{FAKES}:FakePlugin", "floe-fake"))
    assert reg.get("fake") is FakePlugin
    assert reg.get("fake") is FakePlugin
    assert reg.all() == {"fake": FakePlugin}


def test_unknown_name_lists_installed_and_suggests() -> None:
    reg = registry(ep("fake", f"{FAKES}:FakePlugin"), ep("dlt", "x:Y"))
    with pytest.raises(PluginError) as info:
        reg.get("fkae")
    err = info.value
    assert err.code is ErrorCode.PLUGIN_NOT_FOUND
    assert "did you mean 'fake'?" in err.message
    assert "Installed plugins: dlt, fake" in err.message
    assert err.details["installed"] == ["dlt", "fake"]


def test_unknown_name_without_close_match_has_no_suggestion() -> None:
    with pytest.raises(PluginError, match="Installed plugins: \\(none\\)") as info:
        registry().get("airbyte")
    assert "did you mean" not in info.value.message
    assert "`pip install floe-ingestion-airbyte`" in info.value.message


def test_failing_import_names_entry_point_and_distribution() -> None:
    reg = registry(ep("broken", "floe_core_tests._broken_import:Plugin", "floe-broken", "9.9"))
    with pytest.raises(PluginError) as info:
        reg.get("broken")
    err = info.value
    assert err.code is ErrorCode.PLUGIN_LOAD_FAILED
    assert "'broken = floe_core_tests._broken_import:Plugin'" in err.message
    assert "floe-broken 9.9" in err.message
    assert "boom while importing" in err.message
    assert isinstance(err.__cause__, RuntimeError)


def test_missing_module_says_what_to_install() -> None:
    reg = registry(ep("needy", "floe_core_tests._missing_extra:Plugin", "floe-needy"))
    with pytest.raises(PluginError) as info:
        reg.get("needy")
    assert info.value.code is ErrorCode.PLUGIN_LOAD_FAILED
    assert "pip install psycopg2_not_installed_for_floe_tests" in info.value.message
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_missing_optional_extra_names_the_extra() -> None:
    from floe_core._plugin_check import install_hint as _install_hint

    exc = ModuleNotFoundError("No module named 'psycopg2'", name="psycopg2")
    entry = PluginEntry("dlt", "floe_ingestion_dlt.plugin:X", "floe-ingestion-dlt", "0.1.0")
    assert "pip install 'floe-ingestion-dlt[postgres]'" in _install_hint(exc, entry)
    exc = ModuleNotFoundError("No module named 's3fs'", name="s3fs")
    assert "pip install 'floe-ingestion-dlt[s3]'" in _install_hint(exc, entry)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("NOT_A_CLASS", "not a class"),
        ("NotAPlugin", "does not subclass floe_core.plugin.IngestionPlugin"),
        ("HalfPlugin", "is abstract; it does not implement create_pipeline, run"),
        ("FuturePlugin", "needs floe plugin API 1.9 but this floe-core speaks 1.0"),
        ("NextMajorPlugin", "needs floe plugin API 2.0"),
        ("OldMajorPlugin", "needs floe plugin API 0.3"),
        ("GarbageVersionPlugin", "must be 'MAJOR.MINOR'"),
        ("StatefulNamePlugin", "must return a constant without needing __init__"),
    ],
)
def test_incompatible_objects_are_rejected(target: str, expected: str) -> None:
    reg = registry(ep("fake", f"{FAKES}:{target}", "floe-fake"))
    with pytest.raises(PluginError) as info:
        reg.get("fake")
    assert info.value.code is ErrorCode.PLUGIN_INCOMPATIBLE
    assert expected in info.value.message
    assert "'fake = floe_core_tests._fakes:" in info.value.message


def test_property_name_and_version_are_read_without_init() -> None:
    reg = registry(ep("prop", f"{FAKES}:PropertyPlugin"))
    assert reg.get("prop") is _fakes.PropertyPlugin


def test_entry_point_name_must_equal_plugin_name() -> None:
    reg = registry(ep("dlt", f"{FAKES}:FakePlugin", "floe-fake"))
    with pytest.raises(PluginError) as info:
        reg.get("dlt")
    assert info.value.code is ErrorCode.PLUGIN_INCOMPATIBLE
    assert "FakePlugin.name is 'fake' but the entry point is named 'dlt'" in info.value.message


def test_same_name_from_two_distributions_is_a_clash() -> None:
    reg = registry(
        ep("fake", f"{FAKES}:FakePlugin", "floe-fake"),
        ep("fake", "other_pkg.plugin:Fake", "other-fake"),
    )
    with pytest.raises(PluginError) as info:
        reg.get("fake")
    assert info.value.code is ErrorCode.PLUGIN_INCOMPATIBLE
    assert "floe-fake" in info.value.message and "other-fake" in info.value.message
    assert len(reg.entries()) == 2


def test_same_distribution_twice_on_path_is_one_plugin() -> None:
    reg = registry(ep("fake", f"{FAKES}:FakePlugin", "floe-fake"), ep("fake", "x:Y", "floe-fake"))
    assert reg.get("fake") is FakePlugin


def test_register_in_process_plugin() -> None:
    reg = registry()
    reg.register("fake", FakePlugin)
    assert reg.names() == ["fake"]
    assert reg.entries()[0].distribution == MANUAL_DISTRIBUTION
    assert reg.get("fake") is FakePlugin
    reg.register("fake", FakePlugin)  # same distribution: replaces


def test_register_clash_with_installed_distribution() -> None:
    reg = registry(ep("fake", f"{FAKES}:FakePlugin", "floe-fake"))
    with pytest.raises(PluginError) as info:
        reg.register("fake", FakePlugin)
    assert info.value.code is ErrorCode.PLUGIN_INCOMPATIBLE
    assert "(manual)" in info.value.message and "floe-fake" in info.value.message


def test_register_validates_the_class() -> None:
    reg = registry()
    with pytest.raises(PluginError, match="is abstract"):
        reg.register("half", _fakes.HalfPlugin)  # type: ignore[type-abstract]
    with pytest.raises(PluginError, match="entry point is named 'other'"):
        reg.register("other", FakePlugin)


def test_create_instantiates_with_config_and_catalog() -> None:
    from floe_core import CatalogConfig

    reg = registry()
    reg.register("fake", FakePlugin)
    catalog = CatalogConfig(type="rest", uri="http://127.0.0.1:1")
    plugin = reg.create("fake", {"greeting": "hey"}, catalog=catalog)
    assert isinstance(plugin, FakePlugin)
    assert plugin.config.model_dump() == {"greeting": "hey", "fail_startup": False}
    assert plugin.catalog is catalog


def test_create_with_bad_config_is_a_configuration_error() -> None:
    reg = registry()
    reg.register("fake", FakePlugin)
    with pytest.raises(PipelineConfigurationError) as info:
        reg.create("fake", {"greting": "typo"})
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "greting" in info.value.message


def test_create_wraps_unexpected_constructor_failure() -> None:
    reg = registry()
    reg.register("exploding", _fakes.ExplodingInitPlugin)
    with pytest.raises(PluginError) as info:
        reg.create("exploding")
    assert info.value.code is ErrorCode.PLUGIN_LOAD_FAILED
    assert "constructor exploded" in info.value.message
    assert isinstance(info.value.__cause__, RuntimeError)


def test_unknown_name_suggests_no_package_that_does_not_exist() -> None:
    """`spark` is no floe distribution: no `pip install floe-ingestion-spark` to typosquat."""
    with pytest.raises(PluginError) as info:
        registry(ep("fake", "floe_core_tests._fakes:FakePlugin", "floe-fake", "1")).get("spark")
    message = info.value.message
    assert "pip install" not in message
    assert "floe-ingestion-spark" not in message
    assert "Installed plugins: fake" in message
