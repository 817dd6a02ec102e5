"""A ``parallel`` source as a graph-backed asset: plan, one step per part, one commit per table.

Real Dagster (``dg.materialize``, in process), a real source (PostgreSQL, and SQLite for the
failure cases), the embedded SQL catalog in the test's folder. The parts land as one snapshot
with every row, equal to a one-step load; a part that fails once is retried alone and leaves
no file behind; a part that fails for good stops the load before the commit step: the table
keeps its snapshot and every file the parts wrote is removed or listed for ``floe maintain``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pyarrow.compute as pc
import sqlalchemy as sa
from dagster_test_helpers import Project, checks, events, make_project, materialized

from floe_core import (
    ErrorCategory,
    ErrorCode,
    ErrorDetail,
    IngestionPipeline,
    IngestionResult,
    PartOutcome,
    PartSpec,
    PartsPlan,
    PlatformManifest,
    PluginRegistry,
    Runner,
)
from floe_dagster import build_definitions, build_source_definitions
from floe_ingestion_dlt import DltIngestionPlugin

PARTS = {"column": "id", "partitions": 3}
"""Three ranges of ``id`` and the part of its NULLs: four part steps."""


class FailingParts(DltIngestionPlugin):
    """The dlt plugin; chosen parts fail after writing their files, as a pod that died would.

    ``FAIL`` maps a part's index to how many of its attempts fail; ``PERMANENT`` makes the
    failure one that is never retried.
    """

    name = "failing_parts"
    FAIL: ClassVar[dict[int, int]] = {}
    PERMANENT: ClassVar[bool] = False
    RUNS: ClassVar[dict[int, int]] = {}

    def run_part(self, pipeline: IngestionPipeline, plan: PartsPlan, part: PartSpec) -> PartOutcome:
        runs = FailingParts.RUNS.get(part.index, 0)
        FailingParts.RUNS[part.index] = runs + 1
        outcome = super().run_part(pipeline, plan, part)
        if runs >= FailingParts.FAIL.get(part.index, 0):
            return outcome
        permanent = FailingParts.PERMANENT
        error = ErrorDetail(
            code=ErrorCode.PERMISSION_DENIED if permanent else ErrorCode.SOURCE_UNAVAILABLE,
            category=ErrorCategory.PERMANENT if permanent else ErrorCategory.TRANSIENT,
            message=f"part {part.index} lost its connection (attempt {runs + 1})",
            retryable=not permanent,
        )
        return outcome.model_copy(update={"file_set": None, "error": error})


def _source(dsn: str, table: str, name: str, parallel: dict[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {"connection_string": dsn, "tables": [table]}
    if parallel is not None:
        config["parallel"] = parallel
    return {
        "name": name,
        "type": "sql_database",
        "config": config,
        "destination": {"table": f"bronze.{name}", "write_disposition": "append"},
        "incremental": {"cursor_field": "n"},
    }


def _materialize(
    project: Project,
    runner_factory: Callable[[], Runner] | None = None,
    only: str | None = None,
) -> dg.ExecuteInProcessResult:
    sources = build_source_definitions(
        project.floe_yaml, project.manifest, runner_factory=runner_factory
    )
    chosen = [s.definition for s in sources if only is None or s.source == only]
    return dg.materialize(chosen, raise_on_error=False)


def _failing(project: Project) -> Callable[[], Runner]:
    registry = PluginRegistry()
    registry.register("failing_parts", FailingParts)
    return lambda: Runner(PlatformManifest.load(project.manifest), registry)


def _steps(result: dg.ExecuteInProcessResult, kind: str = "STEP_START") -> list[str]:
    return sorted(str(e.step_key) for e in events(result, kind))


def _stored_parquet(project: Project, table: str) -> set[str]:
    location = project.catalog().load_table(table).location().removeprefix("file://")
    return {str(p) for p in Path(location).rglob("*.parquet")}


def _referenced(project: Project, table: str) -> set[str]:
    loaded = project.catalog().load_table(table)
    return {t.file.file_path.removeprefix("file://") for t in loaded.scan().plan_files()}


def _listed(project: Project, table: str) -> set[str]:
    """Every file the table's abandoned-files records list (what ``floe maintain`` removes)."""
    location = project.catalog().load_table(table).location().removeprefix("file://")
    out: set[str] = set()
    for record in Path(location, "metadata").glob("floe-abandoned-*.metadata.json"):
        out.update(f.removeprefix("file://") for f in json.loads(record.read_text())["files"])
    return out


def _sqlite(folder: Path, rows: int, start: int = 1) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    dsn = f"sqlite:///{folder / 'src.db'}"
    engine = sa.create_engine(dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)")
        )
        conn.execute(
            sa.text("INSERT INTO items VALUES (:id, :v, :n)"),
            [{"id": i, "v": f"v{i}", "n": i} for i in range(start, start + rows)],
        )
    engine.dispose()
    return dsn


