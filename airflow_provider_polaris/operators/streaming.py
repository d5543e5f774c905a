"""Operators for streaming jobs: start one, reset its offsets, suspend and resume it.

A streaming job never completes: the operators wait until it is ``running`` or ``idle`` (healthy
and live), or for a suspend until it is ``suspended``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow_provider_polaris._compat import AirflowFailException, BaseOperator
from airflow_provider_polaris.client import PolarisNotFoundError
from airflow_provider_polaris.operators._job_base import PolarisJobOperatorBase
from airflow_provider_polaris.operators._lifecycle import ClosesPolarisClient
from airflow_provider_polaris.operators._reattach import same_request
from airflow_provider_polaris.outcomes import STREAMING_LIVE, JobState

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.hooks.polaris import PolarisHook

__all__ = [
    "IfRunning",
    "PolarisResetStreamingJobOperator",
    "PolarisResumeJobOperator",
    "PolarisStreamingJobOperator",
    "PolarisSuspendJobOperator",
]


IfRunning = Literal["keep", "replace", "fail"]
_IF_RUNNING = ("keep", "replace", "fail")
# A streaming job in one of these states still owns its table: Polaris refuses a second one.
_OCCUPYING = ["pending", "running", "idle", "suspended", "unknown"]


class PolarisStreamingJobOperator(PolarisJobOperatorBase):
    """Start a streaming job and wait until it is ``running`` or ``idle`` (never for completion).

    :param job_spec: a ``streaming`` job spec (dict, JSON text or ``.json`` template file).
    :param if_running: what to do when the target table already has a streaming job (pending,
        running, idle, suspended or unknown; one being canceled does not count), checked before
        any create:

        - ``"keep"`` (default): if that job reads the same way (same type, target table and source
          connection: the fields a retry compares to reattach), reattach to it instead of
          submitting (push its ``job_id``/``job_url``, wait for ``running``/``idle``; it is never
          canceled by this task, as this task did not start it). If it differs, fail before any
          create, naming the job and the fix (``if_running="replace"``). This makes a *scheduled*
          "ensure the stream runs" DAG idempotent. Changes of mappings or schema are not
          compared: roll out a changed spec with ``"replace"``.
        - ``"replace"``: submit with ``replaceRunning: true`` (Polaris replaces the job).
        - ``"fail"``: fail (no retry) if the table has such a job.

        The default is ``"keep"`` unless ``replace_running=True`` or the spec sets
        ``replaceRunning: true`` (then ``"replace"``), or ``replace_running=False`` (``"fail"``).
    :param replace_running: older switch: ``True`` means ``if_running="replace"``, ``False``
        ``if_running="fail"``.

    ``timeout`` bounds the wait for the job to go live (a job this task submitted is then
    canceled). A retry reattaches to the streaming job an earlier try started when it is still
    live.
    """

    template_fields: Sequence[str] = ("job_spec", "polaris_conn_id")
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"job_spec": "json"}
    wait_target_statuses: ClassVar[frozenset[str] | None] = STREAMING_LIVE

    def __init__(
        self,
        *,
        job_spec: Mapping[str, Any] | str,
        if_running: IfRunning | None = None,
        replace_running: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_running is not None and if_running not in _IF_RUNNING:
            raise ValueError(f"if_running must be one of {_IF_RUNNING}, not {if_running!r}")
        if replace_running is not None and if_running is not None:
            implied = "replace" if replace_running else "fail"
            if (if_running == "replace") != (implied == "replace"):
                raise ValueError(
                    f"if_running={if_running!r} contradicts replace_running={replace_running!r}; "
                    "pass only if_running"
                )
        self.job_spec = job_spec
        self.if_running = if_running
        self.replace_running = replace_running
        # The table's existing job this task reattached to under "keep": never canceled by us.
        self.kept_job_id: str | None = None

    def _mode(self, spec_replaces: bool) -> str:
        if self.if_running is not None:
            if spec_replaces and self.if_running != "replace":
                raise AirflowFailException(
                    f"The job spec sets replaceRunning: true but if_running={self.if_running!r}; "
                    "drop replaceRunning from the spec or use if_running='replace'."
                )
            return self.if_running
        if self.replace_running is not None:
            return "replace" if self.replace_running else "fail"
        return "replace" if spec_replaces else "keep"

    def build_job_spec(self, context: Context) -> Mapping[str, Any] | str:
        import json

        spec = self.job_spec
        if isinstance(spec, str):
            try:
                spec = json.loads(spec)
            except ValueError:
                return spec  # render_job_request reports the JSON error
        if not isinstance(spec, Mapping):
            return spec
        spec = dict(spec)
        if self._mode(spec.get("replaceRunning") is True) == "replace":
            spec["replaceRunning"] = True
        elif self.replace_running is False:
            spec["replaceRunning"] = False
        return spec

    def check_job_spec(self, spec: Any) -> None:
        if spec.job_type != "streaming":
            raise AirflowFailException(
                f"PolarisStreamingJobOperator needs a 'streaming' job spec, got {spec.job_type!r}; "
                "use PolarisCreateJobOperator for other job types."
            )

    def submit(self, context: Context, client: Any, body: Mapping[str, Any]) -> Mapping[str, Any]:
        if body.get("replaceRunning") is not True:
            mode = self._mode(False)
            existing = self.find_table_jobs(client, body)
            if existing:
                kept = self.resolve_existing(mode, body, existing)
                if kept is not None:
                    return kept
        return super().submit(context, client, body)

    def find_table_jobs(self, client: Any, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The streaming jobs that currently hold the target table, newest first (full docs)."""
        target = body.get("target")
        table = target.get("tableName") if isinstance(target, Mapping) else None
        if not table:
            return []
        jobs = []
        for summary in client.jobs.iter_all(
            type=["streaming"],
            target_table_name=table,
            execution_status=_OCCUPYING,
            sort_column="created_date_time",
            sort_order="DESC",
        ):
            if not isinstance(summary, Mapping) or not isinstance(summary.get("id"), str):
                continue
            try:
                job = client.jobs.get(summary["id"])
            except PolarisNotFoundError:
                continue
            state = JobState(job)
            if state.target_table not in (None, table) or state.desired_status == "canceled":
                continue
            if state.execution_status in _OCCUPYING:
                jobs.append(job)
        return jobs

    def resolve_existing(
        self, mode: str, body: Mapping[str, Any], existing: list[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        """Apply ``if_running`` to the table's current streaming jobs: the job to keep, or raise."""
        table = (body.get("target") or {}).get("tableName")
        described = "; ".join(f"{j.get('id')} ({JobState(j).describe()})" for j in existing)
        if mode == "fail":
            raise AirflowFailException(
                f"Table {table!r} already has a streaming job: {described}. if_running='fail' "
                "refuses to start another; use if_running='keep' to keep a matching job or "
                "if_running='replace' to replace it."
            )
        matching = [j for j in existing if same_request(j, body)]
        if not matching:
            raise AirflowFailException(
                f"Table {table!r} already has a streaming job with a different spec: {described} "
                f"(this task would read connection {_connection(body)!r}; it reads "
                f"{', '.join(repr(_connection(j)) for j in existing)}). Nothing was submitted. "
                "Use if_running='replace' to replace it, or cancel it first."
            )
        job = matching[0]
        state = JobState(job)
        if state.execution_status == "suspended":
            raise AirflowFailException(
                f"Table {table!r} already has a matching streaming job {state.job_id}, but it is "
                "suspended; resume it (PolarisResumeJobOperator) or use if_running='replace'."
            )
        self.kept_job_id = state.job_id
        self.log.info(
            "Table %r already has a matching streaming job %s (%s); keeping it "
            "(if_running='keep', nothing submitted)",
            table,
            state.job_id,
            state.describe(),
        )
        return job

    def resume_kwargs(self) -> dict[str, Any]:
        return {"kept_job_id": self.kept_job_id} if self.kept_job_id else {}

    def execute_complete(
        self, context: Context, event: Any = None, kept_job_id: str | None = None
    ) -> Any:
        self.kept_job_id = kept_job_id
        return super().execute_complete(context, event)

    def cancel_job(self, job_id: str, *, reason: str) -> bool:
        if job_id == self.kept_job_id:
            self.log.warning(
                "Not canceling Polaris streaming job %s (%s): this task did not start it "
                "(if_running='keep')",
                job_id,
                reason,
            )
            return False
        return super().cancel_job(job_id, reason=reason)

    def defer_wait(self, job_id: str, deadline: float | None) -> None:
        if job_id == self.kept_job_id:
            # The trigger must not cancel a job this task did not start.
            self.cancel_on_kill = False
        super().defer_wait(job_id, deadline)


def _connection(doc: Mapping[str, Any]) -> Any:
    spec = doc.get("spec") if isinstance(doc.get("spec"), Mapping) else doc
    source = spec.get("source") if isinstance(spec, Mapping) else None
    return source.get("connectionName") if isinstance(source, Mapping) else None


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


class PolarisResetStreamingJobOperator(ClosesPolarisClient, BaseOperator):
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
