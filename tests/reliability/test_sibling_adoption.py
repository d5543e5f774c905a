"""A retry never adopts another task's job (real Airflow via ``dag.test()``, real emulator).

Tasks ``a`` and ``b`` append day 1 and day 2 to one table through one connection. ``b``'s first
``POST /jobs`` gets a 503 and creates nothing; its retry must submit its own job, so both days
are loaded (tests/dags/test_jobs_siblings.py). Airflow 3.3 runs with the task state store,
2.11 without one (the Polaris scan alone).

Siblings usually run in parallel, so ``a``'s job is created *after* ``b``'s first try began and
the time bound alone cannot tell them apart. ``dag.test()`` runs tasks one after the other, so the
emulator's clock is moved an hour ahead: ``a``'s job then carries a creation time later than
``b``'s first try start, exactly as in the parallel case, and only the whole-request comparison
keeps ``b`` off it.
"""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

import pytest

pytestmark = pytest.mark.dagtest

DAGS = "test_jobs_siblings.py"
CREATE = r"/jobs$"


def _state(obj: Any) -> str:
    return str(getattr(obj.state, "value", obj.state))


def _try_numbers(run: Any) -> dict[str, int]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        return {ti.task_id: int(ti.try_number) for ti in tis}


def _create_statuses(emu: Any) -> list[int]:
    return [
        e["status"]
        for e in emu.request_log()
        if e["method"] == "POST" and e["path"].endswith("/jobs")
    ]


def _job_sources(emu: Any) -> list[dict[str, Any]]:
    """The ``source`` of every job the emulator holds, oldest first."""
    from airflow_provider_polaris.hooks.polaris import PolarisHook

    client = PolarisHook().get_client()
    try:
        summaries = list(client.jobs.iter_all(sort_column="created_date_time", sort_order="ASC"))
        return [dict(client.jobs.get(s["id"])["spec"]["source"]) for s in summaries]
    finally:
        client.close()


@pytest.fixture
def emu(polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """No client-side retries (the 503 fails ``b``'s try) and the control URL for the DAG."""
    polaris_emulator.reset()
    monkeypatch.setenv(
        "AIRFLOW_CONN_POLARIS_DEFAULT", polaris_emulator.airflow_connection({"max_retries": 0})
    )
    monkeypatch.setenv("POLARIS_TEST_EMULATOR_URL", polaris_emulator.base_url)
    return polaris_emulator


def _run(dag_runner: Any, emu: Any, name: str, caplog: pytest.LogCaptureFixture) -> Any:
    dag = dag_runner.load(DAGS, f"test_jobs_siblings_{name}")
    run = dag_runner.run(dag, None)
    assert _state(run) == "success"
    assert _try_numbers(run)["b"] == 2  # b's first try really failed on the create
    assert emu.api_key not in caplog.text
    return run


def test_retry_after_a_failed_create_loads_its_own_day_not_the_siblings(
    emu: Any, dag_runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emu.advance(3600)  # a's job looks created after b's first try began (parallel siblings)
    _run(dag_runner, emu, "inline", caplog)
    assert _create_statuses(emu) == [201, 503, 201]  # b's retry created its own job
    days = [
        sorted(json.loads(line)["ts"][:10] for line in s["data"].splitlines())
        for s in _job_sources(emu)
    ]
    assert days == [["2024-01-01"] * 2, ["2024-01-02"] * 3]
    rows = emu.table_rows("events")
    assert sorted(r["amount"] for r in rows) == [1, 2, 3, 4, 5]  # day 1 and day 2 loaded


def test_retry_never_adopts_a_sibling_job_reading_other_s3_uris(
    emu: Any, dag_runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_polaris.hooks.polaris import PolarisHook

    client = PolarisHook().get_client()
    try:
        client.connections.create(
            {
                "type": "s3",
                "name": "b",
                "bucket": "b",
                "awsEndpoint": "s3.us-east-1.amazonaws.com",
                "awsAssumedRoleArn": "arn:aws:iam::123456789012:role/polaris",
            }
        )
    finally:
        client.close()
    # The emulator cannot read S3: both jobs are scripted to complete.
    emu.script_job(outcome="completed")
    emu.script_job(outcome="completed")
    emu.advance(3600)
    _run(dag_runner, emu, "s3", caplog)
    assert _create_statuses(emu) == [201, 503, 201]
    assert [s["uris"] for s in _job_sources(emu)] == [["s3://b/day1.json"], ["s3://b/day2.json"]]


@pytest.mark.skipif(
    importlib.metadata.version("apache-airflow").startswith("2."),
    reason="Airflow 2.11's dag.test() records no start date and no TaskInstanceHistory for a "
    "try, so the bound falls back to the DAG run start there (a real 2.11 worker records both; "
    "tests/unit/jobs/test_reattach_identity.py reads them from a real metadata DB)",
)
def test_identical_request_created_before_the_first_try_is_not_adopted(
    emu: Any, dag_runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # a submits exactly b's request, but before b's first try began: not b's job. Polaris holds
    # the answer to a's create for 2 s, so a's job is older than b's first try by more than the
    # 1 s clock-skew allowance even though dag.test() runs b right after a.
    emu.inject_fault("POST", CREATE, kind="delay", delay_seconds=2.0)
    _run(dag_runner, emu, "identical", caplog)
    assert _create_statuses(emu) == [201, 503, 201]
    assert len(emu.table_rows("events")) == 4  # both tasks loaded their (identical) rows
