"""PolarisStreamingJobOperator(if_running=...): keep / replace / fail a table's streaming job."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from job_helpers import make_context

from airflow_provider_polaris._compat import AirflowFailException, TaskDeferred
from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.operators._job_base import PolarisJobTimeoutError
from airflow_provider_polaris.operators.streaming import PolarisStreamingJobOperator

FAST = {"poll_interval": 0.02}
CREATES = ("POST", r"/jobs$")

SPEC: dict[str, Any] = {
    "type": "streaming",
    "target": {"type": "table", "tableName": "stream_t"},
    "createTableIfNotExists": True,
    "source": {
        "type": "connection",
        "connectionName": "gw",
        "inputSchema": [{"name": "time", "dataType": "long"}],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [{"columnName": "__time", "expression": 'MILLIS_TO_TIMESTAMP("time")'}],
}


def client(emu: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    )


@pytest.fixture
def stream(emu: Any) -> Any:
    with client(emu) as c:
        c.connections.create({"type": "push_streaming", "name": "gw"})
        c.connections.create({"type": "push_streaming", "name": "gw2"})
    emu.clear_request_log()
    return emu


def start(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
    kwargs.setdefault("job_spec", SPEC)
    op = PolarisStreamingJobOperator(task_id="start", **FAST, **kwargs)
    context = make_context()
    return op.execute(context), context


def other_spec() -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["source"]["connectionName"] = "gw2"
    return spec


def test_keep_is_the_default_and_reattaches_to_the_matching_job(stream: Any) -> None:
    first, _ = start()
    second, context = start()  # the next scheduled run
    assert second["id"] == first["id"]
    assert second["executionStatus"] in ("running", "idle")
    assert context["ti"].xcom["job_id"] == first["id"]
    assert stream.count_requests(*CREATES) == 1


def test_keep_with_a_different_spec_fails_before_any_create(stream: Any) -> None:
    first, _ = start()
    with pytest.raises(AirflowFailException) as err:
        start(job_spec=other_spec(), if_running="keep")
    message = str(err.value)
    assert first["id"] in message and "if_running='replace'" in message and "'gw2'" in message
    assert stream.count_requests(*CREATES) == 1
    assert stream.get_job(first["id"])["executionStatus"] in ("running", "idle")


def test_keep_refuses_a_suspended_job(stream: Any) -> None:
    first, _ = start()
    with client(stream) as c:
        c.jobs.suspend(first["id"])
    with pytest.raises(AirflowFailException, match="suspended"):
        start(if_running="keep")
    assert stream.count_requests(*CREATES) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"if_running": "replace"},
        {"replace_running": True},
        {"job_spec": {**SPEC, "replaceRunning": True}},
    ],
    ids=["if_running", "replace_running", "spec"],
)
def test_replace_submits_with_replace_running(stream: Any, kwargs: dict[str, Any]) -> None:
    first, _ = start()
    second, _ = start(**kwargs)
    assert second["id"] != first["id"]
    assert stream.count_requests(*CREATES) == 2
    # Polaris (the emulator) replaces the job only when the create carries replaceRunning: true.
    assert stream.get_job(first["id"])["executionStatus"] == "canceled"


@pytest.mark.parametrize("kwargs", [{"if_running": "fail"}, {"replace_running": False}])
def test_fail_refuses_when_a_job_is_active(stream: Any, kwargs: dict[str, Any]) -> None:
    first, _ = start()
    with pytest.raises(AirflowFailException) as err:
        start(**kwargs)
    assert first["id"] in str(err.value) and "if_running='keep'" in str(err.value)
    assert stream.count_requests(*CREATES) == 1


@pytest.mark.parametrize("mode", ["keep", "replace", "fail"])
def test_every_mode_submits_when_the_table_is_free(stream: Any, mode: str) -> None:
    job, _ = start(if_running=mode)
    assert job["executionStatus"] in ("running", "idle")
    assert stream.count_requests(*CREATES) == 1


def test_contradictions_fail_before_any_request(stream: Any) -> None:
    with pytest.raises(ValueError, match="contradicts"):
        PolarisStreamingJobOperator(
            task_id="s", job_spec=SPEC, if_running="keep", replace_running=True
        )
    with pytest.raises(ValueError, match="if_running must be"):
        PolarisStreamingJobOperator(task_id="s", job_spec=SPEC, if_running="restart")  # type: ignore[arg-type]
    with pytest.raises(AirflowFailException, match="replaceRunning"):
        start(job_spec={**SPEC, "replaceRunning": True}, if_running="keep")
    assert stream.count_requests() == 0


def test_a_kept_job_is_never_canceled_by_this_task(stream: Any) -> None:
    stream.script_job(table="stream_t", outcome="unknown")  # never goes live: the wait defers
    first = PolarisStreamingJobOperator(
        task_id="start", job_spec=SPEC, wait_for_completion=False
    ).execute(make_context())
    op = PolarisStreamingJobOperator(task_id="start", job_spec=SPEC, deferrable=True, **FAST)
    context = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    assert deferred.value.trigger.cancel_on_kill is False
    assert deferred.value.kwargs == {"kept_job_id": first["id"]}
    op.on_kill()
    # After the deferral a fresh operator instance resumes: the kept id comes back in kwargs.
    resumed = PolarisStreamingJobOperator(task_id="start", job_spec=SPEC, **FAST)
    event = {"status": "timeout", "job_id": first["id"], "message": "late", "job": first}
    with pytest.raises(PolarisJobTimeoutError, match="did not reach idle/running in time") as err:
        resumed.execute_complete(context, event, **deferred.value.kwargs)
    # Neither "cancellation requested" nor "could not be canceled": the job was never ours.
    assert "left as it is (this task did not start it" in str(err.value)
    assert "cancel" not in str(err.value).split("left as it is")[0]
    assert stream.count_requests("POST", r"/jobs/[^/]+/status") == 0
    assert stream.count_requests(*CREATES) == 1