def test_postgres_parts_land_as_one_snapshot_equal_to_a_one_step_load(
    tmp_path: Path, postgres_dsn: str
) -> None:
    table = f"floe_dg_dist_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_dsn.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {table} (id bigint PRIMARY KEY, price numeric(12, 2), "
                "note text, n int NOT NULL)"
            )
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {table} SELECT g, (g % 997) / 7.0, 'n' || g, g "
                "FROM generate_series(1, 3000) g"
            )
        )
    try:
        project = make_project(
            tmp_path / "p",
            [_source(postgres_dsn, table, "li", PARTS), _source(postgres_dsn, table, "one", None)],
        )
        first = _materialize(project)
        assert first.success, [e.step_failure_data for e in first.get_step_failure_events()]

        started = _steps(first)
        assert [s for s in started if "_plan" in s] == ["ingestion__li.ingestion__li_plan"]
        # three ranges of id; no NULL part: the primary key is NOT NULL
        assert len([s for s in started if "ingestion__li_part[" in s]) == 3
        assert [s for s in started if "_commit" in s] == ["ingestion__li.ingestion__li_commit"]
        assert "ingestion__one" in started  # the source without parallel: one step

        catalog = project.catalog()
        rows = catalog.load_table("bronze.li").scan().to_arrow()
        one = catalog.load_table("bronze.one").scan().to_arrow()
        with engine.connect() as conn:
            total = conn.execute(sa.text(f"SELECT sum(price) FROM {table}")).scalar_one()
        assert rows.num_rows == 3000 and len(pc.unique(rows["id"])) == 3000
        assert pc.sum(rows["price"]).as_py() == total == Decimal("212794.72")
        assert rows.sort_by("id").to_pylist() == one.sort_by("id").to_pylist()
        assert len(catalog.load_table("bronze.li").metadata.snapshots) == 1

        meta = materialized(first)["ingestion__li__li"]
        assert meta["dagster/row_count"] == 3000
        assert meta["floe/parts"] == 3 and meta["floe/cursor"] == "3000"
        assert meta["floe/data_files_added"] >= 3
        assert checks(first)["ingestion__li__li:rows_landed"] is True

        # only small JSON passes between the steps: plans, part ranges, file descriptions
        plans = first.output_for_node("ingestion__li.ingestion__li_plan", "plans")
        parts = first.output_for_node("ingestion__li.ingestion__li_plan", "parts")
        outcomes = first.output_for_node("ingestion__li.ingestion__li_part")
        assert isinstance(plans, str) and len(plans) < 16_384
        assert len(parts) == 3 and all(isinstance(p, str) and len(p) < 1024 for p in parts.values())
        assert all(isinstance(o, str) and len(o) < 16_384 for o in outcomes.values())
        assert sum(json.loads(o)["outcome"]["rows"] for o in outcomes.values()) == 3000

        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {table} SELECT g, 1.25, 'new', g "
                    "FROM generate_series(3001, 3500) g"
                )
            )
        again = _materialize(project, only="li")
        assert again.success
        loaded = project.catalog().load_table("bronze.li")
        assert len(loaded.metadata.snapshots) == 2  # the second load: exactly one more
        ids = loaded.scan().to_arrow()["id"].to_pylist()
        assert sorted(ids) == list(range(1, 3501))
        assert materialized(again)["ingestion__li__li"]["floe/cursor"] == "3500"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_a_part_that_fails_once_is_retried_alone_and_leaves_no_file(tmp_path: Path) -> None:
    """Run through the ``ingestion`` job of ``build_definitions`` (the graph asset is in it)."""
    dsn = _sqlite(tmp_path / "src", 2000)
    project = make_project(
        tmp_path / "p", [_source(dsn, "items", "items", PARTS)], plugin="failing_parts"
    )
    FailingParts.FAIL, FailingParts.PERMANENT, FailingParts.RUNS = {1: 1}, False, {}
    defs = build_definitions(project.floe_yaml, project.manifest, runner_factory=_failing(project))

    result = defs.resolve_job_def("ingestion").execute_in_process(raise_on_error=False)

    assert result.success, [e.step_failure_data for e in result.get_step_failure_events()]
    assert materialized(result)["ingestion__items__items"]["dagster/row_count"] == 2000
    retried = _steps(result, "STEP_UP_FOR_RETRY")
    assert retried == ["ingestion__items.ingestion__items_part[t0_p1]"]
    assert FailingParts.RUNS == {0: 1, 1: 2, 2: 1, 3: 1}
    loaded = project.catalog().load_table("bronze.items")
    assert len(loaded.metadata.snapshots) == 1
    assert sorted(loaded.scan().to_arrow()["id"].to_pylist()) == list(range(1, 2001))
    # the first attempt's files were removed before the retry rewrote the part's record
    assert _stored_parquet(project, "bronze.items") == _referenced(project, "bronze.items")
    assert _listed(project, "bronze.items") == set()


