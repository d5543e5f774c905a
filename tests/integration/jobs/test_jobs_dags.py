"""Whole DAGs with dag.test(): Airflow runs the operator and (inline) the trigger."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.dagtest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "jobs"))

from job_helpers import batch_spec  # noqa: E402


def _state(run: Any) -> str:
    return str(getattr(run.state, "value", run.state))


def test_hourly_rollup_deferrable_rerun_creates_exactly_one_new_job(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    from airflow_provider_polaris.client import PolarisClient, PolarisConfig

    emu = polaris_emulator
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    with PolarisClient(config) as client:
        job = client.jobs.create(batch_spec("events"))
    while emu.get_job(job["id"])["executionStatus"] != "completed":
        pass
    emu.clear_request_log()

    dag = dag_runner.load("test_jobs_rollup.py", "test_jobs_rollup")
    hour = datetime(2024, 1, 1, 11, tzinfo=timezone.utc)
    run = dag_runner.run(dag, hour)
    assert _state(run) == "success"
    assert emu.count_requests("POST", r"/jobs") == 1
    # CronTriggerTimetable(..., interval=timedelta(hours=1)): the hour before the fire time.
    assert (run.data_interval_start, run.data_interval_end) == (hour - timedelta(hours=1), hour)
    with PolarisClient(config) as client:
        (rollup,) = [j for j in client.jobs.iter_all() if j["id"] != job["id"]]
        spec = client.jobs.get(rollup["id"]).get("spec", rollup)
    assert spec["target"]["intervals"] == ["2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"]
    rows = {r["country"]: r for r in emu.table_rows("events_hourly")}
    assert int(rows["US"]["events"]) == 2

    run = dag_runner.run(dag, hour)  # rerun the same hour: replace it again, one new job
    assert _state(run) == "success"
    assert emu.count_requests("POST", r"/jobs") == 2
    rows = emu.table_rows("events_hourly")
    assert sorted(int(r["events"]) for r in rows) == [1, 2]  # replaced, not appended
