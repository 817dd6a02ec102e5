"""Window replace: one snapshot replaces exactly one time slice; other windows stay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import ValidationException

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    LoadWindow,
    PipelineConfigurationError,
    WriteMode,
)
from floe_iceberg import TableWrite, write_table

UTC = dt.UTC


def _at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=UTC)


def _day(day: int) -> LoadWindow:
    return LoadWindow(column="ts", start=_at(day), end=_at(day + 1))


def _batch(*rows: tuple[int, dt.datetime | None]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.int64()),
            "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )


def _rows(catalog: Catalog, table: str) -> list[tuple[int, dt.datetime | None]]:
    data = catalog.load_table(table).scan().to_arrow()
    return sorted(zip(data["id"].to_pylist(), data["ts"].to_pylist(), strict=True))


def _window_write(table: str, window: LoadWindow) -> TableWrite:
    return TableWrite(table, WriteMode.APPEND, replace_window=window)


def test_window_replace_keeps_other_windows_in_one_snapshot(
    sql_catalog: Catalog, table_name: str
) -> None:
    # one file holding three days (and a null ts): the window replace must rewrite it
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [_batch((1, _at(1, 5)), (2, _at(2, 0)), (3, _at(2, 23)), (4, _at(3, 1)), (5, None))],
    )
    before = len(sql_catalog.load_table(table_name).snapshots())

    done = write_table(sql_catalog, _window_write(table_name, _day(2)), [_batch((20, _at(2, 12)))])

    table = sql_catalog.load_table(table_name)
    assert len(table.snapshots()) == before + 1
    assert table.current_snapshot() is not None
    assert table.current_snapshot().snapshot_id == done.snapshot_id  # type: ignore[union-attr]
    assert _rows(sql_catalog, table_name) == [
        (1, _at(1, 5)),
        (4, _at(3, 1)),
        (5, None),
        (20, _at(2, 12)),
    ]

    # re-running the same window is idempotent; a window holding every row of a file drops it
    write_table(sql_catalog, _window_write(table_name, _day(2)), [_batch((20, _at(2, 12)))])
    write_table(sql_catalog, _window_write(table_name, _day(2)), [_batch((20, _at(2, 12)))])
    assert _rows(sql_catalog, table_name) == [
        (1, _at(1, 5)),
        (4, _at(3, 1)),
        (5, None),
        (20, _at(2, 12)),
    ]
    files = sql_catalog.load_table(table_name).inspect.files()
    assert files.num_rows == 2  # the rewritten other-days file and the one window file


def test_window_replace_of_an_empty_window_only_deletes(
    sql_catalog: Catalog, table_name: str
) -> None:
    for day in (1, 2, 3):
        write_table(sql_catalog, _window_write(table_name, _day(day)), [_batch((day, _at(day)))])
    assert [r[0] for r in _rows(sql_catalog, table_name)] == [1, 2, 3]
    write_table(sql_catalog, _window_write(table_name, _day(2)), [])
    assert [r[0] for r in _rows(sql_catalog, table_name)] == [1, 3]


def test_window_on_a_date_column(sql_catalog: Catalog, table_name: str) -> None:
    days = [dt.date(2026, 3, d) for d in (1, 2, 3)]
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [pa.table({"id": [1, 2, 3], "ts": pa.array(days, pa.date32())})],
    )
    write_table(
        sql_catalog,
        _window_write(table_name, _day(2)),
        [pa.table({"id": [9], "ts": pa.array([days[1]], pa.date32())})],
    )
    data = sql_catalog.load_table(table_name).scan().to_arrow()
    assert sorted(data["id"].to_pylist()) == [1, 3, 9]


def _failing() -> Iterator[pa.Table]:
    yield _batch((30, _at(2, 1)))
    raise RuntimeError("source died")


def test_failed_window_replace_leaves_the_table_as_it_was(
    embedded_catalog: CatalogConfig, sql_catalog: Catalog, table_name: str
) -> None:
    write_table(
        sql_catalog,
        TableWrite(table_name, WriteMode.APPEND),
        [_batch((1, _at(1)), (2, _at(2)), (3, _at(3)))],
    )
    table = sql_catalog.load_table(table_name)
    snapshots = [s.snapshot_id for s in table.snapshots()]
    files = sorted(Path(embedded_catalog.warehouse or "").rglob("*.parquet"))
    with pytest.raises(RuntimeError, match="source died"):
        write_table(sql_catalog, _window_write(table_name, _day(2)), _failing(), target_file_rows=1)
    table = sql_catalog.load_table(table_name)
    assert [s.snapshot_id for s in table.snapshots()] == snapshots
    assert [r[0] for r in _rows(sql_catalog, table_name)] == [1, 2, 3]
    assert sorted(Path(embedded_catalog.warehouse or "").rglob("*.parquet")) == files


def test_window_on_a_column_the_table_lacks_is_a_config_error(
    sql_catalog: Catalog, table_name: str
) -> None:
    write_table(sql_catalog, TableWrite(table_name, WriteMode.APPEND), [_batch((1, _at(1)))])
    window = LoadWindow(column="updated", start=_at(1), end=_at(2))
    with pytest.raises(PipelineConfigurationError) as info:
        write_table(sql_catalog, _window_write(table_name, window), [_batch((2, _at(1)))])
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert "updated" in info.value.message
    assert [r[0] for r in _rows(sql_catalog, table_name)] == [1]


@pytest.mark.parametrize("shared_file", [False, True])
def test_a_window_racing_another_window_never_loses_or_duplicates_rows(
    sql_catalog: Catalog, table_name: str, shared_file: bool
) -> None:
    """Window 1 commits while window 2 is being written: window 2 fails retryably, whole."""
    if shared_file:  # both windows must rewrite the same file
        write_table(
            sql_catalog,
            TableWrite(table_name, WriteMode.APPEND),
            [_batch((1, _at(1)), (2, _at(2)))],
        )
    else:
        for day in (1, 2):
            write_table(
                sql_catalog, _window_write(table_name, _day(day)), [_batch((day, _at(day)))]
            )

    def other_window_commits() -> None:
        write_table(sql_catalog, _window_write(table_name, _day(1)), [_batch((10, _at(1, 1)))])
        return None

    with pytest.raises(ValidationException):  # TRANSIENT: nothing of window 2 landed
        write_table(
            sql_catalog,
            _window_write(table_name, _day(2)),
            [_batch((20, _at(2, 1)))],
            state=other_window_commits,
        )
    assert [r[0] for r in _rows(sql_catalog, table_name)] == [2, 10]
    # the retry (Dagster's, the runner's) replaces window 2 on the new head
    write_table(sql_catalog, _window_write(table_name, _day(2)), [_batch((20, _at(2, 1)))])
    assert [r[0] for r in _rows(sql_catalog, table_name)] == [10, 20]
