"""decide_outcome: every terminal status x health combination, streaming targets, fail-closed."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_polaris._task import describe_failure
from airflow_provider_polaris.outcomes import JobState, decide_outcome
from airflow_provider_polaris.waiting import JobWatch


def job(status: Any, health: Any = "ok", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "j-1",
        "type": extra.pop("type", "batch"),
        "target": {"type": "table", "tableName": "t"},
        "executionStatus": status,
    }
    if health is not None:
        doc["health"] = health if isinstance(health, dict) else {"status": health}
    doc.update(extra)
    return doc


@pytest.mark.parametrize(
    ("status", "health", "kind"),
    [
        ("completed", "ok", "success"),
        ("completed", "warn", "success"),
        ("completed", "warning", "success"),
        ("completed", None, "success"),
        ("completed", "error", "failure"),
        ("completed", "bogus", "failure"),
        ("failed", "ok", "failure"),
        ("failed", "error", "failure"),
        ("failed", "warn", "failure"),
        ("canceled", "ok", "canceled"),
        ("canceled", "error", "canceled"),
        ("pending", "ok", "waiting"),
        ("running", "ok", "waiting"),
        ("running", "warn", "waiting"),
        ("unknown", "ok", "waiting"),
        ("idle", "ok", "waiting"),
        ("COMPLETED", "OK", "success"),
        ("exploded", "ok", "failure"),
        (None, "ok", "failure"),
        ("", "ok", "failure"),
        (42, "ok", "failure"),
    ],
)
def test_batch_outcomes(status: Any, health: Any, kind: str) -> None:
    assert decide_outcome(job(status, health)).kind == kind


def test_warning_is_reported_on_success() -> None:
    outcome = decide_outcome(job("completed", {"status": "warn", "code": "invalid_rows_found"}))
    assert outcome.kind == "success"
    assert outcome.warning and "invalid_rows_found" in outcome.warning


def test_suspended_batch_fails_unless_resuming() -> None:
    assert decide_outcome(job("suspended", desiredExecutionStatus="suspended")).kind == "failure"
    assert decide_outcome(job("suspended", desiredExecutionStatus="running")).kind == "waiting"


@pytest.mark.parametrize("malformed", [None, [], "completed", 3, {"health": {"status": "ok"}}])
def test_malformed_documents_fail_closed(malformed: Any) -> None:
    assert decide_outcome(malformed).kind == "failure"


STREAMING = {"running", "idle"}


@pytest.mark.parametrize(
    ("status", "desired", "kind"),
    [
        ("running", "running", "success"),
        ("idle", "running", "success"),
        ("pending", "running", "waiting"),
        ("unknown", "running", "waiting"),
        ("failed", "running", "failure"),
        ("canceled", "canceled", "canceled"),
        ("suspended", "suspended", "failure"),
        ("suspended", "running", "waiting"),
        ("completed", "running", "failure"),
        ("weird", "running", "failure"),
    ],
)
def test_streaming_targets(status: str, desired: str, kind: str) -> None:
    doc = job(status, type="streaming", desiredExecutionStatus=desired)
    assert decide_outcome(doc, target_statuses=STREAMING).kind == kind


def test_streaming_live_with_error_health_is_failure() -> None:
    doc = job(
        "running", {"status": "error", "code": "could_not_connect_to_source"}, type="streaming"
    )
    outcome = decide_outcome(doc, target_statuses=STREAMING)
    assert outcome.kind == "failure" and "could_not_connect" in outcome.message


def test_suspend_target() -> None:
    assert (
        decide_outcome(job("suspended", type="streaming"), target_statuses={"suspended"}).kind
        == "success"
    )
    suspending = job("idle", type="streaming", desiredExecutionStatus="suspended")
    assert decide_outcome(suspending, target_statuses={"suspended"}).kind == "waiting"
    assert (
        decide_outcome(job("idle", type="streaming"), target_statuses={"suspended"}).kind
        == "failure"
    )


def test_job_state_accessors() -> None:
    state = JobState(
        job("completed", {"status": "warning", "code": "multiple", "log": {"message": "m"}})
    )
    assert state.health_status == "warn"
    assert state.health_code == "multiple"
    assert state.health_message == "m"
    assert state.is_terminal and decide_outcome(state.raw).kind == "success"
    assert JobState(job("running")).is_active
    assert not JobState({}).is_terminal
    assert JobState({"spec": {"type": "sql", "target": {"tableName": "x"}}}).target_table == "x"


def test_describe_failure_explains_itself() -> None:
    failed = job("failed", {"status": "error", "code": "null_timestamp", "message": "bad ts"})
    logs = {
        "logs": [
            {"timestamp": f"t{i}", "healthStatus": "error", "message": f"line {i}"}
            for i in range(15)
        ]
    }
    metrics = {"totals": {"numRowsProcessed": 10, "numRowsSkippedByError": 3}}
    text = describe_failure(failed, logs, metrics, "https://console/jobs/j-1")
    for needle in (
        "j-1",
        "batch",
        "'t'",
        "failed",
        "null_timestamp",
        "bad ts",
        "10 processed",
        "3 skipped by error (unparseable)",
        "line 14",
        "https://console/jobs/j-1",
    ):
        assert needle in text, needle
    assert "line 4" not in text  # only the last 10 log lines


def test_progress_tracker_logs_only_changes() -> None:
    tracker = JobWatch("j-1")
    running = job("running")
    assert tracker.change_line(job("pending")) is not None
    assert tracker.change_line(job("pending")) is None
    assert "running" in (tracker.change_line(running, {"overallProgress": 0.1}) or "")
    assert tracker.change_line(running, {"overallProgress": 0.1}) is None
    assert tracker.change_line(running) is None  # a poll without progress keeps the last values
    line = tracker.change_line(
        running, {"overallProgress": 0.5}, {"totals": {"numRowsProcessed": 7}}
    )
    assert line and "50%" in line and "7 rows" in line
