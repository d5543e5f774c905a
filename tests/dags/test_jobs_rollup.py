"""Whole-DAG test: hourly table-to-table rollup, deferrable replace mode, trigger run by Airflow."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import PolarisTableToTableOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

with DAG(
    dag_id="test_jobs_rollup",
    schedule=CronTriggerTimetable("0 * * * *", timezone="UTC", interval=timedelta(hours=1)),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
) as dag:
    PolarisTableToTableOperator(
        task_id="rollup_hour",
        source_table="events",
        target_table="events_hourly",
        mappings=[
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "events", "expression": "COUNT(*)", "isAggregation": True},
            {"columnName": "revenue", "expression": 'SUM("amount")', "isAggregation": True},
        ],
        partitioned_by="hour",
        create_table_if_not_exists=True,
        deferrable=True,
        poll_interval=0.05,
        timeout=timedelta(minutes=5),
    )
