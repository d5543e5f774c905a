"""Shared checks of the fault matrix (docs/reliability.md): the task outcome, the request log and
the secrets that must never reach a log."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import pytest

CREATE = ("POST", r"/jobs$")
OAUTH_SECRET = "fault-matrix-oauth-secret-5c1e"


def state(obj: Any) -> str:
    return str(getattr(obj.state, "value", obj.state))


def tries(run: Any) -> dict[str, tuple[str, int]]:
    """``task_id -> (state, try_number)`` of a finished DAG run."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        return {ti.task_id: (state(ti), int(ti.try_number)) for ti in tis}


def secrets(emu: Any) -> list[str]:
    """Every credential of the emulator in the forms a leak would take."""
    key = emu.api_key
    basic = base64.b64encode(f"{key}:".encode()).decode()
    return [key, basic, f"Basic {basic}", OAUTH_SECRET, "Bearer emu."]


def assert_no_secret(emu: Any, text: str) -> None:
    leaked = [s for s in secrets(emu) if s in text]
    assert not leaked, f"secret(s) in the captured logs: {[s[:6] + '...' for s in leaked]}"


def creates(emu: Any) -> list[int]:
    """The status of every ``POST /jobs`` in order (0: no answer reached the client)."""
    return [e["status"] for e in emu.request_log() if e["method"] == "POST" and _is_create(e)]


def _is_create(entry: dict[str, Any]) -> bool:
    return str(entry["path"]).endswith("/jobs")


def job_ids(emu: Any) -> set[str]:
    """The ids of the jobs the emulator holds (read through its own API, logged as a GET)."""
    from airflow_provider_polaris.client import PolarisClient, PolarisConfig

    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    with PolarisClient(config) as client:
        return {j["id"] for j in client.jobs.iter_all()}


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything the DAG run logged so far (task logs go to either caplog or the fds)."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def read() -> str:
        out, err = capfd.readouterr()
        seen.append(out + err)
        return caplog.text + "".join(seen)

    return read


def connect(emu: Any, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    """``polaris_default`` → the emulator (API key) with these connection extras."""
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", emu.airflow_connection(extra))


def run_load(dag_runner: Any, mode: str) -> Any:
    """Run ``test_faults_load_<mode>`` (tests/dags/test_faults_matrix.py) once."""
    return dag_runner.run(
        dag_runner.load("test_faults_matrix.py", f"test_faults_load_{mode}"), None
    )
