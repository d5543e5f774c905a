"""Fault matrix: a user marks a deferred task failed (docs/reliability.md).

The deferrable operator defers in this process; its trigger then runs under Airflow's own
``TriggerRunner.run_trigger`` (the triggerer's code, not a copy of it), and the user's action is
delivered the way the triggerer delivers it: the trigger id goes on ``to_cancel`` and
``cancel_triggers()`` cancels the trigger's task.

- Airflow 3.3 cancels with its "user action" message, so ``run_trigger`` awaits the trigger's
  ``on_kill``: the Polaris job is canceled with one request, and no event is sent (the task is
  already failed by the user).
- Airflow 2.11 cancels without a message and has no trigger ``on_kill``: the trigger stops, no
  event is sent, and the Polaris job keeps running (the documented limit; cancel it with
  ``PolarisCancelJobOperator`` or in the console).

The worker-side case (a running, non-deferred task marked failed: Airflow calls the operator's
``on_kill``) is tests/unit/jobs/test_operators.py::test_on_kill_cancels_the_running_job.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from fault_helpers import assert_no_secret, creates, job_ids
from job_helpers import batch_spec, make_context

from airflow_provider_polaris._compat import TaskDeferred
from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

AIRFLOW_3 = not __import__("airflow").__version__.startswith("2.")
CANCELS = ("POST", r"/jobs/[^/]+/status")


def _deferred_trigger() -> Any:
    operator = PolarisCreateJobOperator(
        task_id="load",
        job_spec=batch_spec("marked_failed"),
        deferrable=True,
        poll_interval=0.05,
        progress_interval=None,
    )
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(make_context(try_number=1))
    return deferred.value.trigger


def _runner() -> Any:
    from airflow.jobs.triggerer_job_runner import TriggerRunner

    return TriggerRunner()


async def _polls_seen(emu: Any, at_least: int) -> None:
    """Until the trigger has read the job list ``at_least`` times (the request log)."""
    for _ in range(3000):
        reads = [e for e in emu.request_log() if e["method"] == "GET" and e["status"] == 200]
        if len(reads) >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the trigger never polled")


async def test_user_marking_the_deferred_task_failed(
    emu: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AIRFLOW_DISABLE_GREENBACK_PORTAL", "true")  # 3.3: no sync bridge needed
    emu.script_job(outcome="running")
    trigger = _deferred_trigger()
    (job_id,) = job_ids(emu)
    if not AIRFLOW_3:  # what 2.11's triggerer sets on a trigger it runs
        trigger.task_instance = SimpleNamespace(trigger_timeout=None)
        trigger.trigger_id = 1
    runner = _runner()
    runner.triggers[1] = {"task": None, "is_watcher": False, "name": "polaris", "events": 0}
    task = asyncio.get_running_loop().create_task(runner.run_trigger(1, trigger))
    runner.triggers[1]["task"] = task
    await _polls_seen(emu, 3)

    runner.to_cancel.append(1)  # the user marked the task failed
    await runner.cancel_triggers()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not runner.events  # no event: the task is not resumed
    assert creates(emu) == [201]
    job = emu.get_job(job_id)
    if AIRFLOW_3:
        assert emu.count_requests(*CANCELS) == 1  # on_kill canceled the job, once
        assert job["executionStatus"] in ("canceling", "canceled") or (
            job.get("desiredExecutionStatus") == "canceled"
        ), job
    else:
        assert emu.count_requests(*CANCELS) == 0  # 2.11: no trigger on_kill
        assert job["executionStatus"] == "running"
    assert_no_secret(emu, caplog.text)
