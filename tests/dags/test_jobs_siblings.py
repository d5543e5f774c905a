"""Sibling tasks appending to one table through one connection (tests/reliability/
test_sibling_adoption.py): ``a`` loads day 1, ``b`` loads day 2 (``b`` retries once).

Between them, ``b_first_create_fails`` asks the emulator's control API to answer the next
``POST /jobs`` with a 503 without creating anything, so ``b``'s first try never reaches Polaris
and its retry must submit its own job, never adopt ``a``'s. (The fault is injected by a task
because the emulator's faults apply to the next matching request: injected before the run it
would hit ``a``.)

DAGs: ``test_jobs_siblings_inline`` (inline rows, checked in the table), ``test_jobs_siblings_s3``
(S3 URIs ``s3://b/day1.json`` / ``s3://b/day2.json``) and ``test_jobs_siblings_identical`` (``a``
and ``b`` submit the very same request: ``a``'s job predates ``b``'s first try, so ``b`` still
submits its own).
"""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.operators.python import PythonOperator  # type: ignore[no-redef]

# Set by the test: the emulator's base URL (its control API lives under /_emulator/).
EMULATOR_URL_ENV = "POLARIS_TEST_EMULATOR_URL"
SCHEMA = [
    {"name": "ts", "dataType": "string"},
    {"name": "country", "dataType": "string"},
    {"name": "amount", "dataType": "long"},
]
MAPPINGS = [
    {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
    {"columnName": "country", "expression": '"country"'},
    {"columnName": "amount", "expression": '"amount"'},
]
DAY1 = [
    {"ts": "2024-01-01T10:00:00Z", "country": "US", "amount": 1},
    {"ts": "2024-01-01T11:00:00Z", "country": "FR", "amount": 2},
]
DAY2 = [
    {"ts": "2024-01-02T10:00:00Z", "country": "US", "amount": 3},
    {"ts": "2024-01-02T11:00:00Z", "country": "DE", "amount": 4},
    {"ts": "2024-01-02T12:00:00Z", "country": "FR", "amount": 5},
]


def inline_spec(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "batch",
        "target": {"type": "table", "tableName": "events"},
        "createTableIfNotExists": True,
        "source": {
            "type": "inline",
            "data": "".join(json.dumps(r) + "\n" for r in rows),
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": MAPPINGS,
    }


def s3_spec(uri: str) -> dict[str, Any]:
    return {
        "type": "batch",
        "target": {"type": "table", "tableName": "events"},
        "createTableIfNotExists": True,
        "source": {
            "type": "s3",
            "connectionName": "b",
            "uris": [uri],
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": MAPPINGS,
    }


def fail_next_create() -> None:
    """The emulator answers the next ``POST /jobs`` with a 503 and creates nothing."""
    fault = {"method": "POST", "path": "/jobs", "kind": "status", "status": 503, "count": 1}
    request = urllib.request.Request(
        os.environ[EMULATOR_URL_ENV].rstrip("/") + "/_emulator/faults",
        data=json.dumps(fault).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, response.status


SPECS = {
    "inline": (inline_spec(DAY1), inline_spec(DAY2)),
    "s3": (s3_spec("s3://b/day1.json"), s3_spec("s3://b/day2.json")),
    "identical": (inline_spec(DAY1), inline_spec(DAY1)),
}

for name, (spec_a, spec_b) in SPECS.items():
    with DAG(
        dag_id=f"test_jobs_siblings_{name}",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
    ) as dag:
        a = PolarisCreateJobOperator(task_id="a", job_spec=spec_a, poll_interval=0.05)
        inject = PythonOperator(task_id="b_first_create_fails", python_callable=fail_next_create)
        b = PolarisCreateJobOperator(
            task_id="b",
            job_spec=spec_b,
            poll_interval=0.05,
            retries=1,
            retry_delay=timedelta(seconds=0),
        )
        a >> inject >> b
    globals()[f"dag_{name}"] = dag
