"""What a task tells the user about its Polaris job: the console link and the failure message.

Shared by the job operators and ``PolarisJobSensor`` so that both push the same XCom (the
"Polaris job" extra link reads it) and explain a failure the same way (deliverable: the task log
says what went wrong without opening Polaris).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_polaris.links import JOB_ID_XCOM_KEY, JOB_URL_XCOM_KEY
from airflow_provider_polaris.outcomes import describe_failure


def console_url(hook: Any, job_id: str) -> str | None:
    """The job's page in the Polaris console; ``None`` when the connection cannot say."""
    try:
        url: str = hook.get_config().job_console_url(job_id)
        return url
    except Exception:  # a link is a convenience; never fail the task for it
        return None


def publish_job(context: Mapping[str, Any], hook: Any, job_id: str, log: Any) -> None:
    """Push ``job_id`` and ``job_url`` to XCom (before waiting: the extra link reads them)."""
    url = console_url(hook, job_id)
    ti = context["ti"]
    ti.xcom_push(key=JOB_ID_XCOM_KEY, value=job_id)
    if url:
        ti.xcom_push(key=JOB_URL_XCOM_KEY, value=url)
        log.info("Polaris job %s: %s", job_id, url)


def explain_failure(
    hook: Any, job_id: str, job: Mapping[str, Any] | None, headline: str, log: Any
) -> str:
    """The failure message: ``headline``, the job's state, row metrics (``/metrics``), the last
    log lines (``/logs``) and the console URL. Fetching is best effort."""
    logs = metrics = None
    try:
        client = hook.get_client()
        logs = client.jobs.get_logs(job_id)
        metrics = client.jobs.get_metrics(job_id)
    except Exception as exc:
        log.debug("Could not fetch logs/metrics of Polaris job %s: %s", job_id, exc)
    return describe_failure(job, logs, metrics, console_url(hook, job_id), headline=headline)
