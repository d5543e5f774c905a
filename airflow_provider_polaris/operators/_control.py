"""Base of the operators that act on an existing job (cancel, reset, suspend, resume) and wait.

They share everything with the job operators -- ``deferrable``, ``wait_for_completion``,
``poll_interval``, ``timeout``, the ``job_id``/``job_url`` XCom and the "Polaris job" link, the
final job as the return value -- except the submit, which becomes one control request, and
ownership: the task did not start the job, so it never cancels it (on kill or on timeout).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris.operators._job_base import PolarisJobOperatorBase

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context


class PolarisJobControlOperatorBase(PolarisJobOperatorBase):
    """Send one control request for a job (:meth:`control`), then wait until the job reaches
    ``wait_target_statuses`` (in the worker or deferred, like any job operator).

    :param job_id: the Polaris job (templated).
    """

    template_fields: Sequence[str] = ("job_id", "polaris_conn_id")
    reattach_previous_job: ClassVar[bool] = False
    # The job's rows are its submitter's to report, not this task's.
    report_row_counts: ClassVar[bool] = False
    # What the task does to the job, for log and timeout messages ("cancels", "suspends"...).
    verb: ClassVar[str] = ""

    def __init__(self, *, job_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        # The job is not this task's: never cancel it when the task is killed.
        self.cancel_on_kill = False

    def render_job_request(self, context: Context) -> dict[str, Any]:
        return {}

    def why_not_owned(self, job_id: str) -> str | None:
        return f"this task only {self.verb} it"

    def submit(self, context: Context, client: Any, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.control(context, client)

    def control(self, context: Context, client: Any) -> Mapping[str, Any]:
        """Send the request and return the job document the wait starts from."""
        raise NotImplementedError
