"""Whole-DAG test of every job operator and the sensor, waiting as ``[operators]
default_deferrable`` says (the test sets it): a batch load watched by the sensor, and a streaming
job started, reset, suspended, resumed and canceled."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from airflow_provider_polaris.operators.jobs import (
    PolarisCancelJobOperator,
    PolarisCreateJobOperator,
)
from airflow_provider_polaris.operators.streaming import (
    PolarisResetStreamingJobOperator,
    PolarisResumeJobOperator,
    PolarisStreamingJobOperator,
    PolarisSuspendJobOperator,
)
from airflow_provider_polaris.sensors.jobs import PolarisJobSensor

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

FAST = {"poll_interval": 0.05}
ROWS = [{"ts": "2024-01-01T10:05:00Z", "amount": 3}]
BATCH = {
    "type": "batch",
    "target": {"type": "table", "tableName": "events"},
    "createTableIfNotExists": True,
    "source": {
        "type": "inline",
        "data": "\n".join(json.dumps(r) for r in ROWS) + "\n",
        "inputSchema": [
            {"name": "ts", "dataType": "string"},
            {"name": "amount", "dataType": "long"},
        ],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("ts")'}],
}
STREAM = {
    "type": "streaming",
    "target": {"type": "table", "tableName": "stream_t"},
    "createTableIfNotExists": True,
    "source": {
        "type": "connection",
        "connectionName": "gw",
        "inputSchema": [{"name": "time", "dataType": "long"}],
        "formatSettings": {"format": "nd-json"},
    },
    "mappings": [{"columnName": "__time", "expression": 'MILLIS_TO_TIMESTAMP("time")'}],
}
STREAM_JOB = "{{ ti.xcom_pull(task_ids='stream', key='job_id') }}"

with DAG(
    dag_id="test_jobs_control",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
) as dag:
    load = PolarisCreateJobOperator(
        task_id="load", job_spec=BATCH, wait_for_completion=False, **FAST
    )
    watch = PolarisJobSensor(
        task_id="watch",
        job_id="{{ ti.xcom_pull(task_ids='load', key='job_id') }}",
        timeout=60,
        **FAST,
    )
    stream = PolarisStreamingJobOperator(task_id="stream", job_spec=STREAM, **FAST)
    reset = PolarisResetStreamingJobOperator(task_id="reset", target_table="stream_t", **FAST)
    suspend = PolarisSuspendJobOperator(task_id="suspend", job_id=STREAM_JOB, **FAST)
    resume = PolarisResumeJobOperator(task_id="resume", job_id=STREAM_JOB, **FAST)
    cancel = PolarisCancelJobOperator(task_id="cancel", job_id=STREAM_JOB, **FAST)
    load >> watch
    stream >> reset >> suspend >> resume >> cancel
