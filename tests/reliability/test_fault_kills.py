"""The fault matrix rows that need a real process kill (docs/reliability.md).

- **A worker SIGKILLed after the create**: ``test_faults_load_worker_kill`` (tests/dags/
  test_faults_matrix.py) runs under ``dag.test()`` in a child process; once the emulator has
  answered its ``POST /jobs`` the child is killed with SIGKILL. The scheduler's part (the worker
  is gone, retries remain: try 2 is scheduled) is done on the metadata DB, and ``airflow tasks
  test`` runs try 2 of the same task instance in a new process. It must find the job try 1
  created (3.3: the task state store; 2.11: the Polaris scan) and never submit another.
- **A triggerer killed mid-wait**: the deferrable operator defers in this process; its trigger
  is serialized (``serialize()`` → classpath + kwargs, what Airflow stores) and run in a child
  process, which is SIGKILLed while it polls. A new process rebuilds the trigger from the same
  classpath and kwargs, as another triggerer would, and yields exactly one event, which
  ``execute_complete`` turns into the task's success. No new job is created.

The children inherit ``AIRFLOW_CONN_POLARIS_DEFAULT`` and the test's ``AIRFLOW_HOME``; their
whole output is searched for credentials. The only waits are for a child to reach the point
where it is killed (watching the emulator's request log), never for time to pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import assert_no_secret, creates, job_ids
from job_helpers import make_context

from airflow_provider_polaris._compat import TaskDeferred
from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

pytestmark = pytest.mark.dagtest

DAG_ID = "test_faults_load_worker_kill"
AIRFLOW_3 = not __import__("airflow").__version__.startswith("2.")

DAG_RUNNER = """
import importlib.util, sys
from datetime import datetime
path, dag_id, logical = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
spec = importlib.util.spec_from_file_location("fault_kill_dag", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag = next(v for v in vars(module).values() if getattr(v, "dag_id", None) == dag_id)
if "logical_date" in dag.test.__code__.co_varnames:  # Airflow 3
    dag.test(logical_date=logical, run_after=logical)
else:
    dag.test(execution_date=logical)
"""

TRIGGER_RUNNER = """
import asyncio, importlib, json, sys
classpath, kwargs = sys.argv[1], json.loads(sys.argv[2])
module, _, name = classpath.rpartition(".")
trigger = getattr(importlib.import_module(module), name)(**kwargs)

async def main():
    async for event in trigger.run():
        print("EVENT " + json.dumps(event.payload), flush=True)

print("STARTED", flush=True)
asyncio.run(main())
"""


def _spawn(command: list[str], out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)


def _wait_for(condition: Callable[[], Any], what: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while not condition():
        assert child.poll() is None, f"the child ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _kill(child: subprocess.Popen[bytes]) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL


def _ti() -> Any:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=DAG_ID, task_id="load").one()
        session.expunge(ti)
        return ti


def _schedule_retry() -> str:
    """What the scheduler does once the worker is gone and retries remain: try 2 is scheduled
    (the try number counts up when a try is scheduled). Returns the run id."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=DAG_ID, task_id="load").one()
        if AIRFLOW_3:  # (2.11's dag.test() does not record the running state)
            assert str(getattr(ti.state, "value", ti.state)) == "running"  # killed mid-try
        ti.try_number += 1
        ti.state = "scheduled"
        return str(ti.run_id)


def test_worker_sigkilled_after_the_create_then_the_retry_reattaches(
    emu: Any, airflow_db: None, tmp_path: Path
) -> None:
    emu.script_job(outcome="running")  # try 1 is still waiting when it is killed
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "test_faults_matrix.py"
    logical = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    runner = [sys.executable, "-c", textwrap.dedent(DAG_RUNNER), str(dag_file), DAG_ID, logical]
    first = _spawn(runner, tmp_path / "try1.log")
    try:
        _wait_for(lambda: creates(emu) == [201], "the job to be created", first)
        _kill(first)
    finally:
        if first.poll() is None:
            first.kill()
    (job_id,) = job_ids(emu)
    emu.script_job(job_id, outcome="completed", after_polls=1)

    run_id = _schedule_retry()
    airflow = [sys.executable, "-m", "airflow", "tasks", "test", DAG_ID, "load", run_id]
    retry = _spawn(airflow, tmp_path / "try2.log")
    assert retry.wait(300) == 0, (tmp_path / "try2.log").read_text()[-3000:]

    assert creates(emu) == [201]  # the retry reattached: still exactly one job
    assert job_ids(emu) == {job_id}
    assert emu.get_job(job_id)["executionStatus"] == "completed"
    retry_log = (tmp_path / "try2.log").read_text()
    assert job_id in retry_log  # try 2 waited on try 1's job
    if AIRFLOW_3:
        ti = _ti()
        assert (str(getattr(ti.state, "value", ti.state)), ti.try_number) == ("success", 2)
    for name in ("try1.log", "try2.log"):
        assert_no_secret(emu, (tmp_path / name).read_text())


def _trigger_polls(emu: Any) -> int:
    return sum(1 for e in emu.request_log() if e["method"] == "GET" and e["status"] == 200)


def test_triggerer_killed_mid_wait_then_the_rebuilt_trigger_sends_one_event(
    emu: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu.script_job(outcome="running")
    operator = PolarisCreateJobOperator(
        task_id="load",
        job_spec=json.loads(json.dumps(_spec())),
        deferrable=True,
        poll_interval=0.05,
        progress_interval=None,
    )
    context = make_context(try_number=1)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    classpath, kwargs = deferred.value.trigger.serialize()
    stored = json.dumps(kwargs)  # what the metadata DB keeps for the triggerer
    command = [sys.executable, "-c", textwrap.dedent(TRIGGER_RUNNER), classpath, stored]
    (job_id,) = job_ids(emu)
    assert kwargs["job_id"] == job_id

    before = _trigger_polls(emu)
    first = _spawn(command, tmp_path / "triggerer1.log")
    try:
        _wait_for(lambda: _trigger_polls(emu) >= before + 3, "the trigger to poll", first)
        _kill(first)
    finally:
        if first.poll() is None:
            first.kill()
    assert "EVENT" not in (tmp_path / "triggerer1.log").read_text()  # killed before any event

    emu.script_job(job_id, outcome="completed", after_polls=2)
    second = _spawn(command, tmp_path / "triggerer2.log")
    assert second.wait(120) == 0, (tmp_path / "triggerer2.log").read_text()[-3000:]
    output = (tmp_path / "triggerer2.log").read_text()
    events = [json.loads(line[6:]) for line in output.splitlines() if line.startswith("EVENT ")]
    assert len(events) == 1, output[-3000:]  # exactly one event, none lost or doubled
    assert (events[0]["status"], events[0]["job_id"]) == ("success", job_id)

    result = operator.execute_complete(context, events[0])  # the task's outcome
    assert result["executionStatus"] == "completed"
    assert creates(emu) == [201]  # no new job: the rebuilt trigger waited on the same one
    for name in ("triggerer1.log", "triggerer2.log"):
        assert_no_secret(emu, (tmp_path / name).read_text())
    assert_no_secret(emu, caplog.text)


def _spec() -> dict[str, Any]:
    from job_helpers import batch_spec

    return batch_spec("killed_trigger")
