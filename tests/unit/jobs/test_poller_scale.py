"""The shared poller at scale: incremental walks, full walk when in doubt, one result per wait.

Deterministic: the emulator runs on a manual clock (jobs move only when the test advances it)
and the test drives the poller one interval at a time with ``poll_once``; the request log counts
what each interval cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from job_helpers import batch_spec

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.triggers import _poller
from airflow_provider_polaris.triggers._poller import SharedJobPoller, Waiter, polaris_hook

LIST = r"/jobs"
ONE_JOB = r"/jobs/[^/]+"


@pytest.fixture
def clocked(emu: Any) -> Iterator[Any]:
    """The emulator on a manual clock: pending 1 s, batch jobs run 3 s, only when advanced."""
    emu.configure(manual_clock=True, time_scale=1.0)
    yield emu


def create(emu: Any, n: int, **fate: Any) -> list[str]:
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    ids = []
    with PolarisClient(config) as client:
        for _ in range(n):
            job_id = client.jobs.create(batch_spec())["id"]
            if fate:
                emu.script_job(job_id, **fate)
            ids.append(job_id)
    return ids


def make_poller(emu: Any) -> SharedJobPoller:
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    return SharedJobPoller(("test",), config, polaris_hook("polaris_default"))


def register(poller: SharedJobPoller, job_ids: list[str]) -> list[Waiter]:
    loop = asyncio.get_running_loop()
    waiters = [
        Waiter(
            job_id=job_id,
            target_statuses=None,
            poll_interval=1.0,
            max_consecutive_errors=2,
            report=lambda _: None,
            result=loop.create_future(),
        )
        for job_id in job_ids
    ]
    for waiter in waiters:
        poller.add(waiter, start=False)  # the test drives the intervals
    return waiters


async def interval(emu: Any, poller: SharedJobPoller, seconds: float = 1.0) -> int:
    """Advance the emulator clock, run one poller interval; return the requests it sent."""
    emu.advance(seconds)
    emu.clear_request_log()
    await poller.poll_once()
    return len(emu.request_log())


async def test_300_waits_each_get_one_correct_result(clocked: Any) -> None:
    fates = ["completed"] * 100 + ["failed"] * 100 + ["canceled"] * 100
    ids = [create(clocked, 1, outcome=fate)[0] for fate in fates]
    poller = make_poller(clocked)
    waiters = register(poller, ids)
    settled: list[str] = []
    for waiter in waiters:  # records each result as it is set (a future allows it once)
        waiter.result.add_done_callback(lambda future: settled.append(future.result()["status"]))
    try:
        for _ in range(8):
            await interval(clocked, poller)
        assert all(w.result.done() for w in waiters)
        expected = {"completed": "success", "failed": "failure", "canceled": "canceled"}
        for waiter, fate in zip(waiters, fates, strict=True):
            event = waiter.result.result()
            job = event["job"]
            assert event["status"] == expected[fate]
            assert job is not None and job["id"] == waiter.job_id
            assert job["executionStatus"] == fate
        assert len(settled) == 300 and settled.count("success") == 100
        assert poller.full_walks == 1  # the first walk; then only what changed
    finally:
        await poller._source.aclose()  # type: ignore[attr-defined]


async def test_few_changes_cost_at_most_two_requests_per_interval(clocked: Any) -> None:
    ids = create(clocked, 300, outcome="running")
    poller = make_poller(clocked)
    waiters = register(poller, ids)
    try:
        first = await interval(clocked, poller)
        assert first >= 2  # the full walk: newest-job peek + the active pages
        # The next walk re-reads the overlap margin under the mark: the 300 jobs that started a
        # moment before the full walk.
        await interval(clocked, poller, 3.0)
        for _ in range(6):
            create(clocked, 5)  # other jobs change (created, then start, then finish)
            assert await interval(clocked, poller) <= 2
        # Every interval after the first was one incremental page, no per-job fetches.
        assert poller.full_walks == 1
        assert clocked.count_requests("GET", ONE_JOB) == 0
        assert not any(w.result.done() for w in waiters)
    finally:
        await poller._source.aclose()  # type: ignore[attr-defined]


async def test_a_job_that_ends_between_walks_is_caught(clocked: Any) -> None:
    (job_id,) = create(clocked, 1)  # pending 1 s, then runs 3 s: ends at +4 s
    (other,) = create(clocked, 1, outcome="running")
    poller = make_poller(clocked)
    mine, theirs = register(poller, [job_id, other])
    try:
        await interval(clocked, poller, 2.0)  # full walk: running
        assert not mine.result.done()
        assert mine.last is not None and mine.last["executionStatus"] == "running"
        clocked.advance(5.0)  # it finishes at +4 s, well before the next walk
        clocked.clear_request_log()
        await poller.poll_once()
        assert mine.result.done() and mine.result.result()["status"] == "success"
        assert not theirs.result.done()
        assert poller.full_walks == 1
        # The incremental page, then one fetch of the job that ended; nothing for the other.
        log = [(e["method"], e["path"].rsplit("/jobs", 1)[-1]) for e in clocked.request_log()]
        assert log.count(("GET", "")) == 1
        assert log.count(("GET", f"/{job_id}")) == 1 and len(log) == 2
    finally:
        await poller._source.aclose()  # type: ignore[attr-defined]


async def test_an_error_is_counted_then_the_next_walk_is_full(
    clocked: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_POLARIS_DEFAULT", clocked.airflow_connection({"max_retries": 0})
    )
    ids = create(clocked, 3, outcome="running")
    poller = make_poller(clocked)
    waiters = register(poller, ids)
    try:
        await interval(clocked, poller)
        assert poller.full_walks == 1
        clocked.inject_fault("GET", LIST, status=503, count=1)
        await interval(clocked, poller)
        assert all(w.errors == 1 for w in waiters)
        assert not any(w.result.done() for w in waiters)
        await interval(clocked, poller)
        assert poller.full_walks == 2  # in doubt after the error
        assert any("executionStatus=running" in e["query"] for e in clocked.request_log())
        assert all(w.errors == 0 for w in waiters)
        await interval(clocked, poller)
        assert poller.full_walks == 2  # back to incremental
    finally:
        await poller._source.aclose()  # type: ignore[attr-defined]


async def test_new_waiters_few_are_fetched_many_make_a_full_walk(clocked: Any) -> None:
    ids = create(clocked, 2 + _poller.DIRECT_FETCH_MAX + 1, outcome="running")
    poller = make_poller(clocked)
    register(poller, ids[:1])
    try:
        await interval(clocked, poller)
        clocked.advance(10.0)
        create(clocked, 1)  # a later change moves the mark past the waited jobs' last change
        await interval(clocked, poller)
        register(poller, ids[1:2])  # one new wait: its job is fetched, no full walk
        assert await interval(clocked, poller) == 2
        assert clocked.count_requests("GET", ONE_JOB) == 1 and poller.full_walks == 1
        register(poller, ids[2:])  # more than DIRECT_FETCH_MAX: one full walk instead
        await interval(clocked, poller)
        assert clocked.count_requests("GET", ONE_JOB) == 0 and poller.full_walks == 2
    finally:
        await poller._source.aclose()  # type: ignore[attr-defined]
