"""DAGs that load rows of which one cannot be parsed and one is filtered out: the task log
reports the row counts and warns about the skipped row; ``max_parse_exceptions=0`` fails
(tests/integration/jobs/test_row_report_dags.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
ROWS = [
    {"ts": "2024-01-01T10:05:00Z", "country": "US", "amount": 3},
    {"ts": "2024-01-01T10:06:00Z", "country": "FR", "amount": 4},
    {"ts": "2024-01-01T10:07:00Z", "country": "US", "amount": "three"},  # not a long
    {"ts": "2024-01-01T10:08:00Z", "country": "DE", "amount": 5},
]
SPEC = {
    "type": "batch",
    "target": {"type": "table", "tableName": "sales"},
    "createTableIfNotExists": True,
    "source": {
        "type": "inline",
        "data": "".join(json.dumps(r) + "\n" for r in ROWS),
        "inputSchema": [
            {"name": "ts", "dataType": "string"},
            {"name": "country", "dataType": "string"},
            {"name": "amount", "dataType": "long"},
        ],
        "formatSettings": {"format": "nd-json"},
    },
    "filterExpression": "\"country\" <> 'DE'",
    "mappings": [
        {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
        {"columnName": "country", "expression": '"country"'},
        {"columnName": "amount", "expression": '"amount"'},
    ],
}

for mode in ("sync", "deferrable"):
    with DAG(f"test_row_report_{mode}", schedule=None, start_date=START) as dag:
        PolarisCreateJobOperator(
            task_id="load", job_spec=SPEC, deferrable=mode == "deferrable", poll_interval=0.05
        )
    globals()[f"dag_{mode}"] = dag

with DAG("test_row_report_strict", schedule=None, start_date=START) as strict_dag:
    PolarisCreateJobOperator(
        task_id="load", job_spec=SPEC, max_parse_exceptions=0, poll_interval=0.05
    )
