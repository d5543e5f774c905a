"""Never a duplicate job: a retry reattaches to the job an earlier try created.

Two mechanisms, both exercised on every Airflow line:
- durable task state (Airflow >= 3.3's ``task_state_store``; here its accessor API over a dict
  shared between "tries", as the real store is shared by every try of a task instance);
- the Polaris scan fallback (no task state: Airflow < 3.3, or the create response was lost).

A try "dies" through the emulator, never by mocking our code: the create response is held past the
client's read timeout (the job exists, the worker never learned its id), or every request after the
create is dropped.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from job_helpers import DictStateStore, batch_spec, make_context, posts

from airflow_provider_polaris._compat import TaskDeferred
from airflow_provider_polaris.operators._job_base import PolarisJobFailedError
from airflow_provider_polaris.operators._reattach import STATE_KEY
from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

FAST = {"poll_interval": 0.02}
RUN_STARTED = datetime.now(timezone.utc) - timedelta(minutes=1)


def op(**kwargs: Any) -> PolarisCreateJobOperator:
    return PolarisCreateJobOperator(task_id="load", job_spec=batch_spec(), **FAST, **kwargs)


def ctx(try_number: int, store: DictStateStore | None) -> dict[str, Any]:
    return make_context(try_number=try_number, store=store, run_started=RUN_STARTED)


@pytest.fixture
def impatient(emu: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """No client retries and a short read timeout, so a held response kills the try quickly."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection({"max_retries": 0, "timeout": 0.3})
    )
    return emu


@pytest.mark.parametrize("kind", ["scan", "state-store"])
def test_lost_create_response_then_retry_reattaches(impatient: Any, kind: str) -> None:
    store = DictStateStore() if kind == "state-store" else None
    emu = impatient
    emu.inject_fault("POST", r"/jobs", kind="delay", delay_seconds=1.0)
    with pytest.raises(Exception):  # noqa: B017 - the try dies on a read timeout
        op().execute(ctx(1, store))
    deadline = time.time() + 5  # the emulator logs the request once its held response is sent
    while posts(emu) < 1 and time.time() < deadline:
        time.sleep(0.02)
    assert posts(emu) == 1  # the job exists; try 1 never learned its id
    result = op().execute(ctx(2, store))
    assert result["executionStatus"] == "completed"
    assert posts(emu) == 1


@pytest.mark.parametrize("kind", ["scan", "state-store"])
def test_worker_dies_while_waiting_then_retry_reattaches(impatient: Any, kind: str) -> None:
    store = DictStateStore() if kind == "state-store" else None
    emu = impatient
    emu.script_job(outcome="running")
    emu.inject_fault("GET", r"/jobs/[^/]+", kind="drop", count=50)
    with pytest.raises(Exception):  # noqa: B017
        op().execute(ctx(1, store))
    emu.clear_faults()
    if store is not None:
        assert STATE_KEY in store.data
        job_id = store.data[STATE_KEY]["job_id"]
    else:
        (job_id,) = {
            e["path"].rsplit("/", 1)[-1] for e in emu.request_log() if e["method"] == "GET"
        }
    emu.script_job(job_id, outcome="completed", after_polls=1)
    result = op().execute(ctx(2, store))
    assert result["id"] == job_id
    assert posts(emu) == 1
    if store is not None:
        assert STATE_KEY not in store.data  # forgotten on success: a later clear submits anew


@pytest.mark.parametrize("kind", ["scan", "state-store"])
def test_failed_earlier_job_is_not_mistaken_for_success(emu: Any, kind: str) -> None:
    store = DictStateStore() if kind == "state-store" else None
    emu.script_job(outcome="failed", health_code="internal_error")
    with pytest.raises(PolarisJobFailedError):
        op().execute(ctx(1, store))
    result = op().execute(ctx(2, store))
    assert result["executionStatus"] == "completed"
    assert posts(emu) == 2


@pytest.mark.parametrize("kind", ["scan", "state-store"])
def test_deferrable_retry_defers_on_the_same_job(emu: Any, kind: str) -> None:
    store = DictStateStore() if kind == "state-store" else None
    emu.script_job(outcome="running")
    with pytest.raises(TaskDeferred) as first:
        op(deferrable=True).execute(ctx(1, store))
    # the worker/triggerer died; the retry must not submit again
    with pytest.raises(TaskDeferred) as second:
        op(deferrable=True).execute(ctx(2, store))
    assert first.value.trigger.job_id == second.value.trigger.job_id
    assert posts(emu) == 1


def test_rerun_after_success_submits_a_new_job(emu: Any) -> None:
    store = DictStateStore()
    op().execute(ctx(1, store))
    cleared = datetime.now(timezone.utc) + timedelta(seconds=2)
    later = make_context(try_number=2, store=store, run_started=cleared)
    op().execute(later)  # a user cleared the successful task: the work is redone
    assert posts(emu) == 2


def test_first_try_never_scans(emu: Any) -> None:
    op().execute(ctx(1, None))
    op().execute(ctx(1, None))
    assert posts(emu) == 2
    assert emu.count_requests("GET", r"/jobs") == 0


def test_retry_does_not_reuse_another_runs_job(emu: Any) -> None:
    op().execute(ctx(1, None))  # an earlier job on the table, from before this run started
    late = make_context(
        try_number=2, run_started=datetime.now(timezone.utc) + timedelta(seconds=30)
    )
    op().execute(late)
    assert posts(emu) == 2


def test_retry_does_not_reuse_a_job_with_another_spec(emu: Any) -> None:
    PolarisCreateJobOperator(task_id="x", job_spec={**batch_spec("elsewhere")}, **FAST).execute(
        ctx(1, None)
    )
    op().execute(ctx(2, None))  # only a job on another table exists: submit
    assert posts(emu) == 2
