"""Nothing dropped without the user knowing (issue 9 item 6): a completed job's task log reports
its row counts from ``/metrics`` and warns, with the count and the fix, about rows skipped as
unparseable; ``max_parse_exceptions=0`` fails the job on the bad row; a failing metrics request
never fails the task. ``dag.test()`` on both Airflow lines."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig

pytestmark = pytest.mark.dagtest

DAGS = "test_row_report.py"
METRICS = ("GET", r"/jobs/[^/]+/metrics")


def _state(obj: Any) -> str:
    return str(getattr(obj.state, "value", obj.state))


def task_log_files() -> str:
    """Every task log file written under AIRFLOW_HOME/logs (3.3's dag.test logs tasks there)."""
    root = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return "".join(p.read_text(errors="replace") for p in sorted(root.rglob("*.log")))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Any:
    """Everything logged so far: task log files, captured records and output."""
    caplog.set_level(logging.INFO)
    return lambda: task_log_files() + caplog.text + "".join(capfd.readouterr())


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_row_counts_and_the_skipped_row_warning(
    polaris_emulator: Any, dag_runner: Any, logs: Any, mode: str
) -> None:
    emu = polaris_emulator
    run = dag_runner.run(dag_runner.load(DAGS, f"test_row_report_{mode}"), None)
    assert _state(run) == "success"
    logged = logs()
    # 4 rows: "three" is not a long (skipped by error), DE is filtered, 2 parsed and persisted.
    assert (
        "rows: 2 processed, 2 persisted, 1 skipped by error (unparseable), "
        "1 skipped by filter" in logged
    )
    assert "skipped 1 row(s) it could not parse (numRowsSkippedByError) into table 'sales'" in (
        logged
    )
    assert "/logs" in logged and "max_parse_exceptions=0" in logged
    assert len(emu.table_rows("sales")) == 2


def test_max_parse_exceptions_zero_fails_the_job_and_the_task(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    emu = polaris_emulator
    run = dag_runner.run(dag_runner.load(DAGS, "test_row_report_strict"), None)
    assert _state(run) == "failed"
    (create,) = [r for r in emu.request_log() if r["method"] == "POST"]
    assert create["status"] == 201
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    with PolarisClient(config) as client:
        (summary,) = list(client.jobs.iter_all())
        job = client.jobs.get(summary["id"])
    assert job["executionStatus"] == "failed"
    assert job["spec"]["maxParseExceptions"] == 0


def test_a_failing_metrics_request_never_fails_a_successful_task(
    polaris_emulator: Any, dag_runner: Any, logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = polaris_emulator
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection({"max_retries": 0}))
    emu.inject_fault(*METRICS, kind="status", status=500, count=100)
    run = dag_runner.run(dag_runner.load(DAGS, "test_row_report_sync"), None)
    assert _state(run) == "success"
    assert emu.count_requests(*METRICS) >= 1
    assert "Could not read the row counts of Polaris job" in logs()
