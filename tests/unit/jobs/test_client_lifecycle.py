"""Operators and sensors close the Polaris client they opened (no socket left to the GC)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest
from job_helpers import batch_spec, make_context

from airflow_provider_polaris._compat import TaskDeferred
from airflow_provider_polaris.operators._job_base import PolarisJobFailedError
from airflow_provider_polaris.operators._lifecycle import ClosesPolarisClient
from airflow_provider_polaris.operators.jobs import (
    PolarisCancelJobOperator,
    PolarisCreateJobOperator,
)
from airflow_provider_polaris.operators.tables import PolarisCreateTableOperator
from airflow_provider_polaris.sensors.jobs import PolarisJobSensor
from airflow_provider_polaris.sensors.tables import PolarisTableSensor

FAST = {"poll_interval": 0.02}


def client_open(op: Any) -> bool:
    hook = vars(op).get("hook")
    return bool(hook is not None and hook.client_open)


def test_every_operator_and_sensor_closes_its_client() -> None:
    import airflow_provider_polaris.operators.connections as connections
    import airflow_provider_polaris.operators.events as events
    import airflow_provider_polaris.operators.files as files
    import airflow_provider_polaris.operators.jobs as jobs
    import airflow_provider_polaris.operators.streaming as streaming
    import airflow_provider_polaris.operators.tables as tables
    import airflow_provider_polaris.sensors.jobs as sensor_jobs
    import airflow_provider_polaris.sensors.tables as sensor_tables
    from airflow_provider_polaris._compat import BaseOperator

    modules = [connections, events, files, jobs, streaming, tables, sensor_jobs, sensor_tables]
    classes = {
        obj
        for module in modules
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseOperator)
        and obj.__module__.startswith("airflow_provider_polaris")
    }
    assert len(classes) >= 10
    assert [c.__name__ for c in classes if not issubclass(c, ClosesPolarisClient)] == []


def test_sync_execute_closes_the_client(emu: Any) -> None:
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST)
    op.execute(make_context())
    assert "hook" in vars(op) and not client_open(op)


def test_failing_execute_closes_the_client(emu: Any) -> None:
    emu.script_job(outcome="failed", health_code="bad", message="boom")
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST)
    with pytest.raises(PolarisJobFailedError):
        op.execute(make_context())
    assert not client_open(op)


def test_deferred_task_keeps_no_client_and_on_kill_reopens(emu: Any) -> None:
    emu.script_job(outcome="running")
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), deferrable=True, **FAST)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())
    assert not client_open(op)
    # on_kill after execute closed the client: the hook opens a new one, and it is closed again.
    op.on_kill()
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1
    assert not client_open(op)
    # The trigger uses its own async client, untouched by the operator's close.
    event = asyncio.run(deferred.value.trigger.run().__anext__())
    assert event.payload["status"] == "canceled"


def test_execute_complete_closes_the_client(emu: Any) -> None:
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), deferrable=True, **FAST)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    event = asyncio.run(deferred.value.trigger.run().__anext__())
    job = op.execute_complete(context, event.payload)
    assert job["executionStatus"] == "completed"
    assert not client_open(op)


def test_sensors_and_setup_operators_close_the_client(emu: Any) -> None:
    emu.script_job(outcome="running")
    job = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), wait_for_completion=False
    ).execute(make_context())
    sensor = PolarisJobSensor(task_id="s", job_id=job["id"], poll_interval=0.02, timeout=0.1)
    assert sensor.poke(make_context()) is False
    assert not client_open(sensor)
    cancel = PolarisCancelJobOperator(task_id="c", job_id=job["id"], **FAST)
    cancel.execute(make_context())
    assert not client_open(cancel)
    table = PolarisCreateTableOperator(task_id="t", table={"name": "t1", "type": "detail"})
    table.execute(make_context())
    assert not client_open(table)
    table_sensor = PolarisTableSensor(task_id="ts", table_name="t1", poke_interval=0.02)
    table_sensor.execute(make_context())
    assert not client_open(table_sensor)


def test_no_unclosed_socket_is_left_to_the_garbage_collector(emu: Any) -> None:
    # Collect what earlier tests left behind first and keep the collector from running on its
    # own inside the window, so only this test's objects are judged.
    gc.collect()
    gc.disable()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST)
            op.execute(make_context())
            sensor = PolarisJobSensor(task_id="s", job_id=op.submitted_job_id, poll_interval=0.02)
            sensor.execute(make_context())
            del op, sensor
            gc.collect()
    finally:
        gc.enable()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
