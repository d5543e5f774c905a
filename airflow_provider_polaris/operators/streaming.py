"""Operators for streaming jobs: start one, reset its offsets, suspend and resume it.

A streaming job never completes: the operators wait until it is ``running`` or ``idle`` (healthy
and live), or for a suspend until it is ``suspended``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris._compat import AirflowFailException, BaseOperator
from airflow_provider_polaris.operators._job_base import PolarisJobOperatorBase
from airflow_provider_polaris.outcomes import STREAMING_LIVE, JobState

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.hooks.polaris import PolarisHook

__all__ = [
    "PolarisResetStreamingJobOperator",
    "PolarisResumeJobOperator",
    "PolarisStreamingJobOperator",
    "PolarisSuspendJobOperator",
]


class PolarisStreamingJobOperator(PolarisJobOperatorBase):
    """Start a streaming job and wait until it is ``running`` or ``idle`` (never for completion).

    :param job_spec: a ``streaming`` job spec (dict, JSON text or ``.json`` template file).
    :param replace_running: replace the table's current streaming job (``replaceRunning``).

    ``timeout`` bounds the wait for the job to go live (the job is then canceled). A retry
    reattaches to the streaming job an earlier try started when it is still live.
    """

    template_fields: Sequence[str] = ("job_spec", "polaris_conn_id")
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"job_spec": "json"}
    wait_target_statuses: ClassVar[frozenset[str] | None] = STREAMING_LIVE

    def __init__(
        self,
        *,
        job_spec: Mapping[str, Any] | str,
        replace_running: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_spec = job_spec
        self.replace_running = replace_running

    def build_job_spec(self, context: Context) -> Mapping[str, Any] | str:
        if self.replace_running is None:
            return self.job_spec
        import json

        spec = json.loads(self.job_spec) if isinstance(self.job_spec, str) else dict(self.job_spec)
        spec["replaceRunning"] = self.replace_running
        return spec

    def check_job_spec(self, spec: Any) -> None:
        if spec.job_type != "streaming":
            raise AirflowFailException(
                f"PolarisStreamingJobOperator needs a 'streaming' job spec, got {spec.job_type!r}; "
                "use PolarisCreateJobOperator for other job types."
            )


class _WaitingControlOperator(PolarisJobOperatorBase):
    """Set a job's desired status, then wait (in any mode) until it reaches the target."""

    template_fields: Sequence[str] = ("job_id", "polaris_conn_id")
    desired: ClassVar[str] = ""
    reattach_previous_job: ClassVar[bool] = False

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        # Suspending or resuming is not a job this task owns: never cancel it on kill/timeout.
        self.cancel_on_kill = False

    def render_job_request(self, context: Context) -> dict[str, Any]:
        return {}

    def submit(self, context: Context, client: Any, body: Mapping[str, Any]) -> Mapping[str, Any]:
        client.jobs.set_status(self.job_id, self.desired)
        self.log.info("Requested %s for Polaris job %s", self.desired, self.job_id)
        job: Mapping[str, Any] = client.jobs.get(self.job_id)
        return job

    def give_up(self, job_id: str) -> None:
        from airflow_provider_polaris.operators._job_base import PolarisJobTimeoutError

        raise PolarisJobTimeoutError(
            f"Polaris job {job_id} did not reach {sorted(self.wait_target_statuses or [])} in time."
        )


class PolarisSuspendJobOperator(_WaitingControlOperator):
    """Suspend a streaming job and wait until it is ``suspended`` (unless told not to wait)."""

    desired = "suspended"
    wait_target_statuses: ClassVar[frozenset[str] | None] = frozenset({"suspended"})


class PolarisResumeJobOperator(_WaitingControlOperator):
    """Resume a suspended streaming job and wait until it is ``running`` or ``idle``."""

    desired = "running"
    wait_target_statuses: ClassVar[frozenset[str] | None] = STREAMING_LIVE


class PolarisResetStreamingJobOperator(BaseOperator):
    """Reset a streaming job's offsets back to its ``readFromPoint``.

    Give ``job_id``, or ``target_table`` to reset the table's live streaming job (found with
    ``GET /jobs?type=streaming&targetTableName=...&executionStatus=running|idle|pending``).
    Returns the job id that was reset.
    """

    template_fields: Sequence[str] = ("job_id", "target_table", "polaris_conn_id")

    def __init__(
        self,
        *,
        job_id: str | None = None,
        target_table: str | None = None,
        polaris_conn_id: str = "polaris_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not job_id and not target_table:
            raise ValueError("Give job_id or target_table")
        self.job_id = job_id
        self.target_table = target_table
        self.polaris_conn_id = polaris_conn_id

    @cached_property
    def hook(self) -> PolarisHook:
        from airflow_provider_polaris.hooks.polaris import PolarisHook

        return PolarisHook(polaris_conn_id=self.polaris_conn_id)

    def find_streaming_job(self, client: Any) -> str:
        page = client.jobs.list(
            type=["streaming"],
            target_table_name=self.target_table,
            execution_status=["running", "idle", "pending"],
        )
        jobs = [
            j
            for j in page.get("values", [])
            if JobState(j).target_table in (None, self.target_table)
        ]
        if not jobs:
            raise AirflowFailException(
                f"No live streaming job writes to table {self.target_table!r}; nothing to reset."
            )
        if len(jobs) > 1:
            ids = ", ".join(str(j.get("id")) for j in jobs)
            raise AirflowFailException(
                f"Several live streaming jobs write to {self.target_table!r} ({ids}); pass job_id."
            )
        return str(jobs[0]["id"])

    def execute(self, context: Context) -> str:
        client = self.hook.get_client()
        job_id = self.job_id or self.find_streaming_job(client)
        job = client.jobs.get(job_id)
        state = JobState(job)
        if state.job_type and state.job_type != "streaming":
            raise AirflowFailException(
                f"Polaris job {job_id} is a {state.job_type} job; only streaming jobs reset."
            )
        client.jobs.reset(job_id)
        self.log.info(
            "Reset the offsets of streaming job %s (table %r)", job_id, state.target_table
        )
        context["ti"].xcom_push(key="job_id", value=job_id)
        return job_id
