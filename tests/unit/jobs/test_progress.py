"""Progress while waiting: one line per change of status, progress % or rows processed, in every
mode, at a bounded request cost (the shared poller's list call stays one per interval)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from job_helpers import batch_spec

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.operators._job_base import wait_for_job
from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger
from airflow_provider_polaris.waiting import JobWatch

LOG = logging.getLogger("test_progress")
PROGRESS = r"/jobs/[^/]+/progress"


def client(emu: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    )


def submit(emu: Any, **fate: Any) -> str:
    emu.script_job(**fate)
    with client(emu) as c:
        return str(c.jobs.create(batch_spec())["id"])


def test_final_line_carries_no_stale_progress() -> None:
    tracker = JobWatch("j")
    running = {"id": "j", "type": "batch", "executionStatus": "running"}
    line = tracker.change_line(
        running, {"overallProgress": 0.52}, {"totals": {"numRowsProcessed": 0}}
    )
    assert line and "52% done" in line
    failed = {**running, "executionStatus": "failed", "health": {"status": "error"}}
    final = tracker.change_line(failed)
    assert final == "Polaris job j: failed (health error)"


def watch_at(clock: list[float], interval: float | None) -> JobWatch:
    """A watch on a running job, on the test's clock."""
    watch = JobWatch("j", progress_interval=interval, clock=lambda: clock[0])
    watch.observe({"id": "j", "type": "batch", "executionStatus": "running"})
    return watch


def test_progress_schedule() -> None:
    clock = [0.0]
    watch, never, zero = watch_at(clock, 30), watch_at(clock, None), watch_at(clock, 0)
    waiting = watch.observe({"id": "j", "type": "batch", "executionStatus": "running"})
    due = []
    for t in range(0, 100, 10):
        clock[0] = t
        if watch.progress_due(waiting):
            due.append(t)
        assert not never.progress_due(waiting) and not zero.progress_due(waiting)
    assert due == [30, 60, 90]
    watch.observe({"id": "j", "type": "batch", "executionStatus": "pending"})
    clock[0] = 1e9
    assert not watch.progress_due(waiting)  # only a running job's progress is sampled
    with pytest.raises(ValueError, match="progress_interval"):
        JobWatch("j", progress_interval=-1)


def test_sync_wait_samples_progress_every_progress_interval(emu: Any) -> None:
    job_id = submit(emu, outcome="running")
    clock = [0.0]

    def sleep(seconds: float) -> None:  # an injected clock: no real waiting
        clock[0] += seconds

    with client(emu) as c:
        outcome, last = wait_for_job(
            c,
            job_id,
            poll_interval=10,
            deadline=95,
            log=LOG,
            progress_interval=30,
            sleep=sleep,
            now=lambda: clock[0],
        )
    assert outcome is None and last is not None  # the deadline passed
    assert emu.count_requests("GET", r"/jobs/[^/]+$") == 11  # 0, 10, ... 90 and 95 s
    assert emu.count_requests("GET", PROGRESS) == 3  # at 30, 60 and 90 s, not on every poll


@pytest.mark.parametrize("progress_interval", [0.05, None])
async def test_shared_trigger_logs_progress_with_its_own_throttled_requests(
    emu: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    progress_interval: float | None,
) -> None:
    job_id = submit(emu, outcome="running")
    trigger = PolarisJobTrigger(job_id, poll_interval=0.02, progress_interval=progress_interval)
    assert trigger.serialize()[1]["progress_interval"] == progress_interval
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(trigger.run().__anext__())
    for _ in range(200):  # until the poller saw the job run for a few intervals
        await asyncio.sleep(0.01)
        if emu.count_requests("GET", r"/jobs$") >= 10:
            break
    emu.script_job(job_id, outcome="completed", after_polls=0)
    event = await task
    assert event.payload["status"] == "success"
    # Airflow 2.11 logs through logging (caplog), 3.x through structlog to stdout (capfd).
    logged = caplog.text + capfd.readouterr().out
    progress_lines = [line for line in logged.splitlines() if "% done" in line]
    if progress_interval:
        assert progress_lines, logged
        assert 1 <= emu.count_requests("GET", PROGRESS) <= 6  # ~ one per 0.05 s, not per poll
    else:
        assert progress_lines == []
        assert emu.count_requests("GET", PROGRESS) == 0


async def test_shared_waits_sample_progress_through_the_pollers_one_client(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress samples of shared waits borrow the poller's client: a busy triggerer does not
    open one TLS pool per deferred task."""
    from airflow_provider_polaris.client import AsyncPolarisClient

    built: list[AsyncPolarisClient] = []
    real_init = AsyncPolarisClient.__init__

    def recording_init(self: AsyncPolarisClient, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(AsyncPolarisClient, "__init__", recording_init)
    job_ids = [submit(emu, outcome="running") for _ in range(3)]
    triggers = [PolarisJobTrigger(j, poll_interval=0.02, progress_interval=0.03) for j in job_ids]
    tasks = [asyncio.create_task(t.run().__anext__()) for t in triggers]
    for _ in range(300):  # until every wait has sampled its progress
        await asyncio.sleep(0.01)
        if emu.count_requests("GET", PROGRESS) >= 2 * len(job_ids):
            break
    for job_id in job_ids:
        emu.script_job(job_id, outcome="completed", after_polls=0)
    assert [(await task).payload["status"] for task in tasks] == ["success"] * 3
    assert emu.count_requests("GET", PROGRESS) >= 2 * len(job_ids)
    assert len(built) == 1  # the shared poller's client, and nothing else
