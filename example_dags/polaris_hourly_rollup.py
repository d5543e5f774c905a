"""Hourly table-to-table rollup in replace mode: the flagship Polaris pattern.

Every hour, roll the raw ``events`` table up into ``events_hourly`` (one row per hour and
country) for exactly the hour the run covers. Replace mode makes the task idempotent: a rerun or a
backfill of the same hour overwrites that hour instead of appending duplicates, and the operator
reattaches to the job an earlier try created instead of submitting a second one.

The schedule uses ``CronTriggerTimetable(..., interval=timedelta(hours=1))`` so that a run's data
interval is the hour that just ended (Airflow 3's plain ``"@hourly"`` gives a zero-length interval,
which the operator refuses to replace over). The wait is deferrable: no worker slot is held while
Polaris works.

Then the rollup checks its own hour with Airflow's standard ``SQLColumnCheckOperator`` on the
same Polaris connection (common-sql dispatches it to ``PolarisSqlHook``, see docs/sql.md). When
the rollup job completed, the operator emits the Asset event of ``events_hourly``
(``polaris://{org}/{project_id}/events_hourly``): ``polaris_rollup_consumer`` is scheduled on it
(docs/lineage.md).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator

from airflow_provider_polaris.hooks.polaris import PolarisHook
from airflow_provider_polaris.operators.jobs import PolarisTableToTableOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

SOURCE_TABLE = "events"
ROLLUP_TABLE = "events_hourly"
# The demo and tests shorten the poll interval; production keeps Polaris-friendly 30 s polls.
POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))

with DAG(
    dag_id="polaris_hourly_rollup",
    schedule=CronTriggerTimetable("0 * * * *", timezone="UTC", interval=timedelta(hours=1)),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=4,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2)},
    tags=["polaris", "example"],
    doc_md=__doc__,
) as dag:
    rollup = PolarisTableToTableOperator(
        task_id="rollup_hour",
        source_table=SOURCE_TABLE,
        target_table=ROLLUP_TABLE,
        mappings=[
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "events", "expression": "COUNT(*)", "isAggregation": True},
            {"columnName": "revenue", "expression": 'SUM("amount")', "isAggregation": True},
        ],
        # mode="replace" and intervals=<the run's data interval> are the defaults.
        partitioned_by="hour",
        create_table_if_not_exists=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
    )

    @task
    def report_rollup(
        data_interval_start: datetime | None = None, data_interval_end: datetime | None = None
    ) -> list[dict[str, object]]:
        """Read back the rolled-up hour with Polaris SQL and log it."""
        assert data_interval_start is not None and data_interval_end is not None
        start = data_interval_start.strftime("%Y-%m-%d %H:%M:%S")
        end = data_interval_end.strftime("%Y-%m-%d %H:%M:%S")
        with PolarisHook().get_client() as client:
            rows: list[dict[str, object]] = client.query.sql(
                f'SELECT "country", SUM("events") AS "events", SUM("revenue") AS "revenue" '
                f'FROM "{ROLLUP_TABLE}" '
                f"WHERE \"__time\" >= TIMESTAMP '{start}' "
                f"AND \"__time\" < TIMESTAMP '{end}' "
                f"GROUP BY 1 ORDER BY 1"
            )
        for row in rows:
            print(f"rollup {start}: {row}")
        return rows

    # The rolled-up hour only: every country is named and counted, revenue is never negative.
    check_rollup = SQLColumnCheckOperator(
        task_id="check_rollup",
        conn_id="polaris_default",
        table=ROLLUP_TABLE,
        partition_clause=(
            "\"__time\" >= TIMESTAMP '{{ data_interval_start.strftime('%Y-%m-%d %H:%M:%S') }}' "
            "AND \"__time\" < TIMESTAMP '{{ data_interval_end.strftime('%Y-%m-%d %H:%M:%S') }}'"
        ),
        column_mapping={
            "country": {"null_check": {"equal_to": 0}, "distinct_check": {"geq_to": 1}},
            "events": {"min": {"greater_than": 0}},
            "revenue": {"min": {"geq_to": 0}},
        },
        retries=0,  # a failed check is a data problem, not a transient one
    )

    rollup >> check_rollup >> report_rollup()
