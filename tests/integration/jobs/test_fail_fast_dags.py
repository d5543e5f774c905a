"""Permanent errors end the task on its first try (issue 9 item 5) through ``dag.test()`` on both
Airflow lines: a wrong API key, a missing job, a 400 and a bad spec with ``retries=2`` make at
most one request, fail without a retry, name the connection and the fix, and never log a
misleading ``XCom not found ... job_url`` (issue 9 item 8). A transient 503 is still retried."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

pytestmark = pytest.mark.dagtest

DAGS = "test_fail_fast.py"
WRONG_KEY = "pok_not_the_right_key_0123456789"


def _state(obj: Any) -> str:
    return str(getattr(obj.state, "value", obj.state))


def tries(run: Any) -> dict[str, tuple[str, int]]:
    """``task_id -> (state, try_number)`` of a finished run."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        return {ti.task_id: (_state(ti), int(ti.try_number)) for ti in tis}


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Any:
    """A callable returning everything logged so far (task logs go to either)."""
    caplog.set_level(logging.INFO)
    return lambda: caplog.text + "".join(capfd.readouterr())


@pytest.fixture
def wrong_key(polaris_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    conn = json.loads(polaris_emulator.airflow_connection())
    conn["password"] = WRONG_KEY
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json.dumps(conn))
    return polaris_emulator


def assert_no_misleading_xcom_error(logged: str) -> None:
    assert "XCom not found" not in logged
    assert "Failed to push an xcom for task operator extra link" not in logged


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_a_wrong_api_key_fails_once_after_one_request(
    wrong_key: Any, dag_runner: Any, logs: Any, mode: str
) -> None:
    emu = wrong_key
    run = dag_runner.run(dag_runner.load(DAGS, f"test_fail_fast_load_{mode}"), None)
    assert tries(run) == {"load": ("failed", 1)}
    requests = emu.request_log()
    assert [(r["method"], r["status"]) for r in requests] == [("POST", 401)]
    logged = logs()
    assert (
        "Polaris rejected the API key of Airflow connection 'polaris_default' (401 "
        "Unauthorized): check its password field (the API key)" in logged
    )
    assert WRONG_KEY not in logged
    assert_no_misleading_xcom_error(logged)


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_a_misspelled_key_fails_before_any_request_without_the_job_url_error(
    polaris_emulator: Any, dag_runner: Any, logs: Any, mode: str
) -> None:
    run = dag_runner.run(dag_runner.load(DAGS, f"test_fail_fast_bad_spec_{mode}"), None)
    assert tries(run) == {"load": ("failed", 1)}
    assert polaris_emulator.request_log() == []
    logged = logs()
    assert "createTableIfNotExist" in logged
    assert_no_misleading_xcom_error(logged)


def test_a_400_fails_once_naming_polaris_message_and_field(
    polaris_emulator: Any, dag_runner: Any, logs: Any
) -> None:
    emu = polaris_emulator
    run = dag_runner.run(dag_runner.load(DAGS, "test_fail_fast_sql_400"), None)
    assert tries(run) == {"sql": ("failed", 1)}
    assert [(r["method"], r["status"]) for r in emu.request_log()] == [("POST", 400)]
    logged = logs()
    assert "(400 Bad Request) in field 'query': INSERT and REPLACE statements need a " in logged
    assert_no_misleading_xcom_error(logged)


def test_canceling_a_missing_job_fails_once_naming_it(
    polaris_emulator: Any, dag_runner: Any, logs: Any
) -> None:
    emu = polaris_emulator
    dag = dag_runner.load(DAGS, "test_fail_fast_cancel_404")
    run = dag_runner.run(dag, None, run_conf={"job_id": "no-such-job"})
    assert tries(run) == {"cancel": ("failed", 1)}
    assert [(r["method"], r["status"]) for r in emu.request_log()] == [("GET", 404)]
    logged = logs()
    assert "Polaris job 'no-such-job' does not exist (404 Not Found)" in logged
    assert_no_misleading_xcom_error(logged)


@pytest.mark.parametrize("mode", ["sync", "deferrable"])
def test_a_sensor_on_a_missing_job_fails_at_once(
    polaris_emulator: Any, dag_runner: Any, logs: Any, mode: str
) -> None:
    emu = polaris_emulator
    dag = dag_runner.load(DAGS, f"test_fail_fast_sensor_{mode}")
    run = dag_runner.run(dag, None, run_conf={"job_id": "no-such-job"})
    assert tries(run) == {"watch": ("failed", 1)}
    assert [(r["method"], r["status"]) for r in emu.request_log()] == [("GET", 404)]
    assert "Polaris job 'no-such-job' does not exist (404 Not Found)" in logs()


def test_sensors_with_a_wrong_key_fail_instead_of_poking_until_the_timeout(
    wrong_key: Any, dag_runner: Any, logs: Any
) -> None:
    emu = wrong_key
    run = dag_runner.run(dag_runner.load(DAGS, "test_fail_fast_table_sensor"), None)
    assert tries(run) == {"wait_table": ("failed", 1)}
    assert [(r["method"], r["status"]) for r in emu.request_log()] == [("GET", 401)]
    emu.clear_request_log()
    dag = dag_runner.load(DAGS, "test_fail_fast_sensor_sync")
    run = dag_runner.run(dag, None, run_conf={"job_id": "some-job"})
    assert tries(run) == {"watch": ("failed", 1)}
    assert [(r["method"], r["status"]) for r in emu.request_log()] == [("GET", 401)]
    assert "(401 Unauthorized): check its password field (the API key)" in logs()


def test_a_transient_503_is_still_retried(
    polaris_emulator: Any, dag_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = polaris_emulator
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection({"max_retries": 0}))
    emu.inject_fault("POST", r"/jobs$", kind="status", status=503, count=1)
    run = dag_runner.run(dag_runner.load(DAGS, "test_fail_fast_load_sync"), None)
    assert tries(run) == {"load": ("success", 2)}
