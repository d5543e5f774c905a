"""Operator extra links to the Polaris console."""

from __future__ import annotations

from typing import Any

from airflow_provider_polaris._compat import BaseOperatorLink, XCom

JOB_URL_XCOM_KEY = "job_url"
JOB_ID_XCOM_KEY = "job_id"
# The attribute a job operator or sensor keeps the URL it pushed in (see PolarisJobLink.get_link).
JOB_URL_ATTR = "polaris_job_url"


class PolarisJobLink(BaseOperatorLink):
    """ "Polaris job": the console page of the task's job (read from XCom ``job_url``).

    Every job operator (submit, cancel, reset, suspend, resume) and ``PolarisJobSensor`` push the
    URL before they wait, so the link works while the job runs. Airflow 2.11 calls ``get_link``
    when the UI asks; 3.x calls it when the task ends and stores the result.
    """

    name = "Polaris job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        # Airflow 3 asks the task object that just ran; it knows whether it pushed a URL. A task
        # that failed before any job existed has ``""``: reading the never-pushed XCom would log
        # a misleading "XCom not found ... job_url" error. ``None``: not run in this process (a
        # 2.11 UI request, or a resumed deferral whose URL was pushed before deferring).
        known = getattr(operator, JOB_URL_ATTR, None)
        if isinstance(known, str):
            return known
        url = XCom.get_value(ti_key=ti_key, key=JOB_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
