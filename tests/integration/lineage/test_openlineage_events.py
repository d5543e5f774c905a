"""OpenLineage: the run events the OpenLineage provider's listener emits for a real
``dag.test()`` of ``files -> raw_events -> raw_events_hourly`` against the emulator, written by
OpenLineage's own ``file`` transport and read back; on both Airflow lines."""

from __future__ import annotations

import io
import json
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


@pytest.fixture
def openlineage_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """OpenLineage configured with its file transport for this test (its config is cached)."""
    from airflow.providers.openlineage import conf as ol_conf
    from airflow.providers.openlineage.plugins import listener as ol_listener

    target = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(target), "append": True}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__DISABLED", "False")
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT", "30")
    for name in dir(ol_conf):
        cached = getattr(getattr(ol_conf, name), "cache_clear", None)
        if cached:
            cached()
    ol_listener._openlineage_listener = None  # a fresh listener reads the new transport
    return target


def test_listener_emits_files_to_table_to_rollup_with_polaris_facets(
    polaris_emulator: Any, dag_runner: Any, openlineage_file: Path
) -> None:
    _upload(polaris_emulator)
    dag = dag_runner.load("test_lineage_files_to_rollup.py", "test_lineage_files_to_rollup")
    run = dag_runner.run(dag, datetime(2026, 1, 1, 11, tzinfo=timezone.utc))
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state

    events = _complete_events(openlineage_file)
    assert set(events) >= {"load_files", "rollup_hour"}, sorted(events)
    project = polaris_emulator.project_id
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
