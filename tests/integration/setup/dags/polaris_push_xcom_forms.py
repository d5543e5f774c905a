"""Test DAGs: an upstream task's events reach PolarisPushEventsOperator in every documented form.

Copied into the test DAGs folder by ``test_push_xcom_forms.py``. Each push task pushes to the
``push`` connection (read by a streaming job into table ``ev``) and fails on any rejection.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow_provider_polaris.operators.events import PolarisPushEventsOperator

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


with DAG(
    dag_id="polaris_push_xcom_forms", schedule=None, start_date=START, catchup=False
) as forms_dag:

    @task
    def build_events() -> list[dict[str, Any]]:
        # True and None make Jinja's rendering (Python repr) differ from JSON.
        return [{"__time": _now(), "i": i, "ok": True, "note": None} for i in (1, 2, 3)]

    @task
    def build_ndjson() -> str:
        return "\n".join(f'{{"__time": "{_now()}", "i": {i}}}' for i in (11, 12)) + "\n"

    events = build_events()
    templated = PolarisPushEventsOperator(
        task_id="push_templated",
        connection_name="push",
        events="{{ ti.xcom_pull('build_events') }}",  # rendered as text
        max_rejected=0,
    )
    events >> templated
    PolarisPushEventsOperator(
        task_id="push_xcomarg", connection_name="push", events=events, max_rejected=0
    )
    ndjson = PolarisPushEventsOperator(
        task_id="push_ndjson_text",
        connection_name="push",
        events="{{ ti.xcom_pull('build_ndjson') }}",
        max_rejected=0,
    )
    build_ndjson() >> ndjson


with DAG(
    dag_id="polaris_push_xcom_native",
    schedule=None,
    start_date=START,
    catchup=False,
    render_template_as_native_obj=True,  # templates render Python objects, not text
) as native_dag:

    @task
    def build_native_events() -> list[dict[str, Any]]:
        return [{"__time": _now(), "i": i} for i in (21, 22)]

    native = PolarisPushEventsOperator(
        task_id="push_native",
        connection_name="push",
        events="{{ ti.xcom_pull('build_native_events') }}",
        max_rejected=0,
    )
    build_native_events() >> native
