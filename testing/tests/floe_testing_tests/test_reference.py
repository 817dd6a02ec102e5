"""ReferencePlugin's own behaviour: what it commits to Iceberg (read back), and how it fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import floe_testing
from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    IngestionConfig,
    IngestionPipeline,
    IngestionResult,
    PipelineConfigurationError,
)
from floe_core.registry import PluginRegistry
from floe_iceberg import read_state
from floe_testing import ReferencePlugin, write_distribution
from floe_testing.readback import load_table, read_table, run_and_read, snapshot_ids
from floe_testing.reference import state_key

TOKEN = "s3cret-reference-token"
TABLE = "bronze.people"


@pytest.fixture
def plugin(embedded_catalog: CatalogConfig) -> Iterator[ReferencePlugin]:
    with ReferencePlugin(catalog=embedded_catalog) as started:
        yield started


def config(rows: list[dict[str, Any]] | str, **fields: Any) -> IngestionConfig:
    source_config = fields.pop("source_config", {})
    return IngestionConfig(
        name=fields.pop("name", "people"),
        source_type=fields.pop("source_type", "static"),
        source_config={"rows": rows, **source_config},
        destination_table=fields.pop("destination_table", TABLE),
        **fields,
    )


def load(plugin: ReferencePlugin, cfg: IngestionConfig) -> IngestionResult:
    return plugin.run(plugin.create_pipeline(cfg))


def rows(plugin: ReferencePlugin) -> list[dict[str, Any]]:
    """The table's rows as a reader sees them, ordered by id (then name)."""
    table = read_table(plugin.catalog, TABLE)
    return sorted(table.to_pylist(), key=lambda r: (r["id"], str(r.get("name"))))


ADA = {"id": 1, "name": "ada"}
GRACE = {"id": 2, "name": "grace"}


def test_append_commits_rows_and_reports_the_snapshot(plugin: ReferencePlugin) -> None:
    first, table = run_and_read(plugin, config([ADA, GRACE]))
    second = load(plugin, config([ADA]))

    assert first.success and second.success
    assert (first.rows_loaded, second.rows_loaded) == (2, 1)
    assert table.to_pylist() == [ADA, GRACE]
    assert rows(plugin) == [ADA, ADA, GRACE]
    (committed,) = first.tables
    assert committed.table == TABLE
    assert snapshot_ids(plugin.catalog, TABLE) == [
        committed.snapshot_id,
        second.tables[0].snapshot_id,
    ]
    assert first.bytes_written == committed.bytes_written > 0  # the Parquet file's size
    assert first.details == {"destination": "iceberg", "rows_discarded": 0}


def test_replace_overwrites(plugin: ReferencePlugin) -> None:
    load(plugin, config([ADA, GRACE]))
    result = load(plugin, config([GRACE], write_mode="replace"))
    assert result.success
    assert rows(plugin) == [GRACE]


def test_merge_upserts_on_primary_key(plugin: ReferencePlugin) -> None:
    load(plugin, config([ADA, GRACE], write_mode="merge", primary_key="id"))
    load(plugin, config([{"id": 2, "name": "hopper"}], write_mode="merge", primary_key="id"))
    assert rows(plugin) == [ADA, {"id": 2, "name": "hopper"}]


def test_freeze_rejects_new_columns_and_keeps_table(plugin: ReferencePlugin) -> None:
    load(plugin, config([ADA]))
    before = snapshot_ids(plugin.catalog, TABLE)
    result = load(plugin, config([{"id": 3, "name": "x", "extra": 1}], schema_contract="freeze"))
    assert not result.success
    assert result.errors[0].code is ErrorCode.SCHEMA_CONTRACT_VIOLATION
    assert result.errors[0].category is ErrorCategory.PERMANENT
    assert "extra" in result.errors[0].message
    assert rows(plugin) == [ADA]
    assert snapshot_ids(plugin.catalog, TABLE) == before


