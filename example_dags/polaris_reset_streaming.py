"""Reset a streaming job's offsets, on demand: trigger with a table or a job id.

Polaris keeps one read position per table and topic/stream. Resetting a running streaming job
(``POST /jobs/{id}/reset``) throws that position away: ingestion restarts from the job's
``readFromPoint`` (``latest`` by default, or ``earliest``).

.. warning::

   A reset may SKIP or DUPLICATE events. With ``readFromPoint: "latest"`` every event produced
   between the last ingested one and the reset is never ingested; with ``"earliest"`` every event
   still retained in the topic/stream is ingested again, so rows already in the table appear
   twice. Reset only to recover a job stuck on offsets that no longer exist (a recreated topic,
   expired retention), and check the table afterwards.

Trigger it by hand (``schedule=None``) with one of the params:

- ``table``: reset the one live (``running``/``idle``/``pending``) streaming job writing to it;
- ``job_id``: reset that job (wins when both are given).

``airflow dags trigger polaris_reset_streaming --conf '{"table": "orders"}'``. The reset task
waits until the job is ``running`` or ``idle`` again and returns the job document.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_polaris.operators.streaming import PolarisResetStreamingJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]

POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))

with DAG(
    dag_id="polaris_reset_streaming",
    schedule=None,  # only ever by hand: a reset may skip or duplicate events
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["polaris", "example", "streaming"],
    params={
        "table": Param("", type="string", description="Reset the live streaming job of this table"),
        "job_id": Param("", type="string", description="Or reset this streaming job"),
    },
    doc_md=__doc__,
) as dag:

    @task
    def check_params(params: dict[str, Any] | None = None) -> str:
        """Fail (no retry) before any request when the run names neither a table nor a job."""
        params = params or {}
        if not (params.get("table") or params.get("job_id")):
            raise AirflowFailException(
                'Trigger polaris_reset_streaming with --conf \'{"table": "<table>"}\' or '
                '\'{"job_id": "<streaming job id>"}\': it names neither.'
            )
        return str(params.get("job_id") or params["table"])

    reset = PolarisResetStreamingJobOperator(
        task_id="reset_streaming_job",
        job_id="{{ params.job_id }}",  # empty: find the job by table
        target_table="{{ params.table }}",
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(minutes=15),
    )

    check_params() >> reset
