"""DAGs of the fault matrix (tests/reliability/test_fault_matrix.py, docs/reliability.md).

``test_faults_load_{sync,deferrable}``: one batch load with ``retries=2`` and no retry delay, so
a transient fault costs at most a retry and a permanent one shows as a single try. The faults
themselves come from the emulator, injected by the test before the run.
``test_faults_load_worker_kill`` is the sync one again, run only by the SIGKILL test
(tests/reliability/test_fault_kills.py), so its task instance is the only one of its DAG.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

ROWS = [
    {"ts": "2024-01-01T10:05:00Z", "amount": 3},
    {"ts": "2024-01-01T11:05:00Z", "amount": 4},
]
SPEC = {
    "type": "batch",
    "target": {"type": "table", "tableName": "faults"},
    "createTableIfNotExists": True,
    "source": {
        "type": "inline",
        "data": "".join(json.dumps(r) + "\n" for r in ROWS),
        "inputSchema": [
            {"name": "ts", "dataType": "string"},
            {"name": "amount", "dataType": "long"},
        ],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [
        {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
        {"columnName": "amount", "expression": '"amount"'},
    ],
}

for mode in ("sync", "deferrable", "worker_kill"):
    with DAG(
        dag_id=f"test_faults_load_{mode}",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
    ) as dag:
        PolarisCreateJobOperator(
            task_id="load",
            job_spec=SPEC,
            deferrable=mode == "deferrable",
            poll_interval=0.05,
            progress_interval=None,
            max_unknown_polls=3,
            retries=2,
            retry_delay=timedelta(seconds=0),
        )
    globals()[f"dag_{mode}"] = dag