def test_discard_value_and_discard_row(plugin: ReferencePlugin) -> None:
    load(plugin, config([ADA]))
    new = [{"id": 3, "name": "x", "extra": 1}, {"id": 4, "name": "y"}]
    load(plugin, config(new, schema_contract="discard_value"))
    load(plugin, config(new, schema_contract="discard_row"))
    y = {"id": 4, "name": "y"}
    assert rows(plugin) == [ADA, {"id": 3, "name": "x"}, y, y]
    assert "extra" not in read_table(plugin.catalog, TABLE).column_names


def test_incremental_cursor_lives_in_the_snapshot(embedded_catalog: CatalogConfig) -> None:
    incremental = {"cursor_field": "id", "initial_value": 1}
    grown = config([ADA, GRACE, {"id": 3, "name": "z"}], incremental=incremental)
    key = state_key(grown)
    with ReferencePlugin(catalog=embedded_catalog) as one:
        first = load(one, config([ADA, GRACE], incremental=incremental))
    assert read_state_of(embedded_catalog, key) == {"cursor": 2}
    with ReferencePlugin(catalog=embedded_catalog) as fresh:  # nothing carried in memory
        again = load(fresh, grown)
        before = snapshot_ids(embedded_catalog, TABLE)
        nothing_new = load(fresh, grown)
    assert (first.rows_loaded, again.rows_loaded, nothing_new.rows_loaded) == (1, 1, 0)
    assert rows(fresh) == [GRACE, {"id": 3, "name": "z"}]
    assert read_state_of(embedded_catalog, key) == {"cursor": 3}
    assert snapshot_ids(embedded_catalog, TABLE) == before  # a re-run commits nothing
    assert nothing_new.success and nothing_new.tables[0].snapshot_id is None


def read_state_of(catalog: CatalogConfig, key: str) -> dict[str, Any] | None:
    from floe_iceberg import load_catalog

    return read_state(load_catalog(catalog), TABLE, key)


def test_fail_after_commits_nothing_and_is_transient(plugin: ReferencePlugin) -> None:
    result, table = run_and_read(plugin, config([ADA, GRACE], source_config={"fail_after": 1}))
    assert (table.num_rows, table.column_names) == (0, [])  # no table was created
    assert not result.success
    assert result.rows_loaded == 0
    (error,) = result.errors
    assert (error.code, error.category, error.retryable) == (
        ErrorCode.SOURCE_UNAVAILABLE,
        ErrorCategory.TRANSIENT,
        True,
    )
    assert error.source == "people"
    assert result.retryable
    assert load_table(plugin.catalog, TABLE) is None  # the first row was written, not committed


@pytest.mark.parametrize(
    ("cfg", "needle"),
    [
        (config("nope"), "rows: Input should be a valid list"),
        (config([ADA], source_config={"limit": 1}), "limit: Extra inputs are not permitted"),
        (config([ADA], source_type="csv"), "use one of ['static']"),
        (config([ADA], destination_table="bronze.*"), "name it 'namespace.table'"),
        (config([{"name": "x"}], write_mode="merge", primary_key="id"), "lacks primary_key"),
        (config([{"name": "x"}], incremental={"cursor_field": "id"}), "cursor_field 'id'"),
    ],
)
def test_bad_source_config_is_a_configuration_error(
    plugin: ReferencePlugin, cfg: IngestionConfig, needle: str
) -> None:
    with pytest.raises(PipelineConfigurationError) as raised:
        plugin.create_pipeline(cfg)
    assert raised.value.code is ErrorCode.INVALID_CONFIG
    assert needle in raised.value.message


def test_rows_that_do_not_form_a_table_are_a_configuration_error(
    plugin: ReferencePlugin,
) -> None:
    with pytest.raises(PipelineConfigurationError, match="do not form a table"):
        plugin.create_pipeline(config([{"id": 1}, {"id": "two"}]))


