"""Failures become dagster.Failure with the taxonomy; retries are Dagster's, as configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from dagster_test_helpers import FlakyDlt, checks, events, flaky_runner, make_project, materialized

from floe_dagster import build_definitions

SHOP = "sqlite:///${FLOE_PROJECT_DIR}/shop.db"


def _sql(name: str, table: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "sql_database",
        "config": {"connection_string": SHOP, "tables": [table]},
        "destination": {"table": f"bronze.{name}", "write_disposition": "append"},
        **extra,
    }


def _failures(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    out = {}
    for event in result.get_step_failure_events():
        data = event.step_failure_data.user_failure_data
        assert data is not None, event.step_failure_data.error
        out[event.step_key] = {k: v.value for k, v in data.metadata.items()}
    return out


def test_failures_carry_the_taxonomy_and_retry_exactly_as_configured(tmp_path: Path) -> None:
    csv_dir = tmp_path / "files"
    csv_dir.mkdir()
    (csv_dir / "a.csv").write_text("id,name\n1,ann\n2,bob,extra\n3,cy\n")
    sources = [
        _sql("flaky", "orders", incremental={"cursor_field": "updated_at"}),
        _sql("down", "orders"),
        _sql("denied", "orders"),
        _sql("missing", "no_such_table"),
        {
            "name": "partial",
            "type": "filesystem",
            "config": {"bucket_url": str(csv_dir), "file_glob": "*.csv", "on_bad_rows": "skip"},
            "destination": {"table": "bronze.partial"},
        },
    ]
    project = make_project(tmp_path / "p", sources, plugin="flaky")
    FlakyDlt.RUNS.clear()
    FlakyDlt.SCRIPT.clear()
    FlakyDlt.SCRIPT.update(
        {
            "flaky": [
                {"code": "SOURCE_UNAVAILABLE", "retry_after": 0.3},
                {"code": "RATE_LIMITED"},
            ],
            "down": [
                {
                    "code": "SOURCE_UNAVAILABLE",
                    "message": "cannot reach postgresql://loader:hunter2@127.0.0.1:1/shop",
                }
            ]
            * 5,
            "denied": [{"code": "AUTH_FAILED", "category": "PERMANENT", "retryable": False}],
        }
    )
    defs = build_definitions(
        project.floe_yaml, project.manifest, runner_factory=lambda: flaky_runner(project)
    )
    result = dg.materialize(list(defs.assets or []), raise_on_error=False)
    assert not result.success

    # TRANSIENT twice, then it lands once; the first wait honours retry_after_seconds
    retries = [e for e in events(result, "STEP_UP_FOR_RETRY") if e.step_key == "ingestion__flaky"]
    waits = [e.event_specific_data.seconds_to_wait for e in retries]
    assert waits == [0.3, 0.1]  # max(backoff 0.05, retry-after 0.3); then 0.05 * 2
    assert FlakyDlt.RUNS["flaky"] == 3
    meta = materialized(result)
    assert meta["ingestion__flaky__flaky"]["floe/attempts"] == 3
    assert meta["ingestion__flaky__flaky"]["dagster/row_count"] == 2000
    assert project.rows("bronze.flaky").num_rows == 2000

    failures = _failures(result)
    assert sorted(failures) == ["ingestion__denied", "ingestion__down", "ingestion__missing"]
    # retryable: max_attempts (3) in total, then the failure with its metadata
    assert FlakyDlt.RUNS["down"] == 3
    down = failures["ingestion__down"]
    assert (down["floe/category"], down["floe/code"], down["floe/retryable"]) == (
        "TRANSIENT",
        "SOURCE_UNAVAILABLE",
        True,
    )
    assert down["floe/attempt"] == 3
    assert "hunter2" not in down["floe/message"] and "127.0.0.1:1/shop" in down["floe/message"]
    # PERMANENT and CONFIGURATION: one attempt, never retried
    assert FlakyDlt.RUNS["denied"] == 1
    assert failures["ingestion__denied"]["floe/code"] == "AUTH_FAILED"
    assert failures["ingestion__denied"]["floe/retryable"] is False
    assert FlakyDlt.RUNS["missing"] == 1
    missing = failures["ingestion__missing"]
    assert missing["floe/category"] == "CONFIGURATION"
    assert missing["floe/code"] == "SOURCE_NOT_FOUND"
    retried = {e.step_key for e in events(result, "STEP_UP_FOR_RETRY")}
    assert retried == {"ingestion__flaky", "ingestion__down"}

    # PARTIAL materializes what landed, with the rejected rows and a failed check
    assert meta["ingestion__partial__partial"]["dagster/row_count"] == 2
    assert meta["ingestion__partial__partial"]["floe/rows_rejected"] == 1
    outcome = checks(result)
    assert outcome["ingestion__partial__partial:no_rejected_rows"] is False
    assert outcome["ingestion__partial__partial:rows_landed"] is True
    assert project.rows("bronze.partial").num_rows == 2
