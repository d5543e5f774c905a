"""dag.test() on both Airflow lines: the README flagship runs green into a new table and into an
existing day-partitioned one (the operator sends a partitionedBy that aligns the run's hour), and
a misspelled field or a misaligned explicit partitioned_by fails before any job is created."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.demo import seed_source_table

pytestmark = pytest.mark.dagtest

RUN_HOUR = datetime(2026, 1, 1, 11, tzinfo=timezone.utc)  # replaces 10:00-11:00
HOUR_MS = int(datetime(2026, 1, 1, 10, tzinfo=timezone.utc).timestamp() * 1000)
DAY_TABLE = {
    "name": "events_hourly",
    "type": "aggregate",
    "partitioningGranularity": "day",
    "timeResolution": "hour",
    "schema": [
        {"type": "dimension", "name": "country", "dataType": "string"},
        {"type": "measure", "name": "events", "dataType": "long"},
    ],
}


@pytest.fixture
def client(polaris_emulator: Any) -> Iterator[PolarisClient]:
    emu = polaris_emulator
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    with PolarisClient(config) as client:
        seed_source_table(client)
        emu.clear_request_log()
        yield client


def _state(run: Any) -> str:
    return str(getattr(run.state, "value", run.state))


def _only_job_spec(client: PolarisClient, target: str) -> dict[str, Any]:
    (job,) = [j for j in client.jobs.iter_all() if j.get("target", {}).get("tableName") == target]
    full = client.jobs.get(job["id"])
    return dict(full.get("spec", full))


@pytest.mark.parametrize("existing_table", [None, DAY_TABLE], ids=["new-table", "day-table"])
def test_readme_flagship_runs_green(
    polaris_emulator: Any,
    dag_runner: Any,
    client: PolarisClient,
    existing_table: dict[str, Any] | None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    emu = polaris_emulator
    if existing_table is not None:
        client.tables.create(existing_table)
        emu.clear_request_log()
    dag = dag_runner.load("test_readme_flagship.py", "test_readme_flagship")
    with caplog.at_level("INFO"):
        run = dag_runner.run(dag, RUN_HOUR)
    assert _state(run) == "success"
    assert emu.count_requests("POST", r"/jobs$") == 1
    spec = _only_job_spec(client, "events_hourly")
    assert spec["target"]["intervals"] == ["2026-01-01T10:00:00Z/2026-01-01T11:00:00Z"]
    assert spec["partitionedBy"] == "hour"
    # Airflow 2.11 logs task lines through logging (and echoes them); 3.3 prints them to stdout.
    choices = [r.getMessage() for r in caplog.records if "sending partitionedBy" in r.getMessage()]
    if not choices:
        printed = "".join(capfd.readouterr()).splitlines()
        choices = [line for line in printed if "sending partitionedBy" in line]
    assert len(choices) == 1, choices
    assert "2026-01-01T10:00:00Z/2026-01-01T11:00:00Z" in choices[0]
    assert "'hour'" in choices[0] and "day" in choices[0]
    rows = emu.table_rows("events_hourly")
    assert rows and {row["__time"] for row in rows} == {HOUR_MS}
    table = client.tables.get("events_hourly")
    assert table["partitioningGranularity"] == ("hour" if existing_table is None else "day")


def test_misspelled_field_fails_before_any_job(
    polaris_emulator: Any, dag_runner: Any, client: PolarisClient
) -> None:
    emu = polaris_emulator
    dag = dag_runner.load("test_jobs_preflight.py", "test_preflight_bad_reference")
    run = dag_runner.run(dag, RUN_HOUR)
    assert _state(run) == "failed"
    assert emu.count_requests("POST", None) == 0  # no job, no auto-created table
    # One read of the source table's columns (retries=2, but the failure is permanent).
    assert [(e["method"], e["path"].rsplit("/", 2)[-2:]) for e in emu.request_log()] == [
        ("GET", ["tables", "events"])
    ]
    assert "events_hourly" not in {t["name"] for t in client.tables.list()}


def test_misaligned_explicit_partitioning_fails_before_any_request(
    polaris_emulator: Any, dag_runner: Any, client: PolarisClient
) -> None:
    emu = polaris_emulator
    dag = dag_runner.load("test_jobs_preflight.py", "test_preflight_misaligned")
    run = dag_runner.run(dag, RUN_HOUR)
    assert _state(run) == "failed"
    assert emu.count_requests("POST", None) == 0
    # Only the source table's columns were read: the alignment check itself needs no request.
    assert emu.count_requests("GET", r"/tables/events_hourly") == 0
