"""Push events over HTTP: a push_streaming connection, a streaming job, a push, a check.

Polaris ingests events pushed to a ``push_streaming`` connection while a streaming job reads
that connection. This DAG sets both up idempotently and then pushes a batch of events that a
``@task`` builds (from an API, a queue, a database: here they are generated):

1. ``PolarisCreateConnectionOperator`` creates the ``orders_push`` connection (``if_exists=
   "ignore"``: an existing one is kept). Push connections take no secrets.
2. ``PolarisStreamingJobOperator`` starts a streaming job from the connection into the ``orders``
   table (``createTableIfNotExists``) and waits until it is ``running`` or ``idle`` — events
   pushed before a job reads the connection are not ingested anywhere. ``if_running="keep"``
   (the default) makes later runs keep the table's live job when it reads the same connection:
   no restart, no duplicate. Roll out a changed spec with ``if_running="replace"``. For frequent
   pushes, move steps 1-2 to a set-up DAG and keep only the push here.
3. ``PolarisPushEventsOperator`` pushes the events from XCom (``events=build_events()``),
   batched and paced at the organisation's rate limit; its XCom value is the push report.
4. A ``@task`` waits until Polaris has the accepted events (streaming ingestion takes a few
   seconds) by counting this run's rows with SQL.

Pushed events must be recent (Polaris skips events older than the job's
``lateMessageRejectionPeriod``, 30 days by default), so they carry the time they are built.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_polaris.hooks.polaris import PolarisHook
from airflow_provider_polaris.operators.connections import PolarisCreateConnectionOperator
from airflow_provider_polaris.operators.events import PolarisPushEventsOperator
from airflow_provider_polaris.operators.streaming import PolarisStreamingJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]

CONNECTION = "orders_push"
TABLE = "orders"
POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))

with DAG(
    dag_id="polaris_push_streaming",
    schedule=None,  # trigger it (or make it asset-driven) when there are events to push
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["polaris", "example"],
    doc_md=__doc__,
) as dag:
    connection = PolarisCreateConnectionOperator(
        task_id="create_push_connection",
        connection={"type": "push_streaming", "name": CONNECTION},
        if_exists="ignore",
    )

    streaming_job = PolarisStreamingJobOperator(
        task_id="start_streaming_job",
        job_spec={
            "type": "streaming",
            "source": {
                "type": "connection",
                "connectionName": CONNECTION,
                "inputSchema": [
                    {"name": "timestamp", "dataType": "string"},
                    {"name": "order_id", "dataType": "string"},
                    {"name": "country", "dataType": "string"},
                    {"name": "amount", "dataType": "double"},
                    {"name": "batch_id", "dataType": "string"},
                ],
                "formatSettings": {"format": "nd-json"},
            },
            "target": {"type": "table", "tableName": TABLE},
            "createTableIfNotExists": True,
            "mappings": [
                {"columnName": "__time", "expression": 'TIME_PARSE("timestamp")'},
                {"columnName": "order_id", "expression": '"order_id"'},
                {"columnName": "country", "expression": '"country"'},
                {"columnName": "amount", "expression": '"amount"'},
                {"columnName": "batch_id", "expression": '"batch_id"'},
            ],
        },
        if_running="keep",  # a later run reattaches to the live job instead of restarting it
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(minutes=15),
    )

    @task
    def build_events(run_id: str | None = None) -> list[dict[str, Any]]:
        """The events to push; in real life read from an API, a queue or a database."""
        now = datetime.now(timezone.utc)
        rng = random.Random(run_id)
        return [
            {
                "timestamp": (now - timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "order_id": f"{run_id}-{i}",
                "country": rng.choice(["DE", "FR", "JP", "US"]),
                "amount": round(rng.uniform(5, 200), 2),
                "batch_id": run_id,
            }
            for i in range(120)
        ]

    push = PolarisPushEventsOperator(
        task_id="push_events",
        connection_name=CONNECTION,
        events=build_events(),  # the list from XCom
        time_field="timestamp",
        max_rejected=0,  # fail the task when any event is rejected (bad time, bad JSON...)
    )

    @task
    def check_rows(report: dict[str, Any], run_id: str | None = None) -> int:
        """Wait until Polaris has every accepted event of this run (ingestion takes seconds)."""
        deadline = time.monotonic() + 300
        with PolarisHook().get_client() as client:
            while True:
                rows = client.query.sql(
                    f'SELECT COUNT(*) AS "rows" FROM "{TABLE}" WHERE "batch_id" = ?',
                    parameters=[{"type": "VARCHAR", "value": run_id}],
                )
                count = int(rows[0]["rows"])
                if count >= report["accepted"]:
                    print(f"{TABLE}: {count} rows from batch {run_id}")
                    return count
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{count} of {report['accepted']} events arrived in time")
                time.sleep(min(POLL_INTERVAL, 5))

    connection >> streaming_job >> push
    check_rows(push.output)
