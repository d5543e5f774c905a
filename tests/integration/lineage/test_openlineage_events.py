"""OpenLineage: the run events the OpenLineage provider's listener emits for a real
``dag.test()`` of ``files -> raw_events -> raw_events_hourly`` against the emulator, written by
OpenLineage's own ``file`` transport and read back; on both Airflow lines.

OpenLineage reads its configuration once per process (and Airflow loads its listener plugin
once), so the DAG runs in a fresh pytest process configured from the start:
``test_listener_emits_...`` starts it (``_run_dag_in_fresh_process``) and checks the events."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig

pytest.importorskip("airflow.providers.openlineage")
pytestmark = pytest.mark.dagtest

ROWS = [
    {"ts": "2026-01-01T10:05:00Z", "country": "DE", "amount": 3},
    {"ts": "2026-01-01T10:10:00Z", "country": "DE", "amount": 4},
    {"ts": "2026-01-01T10:20:00Z", "country": "FR", "amount": 5},
]


def _upload(emulator: Any) -> None:
    config = PolarisConfig(
        project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
    )
    payload = "".join(json.dumps(row) + "\n" for row in ROWS).encode()
    with PolarisClient(config) as client:
        client.files.upload("events.json", io.BytesIO(payload))


def _complete_events(path: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        event = json.loads(line)
        if event.get("eventType") == "COMPLETE" and "." in event["job"]["name"]:
            found[event["job"]["name"].rsplit(".", 1)[1]] = event
    return found


_EVENTS_FILE = "POLARIS_TEST_OPENLINEAGE_FILE"


def test_run_dag_in_fresh_process(polaris_emulator: Any, dag_runner: Any) -> None:
    """The DAG run itself; only runs inside the process the test below starts."""
    if not os.environ.get(_EVENTS_FILE):
        pytest.skip("runs in the fresh process started by test_listener_emits_...")
    _upload(polaris_emulator)
    (Path(os.environ[_EVENTS_FILE]).parent / "project_id").write_text(polaris_emulator.project_id)
    dag = dag_runner.load("test_lineage_files_to_rollup.py", "test_lineage_files_to_rollup")
    run = dag_runner.run(dag, datetime(2026, 1, 1, 11, tzinfo=timezone.utc))
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state


def test_listener_emits_files_to_table_to_rollup_with_polaris_facets(tmp_path: Path) -> None:
    if os.environ.get(_EVENTS_FILE):
        pytest.skip("the outer test")
    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    env = {
        **os.environ,
        _EVENTS_FILE: str(events_file),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
    }
    inner = f"{__file__}::test_run_dag_in_fresh_process"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            inner,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout, done.stdout[-2000:]

    events = _complete_events(events_file)
    assert set(events) >= {"load_files", "rollup_hour"}, sorted(events)
    project = (tmp_path / "project_id").read_text()
    load, rollup = events["load_files"], events["rollup_hour"]
    assert [(d["name"]) for d in load["inputs"]] == [f"{project}/files/events.json"]
    (raw,) = load["outputs"]
    assert raw["name"] == f"{project}/raw_events"
    fields = {f["name"]: f.get("type") for f in raw["facets"]["schema"]["fields"]}
    assert {"country", "amount"} <= set(fields), fields  # from GET /tables/raw_events
    assert raw["outputFacets"]["outputStatistics"]["rowCount"] == len(ROWS)
    assert [d["name"] for d in rollup["inputs"]] == [f"{project}/raw_events"]
    (hourly,) = rollup["outputs"]
    assert hourly["name"] == f"{project}/raw_events_hourly"
    assert hourly["namespace"] == raw["namespace"] == rollup["inputs"][0]["namespace"]
    assert hourly["outputFacets"]["outputStatistics"]["rowCount"] == 2  # DE and FR
    query = rollup["run"]["facets"]["externalQuery"]
    assert query["externalQueryId"] and query["source"] == hourly["namespace"]
