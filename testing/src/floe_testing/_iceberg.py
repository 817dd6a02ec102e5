"""The contract rule for plugins that write Iceberg themselves: ``iceberg.read-back``.

A plugin opts in with an ``iceberg_catalog`` fixture returning the
:class:`~floe_core.CatalogConfig` it writes to (usually the one its ``plugin`` fixture was
built with). The rule then reads the destination tables back from that catalog: what a result
reports must be what a reader finds, and a re-run with nothing new must commit nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from floe_core import CatalogConfig, IngestionConfig, IngestionPlugin, IngestionResult
from floe_testing._check import TIMEOUTS, broken, call
from floe_testing.readback import load_table

_RULE = "iceberg.read-back"
_FIXTURE = "iceberg_catalog"


@dataclass(frozen=True)
class _Seen:
    """What a reader finds in one table."""

    rows: int
    snapshots: tuple[int, ...]
    current: int | None


def _look(catalog: CatalogConfig, table: str) -> _Seen | None:
    loaded = call(
        _RULE,
        f"reading {table} back from {_FIXTURE}",
        lambda: load_table(catalog, table),
        f"the {_FIXTURE} fixture must return the CatalogConfig the plugin writes to",
    )
    if loaded is None:
        return None
    return _Seen(
        rows=loaded.scan().to_arrow().num_rows,
        snapshots=tuple(s.snapshot_id for s in loaded.metadata.snapshots),
        current=loaded.metadata.current_snapshot_id,
    )


def _existing(catalog: CatalogConfig, table: str) -> _Seen:
    seen = _look(catalog, table)
    if seen is None:
        broken(
            _RULE,
            f"the result of a successful run names {table} but {_FIXTURE} has no such table",
            "commit the rows to the catalog the plugin was given (and return that catalog "
            f"from {_FIXTURE})",
        )
    return seen


def _rows(seen: _Seen | None) -> int:
    return 0 if seen is None else seen.rows


def _snapshots(seen: _Seen | None) -> tuple[int, ...]:
    return () if seen is None else seen.snapshots


class IcebergRules:
    """The read-back rule; mixed into IngestionPluginContract."""

    def _iceberg_catalog(
        self, request: pytest.FixtureRequest, plugin: IngestionPlugin
    ) -> CatalogConfig:
        try:
            value = request.getfixturevalue(_FIXTURE)
        except pytest.FixtureLookupError:
            if call(_RULE, "is_external", lambda: plugin.is_external, "see abc.is-external"):
                pytest.skip(
                    f"{_RULE} does not apply: the plugin is external (is_external=True) and "
                    f"the test class provides no {_FIXTURE!r} fixture; a plugin that writes "
                    f"Iceberg itself provides one returning the CatalogConfig it writes to"
                )
            broken(
                _RULE,
                f"the plugin is embedded (is_external=False), so it writes Iceberg itself, but "
                f"the test class provides no {_FIXTURE!r} fixture to read its tables back from",
                f"add a fixture `{_FIXTURE}` returning the CatalogConfig the plugin fixture "
                "writes to (e.g. the embedded_catalog it was built with)",
            )
        if not isinstance(value, CatalogConfig):
            broken(
                _RULE,
                f"the {_FIXTURE!r} fixture returned {type(value).__name__}",
                "return a floe_core.CatalogConfig",
            )
        return value

    def _load_once(
        self, plugin: IngestionPlugin, config: IngestionConfig, which: str
    ) -> IngestionResult:
        fix = "valid_config must load successfully (see run.success)"
        pipeline = call(
            _RULE,
            f"create_pipeline(valid_config) for the {which} run",
            lambda: plugin.create_pipeline(config),
            fix,
        )
        result = call(
            _RULE,
            f"the {which} run(create_pipeline(valid_config))",
            lambda: plugin.run(pipeline),
            fix,
            timeout=TIMEOUTS.get().run,
        )
        if not isinstance(result, IngestionResult) or not result.success:
            errors = getattr(result, "errors", None)
            broken(_RULE, f"the {which} run on valid_config did not succeed: {errors!r}", fix)
        return result

    @staticmethod
    def _tables(result: IngestionResult, config: IngestionConfig) -> list[str]:
        if result.tables:
            return [table.table for table in result.tables]
        if config.table is None:
            broken(
                _RULE,
                f"valid_config loads into {config.destination_table!r} but the result names "
                "no tables, so there is nothing to read back",
                "report one TableResult per table written (IngestionResult.tables)",
            )
        return [config.destination_table]

    def test_rows_read_back_equal_rows_loaded(
        self,
        request: pytest.FixtureRequest,
        started_plugin: IngestionPlugin,
        valid_config: IngestionConfig,
    ) -> None:
        """``iceberg.read-back``: the destination tables hold exactly the rows reported."""
        catalog = self._iceberg_catalog(request, started_plugin)
        result = self._load_once(started_plugin, valid_config, "first")
        if result.rows_loaded == 0:
            broken(
                _RULE,
                "run on valid_config loaded 0 rows into a fresh catalog: nothing to read back",
                "make valid_config load at least one row",
            )
        found = 0
        reported = {t.table: t for t in result.tables}
        for name in self._tables(result, valid_config):
            seen = _existing(catalog, name)
            found += seen.rows
            table = reported.get(name)
            if table is None:
                continue
            if seen.rows != table.rows_loaded:
                broken(
                    _RULE,
                    f"{name} holds {seen.rows} rows after one run into a fresh catalog, but "
                    f"the result reports tables[{name!r}].rows_loaded={table.rows_loaded}",
                    "report the rows the commit wrote (floe_iceberg's CommittedWrite."
                    "rows_loaded), not the rows read from the source",
                )
            if table.snapshot_id is not None and table.snapshot_id != seen.current:
                broken(
                    _RULE,
                    f"the result reports snapshot {table.snapshot_id} for {name}, but its "
                    f"current snapshot is {seen.current}",
                    "report the snapshot the load committed (CommittedWrite.snapshot_id)",
                )
        if found != result.rows_loaded:
            broken(
                _RULE,
                f"the destination tables hold {found} rows after one run into a fresh "
                f"catalog, but the result reports rows_loaded={result.rows_loaded}",
                "report the rows the commit wrote, summed over the tables",
            )

    def test_rerun_without_new_data_commits_nothing(
        self,
        request: pytest.FixtureRequest,
        started_plugin: IngestionPlugin,
        valid_config: IngestionConfig,
    ) -> None:
        """``iceberg.read-back``: a second run with no new source data adds no rows, no snapshot."""
        catalog = self._iceberg_catalog(request, started_plugin)
        first = self._load_once(started_plugin, valid_config, "first")
        names = self._tables(first, valid_config)
        before = {name: _existing(catalog, name) for name in names}
        second = self._load_once(started_plugin, valid_config, "second")
        after = {name: _look(catalog, name) for name in names}
        fix = (
            "keep the incremental cursor in the table's snapshot state (floe_iceberg."
            "TableWrite(state_key=..., based_on=read_table_state(...)), write_table(state=...)) "
            "so a re-run reads only what is new; valid_config should be incremental"
        )
        counts = {name: (_rows(before[name]), _rows(after[name])) for name in names}
        grown = {name: pair for name, pair in counts.items() if pair[0] != pair[1]}
        if grown or second.rows_loaded != 0:
            broken(
                _RULE,
                f"a second run with no new source data reported rows_loaded="
                f"{second.rows_loaded} and changed the row counts {grown} (before, after)",
                fix,
            )
        added = {
            name: sorted(set(_snapshots(after[name])) - set(_snapshots(before[name])))
            for name in names
        }
        added = {name: ids for name, ids in added.items() if ids}
        if added:
            broken(
                _RULE,
                f"a second run with no new source data committed snapshot(s) {added}",
                "commit nothing when nothing is new: no empty snapshot, and no state that "
                "changes on every run (a timestamp, a run counter); floe_iceberg.write_table "
                "skips the commit when there are no rows and the state is unchanged",
            )
