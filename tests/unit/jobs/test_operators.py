"""Job operators against the emulator, sync and deferrable: success, failure, cancel, timeout."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import threading
import time
from typing import Any

import pytest
from job_helpers import ROLLUP_MAPPINGS, batch_spec, make_context, posts

from airflow_provider_polaris._compat import AirflowFailException, TaskDeferred
from airflow_provider_polaris.operators._job_base import (
    PolarisJobCanceledError,
    PolarisJobFailedError,
    PolarisJobTimeoutError,
)
from airflow_provider_polaris.operators.jobs import (
    PolarisBatchIngestionOperator,
    PolarisCancelJobOperator,
    PolarisCreateJobOperator,
    PolarisSqlIngestionOperator,
    PolarisTableToTableOperator,
)
from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger

FAST = {"poll_interval": 0.02}


def run_deferred(op: Any, context: dict[str, Any]) -> Any:
    """execute -> TaskDeferred -> serialize round trip -> run the trigger -> execute_complete."""
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    trigger = deferred.value.trigger
    assert deferred.value.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    json.dumps(kwargs)  # primitives only
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)

    async def one_event() -> Any:
        gen = rebuilt.run()
        event = await gen.__anext__()
        with pytest.raises(StopAsyncIteration):  # exactly one event
            await gen.__anext__()
        return event

    event = asyncio.run(one_event())
    return op.execute_complete(context, event.payload)


@pytest.mark.parametrize("deferrable", [False, True])
def test_create_job_success_pushes_xcom_and_returns_job(
    emu: Any, deferrable: bool, capfd: Any
) -> None:
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), deferrable=deferrable, **FAST
    )
    context = make_context()
    result = run_deferred(op, context) if deferrable else op.execute(context)
    assert result["executionStatus"] == "completed"
    json.dumps(result)
    ti = context["ti"]
    assert ti.xcom["job_id"] == result["id"]
    assert ti.xcom["job_url"].endswith(result["id"])
    assert posts(emu) == 1
    assert len(emu.table_rows("events")) == 4
    out, err = capfd.readouterr()
    assert emu.api_key not in out + err


def test_job_spec_json_text_is_parsed(emu: Any) -> None:
    op = PolarisCreateJobOperator(task_id="load", job_spec=json.dumps(batch_spec()), **FAST)
    assert op.execute(make_context())["executionStatus"] == "completed"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"type": "batch", "target": {"type": "table", "tableName": "t"}}, "source"),
        ({**batch_spec(), "mappings": [{"columnName": "x"}]}, "mappings[0].expression"),
        ({"type": "nope"}, "type"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_spec_fails_before_any_request(emu: Any, spec: Any, needle: str) -> None:
    op = PolarisCreateJobOperator(task_id="load", job_spec=spec, **FAST)
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    assert needle in str(err.value)
    assert emu.count_requests() == 0


@pytest.mark.parametrize("deferrable", [False, True])
def test_failed_job_explains_itself(emu: Any, deferrable: bool) -> None:
    emu.script_job(
        outcome="failed", health_code="null_timestamp", message="Null timestamp in row 3"
    )
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), deferrable=deferrable, **FAST
    )
    with pytest.raises(PolarisJobFailedError) as err:
        run_deferred(op, make_context()) if deferrable else op.execute(make_context())
    text = str(err.value)
    for needle in (
        "failed",
        "null_timestamp",
        "Null timestamp in row 3",
        "events",
        "console:",
        "batch",
    ):
        assert needle in text, needle
    assert not isinstance(err.value, AirflowFailException)  # a failed job may be retried


@pytest.mark.parametrize("deferrable", [False, True])
def test_completed_with_error_health_fails(emu: Any, deferrable: bool) -> None:
    emu.script_job(outcome="completed", health_code="no_rows_ingested")
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), deferrable=deferrable, **FAST
    )
    with pytest.raises(PolarisJobFailedError, match="no_rows_ingested"):
        run_deferred(op, make_context()) if deferrable else op.execute(make_context())


@pytest.mark.parametrize("deferrable", [False, True])
def test_canceled_job_fails_without_retry(emu: Any, deferrable: bool) -> None:
    emu.script_job(outcome="canceled")
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), deferrable=deferrable, **FAST
    )
    with pytest.raises(PolarisJobCanceledError) as err:
        run_deferred(op, make_context()) if deferrable else op.execute(make_context())
    assert isinstance(err.value, AirflowFailException)


@pytest.mark.parametrize("deferrable", [False, True])
def test_warnings_succeed(emu: Any, deferrable: bool) -> None:
    emu.script_job(outcome="completed", warn_code="invalid_rows_found")
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), deferrable=deferrable, **FAST
    )
    result = run_deferred(op, make_context()) if deferrable else op.execute(make_context())
    assert result["health"]["status"] in ("warn", "warning")


def test_unknown_status_keeps_waiting(emu: Any) -> None:
    emu.script_job(outcome="completed", unknown_polls=3)
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST)
    assert op.execute(make_context())["executionStatus"] == "completed"


@pytest.mark.parametrize("deferrable", [False, True])
def test_timeout_cancels_then_fails(emu: Any, deferrable: bool) -> None:
    emu.script_job(outcome="running")
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), deferrable=deferrable, timeout=0.3, **FAST
    )
    context = make_context()
    with pytest.raises(PolarisJobTimeoutError, match="cancellation requested") as err:
        run_deferred(op, context) if deferrable else op.execute(context)
    # The error says what was last seen and where to look.
    assert "last status: running" in str(err.value)
    assert f"Console: {context['ti'].xcom['job_url']}" in str(err.value)
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1
    job_id = context["ti"].xcom["job_id"]
    deadline = time.time() + 5
    while emu.get_job(job_id)["executionStatus"] != "canceled" and time.time() < deadline:
        time.sleep(0.02)
    assert emu.get_job(job_id)["executionStatus"] == "canceled"


def test_on_kill_cancels_the_running_job(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_polaris.client import PolarisClient

    emu.script_job(outcome="running")
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST)
    errors: list[BaseException] = []

    def run() -> None:
        # Airflow 2.11's executor safeguard is thread-local: call the undecorated execute (under
        # the client-closing wrapper too; on_kill leaves a client it did not open alone).
        execute = inspect.unwrap(type(op).execute)
        try:
            execute(op, make_context())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 10
    while op.submitted_job_id is None and time.time() < deadline:
        time.sleep(0.01)
    wait_client = op.hook.get_client()  # the client the interrupted wait is using
    # on_kill runs from a signal handler: it must not re-enter that client (its locks may be
    # held by the very thread it interrupted) but cancel through a short-lived one of its own.
    opened: list[PolarisClient] = []
    closed: list[PolarisClient] = []
    real_init, real_close = PolarisClient.__init__, PolarisClient.close

    def recording_init(self: PolarisClient, *args: Any, **kwargs: Any) -> None:
        opened.append(self)
        real_init(self, *args, **kwargs)

    def recording_close(self: PolarisClient) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(PolarisClient, "__init__", recording_init)
    monkeypatch.setattr(PolarisClient, "close", recording_close)
    op.on_kill()
    assert len(opened) == 1 and opened[0] is not wait_client and opened[0] in closed
    thread.join(10)
    assert isinstance(errors[0], PolarisJobCanceledError)
    assert emu.get_job(op.submitted_job_id)["executionStatus"] == "canceled"


def test_on_kill_failure_is_only_logged(emu: Any) -> None:
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST)
    op.submitted_job_id = "does-not-exist"
    op.on_kill()  # 404 from Polaris: logged, never raised


def test_trigger_on_kill_cancels(emu: Any) -> None:
    emu.script_job(outcome="running")
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), deferrable=True, **FAST)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())
    trigger = deferred.value.trigger
    asyncio.run(trigger.on_kill())
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1
    no_cancel = PolarisJobTrigger(job_id=trigger.job_id, cancel_on_kill=False)
    asyncio.run(no_cancel.on_kill())
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1


def test_wait_for_completion_false_returns_after_submit(emu: Any) -> None:
    emu.script_job(outcome="running")
    op = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), wait_for_completion=False)
    assert op.execute(make_context())["executionStatus"] in ("pending", "running")
    assert emu.count_requests("GET") == 0


def load_events(emu: Any) -> None:
    PolarisCreateJobOperator(task_id="seed", job_spec=batch_spec("events"), **FAST).execute(
        make_context()
    )


@pytest.mark.parametrize("deferrable", [False, True])
def test_table_to_table_replaces_the_run_hour(emu: Any, deferrable: bool) -> None:
    load_events(emu)
    op = PolarisTableToTableOperator(
        task_id="rollup",
        source_table="events",
        target_table="events_hourly",
        mappings=ROLLUP_MAPPINGS,
        partitioned_by="hour",
        create_table_if_not_exists=True,
        deferrable=deferrable,
        **FAST,
    )
    context = make_context()
    result = run_deferred(op, context) if deferrable else op.execute(context)
    spec = emu.get_job(result["id"])["spec"]
    assert spec["ingestionMode"] == "replace"
    assert spec["target"]["intervals"] == ["2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"]
    assert spec["source"]["interval"] == "2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"
    rows = {r["country"]: r for r in emu.table_rows("events_hourly")}
    assert int(rows["US"]["events"]) == 2 and int(rows["US"]["revenue"]) == 7
    assert int(rows["FR"]["events"]) == 1  # the 11:15 row is outside the hour


def test_table_to_table_refuses_empty_interval_without_a_request(emu: Any) -> None:
    op = PolarisTableToTableOperator(
        task_id="rollup", source_table="events", target_table="h", mappings=ROLLUP_MAPPINGS
    )
    context = make_context(end=make_context()["data_interval_start"])  # zero-length interval
    with pytest.raises(AirflowFailException, match="interval=timedelta"):
        op.execute(context)
    assert emu.count_requests() == 0


def test_batch_ingestion_operator(emu: Any) -> None:
    spec = batch_spec()
    op = PolarisBatchIngestionOperator(
        task_id="load",
        target_table="events",
        source=spec["source"],
        mappings=spec["mappings"],
        create_table_if_not_exists=True,
        **FAST,
    )
    assert op.execute(make_context())["executionStatus"] == "completed"
    assert len(emu.table_rows("events")) == 4


def test_sql_ingestion_operator(emu: Any) -> None:
    load_events(emu)
    op = PolarisSqlIngestionOperator(
        task_id="sql",
        sql='INSERT INTO "events_copy" SELECT "__time", "country", "amount" FROM "events" '
        "PARTITIONED BY DAY",
        create_table_if_not_exists=True,
        **FAST,
    )
    assert op.execute(make_context())["executionStatus"] == "completed"
    assert PolarisSqlIngestionOperator.template_ext == (".sql",)


@pytest.mark.parametrize("deferrable", [False, True])
def test_cancel_operator_waits_for_canceled(emu: Any, deferrable: bool) -> None:
    emu.script_job(outcome="running")
    running = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), wait_for_completion=False
    )
    job_id = running.execute(make_context())["id"]
    cancel = PolarisCancelJobOperator(
        task_id="cancel", job_id=job_id, deferrable=deferrable, **FAST
    )
    context = make_context()
    if deferrable:
        # Frozen emulator clock: the cancel cannot take effect before the task defers.
        emu.configure(manual_clock=True)
        with pytest.raises(TaskDeferred) as deferred:
            cancel.execute(context)
        assert deferred.value.trigger.target_statuses == ["canceled", "completed", "failed"]
        assert deferred.value.trigger.cancel_on_kill is False
        emu.configure(manual_clock=False)
        event = asyncio.run(deferred.value.trigger.run().__anext__())
        result = cancel.execute_complete(context, event.payload)
    else:
        result = cancel.execute(context)
    assert result["id"] == job_id and result["executionStatus"] == "canceled"
    assert context["ti"].xcom["job_id"] == job_id
    assert context["ti"].xcom["job_url"].endswith(job_id)
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1


@pytest.mark.parametrize("fate", ["completed", "failed"])
def test_cancel_operator_leaves_an_ended_job_alone(emu: Any, fate: str) -> None:
    emu.script_job(outcome=fate, health_code="internal_error" if fate == "failed" else None)
    load = PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST)
    try:
        load.execute(make_context())
    except PolarisJobFailedError:
        assert fate == "failed"
    job_id = load.submitted_job_id
    result = PolarisCancelJobOperator(task_id="cancel", job_id=job_id, **FAST).execute(
        make_context()
    )
    assert result["executionStatus"] == fate  # reported, not an error
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 0


def test_templates_render_recursively() -> None:
    assert "job_spec" in PolarisCreateJobOperator.template_fields
    assert PolarisCreateJobOperator.template_ext == (".json",)
    assert {"source_table", "target_table", "mappings", "intervals"} <= set(
        PolarisTableToTableOperator.template_fields
    )


def test_cancel_operator_tolerates_a_job_ending_between_its_read_and_the_cancel(emu: Any) -> None:
    # The emulator ends the job right after the operator's first read shows it running, so
    # Polaris answers the cancel with 400 "already completed": nothing is left to stop.
    emu.script_job(outcome="completed", after_polls=1)
    job_id = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), wait_for_completion=False
    ).execute(make_context())["id"]
    result = PolarisCancelJobOperator(task_id="cancel", job_id=job_id, **FAST).execute(
        make_context()
    )
    assert result["executionStatus"] == "completed"
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1  # the refused cancel