def test_a_lost_commit_race_is_a_transient_commit_conflict(
    plugin: ReferencePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyiceberg.exceptions import CommitFailedException

    def lose(*args: Any, **kwargs: Any) -> Any:
        raise CommitFailedException("Requirement failed: branch main has changed")

    monkeypatch.setattr("floe_iceberg.write_table", lose)
    (error,) = load(plugin, config([ADA])).errors
    assert (error.code, error.category, error.retryable) == (
        ErrorCode.COMMIT_CONFLICT,
        ErrorCategory.TRANSIENT,
        True,
    )


def test_max_rows_comes_from_the_plugin_config(tmp_path: Path) -> None:
    plugin = ReferencePlugin({"max_rows": 1}, catalog=CatalogConfig.embedded(tmp_path))
    with pytest.raises(PipelineConfigurationError, match="max_rows is 1"):
        plugin.create_pipeline(config([ADA, GRACE]))
    with pytest.raises(PipelineConfigurationError, match="max_rows"):
        ReferencePlugin({"max_rows": 0})


def test_config_error_does_not_echo_the_secret(plugin: ReferencePlugin) -> None:
    cfg = config("nope", secrets={"token": SecretStr(TOKEN)})
    with pytest.raises(PipelineConfigurationError) as raised:
        plugin.create_pipeline(cfg)
    assert TOKEN not in str(raised.value)
    assert load(plugin, config([ADA], secrets={"token": SecretStr(TOKEN)})).success


def test_unexpected_failure_is_internal_error_with_secret_redacted(
    plugin: ReferencePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any) -> Any:
        raise RuntimeError(f"driver said: token={TOKEN}")

    monkeypatch.setattr(plugin, "_load", explode)
    result = load(plugin, config([ADA], secrets={"token": SecretStr(TOKEN)}))
    (error,) = result.errors
    assert (error.code, error.category, error.retryable) == (
        ErrorCode.INTERNAL_ERROR,
        ErrorCategory.PERMANENT,
        False,
    )
    assert error.message == (
        "unexpected RuntimeError in plugin 'reference': driver said: token=**********"
    )


def test_run_rejects_foreign_pipelines_and_options(plugin: ReferencePlugin) -> None:
    foreign = plugin.run(IngestionPipeline(config=config([ADA])))
    assert not foreign.success
    assert foreign.errors[0].category is ErrorCategory.CONFIGURATION
    assert "what 'reference'.create_pipeline() returned" in foreign.errors[0].message
    options = plugin.run(plugin.create_pipeline(config([ADA])), dry_run=True)
    assert "takes no options; got ['dry_run']" in options.errors[0].message
    nothing = plugin.run(object())  # type: ignore[arg-type]
    assert (nothing.success, nothing.source) == (False, "(unknown)")


def test_health_follows_the_lifecycle_and_the_catalog(tmp_path: Path) -> None:
    plugin = ReferencePlugin(catalog=CatalogConfig.embedded(tmp_path))
    assert plugin.health_check().state == "unhealthy"
    with plugin:
        assert plugin.health_check(timeout=0.1).state == "healthy"
    assert plugin.health_check().state == "unhealthy"
    unusable = ReferencePlugin(catalog=CatalogConfig(type="sql", uri="nope://"))
    with unusable:
        status = unusable.health_check()
    assert status.state == "unhealthy"
    assert "unreachable (PipelineConfigurationError)" in status.message


def test_destination_config_is_the_iceberg_catalog(embedded_catalog: CatalogConfig) -> None:
    settings = ReferencePlugin().get_destination_config(embedded_catalog)
    assert (settings["destination"], settings["catalog_type"]) == ("iceberg", "sql")


def test_discoverable_through_a_declared_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_distribution(
        tmp_path,
        "floe-reference-example",
        {"floe.ingestion": {"reference": "floe_testing.reference:ReferencePlugin"}},
        version="1.2.3",
    )
    monkeypatch.syspath_prepend(tmp_path)
    registry = PluginRegistry()
    entry = next(e for e in registry.entries() if e.name == "reference")
    assert (entry.distribution, entry.version) == ("floe-reference-example", "1.2.3")
    assert registry.get("reference") is ReferencePlugin
    created = registry.create("reference", {"max_rows": 5})
    assert isinstance(created, ReferencePlugin)


def test_public_api_is_complete() -> None:
    public = {
        name
        for name, value in vars(floe_testing).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("floe_testing")
    }
    assert public == set(floe_testing.__all__)
