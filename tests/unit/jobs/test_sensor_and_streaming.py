"""PolarisJobSensor (poke / reschedule / deferrable, soft_fail) and the streaming operators."""

from __future__ import annotations

import asyncio
import contextlib
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

    reset = PolarisResetStreamingJobOperator(task_id="reset", target_table="stream_t", **FAST)
    reset_context = make_context()
    reset_job = reset.execute(reset_context)
    assert reset_job["id"] == job_id and reset_job["executionStatus"] in ("running", "idle")
    assert reset_context["ti"].xcom["job_id"] == job_id
    assert reset_context["ti"].xcom["job_url"].endswith(job_id)
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


@pytest.mark.parametrize("deferrable", [False, True])
def test_create_job_operator_with_a_streaming_spec_waits_until_live(
    stream_conn: Any, deferrable: bool
) -> None:
    from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

    emu = stream_conn
    op = PolarisCreateJobOperator(
        task_id="start", job_spec=STREAM_SPEC, deferrable=deferrable, timeout=5, **FAST
    )
    context = make_context()
    if deferrable:
        with pytest.raises(TaskDeferred) as d:
            op.execute(context)
        assert d.value.trigger.target_statuses == ["idle", "running"]
        event = asyncio.run(d.value.trigger.run().__anext__())
        job = op.execute_complete(context, event.payload)
    else:
        job = op.execute(context)
    assert job["executionStatus"] in ("running", "idle")
    # A healthy streaming job is never canceled by the wait (no timeout, no cancel request).
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 0
    assert emu.get_job(job["id"])["executionStatus"] in ("running", "idle")


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_failure_explains_itself_like_the_operators(emu: Any, deferrable: bool) -> None:
    job_id = submit(emu, outcome="failed", health_code="null_timestamp", message="row 3 is bad")
    sensor = PolarisJobSensor(task_id="s", job_id=job_id, deferrable=deferrable, timeout=10, **FAST)
    with pytest.raises(PolarisJobFailedError) as err:
        run_sensor(sensor, deferrable)
    text = str(err.value)
    for needle in (
        "null_timestamp",
        "row 3 is bad",
        "rows: ",
        " processed",
        "log line",
        "console:",
    ):
        assert needle in text, needle


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_pushes_the_job_link_xcom(emu: Any, mode: str) -> None:
    job_id = submit(emu)
    sensor = PolarisJobSensor(
        task_id="s", job_id=job_id, deferrable=mode == "deferrable", timeout=10, **FAST
    )
    context = make_context()
    with contextlib.suppress(TaskDeferred):
        sensor.execute(context)
    assert context["ti"].xcom["job_id"] == job_id
    assert context["ti"].xcom["job_url"].endswith(job_id)


def test_sensor_poke_tolerates_transient_errors_like_the_other_waits(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_polaris.waiting import DEFAULT_MAX_CONSECUTIVE_ERRORS

    job_id = submit(emu, outcome="completed", after_polls=1)
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection({"max_retries": 0}))
    emu.inject_fault("GET", r"/jobs/[^/]+", status=503, count=DEFAULT_MAX_CONSECUTIVE_ERRORS)
    sensor = PolarisJobSensor(task_id="s", job_id=job_id, timeout=10, **FAST)
    sensor.execute(make_context())  # five 503s in a row, then the job completes
    emu.inject_fault("GET", r"/jobs/[^/]+", status=503, count=DEFAULT_MAX_CONSECUTIVE_ERRORS + 1)
    fresh = PolarisJobSensor(task_id="s", job_id=job_id, timeout=10, **FAST)
    with pytest.raises(Exception, match="503"):
        fresh.execute(make_context())  # one more than the bound: the sensor fails


def test_control_operator_timeout_never_cancels_the_job(stream_conn: Any) -> None:
    from airflow_provider_polaris.operators._job_base import PolarisJobTimeoutError

    emu = stream_conn
    job = PolarisStreamingJobOperator(task_id="start", job_spec=STREAM_SPEC, **FAST).execute(
        make_context()
    )
    emu.configure(manual_clock=True)  # the suspend cannot take effect: the wait times out
    try:
        op = PolarisSuspendJobOperator(task_id="suspend", job_id=job["id"], timeout=0.2, **FAST)
        with pytest.raises(PolarisJobTimeoutError, match="did not reach suspended in time") as err:
            op.execute(make_context())
    finally:
        emu.configure(manual_clock=False)
    assert "left as it is (this task only suspends it)" in str(err.value)
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1  # the suspend, no cancel


def test_reset_deferrable_waits_for_live_and_links(stream_conn: Any) -> None:
    emu = stream_conn
    emu.configure(manual_clock=True)  # the job stays pending: the reset task must defer
    try:
        job = PolarisStreamingJobOperator(
            task_id="start", job_spec=STREAM_SPEC, wait_for_completion=False
        ).execute(make_context())
        reset = PolarisResetStreamingJobOperator(
            task_id="reset", job_id=job["id"], deferrable=True, **FAST
        )
        context = make_context()
        with pytest.raises(TaskDeferred) as deferred:
            reset.execute(context)
    finally:
        emu.configure(manual_clock=False)
    assert deferred.value.trigger.target_statuses == ["idle", "running"]
    assert deferred.value.trigger.cancel_on_kill is False
    assert emu.count_requests("POST", r"/jobs/[^/]+/reset") == 1
    event = asyncio.run(deferred.value.trigger.run().__anext__())
    final = reset.execute_complete(context, event.payload)
    assert final["executionStatus"] in ("running", "idle")
    assert context["ti"].xcom["job_url"].endswith(job["id"])


def test_reschedule_sensor_bounds_transient_errors_within_a_poke(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reschedule mode builds a new sensor for every poke: the bound must hold within one."""
    from airflow_provider_polaris.waiting import DEFAULT_MAX_CONSECUTIVE_ERRORS

    job_id = submit(emu, outcome="running")
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection({"max_retries": 0}))
    pauses: list[float] = []

    def poke_once() -> bool:
        sensor = PolarisJobSensor(task_id="s", job_id=job_id, mode="reschedule", **FAST)
        sensor._sleep = pauses.append
        return sensor.poke(make_context())

    emu.inject_fault("GET", r"/jobs/[^/]+", status=503, count=DEFAULT_MAX_CONSECUTIVE_ERRORS)
    assert poke_once() is False  # five 503s, then the (running) job: reschedule
    assert pauses == [0.02] * DEFAULT_MAX_CONSECUTIVE_ERRORS
    emu.inject_fault("GET", r"/jobs/[^/]+", status=503, count=DEFAULT_MAX_CONSECUTIVE_ERRORS + 1)
    with pytest.raises(Exception, match="503"):
        poke_once()  # one more than the bound: the sensor fails instead of rescheduling forever