def test_a_part_that_fails_for_good_stops_the_load_before_the_commit(tmp_path: Path) -> None:
    dsn = _sqlite(tmp_path / "src", 1000)
    project = make_project(
        tmp_path / "p", [_source(dsn, "items", "items", PARTS)], plugin="failing_parts"
    )
    FailingParts.FAIL, FailingParts.PERMANENT, FailingParts.RUNS = {}, True, {}
    assert _materialize(project, _failing(project)).success
    before = project.catalog().load_table("bronze.items").current_snapshot()
    assert before is not None
    _sqlite(tmp_path / "src", 500, start=1001)
    FailingParts.FAIL, FailingParts.RUNS = {1: 99}, {}

    result = _materialize(project, _failing(project))

    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "ingestion__items.ingestion__items_part[t0_p1]"
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["floe/code"].value == "PERMISSION_DENIED"
    assert FailingParts.RUNS[1] == 1  # PERMANENT: never retried
    assert not any("_commit" in s for s in _steps(result))  # the commit step never ran
    loaded = project.catalog().load_table("bronze.items")
    assert loaded.current_snapshot().snapshot_id == before.snapshot_id
    assert len(loaded.scan().to_arrow()) == 1000
    # every file the parts wrote was removed or is listed for floe maintain
    leftover = _stored_parquet(project, "bronze.items") - _referenced(project, "bronze.items")
    assert leftover <= _listed(project, "bronze.items")


class RacedParts(DltIngestionPlugin):
    """The dlt plugin; another load of the same source commits just before the parts' commit."""

    name = "raced_parts"

    def commit_parts(
        self, pipeline: IngestionPipeline, plan: PartsPlan, outcomes: Sequence[PartOutcome]
    ) -> IngestionResult:
        concurrent = self.run(self.create_pipeline(pipeline.config))  # lands first
        assert concurrent.success, concurrent.errors
        return super().commit_parts(pipeline, plan, outcomes)


def test_a_commit_that_loses_the_race_fails_cleanly_and_the_other_load_stands(
    tmp_path: Path,
) -> None:
    dsn = _sqlite(tmp_path / "src", 1200)
    project = make_project(
        tmp_path / "p", [_source(dsn, "items", "items", PARTS)], plugin="raced_parts"
    )
    registry = PluginRegistry()
    registry.register("raced_parts", RacedParts)

    def runner() -> Runner:
        return Runner(PlatformManifest.load(project.manifest), registry)

    result = _materialize(project, runner)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "ingestion__items.ingestion__items_commit"
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["floe/code"].value == "COMMIT_CONFLICT"
    assert _steps(result, "STEP_UP_FOR_RETRY") == []  # a pinned plan cannot land: no retry
    loaded = project.catalog().load_table("bronze.items")
    assert len(loaded.metadata.snapshots) == 1  # the other load's snapshot only: never a mix
    assert sorted(loaded.scan().to_arrow()["id"].to_pylist()) == list(range(1, 1201))
    leftover = _stored_parquet(project, "bronze.items") - _referenced(project, "bronze.items")
    assert leftover <= _listed(project, "bronze.items")


def test_a_merge_in_parts_updates_rows_once_and_keeps_keys_unique(tmp_path: Path) -> None:
    dsn = _sqlite(tmp_path / "src", 900)
    source = _source(dsn, "items", "items", PARTS)
    source["destination"] = {"table": "bronze.items", "write_disposition": "merge"}
    project = make_project(tmp_path / "p", [source])
    assert _materialize(project).success
    engine = sa.create_engine(dsn)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE items SET v = 'changed', n = n + 1000 WHERE id % 100 = 0"))
        conn.execute(sa.text("INSERT INTO items VALUES (901, 'new', 2000)"))
    engine.dispose()

    again = _materialize(project)

    assert again.success
    assert checks(again)["ingestion__items__items:primary_key_unique"] is True
    rows = project.catalog().load_table("bronze.items").scan().to_arrow()
    assert sorted(rows["id"].to_pylist()) == list(range(1, 902))
    assert pc.sum(pc.equal(rows["v"], "changed")).as_py() == 9
    assert materialized(again)["ingestion__items__items"]["dagster/row_count"] == 10


def test_a_plan_that_fails_on_its_configuration_runs_no_part(tmp_path: Path) -> None:
    dsn = _sqlite(tmp_path / "src", 10)
    project = make_project(tmp_path / "p", [_source(dsn, "items", "items", {"column": "nope"})])

    result = _materialize(project)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "ingestion__items.ingestion__items_plan"
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["floe/code"].value == "INVALID_CONFIG"
    assert metadata["floe/category"].value == "CONFIGURATION"
    assert _steps(result) == ["ingestion__items.ingestion__items_plan"]  # not retried, no part
    assert not project.catalog().table_exists("bronze.items")
