"""The flagship example DAG, run by real Airflow (``dag.test()``, trigger run by Airflow) against
the emulator: it rolls up exactly the run's hour, a rerun replaces that hour with one new job, and
its ``SQLColumnCheckOperator`` checks that hour through the Polaris SQL API."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.demo import seed_source_table

pytestmark = pytest.mark.dagtest

HOUR_START_MS = int(datetime(2026, 1, 1, 10, tzinfo=timezone.utc).timestamp() * 1000)
HOUR_END_MS = HOUR_START_MS + 3_600_000


def _client(emulator: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(
            project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
        )
    )


def test_hourly_rollup_rolls_up_the_runs_hour_and_reruns_without_duplicates(
    polaris_emulator: Any, dag_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLARIS_EXAMPLE_POLL_INTERVAL", "0.05")
    with _client(polaris_emulator) as client:
        seed_source_table(client)
    raw_in_hour = [
        row
        for row in polaris_emulator.table_rows("events")
        if HOUR_START_MS <= row["__time"] < HOUR_END_MS
    ]
    dag = dag_runner.load("polaris_hourly_rollup.py", "polaris_hourly_rollup")
    logical_date = datetime(2026, 1, 1, 11, tzinfo=timezone.utc)

    for attempt in (1, 2):
        polaris_emulator.clear_request_log()
        run = dag_runner.run(dag, logical_date)
        assert str(run.state) in ("success", "DagRunState.SUCCESS"), f"run {attempt}: {run.state}"
        assert polaris_emulator.count_requests("POST", r"/jobs$") == 1, f"run {attempt}"

        rollup = polaris_emulator.table_rows("events_hourly")
        assert {row["__time"] for row in rollup} == {HOUR_START_MS}
        assert sum(row["events"] for row in rollup) == len(raw_in_hour)
        assert sum(row["revenue"] for row in rollup) == sum(r["amount"] for r in raw_in_hour)
        assert len(rollup) == len({r["country"] for r in raw_in_hour})
        # The column check ran over the rolled-up hour through the SQL API, and passed.
        check = run.get_task_instance("check_rollup")
        assert check is not None and str(check.state) in ("success", "TaskInstanceState.SUCCESS")
        assert polaris_emulator.count_requests("POST", r"/query/sql") >= 2  # check + report
