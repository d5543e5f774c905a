"""Daily maintenance: delete data older than a retention window, drop a scratch table.

Two Polaris data-management jobs, submitted with ``PolarisCreateJobOperator`` (which waits until
the job completes; a failed job fails the task):

1. ``delete_old_data`` — a ``delete_data`` job on ``params.table`` whose ``target.intervals`` is
   everything before the cutoff: ``data_interval_end`` minus ``params.retention_days`` days,
   rounded down to midnight UTC. Polaris widens a delete interval to whole segments, so the
   cutoff is kept on a day boundary (the usual ``day`` partitioning) to delete exactly the
   days before it. The interval comes from the run's date, so a rerun or a backfill of a day
   deletes the same range.
2. ``scratch_table_exists`` then ``drop_scratch_table`` — a ``drop_table`` job on
   ``params.scratch_table`` (a staging table another pipeline fills), skipped when the table is
   not there, so a rerun succeeds.

Deletion jobs cannot be canceled or updated once submitted. Set ``"softDelete": true`` in either
spec to keep the data restorable for 30 days. Tune with params when triggering by hand:
``airflow dags trigger polaris_maintenance --conf '{"retention_days": 30}'``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_polaris.client import PolarisNotFoundError
from airflow_provider_polaris.hooks.polaris import PolarisHook
from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable, Param, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))
# Midnight UTC of the day retention_days before the run's end: older data is deleted.
CUTOFF = (
    "{{ (data_interval_end - macros.timedelta(days=params.retention_days))"
    ".strftime('%Y-%m-%dT00:00:00Z') }}"
)

with DAG(
    dag_id="polaris_maintenance",
    schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["polaris", "example", "maintenance"],
    params={
        "table": Param("events", type="string", description="Table to apply retention to"),
        "retention_days": Param(90, type="integer", minimum=1, description="Days to keep"),
        "scratch_table": Param("events_scratch", type="string", description="Table to drop"),
    },
    doc_md=__doc__,
) as dag:
    PolarisCreateJobOperator(
        task_id="delete_old_data",
        job_spec={
            "type": "delete_data",
            "target": {
                "type": "table",
                "tableName": "{{ params.table }}",
                "intervals": [f"1970-01-01T00:00:00Z/{CUTOFF}"],
            },
        },
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
    )

    @task.short_circuit
    def scratch_table_exists(params: dict[str, Any] | None = None) -> bool:
        """Skip the drop when the scratch table is not there (already dropped, never filled)."""
        name = (params or {})["scratch_table"]
        with PolarisHook().get_client() as client:
            try:
                client.tables.get(name)
            except PolarisNotFoundError:
                print(f"Table {name!r} does not exist: nothing to drop")
                return False
        return True

    drop = PolarisCreateJobOperator(
        task_id="drop_scratch_table",
        job_spec={
            "type": "drop_table",
            "target": {"type": "table", "tableName": "{{ params.scratch_table }}"},
        },
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=1),
    )
    scratch_table_exists() >> drop
