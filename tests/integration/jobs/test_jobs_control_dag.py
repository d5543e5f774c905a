"""Every job operator and the sensor in one DAG run by ``dag.test()`` (triggers run by Airflow),
deferrable through ``[operators] default_deferrable``; each task's "Polaris job" link works."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_polaris._compat import AIRFLOW_V_3_0_PLUS
from airflow_provider_polaris.client import PolarisClient, PolarisConfig

pytestmark = pytest.mark.dagtest

TASKS = ("load", "watch", "stream", "reset", "suspend", "resume", "cancel")


def _state(obj: Any) -> str:
    return str(getattr(obj.state, "value", obj.state))


def task_instances(run: Any) -> dict[str, Any]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        session.expunge_all()
    return {ti.task_id: ti for ti in tis}


def link_url(dag: Any, ti: Any) -> Any:
    """What the UI shows for the "Polaris job" link of a finished task instance."""
    from airflow_provider_polaris.links import PolarisJobLink

    if not AIRFLOW_V_3_0_PLUS:  # 2.11: the webserver calls get_link, which reads XCom job_url
        return PolarisJobLink().get_link(dag.get_task(ti.task_id), ti_key=ti.key)
    # 3.x: the worker stores each link's URL as an XCom when the task ends; the API serves it.
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter(
                XComModel.dag_id == ti.dag_id,
                XComModel.run_id == ti.run_id,
                XComModel.task_id == ti.task_id,
                XComModel.key == PolarisJobLink().xcom_key,
            )
            .one()
        )
        return XComModel.deserialize_value(row)


def test_every_job_operator_and_the_sensor_deferred_by_default(
    polaris_emulator: Any, dag_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = polaris_emulator
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    with PolarisClient(config) as client:
        client.connections.create({"type": "push_streaming", "name": "gw"})
    emu.script_job(table="events", outcome="completed", after_polls=3)  # the sensor must wait

    dag = dag_runner.load("test_jobs_control.py", "test_jobs_control")
    assert all(dag.get_task(t).deferrable for t in TASKS)  # from the config, not the DAG file
    run = dag_runner.run(dag, None)
    assert _state(run) == "success"
    tis = task_instances(run)
    assert {t: _state(tis[t]) for t in TASKS} == dict.fromkeys(TASKS, "success")

    # The waits ran in the triggerer's shared poller (the list call only deferred waits make).
    polls = [e for e in emu.request_log() if e["method"] == "GET" and e["path"].endswith("/jobs")]
    assert any("executionStatus" in str(e["query"]) for e in polls)
    assert emu.count_requests("POST", r"/jobs$") == 2
    assert emu.count_requests("POST", r"/jobs/[^/]+/reset") == 1
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 3  # suspend, resume, cancel

    with PolarisClient(config) as client:
        jobs = {j["target"]["tableName"]: j["id"] for j in client.jobs.iter_all()}
    assert emu.get_job(jobs["stream_t"])["executionStatus"] == "canceled"
    expected = {"load": "events", "watch": "events"} | dict.fromkeys(TASKS[2:], "stream_t")
    for task_id, table in expected.items():
        url = link_url(dag, tis[task_id])
        assert isinstance(url, str) and url.endswith(f"/jobs/{jobs[table]}"), (task_id, url)
