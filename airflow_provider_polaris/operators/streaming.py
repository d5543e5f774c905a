"""Operators for streaming jobs: start one, reset its offsets, suspend and resume it.

A streaming job never completes: the operators wait until it is ``running`` or ``idle`` (healthy
and live), or for a suspend until it is ``suspended``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.operators._control import PolarisJobControlOperatorBase
from airflow_provider_polaris.operators._job_base import PolarisJobOperatorBase
from airflow_provider_polaris.outcomes import STREAMING_LIVE, JobState

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context

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
_KEPT = "this task did not start it: it kept the table's running job, if_running='keep'"


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
        self.not_owned_reason = None  # owned unless resolve_existing keeps the table's job
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
        from airflow_provider_polaris.client.errors import PolarisNotFoundError

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
        from airflow_provider_polaris.operators._reattach import same_request

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
        self.not_owned_reason = _KEPT
        self.log.info(
            "Table %r already has a matching streaming job %s (%s); keeping it "
            "(if_running='keep', nothing submitted)",
            table,
            state.job_id,
            state.describe(),
        )
        return job

    def resume_kwargs(self) -> dict[str, Any]:
        return {"kept_job_id": self.submitted_job_id} if self.not_owned_reason else {}

    def execute_complete(
        self, context: Context, event: Any = None, kept_job_id: str | None = None
    ) -> Any:
        if kept_job_id:  # the wait was on the table's job this task kept, not on its own
            self.not_owned_reason = _KEPT
        return super().execute_complete(context, event)


def _connection(doc: Mapping[str, Any]) -> Any:
    spec = doc.get("spec") if isinstance(doc.get("spec"), Mapping) else doc
    source = spec.get("source") if isinstance(spec, Mapping) else None
    return source.get("connectionName") if isinstance(source, Mapping) else None


class _SetStatusOperator(PolarisJobControlOperatorBase):
    """Request ``desired`` as the job's ``desiredExecutionStatus``, then wait."""

    desired: ClassVar[str] = ""

    def control(self, context: Context, client: Any) -> Mapping[str, Any]:
        job_id = str(self.job_id)
        client.jobs.set_status(job_id, self.desired)
        self.log.info("Requested %s for Polaris job %s", self.desired, job_id)
        return client.jobs.get(job_id)


class PolarisSuspendJobOperator(_SetStatusOperator):
    """Suspend a streaming job and wait until it is ``suspended`` (unless told not to wait)."""

    verb = "suspends"
    desired = "suspended"
    wait_target_statuses: ClassVar[frozenset[str] | None] = frozenset({"suspended"})


class PolarisResumeJobOperator(_SetStatusOperator):
    """Resume a suspended streaming job and wait until it is ``running`` or ``idle``."""

    verb = "resumes"
    desired = "running"
    wait_target_statuses: ClassVar[frozenset[str] | None] = STREAMING_LIVE


class PolarisResetStreamingJobOperator(PolarisJobControlOperatorBase):
    """Reset a streaming job's offsets back to its ``readFromPoint``, then wait until it is
    ``running`` or ``idle`` again.

    Give ``job_id``, or ``target_table`` to reset the table's live streaming job (found with
    ``GET /jobs?type=streaming&targetTableName=...&executionStatus=running|idle|pending``).
    Returns the final job document; pushes ``job_id`` and ``job_url``. ``deferrable``,
    ``wait_for_completion``, ``poll_interval`` and ``timeout`` work as for the other job
    operators (a timeout fails the task and leaves the job as it is).
    """

    template_fields: Sequence[str] = ("job_id", "target_table", "polaris_conn_id")
    verb = "resets"
    wait_target_statuses: ClassVar[frozenset[str] | None] = STREAMING_LIVE

    def __init__(
        self,
        *,
        job_id: str | None = None,
        target_table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(job_id=job_id, **kwargs)
        if not job_id and not target_table:
            raise ValueError("Give job_id or target_table")
        self.target_table = target_table

    def find_streaming_job(self, client: Any) -> str:
        """The id of the one live streaming job writing to ``target_table``."""
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

    def control(self, context: Context, client: Any) -> Mapping[str, Any]:
        job_id = self.job_id or self.find_streaming_job(client)
        job: Mapping[str, Any] = client.jobs.get(job_id)
        state = JobState(job)
        if state.job_type and state.job_type != "streaming":
            raise AirflowFailException(
                f"Polaris job {job_id} is a {state.job_type} job; only streaming jobs reset."
            )
        client.jobs.reset(job_id)
        self.log.info(
            "Reset the offsets of streaming job %s (table %r)", job_id, state.target_table
        )
        return client.jobs.get(job_id)
