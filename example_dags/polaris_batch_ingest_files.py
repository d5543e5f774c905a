"""Daily batch load of NDJSON files: create the table, upload the day's files, ingest, check.

Every day, load the click files exported for the day that just ended into the ``clicks`` detail
table:

1. ``PolarisCreateTableOperator`` makes sure the table exists (``if_exists="ignore"``: safe on
   every run; differences from the spec are logged, nothing is changed).
2. ``PolarisUploadFilesOperator`` uploads ``clicks-<day>.ndjson`` from a local folder (``paths``
   also takes globs and ``s3://``/``gs://`` URLs). Files already in Polaris with the same MD5 are
   skipped, so a rerun does not upload again (a changed file of the same name fails the task:
   pass ``if_exists="replace"`` to re-upload it). Its XCom value is the list of Polaris file names.
3. ``PolarisBatchIngestionOperator`` ingests exactly those files (``files=upload.output``) in
   **replace** mode over the run's data interval: a rerun overwrites the day instead of appending
   duplicates. The wait is deferrable.
4. A ``@task`` counts the day's rows with Polaris SQL and fails the run when nothing landed.

The files are read from ``$POLARIS_EXAMPLE_DATA_DIR`` (default: the ``data/`` folder next to this
file, which holds a sample for 2026-01-01). Try it with ``airflow dags test
polaris_batch_ingest_files 2026-01-02``: that run covers 2026-01-01.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.hooks.polaris import PolarisHook
from airflow_provider_polaris.operators.files import PolarisUploadFilesOperator
from airflow_provider_polaris.operators.jobs import PolarisBatchIngestionOperator
from airflow_provider_polaris.operators.tables import PolarisCreateTableOperator

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

TABLE = "clicks"
DATA_DIR = os.environ.get(
    "POLARIS_EXAMPLE_DATA_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
)
POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))

with DAG(
    dag_id="polaris_batch_ingest_files",
    # Fires at midnight UTC; the data interval is the day that just ended.
    schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["polaris", "example"],
    doc_md=__doc__,
) as dag:
    create_table = PolarisCreateTableOperator(
        task_id="create_table",
        table={
            "name": TABLE,
            "type": "detail",
            "schemaMode": "strict",
            "partitioningGranularity": "day",
            "schema": [
                {"name": "__time", "dataType": "timestamp"},
                {"name": "user_id", "dataType": "string"},
                {"name": "country", "dataType": "string"},
                {"name": "page", "dataType": "string"},
                {"name": "latency_ms", "dataType": "long"},
            ],
        },
        if_exists="ignore",
    )

    upload = PolarisUploadFilesOperator(
        task_id="upload_files",
        paths=[DATA_DIR + "/clicks-{{ data_interval_start.strftime('%Y-%m-%d') }}.ndjson"],
    )

    ingest = PolarisBatchIngestionOperator(
        task_id="ingest_files",
        target_table=TABLE,
        files=upload.output,  # the uploaded Polaris file names, from XCom
        input_schema=[
            {"name": "timestamp", "dataType": "string"},
            {"name": "user_id", "dataType": "string"},
            {"name": "country", "dataType": "string"},
            {"name": "page", "dataType": "string"},
            {"name": "latency_ms", "dataType": "long"},
        ],
        format_settings={"format": "nd-json"},
        mappings=[
            {"columnName": "__time", "expression": 'TIME_PARSE("timestamp")'},
            {"columnName": "user_id", "expression": '"user_id"'},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "page", "expression": '"page"'},
            {"columnName": "latency_ms", "expression": '"latency_ms"'},
        ],
        # Overwrite the run's day (the data interval) so reruns never duplicate rows.
        ingestion_mode="replace",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=2),
    )

    @task
    def check_rows(
        data_interval_start: datetime | None = None, data_interval_end: datetime | None = None
    ) -> int:
        """Count the day's rows with Polaris SQL; fail the run when nothing landed."""
        assert data_interval_start is not None and data_interval_end is not None
        with PolarisHook().get_client() as client:
            rows = client.query.sql(
                f'SELECT COUNT(*) AS "rows" FROM "{TABLE}" '
                f"WHERE \"__time\" >= TIMESTAMP '{data_interval_start:%Y-%m-%d %H:%M:%S}' "
                f"AND \"__time\" < TIMESTAMP '{data_interval_end:%Y-%m-%d %H:%M:%S}'"
            )
        count = int(rows[0]["rows"])
        print(f"{TABLE}: {count} rows for {data_interval_start:%Y-%m-%d}")
        if count == 0:
            raise ValueError(f"no rows in {TABLE!r} for {data_interval_start:%Y-%m-%d}")
        return count

    create_table >> ingest >> check_rows()
