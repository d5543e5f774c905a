"""Daily SQL ingestion: ``REPLACE INTO ... OVERWRITE WHERE`` over the run's data interval.

Every day, aggregate the raw ``events`` table into ``events_daily`` (one row per day and
country) with a Polaris SQL ingestion job. The statement overwrites exactly the day the run
covers — ``OVERWRITE WHERE`` and the ``SELECT``'s ``WHERE`` are both templated with
``data_interval_start`` / ``data_interval_end`` — so a rerun or a backfill of a day replaces that
day instead of appending duplicates, and a retry reattaches to the job an earlier try submitted.

The schedule uses ``CronTriggerTimetable(..., interval=timedelta(days=1))`` so that a run's data
interval is the day that just ended. ``sql`` may also be a path to a ``.sql`` file next to the
DAG (rendered the same way). The wait is deferrable: no worker slot is held while Polaris works.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.jobs import PolarisSqlIngestionOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))

# Druid TIMESTAMP literals of the run's data interval, e.g. 2026-01-01 00:00:00.
START = "TIMESTAMP '{{ data_interval_start.strftime('%Y-%m-%d %H:%M:%S') }}'"
END = "TIMESTAMP '{{ data_interval_end.strftime('%Y-%m-%d %H:%M:%S') }}'"

with DAG(
    dag_id="polaris_sql_ingestion",
    schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["polaris", "example"],
    doc_md=__doc__,
) as dag:
    PolarisSqlIngestionOperator(
        task_id="aggregate_day",
        sql=f"""
            REPLACE INTO "events_daily"
            OVERWRITE WHERE "__time" >= {START} AND "__time" < {END}
            SELECT
                TIME_FLOOR("__time", 'P1D') AS "__time",
                "country",
                COUNT(*) AS "events",
                SUM("amount") AS "revenue"
            FROM "events"
            WHERE "__time" >= {START} AND "__time" < {END}
            GROUP BY 1, 2
            PARTITIONED BY DAY
        """,
        create_table_if_not_exists=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
    )
