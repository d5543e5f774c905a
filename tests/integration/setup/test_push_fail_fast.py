"""A wrong API key during a push ends the task on its first try (``dag.test()``, both Airflow
lines): the pusher's ``EventsDeliveryError`` is raised from the 401, so the permanent-error rule
(``hooks/errors.py``, which follows ``__cause__``) applies; a 503 stays retryable."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.dagtest

DAG_FILE = Path(__file__).parent / "dags" / "polaris_push_fail_fast.py"
WRONG_KEY = "pok_not_the_right_key_0123456789"


@pytest.fixture
def push_dag(dag_runner: Any) -> Any:
    """The test DAG, copied into the DAGs folder that ``dag.test()`` parses."""
    shutil.copy(DAG_FILE, Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / DAG_FILE.name)
    return dag_runner.load(DAG_FILE.name, "polaris_push_fail_fast")


def _push_try(run: Any) -> tuple[str, int]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .one()
        )
        return str(getattr(ti.state, "value", ti.state)), int(ti.try_number)


def test_a_wrong_key_during_a_push_fails_once_without_retry(
    polaris_emulator: Any,
    push_table: str,
    push_dag: Any,
    dag_runner: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    emu = polaris_emulator
    conn = json.loads(emu.airflow_connection())
    conn["password"] = WRONG_KEY
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json.dumps(conn))
    caplog.set_level(logging.INFO)
    emu.clear_request_log()
    run = dag_runner.run(push_dag, None)
    assert _push_try(run) == ("failed", 1)
    # The reader check's GET /jobs (a warning), then one push: a 401 is not re-sent.
    assert [(r["method"], r["status"]) for r in emu.request_log()] == [("GET", 401), ("POST", 401)]
    logged = caplog.text + "".join(capfd.readouterr())
    assert "(401 Unauthorized): check its password field (the API key)" in logged
    assert WRONG_KEY not in logged


def test_a_503_during_a_push_is_still_retried(
    polaris_emulator: Any, push_table: str, push_dag: Any, dag_runner: Any
) -> None:
    emu = polaris_emulator
    emu.inject_fault("POST", r"/events/push", kind="status", status=503, count=3)
    run = dag_runner.run(push_dag, None)  # 3 sends fail (max_retries=2): try 1 fails
    assert _push_try(run) == ("success", 2)
