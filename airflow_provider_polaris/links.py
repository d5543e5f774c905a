"""Operator extra links to the Polaris console."""

from __future__ import annotations

from typing import Any

from airflow_provider_polaris._compat import BaseOperatorLink, XCom

JOB_URL_XCOM_KEY = "job_url"
JOB_ID_XCOM_KEY = "job_id"


class PolarisJobLink(BaseOperatorLink):
    """ "Polaris job": the console page of the task's job (read from XCom ``job_url``).

    Every job operator (submit, cancel, reset, suspend, resume) and ``PolarisJobSensor`` push the
    URL before they wait, so the link works while the job runs. Airflow 2.11 calls ``get_link``
    when the UI asks; 3.x calls it when the task ends and stores the result.
    """

    name = "Polaris job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = XCom.get_value(ti_key=ti_key, key=JOB_URL_XCOM_KEY)
        return url if isinstance(url, str) else ""
