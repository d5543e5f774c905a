"""Whole-DAG tests of duplicate prevention: a job task with one retry, sync and deferrable."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

ROWS = [{"ts": "2024-01-01T10:05:00Z", "country": "US", "amount": 3}]
SPEC = {
    "type": "batch",
    "target": {"type": "table", "tableName": "events"},
    "createTableIfNotExists": True,
    "source": {
        "type": "inline",
        "data": "\n".join(json.dumps(r) for r in ROWS) + "\n",
        "inputSchema": [
            {"name": "ts", "dataType": "string"},
            {"name": "country", "dataType": "string"},
            {"name": "amount", "dataType": "long"},
        ],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("ts")'}],
}

for mode in ("sync", "deferrable"):
    with DAG(
        dag_id=f"test_jobs_retry_{mode}",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
    ) as dag:
        PolarisCreateJobOperator(
            task_id="load",
            job_spec=SPEC,
            deferrable=mode == "deferrable",
            poll_interval=0.05,
            retries=1,
            retry_delay=timedelta(seconds=0),
        )
    globals()[f"dag_{mode}"] = dag
