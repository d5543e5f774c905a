"""Base of the operators that act on an existing job (cancel, reset, suspend, resume) and wait.

They share the wait half with the job operators -- ``deferrable``, ``wait_for_completion``,
``poll_interval``, ``timeout``, the ``job_id``/``job_url`` XCom and the "Polaris job" link, the
final job as the return value -- but instead of submitting they send one control request, and
they never own the job: the task did not start it, so it never cancels it (on kill or timeout).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris.operators._job_wait import PolarisJobWaitMixin

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context


class PolarisJobControlOperatorBase(PolarisJobWaitMixin):
    """Send one control request for a job (:meth:`control`), then wait until the job reaches
    ``wait_target_statuses`` (in the worker or deferred, like any job operator).

    :param job_id: the Polaris job (templated).
    """

    template_fields: Sequence[str] = ("job_id", "polaris_conn_id")
    # What the task does to the job, for log and timeout messages ("cancels", "suspends"...).
    verb: ClassVar[str] = ""

    def __init__(self, *, job_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.not_owned_reason = f"this task only {self.verb} it"

    def execute(self, context: Context) -> Any:
        self.polaris_job_url = ""  # no job yet: the link stays quietly absent if we fail now
        client = self.hook.get_client()
        job = self.control(context, client)
        return self.follow(context, client, job, self.wait_targets({}))

    def control(self, context: Context, client: Any) -> Mapping[str, Any]:
        """Send the request and return the job document the wait starts from."""
        raise NotImplementedError
