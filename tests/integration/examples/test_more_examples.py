"""The batch-file, push-streaming and SQL-ingestion example DAGs, run by real Airflow
(``dag.test()``) against the emulator: each run succeeds, its data lands, and it makes exactly
the Polaris requests the pattern promises."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.demo import seed_source_table

pytestmark = pytest.mark.dagtest

DATA_DIR = Path(__file__).resolve().parents[3] / "example_dags" / "data"
DAY_START_MS = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
DAY_END_MS = DAY_START_MS + 86_400_000


def _client(emulator: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(
            project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
        )
    )


def _succeeded(run: Any) -> bool:
    return str(run.state) in ("success", "DagRunState.SUCCESS")


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARIS_EXAMPLE_POLL_INTERVAL", "0.05")


def test_batch_ingest_files_loads_the_day_and_reruns_without_duplicates(
    polaris_emulator: Any, dag_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test DAGs folder holds copies of the .py files only: point the DAG at the sample data.
    monkeypatch.setenv("POLARIS_EXAMPLE_DATA_DIR", str(DATA_DIR))
    sample = [
        json.loads(line)
        for line in (DATA_DIR / "clicks-2026-01-01.ndjson").read_text().splitlines()
        if line.strip()
    ]
    dag = dag_runner.load("polaris_batch_ingest_files.py", "polaris_batch_ingest_files")
    logical_date = datetime(2026, 1, 2, tzinfo=timezone.utc)  # covers 2026-01-01

    for attempt in (1, 2):
        polaris_emulator.clear_request_log()
        run = dag_runner.run(dag, logical_date)
        assert _succeeded(run), f"run {attempt}: {run.state}"
        assert polaris_emulator.count_requests("POST", r"/tables$") == 1, f"run {attempt}"
        # One upload attempt per run; the rerun gets a 409, reads the stored MD5 and skips it.
        assert polaris_emulator.count_requests("POST", r"/files$") == 1, f"run {attempt}"
        assert polaris_emulator.count_requests("GET", r"/files/.+") == attempt - 1
        assert polaris_emulator.count_requests("POST", r"/jobs$") == 1, f"run {attempt}"
        assert polaris_emulator.count_requests("POST", r"/query/sql$") == 1, f"run {attempt}"

        rows = polaris_emulator.table_rows("clicks")
        assert len(rows) == len(sample), f"run {attempt}: replace mode must not duplicate"
        assert all(DAY_START_MS <= row["__time"] < DAY_END_MS for row in rows)
        assert sorted((r["user_id"], r["page"], r["latency_ms"]) for r in rows) == sorted(
            (e["user_id"], e["page"], e["latency_ms"]) for e in sample
        )

    with _client(polaris_emulator) as client:
        batch_jobs = [client.jobs.get(j["id"]) for j in client.jobs.iter_all()]
        files = [f["name"] for f in client.files.list()["files"]]
    assert files == ["clicks-2026-01-01.ndjson"]
    assert len(batch_jobs) == 2 and all(j["type"] == "batch" for j in batch_jobs)
    job = batch_jobs[0]
    assert job["ingestionMode"] == "replace"
    assert job["source"]["fileList"] == ["clicks-2026-01-01.ndjson"]
    assert job["target"]["intervals"] == ["2026-01-01T00:00:00Z/2026-01-02T00:00:00Z"]


def test_push_streaming_sets_up_pushes_and_finds_the_events(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    dag = dag_runner.load("polaris_push_streaming.py", "polaris_push_streaming")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    run = dag_runner.run(dag, now)
    assert _succeeded(run), run.state

    assert polaris_emulator.count_requests("POST", r"/connections$") == 1
    assert polaris_emulator.count_requests("POST", r"/jobs$") == 1
    assert polaris_emulator.count_requests("POST", r"/events/orders_push$") == 2  # 120 / 60
    assert polaris_emulator.count_requests("POST", r"/query/sql$") >= 1
    with _client(polaris_emulator) as client:
        assert client.connections.get("orders_push")["type"] == "push_streaming"
        (job,) = client.jobs.list(type=["streaming"])["values"]
    assert job["executionStatus"] in ("running", "idle")
    assert job["target"]["tableName"] == "orders"
    rows = polaris_emulator.table_rows("orders")
    assert len(rows) == 120 and {row["batch_id"] for row in rows} == {run.run_id}
    assert len({row["order_id"] for row in rows}) == 120

    # A second run keeps the connection and the live streaming job (if_running="keep"): no new
    # job, no restart; both batches land in the table through the same job.
    polaris_emulator.clear_request_log()
    second = dag_runner.run(dag, now + timedelta(minutes=1))
    assert _succeeded(second), second.state
    assert polaris_emulator.count_requests("POST", r"/jobs$") == 0
    with _client(polaris_emulator) as client:
        jobs = {
            j["id"]: j["executionStatus"] for j in client.jobs.list(type=["streaming"])["values"]
        }
    assert list(jobs) == [job["id"]] and jobs[job["id"]] in ("running", "idle"), jobs
    rows = polaris_emulator.table_rows("orders")
    assert len(rows) == 240 and {row["batch_id"] for row in rows} == {run.run_id, second.run_id}


def test_sql_ingestion_replaces_the_runs_day(polaris_emulator: Any, dag_runner: Any) -> None:
    with _client(polaris_emulator) as client:
        seed_source_table(client)
    raw = polaris_emulator.table_rows("events")
    assert raw and all(DAY_START_MS <= row["__time"] < DAY_END_MS for row in raw)
    dag = dag_runner.load("polaris_sql_ingestion.py", "polaris_sql_ingestion")

    for attempt in (1, 2):
        polaris_emulator.clear_request_log()
        run = dag_runner.run(dag, datetime(2026, 1, 2, tzinfo=timezone.utc))
        assert _succeeded(run), f"run {attempt}: {run.state}"
        assert polaris_emulator.count_requests("POST", r"/jobs$") == 1, f"run {attempt}"

        daily = polaris_emulator.table_rows("events_daily")
        assert {row["__time"] for row in daily} == {DAY_START_MS}
        assert {row["country"] for row in daily} == {r["country"] for r in raw}
        assert sum(row["events"] for row in daily) == len(raw), f"run {attempt}"
        assert sum(row["revenue"] for row in daily) == sum(r["amount"] for r in raw)

    with _client(polaris_emulator) as client:
        sql_jobs = [client.jobs.get(j["id"]) for j in client.jobs.iter_all() if j["type"] == "sql"]
    assert len(sql_jobs) == 2
    query = sql_jobs[0]["query"]
    assert "OVERWRITE WHERE \"__time\" >= TIMESTAMP '2026-01-01 00:00:00'" in query
    assert "\"__time\" < TIMESTAMP '2026-01-02 00:00:00'" in query
