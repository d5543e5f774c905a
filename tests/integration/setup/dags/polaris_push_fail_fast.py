"""Test DAG: a push task with ``retries=2`` whose Airflow connection has a wrong API key (set by
``test_push_fail_fast.py``): it must fail on its first try."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.events import PolarisPushEventsOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
NOW = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # within the acceptance window

with DAG(
    dag_id="polaris_push_fail_fast",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
) as push_fail_fast_dag:
    PolarisPushEventsOperator(
        task_id="push",
        connection_name="push",
        events=[{"__time": NOW, "i": i} for i in range(1, 11)],
        push_options={"max_retries": 2},
    )
