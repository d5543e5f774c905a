"""The README's flagship snippet, copied as a user would, with ``create_table_if_not_exists=True``.

Only what a test needs is added: a start date (the README leaves ``...``), a short poll interval
and a timeout. No ``partitioned_by``: the operator must choose one that Polaris accepts for the
run's hour, whether ``events_hourly`` does not exist yet or exists partitioned by day. Imports
work on both Airflow lines (the README shows Airflow 3's).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import PolarisTableToTableOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow.models import DAG  # type: ignore[no-redef,attr-defined,assignment]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

with DAG(
    "test_readme_flagship",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    schedule=CronTriggerTimetable("0 * * * *", timezone="UTC", interval=timedelta(hours=1)),
) as dag:  # "as dag" only so that the test can find it
    PolarisTableToTableOperator(
        task_id="rollup_hour",
        source_table="events",
        target_table="events_hourly",
        mappings=[
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "events", "expression": "COUNT(*)", "isAggregation": True},
        ],
        deferrable=True,  # mode="replace" over the run's data interval is the default
        create_table_if_not_exists=True,
        poll_interval=0.05,
        timeout=timedelta(minutes=5),
    )
