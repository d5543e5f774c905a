"""PolarisJobTrigger: one event, fail closed, shared poller vs per-trigger polling, cleanup."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from job_helpers import batch_spec

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.triggers import _poller
from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger, validate_event


def submit(emu: Any, n: int = 1, **fate: Any) -> list[str]:
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    ids = []
    with PolarisClient(config) as client:
        for _ in range(n):
            if fate:
                emu.script_job(**fate)
            ids.append(client.jobs.create(batch_spec())["id"])
    return ids


async def first_event(trigger: PolarisJobTrigger) -> dict[str, Any]:
    gen = trigger.run()
    event = await gen.__anext__()
    with pytest.raises(StopAsyncIteration):
        await gen.__anext__()
    return dict(event.payload)


@pytest.mark.parametrize("shared", [True, False])
async def test_success_event_carries_the_job(emu: Any, shared: bool) -> None:
    (job_id,) = submit(emu)
    event = await first_event(PolarisJobTrigger(job_id, poll_interval=0.02, shared_poller=shared))
    assert event["status"] == "success" and event["job_id"] == job_id
    assert event["job"]["executionStatus"] == "completed"
    validate_event(event)
    assert _poller.poller_count() == 0


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize(
    ("fate", "status"),
    [
        ({"outcome": "failed", "health_code": "null_timestamp"}, "failure"),
        ({"outcome": "canceled"}, "canceled"),
        ({"outcome": "completed", "unknown_polls": 3}, "success"),
    ],
)
async def test_outcomes(emu: Any, shared: bool, fate: dict[str, Any], status: str) -> None:
    (job_id,) = submit(emu, **fate)
    event = await first_event(PolarisJobTrigger(job_id, poll_interval=0.02, shared_poller=shared))
    assert event["status"] == status


@pytest.mark.parametrize("shared", [True, False])
async def test_deadline_gives_timeout_event(emu: Any, shared: bool) -> None:
    (job_id,) = submit(emu, outcome="running")
    trigger = PolarisJobTrigger(
        job_id, poll_interval=0.02, deadline=time.time() + 0.2, shared_poller=shared
    )
    assert (await first_event(trigger))["status"] == "timeout"
    assert _poller.poller_count() == 0


@pytest.mark.parametrize("shared", [True, False])
async def test_transient_errors_are_tolerated_within_bound(
    emu: Any, shared: bool, monkeypatch: Any
) -> None:
    (job_id,) = submit(emu)
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection({"max_retries": 0}))
    emu.inject_fault("GET", r"/jobs.*", status=503, count=2)
    trigger = PolarisJobTrigger(
        job_id, poll_interval=0.02, shared_poller=shared, max_consecutive_errors=5
    )
    assert (await first_event(trigger))["status"] == "success"


@pytest.mark.parametrize("shared", [True, False])
async def test_persistent_errors_give_error_event(emu: Any, shared: bool, monkeypatch: Any) -> None:
    (job_id,) = submit(emu, outcome="running")
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection({"max_retries": 0}))
    emu.inject_fault("GET", r"/jobs.*", status=500, count=1000)
    trigger = PolarisJobTrigger(
        job_id, poll_interval=0.01, shared_poller=shared, max_consecutive_errors=1
    )
    event = await first_event(trigger)
    assert event["status"] == "error" and event["job"] is None
    emu.clear_faults()


@pytest.mark.parametrize("shared", [True, False])
async def test_missing_job_is_an_error_at_once(emu: Any, shared: bool) -> None:
    event = await first_event(
        PolarisJobTrigger("no-such-job", poll_interval=0.01, shared_poller=shared)
    )
    assert event["status"] == "error"


async def test_missing_connection_is_an_error_event(emu: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_POLARIS_DEFAULT")
    event = await first_event(PolarisJobTrigger("j", poll_interval=0.01))
    assert event["status"] == "error"


async def test_shared_poller_polls_once_per_interval_for_many_waiters(emu: Any) -> None:
    ids = submit(emu, 20, outcome="running")
    emu.clear_request_log()
    triggers = [PolarisJobTrigger(j, poll_interval=0.1) for j in ids]
    tasks = [asyncio.create_task(first_event(t)) for t in triggers]
    await asyncio.sleep(0.55)
    assert _poller.poller_count() == 1
    # ~6 intervals: one list walk each, no per-job GETs while the jobs stay active
    assert emu.count_requests("GET", r"/jobs/[^/]+") == 0
    assert 3 <= emu.count_requests("GET", r"/jobs") <= 8
    for job_id in ids:  # finish them: each is fetched once when it leaves the active set
        emu.script_job(job_id, outcome="completed", after_polls=0)
    events = await asyncio.gather(*tasks)
    assert {e["status"] for e in events} == {"success"}
    assert _poller.poller_count() == 0


async def test_cancelled_waiter_unsubscribes_and_last_one_closes(emu: Any) -> None:
    ids = submit(emu, 2, outcome="running")
    tasks = [
        asyncio.create_task(first_event(PolarisJobTrigger(j, poll_interval=0.05))) for j in ids
    ]
    await asyncio.sleep(0.15)
    assert _poller.poller_count() == 1
    tasks[0].cancel()
    await asyncio.sleep(0.1)
    assert _poller.poller_count() == 1
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.05)
    assert _poller.poller_count() == 0


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        {},
        {"status": "weird", "job_id": "j"},
        {"status": "success", "job_id": "j"},
        {"status": "success", "job_id": "", "job": {}},
        {"status": "failure", "job_id": "j", "job": []},
    ],
)
def test_malformed_events_are_rejected(event: Any) -> None:
    with pytest.raises(ValueError):
        validate_event(event)


@pytest.mark.parametrize("shared", [True, False])
async def test_clients_come_from_the_hooks_async_getter(
    emu: Any, shared: bool, monkeypatch: Any
) -> None:
    """The trigger (its wait, the shared poller, on_kill) never builds a client itself: the hook's
    getter builds it (off the loop, with fetched OAuth tokens registered with the masker)."""
    from airflow_provider_polaris.client import AsyncPolarisClient
    from airflow_provider_polaris.hooks.polaris import PolarisHook

    getter_calls: list[str] = []
    built_with_masker: list[bool] = []
    real_getter = PolarisHook.get_async_client
    real_init = AsyncPolarisClient.__init__

    async def counting_getter(self: PolarisHook) -> AsyncPolarisClient:
        getter_calls.append(self.polaris_conn_id)
        return await real_getter(self)

    def recording_init(self: AsyncPolarisClient, *args: Any, **kwargs: Any) -> None:
        built_with_masker.append(kwargs.get("on_secret") is not None)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(PolarisHook, "get_async_client", counting_getter)
    monkeypatch.setattr(AsyncPolarisClient, "__init__", recording_init)
    (job_id,) = submit(emu)
    trigger = PolarisJobTrigger(job_id, poll_interval=0.02, shared_poller=shared)
    assert (await first_event(trigger))["status"] == "success"
    await trigger.on_kill()
    assert len(getter_calls) == 2  # the wait (or the shared poller) and on_kill
    assert built_with_masker and all(built_with_masker)


def test_a_401_in_a_shared_deferred_wait_fails_the_task_without_retry(emu: Any) -> None:
    """The shared poller's list call gets a 401 (a revoked key): the event is flagged permanent,
    so ``execute_complete`` raises ``AirflowFailException`` (no Airflow retries), naming it."""
    from job_helpers import make_context

    from airflow_provider_polaris._compat import AirflowFailException, TaskDeferred
    from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

    emu.script_job(outcome="running")
    operator = PolarisCreateJobOperator(
        task_id="t", job_spec=batch_spec(), deferrable=True, poll_interval=0.01
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(make_context())
    trigger = deferred.value.trigger
    assert trigger.shared_poller
    emu.inject_fault("GET", r"/jobs", status=401, count=100)
    emu.clear_request_log()
    event = asyncio.run(first_event(trigger))
    assert event["status"] == "error" and event["permanent"] is True
    assert "401 Unauthorized" in event["message"]
    # The poller's list call failed (not a per-job request): the shared path decided this.
    first = emu.request_log()[0]
    assert (first["status"], first["path"].rsplit("/", 1)[-1]) == (401, "jobs")
    with pytest.raises(AirflowFailException, match=r"401 Unauthorized"):
        operator.execute_complete(make_context(), event)
