"""Whole-DAG edge cases: a rescheduling sensor timing out with soft_fail, a plain
``CronTriggerTimetable("@hourly")`` (what Airflow 3 makes of ``schedule="@hourly"``: a zero-length
data interval), and tasks whose logs must hold no secret."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from airflow_provider_polaris.operators.jobs import (
    PolarisCreateJobOperator,
    PolarisTableToTableOperator,
)
from airflow_provider_polaris.sensors.jobs import PolarisJobSensor

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
FAST = {"poll_interval": 0.05}


def batch(table: str) -> dict[str, object]:
    row = {"ts": "2024-01-01T10:05:00Z"}
    return {
        "type": "batch",
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "source": {
            "type": "inline",
            "data": json.dumps(row) + "\n",
            "inputSchema": [{"name": "ts", "dataType": "string"}],
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("ts")'}],
    }


with DAG("test_jobs_sensor_reschedule", schedule=None, start_date=START) as sensor_dag:
    PolarisJobSensor(
        task_id="watch",
        job_id="{{ dag_run.conf['job_id'] }}",
        mode="reschedule",
        poke_interval=0.05,
        timeout=0.3,
        soft_fail=True,
        deferrable=False,
    )

with DAG(
    "test_jobs_hourly_preset",
    schedule=CronTriggerTimetable("@hourly", timezone="UTC"),
    start_date=START,
) as hourly_dag:
    PolarisTableToTableOperator(
        task_id="rollup",
        source_table="events",
        target_table="events_hourly",
        mappings=[
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "events", "expression": "COUNT(*)", "isAggregation": True},
        ],
        partitioned_by="hour",
        create_table_if_not_exists=True,
        deferrable=False,
        **FAST,
    )

with DAG("test_jobs_no_secrets", schedule=None, start_date=START) as secrets_dag:
    for table, options in (("fails_t", {}), ("slow_t", {"timeout": 0.3})):
        PolarisCreateJobOperator(
            task_id=f"load_{table}", job_spec=batch(table), retries=0, **FAST, **options
        )
