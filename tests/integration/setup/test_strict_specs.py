"""Strict specs, run by real Airflow (``dag.test()``) against the emulator: a misspelled key or a
bad table value fails the task before any request and without retries; ``allow_unknown_fields``
sends a newer field as given."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

DAG_FILE = Path(__file__).parent / "dags" / "polaris_strict_specs.py"


@pytest.fixture
def strict_dags(dag_runner: Any) -> Any:
    """The test DAG file, copied into the DAGs folder that ``dag.test()`` parses."""
    shutil.copy(DAG_FILE, Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / DAG_FILE.name)
    return dag_runner


def _state(run: Any) -> str:
    return str(run.state).rsplit(".", 1)[-1].lower()


def _task_tries(run: Any) -> list[int]:
    return [ti.try_number for ti in run.get_task_instances()]


@pytest.mark.dagtest
@pytest.mark.parametrize(
    "dag_id",
    ["strict_bad_datatype", "strict_table_typo", "strict_connection_typo", "strict_job_typo"],
)
def test_spec_mistakes_fail_before_any_request(
    dag_id: str, polaris_emulator: Any, strict_dags: Any
) -> None:
    polaris_emulator.clear_request_log()
    run = strict_dags.run(strict_dags.load(DAG_FILE.name, dag_id), None)
    assert _state(run) == "failed"
    assert polaris_emulator.request_log() == []  # not even a token or a GET
    assert _task_tries(run) == [1]  # AirflowFailException: no retry


@pytest.mark.dagtest
def test_escape_hatch_sends_the_allowed_fields(
    polaris_emulator: Any, strict_dags: Any, client: Any
) -> None:
    run = strict_dags.run(strict_dags.load(DAG_FILE.name, "strict_escape_hatch"), None)
    assert _state(run) == "success"
    assert polaris_emulator.count_requests("POST", "/tables$") == 1
    assert polaris_emulator.count_requests("POST", "/connections$") == 1
    # The emulator keeps and echoes fields it doesn't know, so this shows what was sent.
    assert client.tables.get("t")["someNewField"] == {"on": True}
