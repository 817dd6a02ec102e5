from __future__ import annotations

import pytest

from floe_ingestion_airbyte.model import (
    ConnectionResponse,
    ConnectionStatus,
    JobResponse,
    JobStatus,
    Problem,
    parse_iso_duration,
)

# from Airbyte public API spec, JobResponse "succeeded" example
SUCCEEDED = {
    "jobId": 1234,
    "status": "succeeded",
    "jobType": "sync",
    "startTime": "2023-03-25T01:30:50Z",
    "connectionId": "e735894a-e773-4938-969f-45f53957b75b",
    "lastUpdatedAt": "2023-03-25T01:40:50Z",
    "duration": "PT10M",
    "rowsSynced": 1000,
    "bytesSynced": 20480,
}


def test_job_response_parses_the_spec_example() -> None:
    job = JobResponse.model_validate(SUCCEEDED)
    assert (job.job_id, job.known_status, job.is_terminal) == (1234, JobStatus.SUCCEEDED, True)
    assert (job.rows_synced, job.bytes_synced, job.duration_seconds) == (1000, 20480, 600.0)


@pytest.mark.parametrize("status", ["pending", "queued", "running", "incomplete"])
def test_non_terminal_statuses(status: str) -> None:
    job = JobResponse.model_validate({**SUCCEEDED, "status": status})
    assert job.known_status == status
    assert not job.is_terminal


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_terminal_statuses(status: str) -> None:
    assert JobResponse.model_validate({**SUCCEEDED, "status": status}).is_terminal


def test_an_unknown_status_does_not_crash_parsing_and_keeps_the_raw_value() -> None:
    job = JobResponse.model_validate({**SUCCEEDED, "status": "rebalancing", "newField": [1]})
    assert job.status == "rebalancing"
    assert job.known_status is JobStatus.UNKNOWN
    assert not job.is_terminal


def test_job_with_only_required_fields() -> None:
    # from Airbyte public API spec, JobResponse "running" example (no counts yet)
    job = JobResponse.model_validate(
        {
            "jobId": 1234,
            "status": "running",
            "jobType": "sync",
            "startTime": "2023-03-25T01:30:50Z",
            "connectionId": "e735894a-e773-4938-969f-45f53957b75b",
        }
    )
    assert job.rows_synced is None
    assert job.duration_seconds is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT8H6M12S", 29172.0), ("PT10M", 600.0), ("P1DT2S", 86402.0), ("PT0.5S", 0.5)],
)
def test_iso_durations(text: str, seconds: float) -> None:
    assert parse_iso_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "10 minutes", "P1Y"])
def test_not_iso_durations(text: str) -> None:
    assert parse_iso_duration(text) is None


def test_connection_status() -> None:
    connection = ConnectionResponse.model_validate(
        {"connectionId": "c", "name": "n", "status": "locked", "statusReason": "billing"}
    )
    assert connection.known_status is ConnectionStatus.LOCKED
    assert ConnectionStatus.parse("paused-by-robot") is ConnectionStatus.UNKNOWN


def test_problem_kind_from_title_or_type() -> None:
    # from Airbyte problems.yaml: TryAgainLaterConflictProblemResponse, StateConflict
    again = Problem.model_validate(
        {
            "status": 409,
            "type": "https://reference.airbyte.com/reference/errors#try-again-later",
            "title": "try-again-later",
            "detail": "A sync is already running for: e735894a-e773-4938-969f-45f53957b75b",
        }
    )
    assert again.kind == "try-again-later"
    conflict = Problem.model_validate(
        {
            "type": "https://reference.airbyte.com/reference/errors#409-state-conflict",
            "title": "x y",
        }
    )
    assert conflict.kind == "state-conflict"
