"""The README's flagship snippet, copied verbatim into a DAG file, runs green against the
emulator on both Airflow lines: into a table that does not exist yet, and into an existing
day-partitioned one (docs promise: "the README works as written")."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.demo import seed_source_table

pytestmark = pytest.mark.dagtest

REPO_ROOT = Path(__file__).resolve().parents[3]
DAG_ID = "polaris_hourly_rollup_readme"
HOUR_START_MS = int(datetime(2026, 1, 1, 10, tzinfo=timezone.utc).timestamp() * 1000)


def readme_flagship_source() -> str:
    """The first ``python`` block of README.md, exactly as a user would copy it."""
    text = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    flagship = [block for block in blocks if DAG_ID in block]
    assert len(flagship) == 1, "README.md must hold exactly one flagship snippet"
    return flagship[0]


def _client(emulator: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(
            project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
        )
    )


def _install_snippet() -> Path:
    # tests/conftest.py points the DAGs folder at a temporary copy; dag.test() re-parses it on 3.x.
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "readme_flagship.py"
    path.write_text(readme_flagship_source())
    return path


def _assert_hour_rolled_up(emulator: Any) -> None:
    raw = [
        row
        for row in emulator.table_rows("events")
        if HOUR_START_MS <= row["__time"] < HOUR_START_MS + 3_600_000
    ]
    rollup = emulator.table_rows("events_hourly")
    assert {row["__time"] for row in rollup} == {HOUR_START_MS}
    assert sum(row["events"] for row in rollup) == len(raw)


@pytest.mark.parametrize("existing_target", [False, True], ids=["new-table", "day-partitioned"])
def test_readme_flagship_runs_green_as_written(
    polaris_emulator: Any, dag_runner: Any, existing_target: bool
) -> None:
    with _client(polaris_emulator) as client:
        seed_source_table(client)
        if existing_target:
            client.tables.create(
                {
                    "name": "events_hourly",
                    "type": "aggregate",
                    "partitioningGranularity": "day",
                    "schema": [
                        {"type": "dimension", "name": "country", "dataType": "string"},
                        {"type": "measure", "name": "events", "dataType": "long"},
                    ],
                }
            )
    polaris_emulator.clear_request_log()  # the seeding above created a job of its own
    path = _install_snippet()
    try:
        dag = dag_runner.load(path.name, DAG_ID)
        run = dag_runner.run(dag, datetime(2026, 1, 1, 11, tzinfo=timezone.utc))
    finally:
        path.unlink()
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
    assert polaris_emulator.count_requests("POST", r"/jobs$") == 1
    _assert_hour_rolled_up(polaris_emulator)
