"""No duplicate jobs under real Airflow retries: ``dag.test()`` runs a task with ``retries=1``
whose first try dies after the create call (sync and deferrable; Airflow 3.3 reattaches through
durable task state, 2.11 through the Polaris scan). The emulator's request log is the judge."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.dagtest

CREATES = ("POST", r"/jobs$")


def _state(obj: Any) -> str:
    return str(getattr(obj.state, "value", obj.state))


def _try_number(run: Any) -> int:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .one()
        )
        return int(ti.try_number)


@pytest.fixture
def impatient(polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """No client-side retries: an injected 5xx reaches the operator's own error bound."""
    polaris_emulator.reset()
    monkeypatch.setenv(
        "AIRFLOW_CONN_POLARIS_DEFAULT", polaris_emulator.airflow_connection({"max_retries": 0})
    )
    return polaris_emulator


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_first_try_dies_after_the_create_and_the_retry_reattaches(
    impatient: Any, dag_runner: Any, mode: str
) -> None:
    emu = impatient
    emu.script_job(outcome="completed", after_polls=3)
    # Every status read of the job fails for a while: try 1 gives up after the create (more
    # than the 5 transient errors tolerated in a row), try 2 finds its job again.
    emu.inject_fault("GET", r"/jobs/[^/]+$", kind="status", status=500, count=6)
    dag = dag_runner.load("test_jobs_retry.py", f"test_jobs_retry_{mode}")
    run = dag_runner.run(dag, None)
    assert _state(run) == "success"
    assert _try_number(run) == 2  # the first try really failed
    assert emu.count_requests(*CREATES) == 1


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_an_earlier_failed_job_is_not_mistaken_for_success(
    polaris_emulator: Any, dag_runner: Any, mode: str
) -> None:
    emu = polaris_emulator
    emu.script_job(outcome="failed", health_code="internal_error")
    dag = dag_runner.load("test_jobs_retry.py", f"test_jobs_retry_{mode}")
    run = dag_runner.run(dag, None)
    assert _state(run) == "success"
    assert _try_number(run) == 2
    assert emu.count_requests(*CREATES) == 2  # a new job for the retry
