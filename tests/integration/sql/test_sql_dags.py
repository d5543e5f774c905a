"""Airflow's common-sql operators with ``conn_id`` set to a Polaris connection, end to end with
``dag.test()`` against the emulator's real rows, on both Airflow lines (issue 13 item 1).

The column and table check operators build subqueries and ``UNION ALL``, which the emulator's
DuckDB data plane answers as Druid does.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.dagtest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "hooks"))

from sql_seed import load_table  # noqa: E402

DAGS = "test_sql_checks.py"
WEEK_TWO = datetime(2024, 1, 8, tzinfo=timezone.utc)  # {{ ds }} = 2024-01-08, 7 days back = 01-01


def tries(run: Any) -> dict[str, str]:
    """``task_id -> state`` of a finished run."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
            .all()
        )
        return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in tis}


def return_value(run: Any, task_id: str) -> Any:
    """The XCom ``return_value`` of a task of a finished run (read from the metadata DB)."""
    import json

    from airflow.utils.session import create_session

    try:  # Airflow 3
        from airflow.models.xcom import XComModel as XCom
    except ImportError:  # Airflow 2.11
        from airflow.models.xcom import XCom  # type: ignore[assignment]
    with create_session() as session:
        row = (
            session.query(XCom)
            .filter(XCom.dag_id == run.dag_id, XCom.run_id == run.run_id)
            .filter(XCom.task_id == task_id, XCom.key == "return_value")
            .one()
        )
        stored = row.value
        value = stored if isinstance(stored, (list, dict)) else XCom.deserialize_value(row)
    return _plain(json.loads(json.dumps(value)))


def _plain(value: Any) -> Any:
    """Lists for tuples, whether stored as JSON lists (2.11) or serde tuples (3.x)."""
    if isinstance(value, dict) and "__data__" in value:
        return _plain(value["__data__"])
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Any:
    caplog.set_level(logging.INFO)
    return lambda: caplog.text + "".join(capfd.readouterr())


@pytest.fixture
def sales(polaris_emulator: Any) -> Any:
    load_table(polaris_emulator, "sales")
    return polaris_emulator


def test_sql_operators_pass_on_real_rows(sales: Any, dag_runner: Any, logs: Any) -> None:
    run = dag_runner.run(dag_runner.load(DAGS, "test_sql_checks_pass"), WEEK_TWO)
    assert tries(run) == {
        "totals": "success",
        "has_rows": "success",
        "total_amount": "success",
        "week_over_week": "success",
    }
    # has_rows, total_amount: 1 query each; week_over_week: 2; totals: 1.
    assert sales.count_requests("POST", r"/query/sql") == 5
    assert return_value(run, "totals") == [["FR", 12], ["US", 13]]


def test_failing_checks_fail_their_task_naming_the_check(
    sales: Any, dag_runner: Any, logs: Any
) -> None:
    run = dag_runner.run(dag_runner.load(DAGS, "test_sql_checks_fail"), WEEK_TWO)
    assert tries(run) == {
        "bad_query": "failed",
        "no_rows_for_xx": "failed",
        "total_amount_is_26": "failed",
        "count_week_over_week": "failed",
    }
    logged = logs()
    assert "Polaris SQL query failed (invalidInput, INVALID_INPUT): Column 'nope'" in logged
    assert "Test failed." in logged and "\"country\" = 'XX'" in logged
    assert "Pass value:26" in logged
    assert "The following tests have failed:" in logged and "COUNT(*)" in logged


def test_the_queries_users_check_a_rollup_with_get_druids_answers(
    sales: Any, dag_runner: Any
) -> None:
    dag = dag_runner.load(DAGS, "test_sql_rollup_checks")
    checks = sorted(dag.task_ids)  # one value check per query the issue lists, + a rollup
    assert len(checks) == 9
    assert tries(dag_runner.run(dag, WEEK_TWO)) == dict.fromkeys(checks, "success")


@pytest.fixture
def my_table(polaris_emulator: Any) -> Any:
    load_table(polaris_emulator, "My Table")
    return polaris_emulator


def test_column_and_table_checks_pass_on_a_quoted_table(my_table: Any, dag_runner: Any) -> None:
    run = dag_runner.run(dag_runner.load(DAGS, "test_sql_column_checks_pass"), WEEK_TWO)
    assert tries(run) == {"columns": "success", "table": "success"}


def test_column_and_table_checks_fail_naming_the_check(
    my_table: Any, dag_runner: Any, logs: Any
) -> None:
    run = dag_runner.run(dag_runner.load(DAGS, "test_sql_column_checks_fail"), WEEK_TWO)
    assert tries(run) == {"columns": "failed", "table": "failed"}
    logged = logs()
    assert "Column: amount" in logged and "Check: max" in logged
    assert "row_count_is_4" in logged
