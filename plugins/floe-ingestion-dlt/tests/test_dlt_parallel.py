"""``parallel:`` on sql_database: parts on their own connections and workers, one commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from dlt_test_helpers import sql_engine

from floe_core import CatalogConfig, ErrorCode, IngestionConfig, IngestionResult
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt.sources._sql_ranges import PartRange, merge_states, part_ranges
from floe_testing.readback import read_table as _read


def _config(
    dsn: str, table: str, dest: str, parallel: dict[str, Any] | None, **kw: Any
) -> IngestionConfig:
    source: dict[str, Any] = {"connection_string": dsn, "tables": [table]}
    if parallel is not None:
        source["parallel"] = parallel
    return IngestionConfig(
        name=f"p_{dest}",
        source_type="sql_database",
        source_config=source,
        destination_table=f"bronze.{dest}",
        **kw,
    )


def _run(catalog: CatalogConfig, config: IngestionConfig, workers: int = 1) -> IngestionResult:
    plugin = DltIngestionPlugin(catalog=catalog)
    return plugin.run(plugin.create_pipeline(config), workers=workers)


def _snapshots(catalog: CatalogConfig, table: str) -> int:
    from floe_iceberg import load_catalog

    return len(load_catalog(catalog).load_table(table).metadata.snapshots)


def _sqlite(tmp_path: Path, rows: int = 300) -> str:
    dsn = f"sqlite:///{tmp_path / 'src.db'}"
    engine = sa.create_engine(dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER, v TEXT, n INTEGER)")
        )
        conn.execute(
            sa.text("INSERT INTO items VALUES (:id, :grp, :v, :n)"),
            [
                {"id": i, "grp": None if i % 7 == 0 else i % 5, "v": f"v{i}", "n": i}
                for i in range(1, rows + 1)
            ],
        )
    engine.dispose()
    return dsn


def _sorted(catalog: CatalogConfig, table: str) -> list[dict[str, Any]]:
    return sorted(_read(catalog, table).to_pylist(), key=lambda r: r["id"])


def test_even_ranges_and_a_null_part_cover_every_row_once(tmp_path: Path) -> None:
    engine = sa.create_engine(_sqlite(tmp_path, rows=100))
    parts = part_ranges(engine, "items", None, "id", 4, "even")
    assert parts[-1] == PartRange("id", nulls=True)
    assert [(p.low, p.high) for p in parts[:-1]] == [(None, 26), (26, 51), (51, 76), (76, None)]
    skewed = part_ranges(engine, "items", None, "grp", 3, "quantiles")
    assert len(skewed) == 4 and skewed[0].low is None and skewed[-2].high is None
    with engine.connect() as conn:
        table = sa.Table("items", sa.MetaData(), autoload_with=engine)
        counts = [
            conn.execute(sa.select(sa.func.count()).where(p.clause(table))).scalar_one()
            for p in skewed
        ]
    assert sum(counts) == 100 and counts[-1] == 14  # ids divisible by 7 have no grp
    engine.dispose()


def test_a_not_null_column_has_no_null_part_and_its_ranges_load_every_row(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    dsn = f"sqlite:///{tmp_path / 'nn.db'}"
    engine = sa.create_engine(dsn)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE nn (id INTEGER NOT NULL PRIMARY KEY, v TEXT)"))
        conn.execute(
            sa.text("INSERT INTO nn VALUES (:id, :v)"), [{"id": i, "v": f"v{i}"} for i in range(60)]
        )
    parts = part_ranges(engine, "nn", None, "id", 3, "even")
    engine.dispose()
    assert parts == [PartRange("id", None, 20), PartRange("id", 20, 40), PartRange("id", 40, None)]

    result = _run(embedded_catalog, _config(dsn, "nn", "nn", {"column": "id", "partitions": 3}))
    assert result.success, result.errors
    assert result.details["tables"]["bronze.nn"]["parallel"]["parts"] == 3
    assert [r["id"] for r in _sorted(embedded_catalog, "bronze.nn")] == list(range(60))


def test_parallel_parts_load_the_same_table_as_one_stream_and_the_cursor_goes_on(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    dsn = _sqlite(tmp_path)
    incremental = {"incremental": {"cursor_field": "n"}}
    parallel = {"column": "grp", "partitions": 3, "split": "quantiles"}
    single = _run(embedded_catalog, _config(dsn, "items", "one", None, **incremental))
    parts = _run(embedded_catalog, _config(dsn, "items", "many", parallel, **incremental))

    assert parts.success, parts.errors
    assert parts.rows_loaded == single.rows_loaded == 300
    assert _sorted(embedded_catalog, "bronze.many") == _sorted(embedded_catalog, "bronze.one")
    assert _snapshots(embedded_catalog, "bronze.many") == 1  # every part in one commit
    assert parts.details["tables"]["bronze.many"]["cursors"] == {"n": "300"}

    engine = sa.create_engine(dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO items VALUES (301, 1, 'v301', 301), (302, NULL, 'x', 302)")
        )
    engine.dispose()
    again = _run(embedded_catalog, _config(dsn, "items", "many", parallel, **incremental))

    assert again.success and again.rows_loaded == 2  # only the new rows, from two parts
    ids = [r["id"] for r in _sorted(embedded_catalog, "bronze.many")]
    assert ids == list(range(1, 303))
    assert again.details["tables"]["bronze.many"]["cursors"] == {"n": "302"}


def test_a_failing_part_fails_the_load_and_leaves_no_file(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    dsn = _sqlite(tmp_path)
    first = _run(embedded_catalog, _config(dsn, "items", "keyed", None))
    assert first.success
    files_before = set((Path(embedded_catalog.warehouse or "")).rglob("*.parquet"))
    # merge on grp: the NULL part has null keys and fails; the other parts wrote files
    config = _config(
        dsn,
        "items",
        "keyed",
        {"column": "grp", "partitions": 2},
        write_mode="merge",
        primary_key=["grp"],
    )
    result = _run(embedded_catalog, config)

    assert not result.success
    assert result.errors[0].code is ErrorCode.SCHEMA_CONTRACT_VIOLATION
    assert _snapshots(embedded_catalog, "bronze.keyed") == 1
    assert set((Path(embedded_catalog.warehouse or "")).rglob("*.parquet")) == files_before


def test_merge_states_takes_the_maximum_cursor_and_unites_its_hashes() -> None:
    from dlt.common.json import json

    def state(last: int, hashes: list[str]) -> dict[str, Any]:
        inner = {
            "resources": {
                "t": {"incremental": {"n": {"last_value": last, "unique_hashes": hashes}}}
            }
        }
        return {"format": "dlt-resource-state/1", "state": json.typed_dumps(inner)}

    merged = merge_states([state(5, ["a"]), None, state(9, ["b"]), state(9, ["c"])])
    assert merged is not None and merged["cursors"] == {"n": "9"}
    entry = json.typed_loads(merged["state"])["resources"]["t"]["incremental"]["n"]
    assert entry == {"last_value": 9, "unique_hashes": ["b", "c"]}


@pytest.mark.postgres
def test_postgres_two_workers_merge_like_one_worker(
    postgres_dsn: str, unique: str, embedded_catalog: CatalogConfig
) -> None:
    engine = sql_engine(postgres_dsn)
    table = f"{unique}_li"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {table} (id bigint PRIMARY KEY, price numeric(15, 2), note text)"
            )
        )
        conn.execute(
            sa.text(
                f"INSERT INTO {table} SELECT g, (g % 1000) / 7.0, 'n' || g "
                "FROM generate_series(1, 20000) g"
            )
        )
    try:
        merge = {"write_mode": "merge"}
        one = _run(embedded_catalog, _config(postgres_dsn, table, "one", None, **merge))
        many = _run(
            embedded_catalog,
            _config(postgres_dsn, table, "many", {"partitions": "auto"}, **merge),
            workers=2,
        )
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {table} SET note = 'changed' WHERE id % 1000 = 0"))
        again = _run(  # in this process: the spawn workers are tested above, and cost seconds
            embedded_catalog,
            _config(postgres_dsn, table, "many", {"partitions": 3, "split": "quantiles"}, **merge),
        )
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {table}"))
        engine.dispose()

    assert one.success and many.success and again.success, (many.errors, again.errors)
    assert many.rows_loaded == one.rows_loaded == 20000
    rows = _read(embedded_catalog, "bronze.many")
    reference = _read(embedded_catalog, "bronze.one")
    assert rows.num_rows == 20000 and len(pc.unique(rows["id"])) == 20000
    assert pc.sum(rows["price"]).as_py() == pc.sum(reference["price"]).as_py()
    assert pc.sum(pc.equal(rows["note"], "changed")).as_py() == 20


def test_independent_sources_load_at_once_in_threads(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from floe_iceberg import load_catalog

    load_catalog(embedded_catalog)  # a fresh SQLite catalog creates its tables: not in 3 threads
    dsn = _sqlite(tmp_path)
    incremental = {"incremental": {"cursor_field": "n"}}
    plugin = DltIngestionPlugin(catalog=embedded_catalog)
    pipelines = [
        plugin.create_pipeline(_config(dsn, "items", f"t{n}", None, **incremental))
        for n in range(3)
    ]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(plugin.run, pipelines))

    assert all(r.success for r in results), [r.errors for r in results]
    for n, result in enumerate(results):
        assert result.rows_loaded == 300
        assert result.details["tables"][f"bronze.t{n}"]["cursors"] == {"n": "300"}
        assert [r["id"] for r in _sorted(embedded_catalog, f"bronze.t{n}")] == list(range(1, 301))


def test_a_wrong_parallel_setting_is_a_configuration_error(tmp_path: Path) -> None:
    from floe_core import ErrorCategory, PipelineConfigurationError

    dsn = _sqlite(tmp_path, rows=1)
    plugin = DltIngestionPlugin(catalog=CatalogConfig.embedded(tmp_path / "wh"))
    with pytest.raises(PipelineConfigurationError) as caught:
        plugin.create_pipeline(_config(dsn, "items", "x", {"column": "id", "partitions": 0}))
    assert caught.value.category is ErrorCategory.CONFIGURATION
    assert "parallel.partitions" in caught.value.message
    result = _run(
        CatalogConfig.embedded(tmp_path / "wh"), _config(dsn, "items", "x", {"column": "nope"})
    )
    assert not result.success and result.errors[0].code is ErrorCode.INVALID_CONFIG


def test_parallel_parts_create_not_null_columns_required_and_the_key_as_identifier(
    tmp_path: Path, embedded_catalog: CatalogConfig
) -> None:
    from floe_iceberg import load_catalog

    dsn = f"sqlite:///{tmp_path / 'strict.db'}"
    engine = sa.create_engine(dsn)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE strict (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER)")
        )
        conn.execute(
            sa.text("INSERT INTO strict VALUES (:id, :v, :n)"),
            [{"id": i, "v": f"v{i}", "n": None if i % 3 else i} for i in range(1, 101)],
        )
    engine.dispose()
    parallel = {"column": "id", "partitions": 2}
    config = _config(dsn, "strict", "strict", parallel, write_mode="merge", primary_key=["id"])

    result = _run(embedded_catalog, config, workers=2)

    assert result.success, result.errors
    schema = load_catalog(embedded_catalog).load_table("bronze.strict").schema()
    assert {f.name: f.required for f in schema.fields} == {"id": True, "v": True, "n": False}
    assert schema.identifier_field_names() == {"id"}
    assert [r["id"] for r in _sorted(embedded_catalog, "bronze.strict")] == list(range(1, 101))


@pytest.mark.postgres
def test_a_split_the_source_refuses_is_a_source_error(
    postgres_dsn: str, unique: str, embedded_catalog: CatalogConfig
) -> None:
    engine = sql_engine(postgres_dsn)
    table = f"{unique}_doc"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, doc json)"))
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, '{{}}')"))
    try:  # json has no min(): the split's query fails on the server
        result = _run(embedded_catalog, _config(postgres_dsn, table, "doc", {"column": "doc"}))
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {table}"))
        engine.dispose()

    assert not result.success
    assert result.errors[0].code is ErrorCode.SOURCE_READ_FAILED
    assert "min(json)" in result.errors[0].message
