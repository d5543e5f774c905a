"""PolarisJobSensor (poke / reschedule / deferrable, soft_fail) and the streaming operators."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from job_helpers import batch_spec, make_context

from airflow_provider_polaris._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.operators._job_base import PolarisJobFailedError
from airflow_provider_polaris.operators.streaming import (
    PolarisResetStreamingJobOperator,
    PolarisResumeJobOperator,
    PolarisStreamingJobOperator,
    PolarisSuspendJobOperator,
)
from airflow_provider_polaris.sensors.jobs import PolarisJobSensor

FAST = {"poll_interval": 0.02}


def client(emu: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    )


def submit(emu: Any, **fate: Any) -> str:
    if fate:
        emu.script_job(**fate)
    with client(emu) as c:
        return str(c.jobs.create(batch_spec())["id"])


def run_sensor(sensor: PolarisJobSensor, deferrable: bool) -> Any:
    context = make_context()
    if not deferrable:
        return sensor.execute(context)
    trigger = None
    try:
        return sensor.execute(context)  # the first check may already decide
    except TaskDeferred as deferred:
        trigger = deferred.trigger

    async def one() -> Any:
        return await trigger.run().__anext__()

    event = asyncio.run(one())
    # resume_execution is what Airflow calls: it holds the soft_fail rule
    return sensor.resume_execution("execute_complete", {"event": event.payload}, context)


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_success(emu: Any, deferrable: bool) -> None:
    job_id = submit(emu)
    run_sensor(
        PolarisJobSensor(task_id="s", job_id=job_id, deferrable=deferrable, timeout=10, **FAST),
        deferrable,
    )


@pytest.mark.parametrize("deferrable", [False, True])
@pytest.mark.parametrize("soft_fail", [False, True])
def test_sensor_failure_is_never_skipped(emu: Any, deferrable: bool, soft_fail: bool) -> None:
    job_id = submit(emu, outcome="failed", health_code="null_timestamp", after_polls=2)
    sensor = PolarisJobSensor(
        task_id="s", job_id=job_id, deferrable=deferrable, soft_fail=soft_fail, timeout=10, **FAST
    )
    with pytest.raises(PolarisJobFailedError, match="null_timestamp"):
        run_sensor(sensor, deferrable)


@pytest.mark.parametrize("deferrable", [False, True])
@pytest.mark.parametrize("soft_fail", [False, True])
def test_sensor_timeout_skips_only_with_soft_fail(
    emu: Any, deferrable: bool, soft_fail: bool
) -> None:
    job_id = submit(emu, outcome="running")
    sensor = PolarisJobSensor(
        task_id="s", job_id=job_id, deferrable=deferrable, soft_fail=soft_fail, timeout=0.2, **FAST
    )
    with pytest.raises(AirflowSkipException if soft_fail else AirflowSensorTimeout):
        run_sensor(sensor, deferrable)


def test_sensor_never_cancels_and_templates_job_id() -> None:
    assert "job_id" in PolarisJobSensor.template_fields
    sensor = PolarisJobSensor(task_id="s", job_id="j", deferrable=True, poll_interval=7)
    assert sensor.poke_interval == 7


STREAM_SPEC = {
    "type": "streaming",
    "target": {"type": "table", "tableName": "stream_t"},
    "createTableIfNotExists": True,
    "source": {
        "type": "connection",
        "connectionName": "gw",
        "inputSchema": [
            {"name": "time", "dataType": "long"},
            {"name": "value", "dataType": "double"},
        ],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [
        {"columnName": "__time", "expression": 'MILLIS_TO_TIMESTAMP("time")'},
        {"columnName": "value", "expression": '"value"'},
    ],
}


@pytest.fixture
def stream_conn(emu: Any) -> Any:
    with client(emu) as c:
        c.connections.create({"type": "push_streaming", "name": "gw"})
    return emu


@pytest.mark.parametrize("deferrable", [False, True])
def test_streaming_lifecycle(stream_conn: Any, deferrable: bool) -> None:
    emu = stream_conn
    start = PolarisStreamingJobOperator(
        task_id="start", job_spec=STREAM_SPEC, deferrable=deferrable, **FAST
    )
    context = make_context()
    if deferrable:
        with pytest.raises(TaskDeferred) as d:
            start.execute(context)
        event = asyncio.run(d.value.trigger.run().__anext__())
        job = start.execute_complete(context, event.payload)
    else:
        job = start.execute(context)
    assert job["executionStatus"] in ("running", "idle")
    job_id = job["id"]

    reset = PolarisResetStreamingJobOperator(task_id="reset", target_table="stream_t")
    assert reset.execute(make_context()) == job_id
    assert emu.count_requests("POST", r"/jobs/[^/]+/reset") == 1

    suspended = PolarisSuspendJobOperator(task_id="suspend", job_id=job_id, **FAST).execute(
        make_context()
    )
    assert suspended["executionStatus"] == "suspended"
    resumed = PolarisResumeJobOperator(task_id="resume", job_id=job_id, **FAST).execute(
        make_context()
    )
    assert resumed["executionStatus"] in ("running", "idle")


def test_streaming_operator_rejects_batch_spec(emu: Any) -> None:
    from airflow_provider_polaris._compat import AirflowFailException

    with pytest.raises(AirflowFailException, match="streaming"):
        PolarisStreamingJobOperator(task_id="s", job_spec=batch_spec()).execute(make_context())
    assert emu.count_requests() == 0


def test_reset_without_live_job_fails(emu: Any) -> None:
    from airflow_provider_polaris._compat import AirflowFailException

    with pytest.raises(AirflowFailException, match="No live streaming job"):
        PolarisResetStreamingJobOperator(task_id="r", target_table="none").execute(make_context())
