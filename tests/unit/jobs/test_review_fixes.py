"""Regression tests for the job review findings (each fails without its fix)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from job_helpers import DictStateStore, batch_spec, make_context
from test_operators import run_deferred

from airflow_provider_polaris._compat import TaskDeferred
from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.operators._intervals import IntervalError, run_interval
from airflow_provider_polaris.operators._job_base import (
    PolarisJobCanceledError,
    PolarisJobFailedError,
    PolarisJobTimeoutError,
    execution_timeout_deadline,
    wait_for_job,
)
from airflow_provider_polaris.operators._reattach import find_previous_job
from airflow_provider_polaris.operators.jobs import (
    PolarisCreateJobOperator,
    PolarisTableToTableOperator,
)
from airflow_provider_polaris.outcomes import decide_outcome
from airflow_provider_polaris.sensors.jobs import PolarisJobSensor
from airflow_provider_polaris.triggers import _poller
from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger

try:
    from airflow.sdk import CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

UTC = timezone.utc
FAST = {"poll_interval": 0.02}
LOG = logging.getLogger(__name__)
STREAMING = {"running", "idle"}


def client(emu: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    )


def submit(emu: Any, **fate: Any) -> str:
    if fate:
        emu.script_job(**fate)
    with client(emu) as c:
        return str(c.jobs.create(batch_spec())["id"])


# -- 1. a job being canceled is never reattached to ---------------------------------------------
class _GetClient:
    def __init__(self, job: dict[str, Any]) -> None:
        self.jobs = self
        self.job = job

    def get(self, job_id: str) -> dict[str, Any]:
        return self.job


def test_job_with_cancel_in_progress_is_not_reused() -> None:
    store = DictStateStore()
    store.set("polaris_job", {"job_id": "j1"})
    job = {
        "id": "j1",
        "type": "batch",
        "executionStatus": "running",
        "desiredExecutionStatus": "canceled",
    }
    context = make_context(try_number=2, store=store)
    assert find_previous_job(context, _GetClient(job), batch_spec(), LOG) is None
    job["desiredExecutionStatus"] = "completed"
    assert find_previous_job(context, _GetClient(job), batch_spec(), LOG) is job


# -- 2. execution_timeout bounds the wait, in both modes, and cancels ---------------------------
def test_execution_timeout_deadline_margin() -> None:
    ti_start = datetime(2024, 1, 1, tzinfo=UTC)
    context = make_context()
    context["ti"].start_date = ti_start
    deadline = execution_timeout_deadline(context, timedelta(minutes=10))
    assert deadline == ti_start.timestamp() + 600 - 30  # 5 % of 10 min
    assert execution_timeout_deadline(context, timedelta(seconds=60)) == ti_start.timestamp() + 55
    assert execution_timeout_deadline(context, None) is None


@pytest.mark.parametrize("deferrable", [False, True])
def test_execution_timeout_cancels_the_job(emu: Any, deferrable: bool) -> None:
    emu.script_job(outcome="running")
    op = PolarisCreateJobOperator(
        task_id="load",
        job_spec=batch_spec(),
        deferrable=deferrable,
        execution_timeout=timedelta(seconds=20),
        **FAST,
    )
    context = make_context()
    # The task started 16 s ago: our deadline (start + 20 s - 5 s margin) has passed.
    context["ti"].start_date = datetime.now(UTC) - timedelta(seconds=16)
    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(make_context() | {"ti": context["ti"]})
        assert deferred.value.trigger.deadline is not None
    with pytest.raises(PolarisJobTimeoutError, match="execution_timeout"):
        run_deferred(op, context) if deferrable else op.execute(context)
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 1


# -- 3. unknown is waited on for at most max_unknown_polls -------------------------------------
def test_sync_wait_bounds_unknown(emu: Any) -> None:
    job_id = submit(emu, outcome="unknown")
    with client(emu) as c:
        outcome, _ = wait_for_job(
            c, job_id, poll_interval=0.0, deadline=None, log=LOG, max_unknown_polls=3
        )
    assert outcome is not None and outcome.kind == "failure"
    assert "unknown' for 3 consecutive polls" in outcome.message


def test_operator_bounds_unknown(emu: Any) -> None:
    emu.script_job(outcome="unknown")
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), max_unknown_polls=3, **FAST
    )
    with pytest.raises(PolarisJobFailedError, match="3 consecutive polls"):
        op.execute(make_context())


@pytest.mark.parametrize("shared", [True, False])
def test_trigger_bounds_unknown(emu: Any, shared: bool) -> None:
    job_id = submit(emu, outcome="unknown")
    trigger = PolarisJobTrigger(
        job_id, poll_interval=0.01, shared_poller=shared, max_unknown_polls=3
    )
    assert trigger.serialize()[1]["max_unknown_polls"] == 3

    async def first() -> Any:
        return (await trigger.run().__anext__()).payload

    event = asyncio.run(first())
    assert event["status"] == "failure" and "3 consecutive polls" in event["message"]


def test_deferred_operator_bounds_unknown(emu: Any) -> None:
    emu.script_job(outcome="unknown")
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), deferrable=True, max_unknown_polls=3, **FAST
    )
    with pytest.raises(PolarisJobFailedError, match="3 consecutive polls"):
        run_deferred(op, make_context())


def test_unknown_within_bound_still_waits(emu: Any) -> None:
    emu.script_job(outcome="completed", unknown_polls=2)
    op = PolarisCreateJobOperator(
        task_id="load", job_spec=batch_spec(), max_unknown_polls=3, **FAST
    )
    assert op.execute(make_context())["executionStatus"] == "completed"


@pytest.mark.parametrize("deferrable", [False, True])
def test_sensor_bounds_unknown_in_every_mode(emu: Any, deferrable: bool) -> None:
    job_id = submit(emu, outcome="unknown")
    sensor = PolarisJobSensor(
        task_id="wait",
        job_id=job_id,
        deferrable=deferrable,
        max_unknown_polls=3,
        timeout=60,
        poll_interval=0.01,
    )
    context = make_context()
    with pytest.raises(PolarisJobFailedError, match="3 consecutive polls"):
        try:
            sensor.execute(context)
        except TaskDeferred as deferred:
            event = asyncio.run(deferred.trigger.run().__anext__())  # type: ignore[attr-defined]
            sensor.resume_execution("execute_complete", {"event": event.payload}, context)


# -- 4. a live streaming job with health error is a failure ---------------------------------------
def test_streaming_live_with_error_health_fails() -> None:
    doc = {
        "id": "s1",
        "type": "streaming",
        "executionStatus": "running",
        "health": {"status": "error", "code": "could_not_connect", "message": "no route"},
    }
    outcome = decide_outcome(doc, target_statuses=STREAMING)
    assert outcome.kind == "failure"
    assert "could_not_connect" in outcome.message and "no route" in outcome.message
    doc["health"] = {"status": "warn", "code": "slow"}
    outcome = decide_outcome(doc, target_statuses=STREAMING)
    assert outcome.kind == "success" and outcome.warning and "slow" in outcome.warning


# -- 5. the sensor fails a canceled job without retry, never skipping ---------------------------
@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_canceled_job_is_not_retried_nor_skipped(
    emu: Any, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio as aio

    # after_polls=0: the first read already reports canceled, so every mode sees it on its
    # first poke whatever the clock does.
    job_id = submit(emu, outcome="canceled", after_polls=0)
    sensor = PolarisJobSensor(
        task_id="wait",
        job_id=job_id,
        soft_fail=True,
        timeout=60,
        mode="reschedule" if mode == "reschedule" else "poke",
        deferrable=mode == "deferrable",
        poll_interval=0.02,
    )
    context = make_context()
    # What reschedule mode reads from the task instance (3.3 / 2.11).
    context["ti"].get_first_reschedule_date = lambda *_: None
    context["ti"].max_tries = 1
    if mode == "reschedule":
        try:
            import airflow.sensors.base as af2_sensor_base  # Airflow 2.11 asks the metadata DB
        except ImportError:
            af2_sensor_base = None  # type: ignore[assignment]
        if af2_sensor_base is not None and hasattr(af2_sensor_base, "_orig_start_date"):
            monkeypatch.setattr(af2_sensor_base, "_orig_start_date", lambda **_: None)
        for name in ("dag_id", "task_id", "run_id"):
            setattr(context["ti"], name, name)
        context["ti"].map_index = -1
    with pytest.raises(PolarisJobCanceledError):
        try:
            sensor.execute(context)
        except TaskDeferred as deferred:  # the same through the trigger and resume_execution
            event = aio.run(deferred.trigger.run().__anext__())  # type: ignore[attr-defined]
            sensor.resume_execution("execute_complete", {"event": event.payload}, context)


# -- 6. explicit intervals give the source interval ----------------------------------------------
def test_table_to_table_explicit_intervals_span_the_source() -> None:
    a = "2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"
    b = "2024-01-01T13:00:00Z/2024-01-01T14:00:00Z"
    op = PolarisTableToTableOperator(
        task_id="t2t",
        source_table="raw",
        target_table="rollup",
        mappings=[{"columnName": "__time", "expression": '"__time"'}],
        intervals=[b, a],
    )
    context = make_context()
    context["data_interval_start"] = context["data_interval_end"] = None  # no data interval
    body = op.render_job_request(context)
    assert body["source"]["interval"] == "2024-01-01T10:00:00Z/2024-01-01T14:00:00Z"
    assert sorted(body["target"]["intervals"]) == [a, b]


# -- 7. the fallback scan pages past the 25 newest jobs -----------------------------------------
class _ScanClient:
    def __init__(self, summaries: list[dict[str, Any]], jobs: dict[str, dict[str, Any]]) -> None:
        self.jobs = self
        self.summaries = summaries
        self.docs = jobs
        self.seen = 0

    def list(self, **filters: Any) -> dict[str, Any]:
        return {"values": self.summaries[: filters.get("limit", 25)]}

    def iter_all(self, **filters: Any) -> Iterator[dict[str, Any]]:
        for summary in self.summaries:
            self.seen += 1
            yield summary

    def get(self, job_id: str) -> dict[str, Any]:
        return self.docs[job_id]


def test_scan_pages_until_the_run_start() -> None:
    now = datetime.now(UTC)
    run_started = now - timedelta(hours=1)
    other = {
        "type": "sql",
        "query": "INSERT INTO events SELECT 1",
        "target": {"tableName": "events"},
    }
    summaries, docs = [], {}
    for i in range(40):  # 40 newer jobs of other requests on the same table
        summaries.append(
            {"id": f"o{i}", "createdTimestamp": (now - timedelta(seconds=i)).isoformat()}
        )
        docs[f"o{i}"] = {**other, "id": f"o{i}", "executionStatus": "running"}
    ours = {**batch_spec(), "id": "mine", "executionStatus": "running"}
    summaries.append({"id": "mine", "createdTimestamp": (now - timedelta(minutes=30)).isoformat()})
    docs["mine"] = ours
    for i in range(2000):  # older than the run: never walked
        summaries.append(
            {"id": f"old{i}", "createdTimestamp": (now - timedelta(days=1)).isoformat()}
        )
    fake = _ScanClient(summaries, docs)
    context = make_context(try_number=2, run_started=run_started)
    assert find_previous_job(context, fake, batch_spec(), LOG) is ours
    assert fake.seen == 42  # stopped at the first job older than the run


# -- 8. a rotated API key gets its own shared poller ---------------------------------------------
def test_shared_poller_key_includes_credentials() -> None:
    opened: list[str] = []

    class FakeAsyncClient:
        def __init__(self) -> None:
            self.jobs = self

        async def iter_all(self, **_: Any) -> Any:
            for _ in ():
                yield {}

        async def get(self, job_id: str) -> dict[str, Any]:
            return {"id": job_id, "type": "batch", "executionStatus": "completed"}

    class FakeHook:  # what the poller needs of PolarisHook
        def __init__(self, conn_id: str) -> None:
            opened.append(conn_id)

        async def get_async_client(self) -> FakeAsyncClient:
            return FakeAsyncClient()

        async def aclose(self) -> None:
            pass

    def waiter(job_id: str, loop: asyncio.AbstractEventLoop) -> _poller.Waiter:
        return _poller.Waiter(
            job_id=job_id,
            target_statuses=None,
            poll_interval=0.01,
            max_consecutive_errors=1,
            report=lambda _: None,
            result=loop.create_future(),
        )

    old = PolarisConfig(project_id="p", base_url="https://x.example", api_key="old-secret")
    new = PolarisConfig(project_id="p", base_url="https://x.example", api_key="new-secret")
    fingerprint = _poller.credentials_fingerprint(new)
    assert "new-secret" not in fingerprint
    assert fingerprint != _poller.credentials_fingerprint(old)

    async def both() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            _poller.wait_shared("c", old, waiter("a", loop), 5, FakeHook),
            _poller.wait_shared("c", new, waiter("b", loop), 5, FakeHook),
        )

    asyncio.run(both())
    assert opened == ["c", "c"]  # two pollers, one per credentials


# -- 9. DST-irregular local schedules fail ---------------------------------------------------------
def test_daily_across_dst_fails_naming_the_fix() -> None:
    timetable = CronTriggerTimetable("@daily", timezone="America/New_York")
    fire = datetime(2024, 3, 11, 4, tzinfo=UTC)  # 00:00 EDT, the day after the 23 h day
    context = {
        "data_interval_start": fire,
        "data_interval_end": fire,
        "logical_date": fire,
        "dag": type("Dag", (), {"timetable": timetable})(),
    }
    with pytest.raises(IntervalError, match="CronDataIntervalTimetable"):
        run_interval(context)
    regular = datetime(2024, 1, 10, 5, tzinfo=UTC)  # 00:00 EST, far from DST
    context.update(data_interval_start=regular, data_interval_end=regular, logical_date=regular)
    assert run_interval(context) == (regular - timedelta(days=1), regular)
