"""DAGs whose tasks meet permanent errors (401, 404, 400, a bad spec) with ``retries=2``: each
must fail on its first try, after at most one request (see
tests/integration/jobs/test_fail_fast_dags.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import (
    PolarisCancelJobOperator,
    PolarisCreateJobOperator,
    PolarisSqlIngestionOperator,
)
from airflow_provider_polaris.sensors.jobs import PolarisJobSensor
from airflow_provider_polaris.sensors.tables import PolarisTableSensor

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=0)}
SPEC = {
    "type": "batch",
    "target": {"type": "table", "tableName": "events"},
    "createTableIfNotExists": True,
    "source": {
        "type": "inline",
        "data": json.dumps({"ts": "2024-01-01T10:05:00Z"}) + "\n",
        "inputSchema": [{"name": "ts", "dataType": "string"}],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("ts")'}],
}
# Valid for the provider, refused by Polaris (400, target "query"): no PARTITIONED BY clause.
SQL_WITHOUT_PARTITIONING = (
    'INSERT INTO "events" SELECT TIME_PARSE("ts") AS __time FROM TABLE(POLARIS_SOURCE('
    '\'{"type":"inline","data":"{}","inputSchema":[{"name":"ts","dataType":'
    '"string"}],"formatSettings":{"format":"nd-json"}}\'))'
)

for mode in ("sync", "deferrable"):
    deferrable = mode == "deferrable"
    with DAG(f"test_fail_fast_load_{mode}", schedule=None, start_date=START) as load_dag:
        PolarisCreateJobOperator(
            task_id="load", job_spec=SPEC, deferrable=deferrable, poll_interval=0.05, **RETRIES
        )
    with DAG(f"test_fail_fast_bad_spec_{mode}", schedule=None, start_date=START) as spec_dag:
        PolarisCreateJobOperator(
            task_id="load",
            job_spec={**SPEC, "createTableIfNotExist": True},  # the typo of issue 9
            deferrable=deferrable,
            poll_interval=0.05,
            **RETRIES,
        )
    with DAG(f"test_fail_fast_sensor_{mode}", schedule=None, start_date=START) as sensor_dag:
        PolarisJobSensor(
            task_id="watch",
            job_id="{{ dag_run.conf['job_id'] }}",
            deferrable=deferrable,
            poke_interval=0.05,
            timeout=60,
            **RETRIES,
        )
    globals().update({f"load_{mode}": load_dag, f"spec_{mode}": spec_dag})
    globals()[f"sensor_{mode}"] = sensor_dag

with DAG("test_fail_fast_sql_400", schedule=None, start_date=START) as sql_dag:
    PolarisSqlIngestionOperator(
        task_id="sql", sql=SQL_WITHOUT_PARTITIONING, poll_interval=0.05, **RETRIES
    )

with DAG("test_fail_fast_cancel_404", schedule=None, start_date=START) as cancel_dag:
    PolarisCancelJobOperator(
        task_id="cancel", job_id="{{ dag_run.conf['job_id'] }}", poll_interval=0.05, **RETRIES
    )

with DAG("test_fail_fast_table_sensor", schedule=None, start_date=START) as table_sensor_dag:
    PolarisTableSensor(
        task_id="wait_table", table_name="events", poke_interval=0.05, timeout=60, **RETRIES
    )
