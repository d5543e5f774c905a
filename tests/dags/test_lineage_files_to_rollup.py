"""Lineage DAG: uploaded file -> ``raw_events`` (batch) -> ``raw_events_hourly`` (rollup)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import (
    PolarisBatchIngestionOperator,
    PolarisTableToTableOperator,
)

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

with DAG(
    dag_id="test_lineage_files_to_rollup",
    schedule=CronTriggerTimetable("0 * * * *", timezone="UTC", interval=timedelta(hours=1)),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
) as dag:
    load = PolarisBatchIngestionOperator(
        task_id="load_files",
        target_table="raw_events",
        files=["events.json"],
        input_schema=[
            {"name": "ts", "dataType": "string"},
            {"name": "country", "dataType": "string"},
            {"name": "amount", "dataType": "long"},
        ],
        format_settings={"format": "nd-json"},
        mappings=[
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "amount", "expression": '"amount"'},
        ],
        create_table_if_not_exists=True,
        poll_interval=0.05,
    )
    rollup = PolarisTableToTableOperator(
        task_id="rollup_hour",
        source_table="raw_events",
        target_table="raw_events_hourly",
        mappings=[
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "events", "expression": "COUNT(*)", "isAggregation": True},
        ],
        partitioned_by="hour",
        create_table_if_not_exists=True,
        poll_interval=0.05,
    )
    load >> rollup
