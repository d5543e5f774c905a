"""Whole-DAG edge cases through ``dag.test()``: a rescheduling sensor that times out with
``soft_fail``, a real ``CronTriggerTimetable("@hourly")`` (Airflow 3's ``schedule="@hourly"``:
zero-length data interval), and no secret in the task logs of a failing and a timing-out job."""

from __future__ import annotations

import base64
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig

pytestmark = pytest.mark.dagtest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "jobs"))

from job_helpers import batch_spec, make_context  # noqa: E402

DAGS = "test_jobs_edges.py"


def _state(obj: Any) -> str:
    return str(getattr(obj.state, "value", obj.state))


def task_states(run: Any) -> dict[str, str]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        return {ti.task_id: _state(ti) for ti in tis}


def client(emu: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    )


def test_rescheduling_sensor_times_out_into_a_skip_with_soft_fail(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    emu = polaris_emulator
    emu.script_job(outcome="running")
    with client(emu) as c:
        job_id = c.jobs.create(batch_spec())["id"]
    dag = dag_runner.load(DAGS, "test_jobs_sensor_reschedule")
    run = dag_runner.run(dag, None, run_conf={"job_id": job_id})
    assert task_states(run) == {"watch": "skipped"}
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 0  # a sensor never cancels


def test_hourly_preset_infers_the_previous_hour_or_fails_before_any_request(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

    emu = polaris_emulator
    PolarisCreateJobOperator(task_id="seed", job_spec=batch_spec(), poll_interval=0.02).execute(
        make_context()
    )
    emu.clear_request_log()
    dag = dag_runner.load(DAGS, "test_jobs_hourly_preset")
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"

    ten = datetime(2024, 1, 1, 10, tzinfo=timezone.utc)
    run = dag_runner.run(dag, ten)
    assert (run.data_interval_start, run.data_interval_end) == (ten, ten)  # zero-length
    assert task_states(run) == {"rollup": "success"}
    assert emu.count_requests("POST", r"/jobs$") == 1
    with client(emu) as c:
        job = next(j for j in c.jobs.iter_all() if j["target"]["tableName"] == "events_hourly")
        spec = c.jobs.get(job["id"]).get("spec", job)
    assert spec["target"]["intervals"] == ["2024-01-01T09:00:00Z/2024-01-01T10:00:00Z"]

    emu.clear_request_log()
    off_schedule = dag_runner.run(dag, ten.replace(minute=7))  # a manual run at 10:07
    assert task_states(off_schedule) == {"rollup": "failed"}
    assert emu.count_requests() == 0  # failed before any request


def test_no_secret_in_the_logs_of_a_failing_and_a_timing_out_job(
    polaris_emulator: Any,
    dag_runner: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    emu = polaris_emulator
    emu.script_job(table="fails_t", outcome="failed", health_code="null_timestamp")
    emu.script_job(table="slow_t", outcome="running")
    caplog.set_level(logging.DEBUG)  # client and HTTP library debug lines too
    dag = dag_runner.load(DAGS, "test_jobs_no_secrets")
    run = dag_runner.run(dag, None)
    assert task_states(run) == {"load_fails_t": "failed", "load_slow_t": "failed"}

    logged = caplog.text + "".join(capfd.readouterr())
    # The task logs were captured: both failures explain themselves ...
    assert "null_timestamp" in logged and "did not finish in time" in logged
    # ... without the API key or the Authorization header value built from it.
    basic = base64.b64encode(f"{emu.api_key}:".encode()).decode()
    assert emu.api_key not in logged
    assert basic not in logged
