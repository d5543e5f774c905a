"""``data_dir`` / ``serve --data-dir``: tables with their rows, files and connections survive a
restart of the emulator; jobs do not."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_polaris.testing._core import DEFAULT_API_KEY as API_KEY
from airflow_provider_polaris.testing._core import DEFAULT_PROJECT_ID as PROJECT_ID
from airflow_provider_polaris.testing.server import PolarisEmulator

ROWS = (
    b'{"ts":"2024-01-01T00:00:00Z","city":"Oslo","n":2}\n'
    b'{"ts":"2024-01-01T01:00:00Z","city":"Rome","n":5}\n'
)
JOB = {
    "type": "batch",
    "target": {"type": "table", "tableName": "kept"},
    "createTableIfNotExists": True,
    "source": {
        "type": "uploaded",
        "fileList": ["rows.json"],
        "inputSchema": [
            {"name": "ts", "dataType": "string"},
            {"name": "city", "dataType": "string"},
            {"name": "n", "dataType": "long"},
        ],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [
        {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
        {"columnName": "city", "expression": '"city"'},
        {"columnName": "n", "expression": '"n"'},
    ],
}
KAFKA = {
    "type": "kafka",
    "name": "clicks_kafka",
    "bootstrapServers": "broker:9092",
    "topicName": "clicks",
    "secrets": {"type": "sasl_plain", "username": "u", "password": "p4ss"},
}


def _api(emu: PolarisEmulator) -> httpx.Client:
    base = f"{emu.base_url}/v1/projects/{emu.project_id}"
    return httpx.Client(base_url=base, auth=(emu.api_key, ""), timeout=10)


def _first_life(data_dir: Path) -> str:
    with PolarisEmulator(data_dir=str(data_dir), manual_clock=True) as emu, _api(emu) as api:
        assert api.post("/files", files={"file": ("rows.json", ROWS)}).status_code == 200
        created = api.post("/connections", json=KAFKA)
        assert created.status_code in (200, 201), created.text
        job = api.post("/jobs", json=JOB)
        assert job.status_code == 201, job.text
        emu.advance(60)
        assert api.get(f"/jobs/{job.json()['id']}").json()["executionStatus"] == "completed"
        return str(job.json()["id"])


def test_tables_rows_files_and_connections_survive_a_restart(tmp_path: Path) -> None:
    job_id = _first_life(tmp_path)
    assert (tmp_path / "rows.duckdb").is_file() and (tmp_path / "state.json").is_file()
    with PolarisEmulator(data_dir=str(tmp_path), manual_clock=True) as emu, _api(emu) as api:
        assert [(r["__time"], r["city"], r["n"]) for r in emu.table_rows("kept")] == [
            (1_704_067_200_000, "Oslo", 2),
            (1_704_070_800_000, "Rome", 5),
        ]
        table = api.get("/tables/kept")
        assert table.status_code == 200 and table.json()["totalRows"] == 2
        query = api.post("/query/sql", json={"query": 'SELECT SUM("n") AS s FROM "kept"'})
        assert query.json() == [{"s": 7}]
        assert api.get("/files/rows.json").status_code == 200
        assert api.get("/connections/clicks_kafka").json()["topicName"] == "clicks"
        assert api.get(f"/jobs/{job_id}").status_code == 404  # jobs are not kept


def test_without_a_data_dir_nothing_is_written(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    with PolarisEmulator(manual_clock=True) as emu, _api(emu) as api:
        assert api.post("/files", files={"file": ("rows.json", ROWS)}).status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_serve_accepts_data_dir() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_polaris.testing", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--data-dir DIR" in done.stdout


def _serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "airflow_provider_polaris.testing", "serve", "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "listening on" in first, first
    return proc, first.rsplit(" ", 1)[-1].strip()


def test_serve_data_dir_keeps_a_table_across_a_restart(tmp_path: Path) -> None:
    proc, base = _serve(tmp_path)
    try:
        with httpx.Client(base_url=base, auth=(API_KEY, ""), timeout=10) as api:
            project = f"/v1/projects/{PROJECT_ID}"
            created = api.post(f"{project}/tables", json={"name": "t1", "type": "detail"})
            assert created.status_code in (200, 201), created.text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    proc, base = _serve(tmp_path)
    try:
        with httpx.Client(base_url=base, auth=(API_KEY, ""), timeout=10) as api:
            found = api.get(f"/v1/projects/{PROJECT_ID}/tables/t1")
            assert found.status_code == 200 and found.json()["name"] == "t1"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
