"""DAGs whose job requests must fail before any job is created: a misspelled field in a mapping,
and an explicit ``partitioned_by`` that the run's hour does not align with."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import PolarisTableToTableOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow.models import DAG  # type: ignore[no-redef,attr-defined,assignment]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

HOURLY = CronTriggerTimetable("0 * * * *", timezone="UTC", interval=timedelta(hours=1))
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
MAPPINGS = [
    {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
    {"columnName": "country", "expression": '"country"'},
    {"columnName": "events", "expression": "COUNT(*)", "isAggregation": True},
]

with DAG(
    "test_preflight_bad_reference", start_date=START, schedule=HOURLY, catchup=False
) as bad_reference:
    PolarisTableToTableOperator(
        task_id="rollup_hour",
        source_table="events",
        target_table="events_hourly",
        mappings=[*MAPPINGS[:1], {"columnName": "country", "expression": 'UPPER("contry")'}],
        create_table_if_not_exists=True,
        poll_interval=0.05,
        retries=2,
        retry_delay=timedelta(minutes=5),
    )

with DAG(
    "test_preflight_misaligned", start_date=START, schedule=HOURLY, catchup=False
) as misaligned:
    PolarisTableToTableOperator(
        task_id="rollup_hour",
        source_table="events",
        target_table="events_hourly",
        mappings=MAPPINGS,
        partitioned_by="day",
        create_table_if_not_exists=True,
        poll_interval=0.05,
        retries=2,
        retry_delay=timedelta(minutes=5),
    )
