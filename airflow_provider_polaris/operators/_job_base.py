"""Shared plumbing of every operator that submits a Polaris job and waits on it.

``execute`` reads top to bottom: build and validate the spec (no request yet), reattach to an
earlier try's job or submit a new one, push ``job_id``/``job_url`` to XCom, then wait (in the
worker, or deferred to the triggerer) and turn the final job into a result or an exception through
:func:`~airflow_provider_polaris.outcomes.decide_outcome`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris._compat import (
    AirflowFailException,
    BaseOperator,
    conf,
)
from airflow_provider_polaris.exceptions import (
    PolarisJobCanceledError,
    PolarisJobFailedError,
    PolarisJobTimeoutError,
)
from airflow_provider_polaris.links import PolarisJobLink
from airflow_provider_polaris.operators._intervals import IntervalError
from airflow_provider_polaris.operators._lifecycle import ClosesPolarisClient
from airflow_provider_polaris.operators._reattach import (
    find_previous_job,
    forget_job,
    record_intent,
    remember_job,
)
from airflow_provider_polaris.operators._report import (
    console_url,
    explain_failure,
    publish_job,
    report_rows,
)
from airflow_provider_polaris.operators._request import (
    check_max_parse_exceptions,
    place_max_parse_exceptions,
)
from airflow_provider_polaris.operators._wait import (
    event_error,
    execution_timeout_deadline,
    fetch_progress,
    read_trigger_event,
    wait_for_job,
)
from airflow_provider_polaris.outcomes import (
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    STREAMING_LIVE,
    JobState,
    Outcome,
    check_max_unknown_polls,
    check_progress_interval,
    decide_outcome,
)

__all__ = [
    "PolarisJobCanceledError",
    "PolarisJobFailedError",
    "PolarisJobOperatorBase",
    "PolarisJobTimeoutError",
    "event_error",
    "execution_timeout_deadline",
    "fetch_progress",
    "read_trigger_event",
    "wait_for_job",
]

if TYPE_CHECKING:
    import jinja2

    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.hooks.polaris import PolarisHook


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, read when an operator is built (not at import)."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def to_seconds(value: float | timedelta | None) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError("timeout must be positive")
    return seconds


def json_safe(value: Any) -> Any:
    """A deep copy that XCom can store as JSON."""
    return json.loads(json.dumps(value, default=str))


_INGESTION_TYPES = frozenset({"batch", "sql"})

# Set on an operator while Airflow renders the inside of a template field (see render_template).
_RENDERING_NESTED = "_polaris_rendering_nested"


class PolarisJobOperatorBase(ClosesPolarisClient, BaseOperator):
    """Base of the operators that submit one Polaris job and (optionally) wait for it.

    :param polaris_conn_id: Airflow connection to Polaris.
    :param wait_for_completion: wait for the job's outcome (default); otherwise succeed once it
        is submitted.
    :param deferrable: wait in the triggerer instead of holding a worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks, in both modes.
    :param timeout: give up waiting after this long (seconds or ``timedelta``): a job this task
        submitted is asked to cancel and the task fails. ``None`` waits for ever (but see
        ``execution_timeout``: the wait also ends, and cancels the job, shortly before it).
    :param max_unknown_polls: consecutive ``unknown`` statuses tolerated before the task fails
        (``None``: no bound).
    :param progress_interval: seconds between samples of a running job's progress % and rows
        processed (two requests each), logged when they change; ``None``/``0``: never.
    :param cancel_on_kill: cancel the job when the task is killed, marked or cleared.
    :param max_parse_exceptions: unparseable rows the job may skip before it fails (sent as
        ``maxParseExceptions``; for a SQL job as ``context.maxParseExceptions``); ``0`` fails
        the job on the first bad row. ``None`` (default): Polaris' default (skip and count them;
        the task log then warns with the count).
    :param allow_unknown_fields: send spec fields the provider does not know (newer Polaris
        fields): ``True`` for any, or their paths (``["source.someNewField"]``); a warning is
        logged per field. Default ``False``: an unknown field fails before any request.

    Permanent errors (4xx answers but 408/429, a malformed connection or spec) fail the task
    without Airflow retries, naming the connection and the field to fix; 429, 5xx, network
    errors and timeouts stay retryable.
    """

    template_fields: Sequence[str] = ("polaris_conn_id",)
    operator_extra_links = (PolarisJobLink(),)
    ui_color = "#e8f1ff"
    # None: wait for a batch job to complete (a streaming spec waits for ``running``/``idle``);
    # control operators wait for these statuses.
    wait_target_statuses: ClassVar[frozenset[str] | None] = None
    # Whether an earlier try's job may be reattached to (off for operators whose job is a one-off).
    reattach_previous_job: ClassVar[bool] = True
    # Log the row counts of a completed job (off for operators that act on someone's job).
    report_row_counts: ClassVar[bool] = True
    # The console URL the "Polaris job" link shows: None until this object runs, then "" until
    # a job is known (so the link never reads an XCom that was never pushed).
    polaris_job_url: str | None = None

    def __init__(
        self,
        *,
        polaris_conn_id: str = "polaris_default",
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 30.0,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        max_unknown_polls: int | None = DEFAULT_MAX_UNKNOWN_POLLS,
        progress_interval: float | None = DEFAULT_PROGRESS_INTERVAL,
        max_parse_exceptions: int | None = None,
        allow_unknown_fields: bool | Sequence[str] = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.polaris_conn_id = polaris_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = to_seconds(timeout)
        self.cancel_on_kill = cancel_on_kill
        self.max_unknown_polls = check_max_unknown_polls(max_unknown_polls)
        self.progress_interval = check_progress_interval(progress_interval)
        self.submitted_job_id: str | None = None
        self._job_finished = False
        self.max_parse_exceptions = max_parse_exceptions
        from airflow_provider_polaris.models._strict import check_allow_unknown_fields

        self.allow_unknown_fields = check_allow_unknown_fields(allow_unknown_fields)

    @property
    def max_parse_exceptions(self) -> int | None:
        """Unparseable rows the job may skip (``None``: Polaris' default); validated on set."""
        return self.__dict__.get("_max_parse_exceptions")

    @max_parse_exceptions.setter
    def max_parse_exceptions(self, value: int | None) -> None:
        self.__dict__["_max_parse_exceptions"] = check_max_parse_exceptions(value)

    @cached_property
    def hook(self) -> PolarisHook:
        from airflow_provider_polaris.hooks.polaris import PolarisHook

        return PolarisHook(polaris_conn_id=self.polaris_conn_id)

    # -- templating ---------------------------------------------------------------------------
    def render_template(
        self,
        content: Any,
        context: Context,
        jinja_env: jinja2.Environment | None = None,
        seen_oids: set[int] | None = None,
    ) -> Any:
        """Render like Airflow, except that only a template field's own string may name a
        template file (``template_ext``): strings nested in a spec -- ``s3://b/events.json``,
        an uploaded ``events.json``, a ``*.json`` pattern -- render as plain templates.

        Airflow matches ``template_ext`` against every string of a dict or list field, so a
        nested ``.json`` value would be looked up as a file (``TemplateNotFound``).
        """
        nested = self.__dict__.get(_RENDERING_NESTED, False)
        if isinstance(content, str):
            if not nested:
                return super().render_template(content, context, jinja_env, seen_oids)
            env = jinja_env or self.get_template_env()
            return self._render(env.from_string(content), context)
        self.__dict__[_RENDERING_NESTED] = True
        try:
            return super().render_template(content, context, jinja_env, seen_oids)
        finally:
            self.__dict__[_RENDERING_NESTED] = nested

    # -- to implement ---------------------------------------------------------------------------
    def build_job_spec(self, context: Context) -> Any:
        """The job request (a dict, JSON text or a ``JobSpec`` model) for this run; may raise
        ``IntervalError``."""
        raise NotImplementedError

    def check_job_spec(self, spec: Any) -> None:
        """Reject specs of the wrong kind for this operator (raise ``AirflowFailException``)."""

    def why_not_owned(self, job_id: str) -> str | None:
        """Why this task must never cancel ``job_id`` (``None``: it submitted the job)."""
        return None

    def prepare_request(
        self, context: Context, client: Any, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Checks and completions that need Polaris' answers (read-only calls such as
        ``GET /tables``), run after the spec validated and before any job is looked up or
        created. Returns the body to submit.

        Here: the fields expressions name must exist in the source, and replace intervals must
        align with the partitioning (``check_against_tables``); a misaligned request without
        ``partitionedBy`` gets the coarsest granularity that aligns it. Operators that build
        the body themselves pin ``partitionedBy`` (see ``operators/jobs.py``).
        """
        from airflow_provider_polaris.operators._intervals import (
            TableCheckError,
            check_against_tables,
        )

        pin = getattr(self, "pin_partitioning", False)
        try:
            return check_against_tables(client, body, log=self.log, pin_partitioning=pin)
        except TableCheckError as exc:
            raise AirflowFailException(str(exc)) from None
        except IntervalError as exc:
            raise AirflowFailException(f"{type(self).__name__}: {exc}") from None

    # -- execute ------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        self.polaris_job_url = ""  # no job yet: the link stays quietly absent if we fail now
        body = self.render_job_request(context)
        client = self.hook.get_client()
        body = self.prepare_request(context, client, body)
        targets = self.wait_targets(body)
        job = None
        if self.reattach_previous_job:
            job = find_previous_job(context, client, body, self.log, target_statuses=targets)
        if job is None:
            job = self.submit(context, client, body)
        job_id = str(job["id"])
        self.submitted_job_id = job_id
        self.polaris_job_url = publish_job(context, self.hook, job_id, self.log)

        if not self.wait_for_completion:
            self._job_finished = True
            forget_job(context, self.log)
            return json_safe(job)
        deadline = self.wait_deadline(context)
        outcome = decide_outcome(job, target_statuses=targets)
        if outcome.is_final:
            return self.finish(context, outcome, job)
        if self.deferrable:
            self.defer_wait(job_id, deadline, targets)
        outcome_or_none, final = wait_for_job(
            client,
            job_id,
            poll_interval=self.poll_interval,
            deadline=deadline,
            log=self.log,
            target_statuses=targets,
            max_unknown_polls=self.max_unknown_polls,
            progress_interval=self.progress_interval,
        )
        if outcome_or_none is None:
            self.give_up(job_id, final)
        assert outcome_or_none is not None and final is not None
        return self.finish(context, outcome_or_none, final)

    def wait_targets(self, doc: Mapping[str, Any]) -> frozenset[str] | None:
        """The statuses that end the wait successfully for this request or job document.

        The class's ``wait_target_statuses`` when set; else ``running``/``idle`` for a streaming
        job (it never completes) and ``None`` (complete) for everything else.
        """
        if self.wait_target_statuses is not None:
            return self.wait_target_statuses
        return STREAMING_LIVE if JobState(doc).is_streaming else None

    def wait_deadline(self, context: Context) -> float | None:
        """``timeout`` from now, clamped to just before the task's ``execution_timeout``."""
        deadlines = [
            d
            for d in (
                time.time() + self.timeout if self.timeout else None,
                execution_timeout_deadline(context, getattr(self, "execution_timeout", None)),
            )
            if d is not None
        ]
        return min(deadlines) if deadlines else None

    def render_job_request(self, context: Context) -> dict[str, Any]:
        """Build and validate the request body; fails before any HTTP request."""
        from airflow_provider_polaris.models import JobSpec, PolarisSpecError, parse_job_spec

        try:
            raw = self.build_job_spec(context)
        except IntervalError as exc:
            raise AirflowFailException(f"{type(self).__name__}: {exc}") from None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise AirflowFailException(f"job_spec is not valid JSON: {exc}") from None
        if not isinstance(raw, Mapping | JobSpec):
            raise AirflowFailException(
                "job_spec must be a mapping, JSON text, a .json template file or a JobSpec "
                f"model (parse_job_spec), got {type(raw).__name__}"
            )
        try:
            spec = parse_job_spec(raw, allow_unknown_fields=self.allow_unknown_fields)
        except PolarisSpecError as exc:
            raise AirflowFailException(str(exc)) from None
        self.check_job_spec(spec)
        body: dict[str, Any] = spec.to_api()
        return place_max_parse_exceptions(body, self.max_parse_exceptions)

    def submit(self, context: Context, client: Any, body: Mapping[str, Any]) -> Mapping[str, Any]:
        record_intent(context, body, self.log)  # before the create: a lost response is found
        job: Mapping[str, Any] = client.jobs.create(body)
        remember_job(context, str(job["id"]), self.log)
        state = JobState(job)
        self.log.info(
            "Submitted Polaris %s job %s into %r", state.job_type, state.job_id, state.target_table
        )
        return job

    def console_url(self, job_id: str) -> str | None:
        """The job's page in the Polaris console (``None`` if the connection cannot say)."""
        return console_url(self.hook, job_id)

    def defer_wait(self, job_id: str, deadline: float | None, targets: Any) -> None:
        from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger

        self.defer(
            trigger=PolarisJobTrigger(
                job_id=job_id,
                polaris_conn_id=self.polaris_conn_id,
                poll_interval=self.poll_interval,
                deadline=deadline,
                target_statuses=sorted(targets) if targets else None,
                # The trigger must never cancel a job this task does not own.
                cancel_on_kill=self.cancel_on_kill and self.why_not_owned(job_id) is None,
                max_unknown_polls=self.max_unknown_polls,
                progress_interval=self.progress_interval,
            ),
            method_name="execute_complete",
            kwargs=self.resume_kwargs() or None,
        )

    def resume_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for ``execute_complete`` after a deferral (primitives only)."""
        return {}

    def execute_complete(self, context: Context, event: Any = None) -> Any:
        """Resume after the trigger: validate the event and decide, failing closed."""
        status, job_id, message, job = read_trigger_event(event)
        self.submitted_job_id = job_id
        if status == "timeout":
            self.give_up(job_id, job)
        if status == "error":
            raise event_error(event, message or f"Waiting for Polaris job {job_id} failed")
        assert job is not None
        outcome = decide_outcome(job, target_statuses=self.wait_targets(job))
        if status == "failure" and outcome.kind == "waiting":
            # The trigger gave up on a job still in flight (e.g. max_unknown_polls): its reason.
            outcome = Outcome("failure", message or f"Waiting for Polaris job {job_id} failed")
        elif outcome.kind != status:
            outcome = Outcome(
                "failure",
                f"The trigger reported {status!r} for Polaris job {job_id}, but its final state "
                f"says "
                f"{outcome.kind!r} ({JobState(job).describe()}); failing closed.",
            )
        return self.finish(context, outcome, job)

    def finish(self, context: Context, outcome: Outcome, job: Mapping[str, Any]) -> Any:
        self._job_finished = True
        job_id = str(job.get("id") or self.submitted_job_id)
        if outcome.kind == "success":
            if outcome.warning:
                self.log.warning("%s", outcome.warning)
            self.log.info("%s", outcome.message)
            state = JobState(job)
            if (
                self.report_row_counts
                and state.execution_status == "completed"
                and state.job_type in _INGESTION_TYPES
            ):
                report_rows(self.hook, job, self.log)
            forget_job(context, self.log)
            return json_safe(job)
        message = explain_failure(self.hook, job_id, job, outcome.message, self.log)
        self.log.error("%s", message)
        if outcome.kind == "canceled":
            raise PolarisJobCanceledError(message)
        raise PolarisJobFailedError(message)

    def give_up(self, job_id: str, last: Mapping[str, Any] | None = None) -> None:
        """Timeout: cancel the job when this task owns it (best effort), then fail saying
        which limit passed, the last status seen and where to look."""
        self._job_finished = True
        limits = []
        if self.timeout:
            limits.append(f"timeout={self.timeout:g}s")
        if getattr(self, "execution_timeout", None):
            limits.append(f"execution_timeout={self.execution_timeout}")
        targets = self.wait_targets(last or {})
        goal = f"reach {'/'.join(sorted(targets))}" if targets else "finish"
        parts = [
            f"Polaris job {job_id} did not {goal} in time ({', '.join(limits) or 'deadline'})",
            f"last status: {JobState(last).describe() if last else 'not seen'}",
        ]
        not_owned = self.why_not_owned(job_id)
        if not_owned:
            parts.append(f"left as it is ({not_owned})")
        elif self.cancel_job(job_id, reason="timeout"):
            parts.append("cancellation requested")
        else:
            parts.append("it could not be canceled (see the log)")
        url = self.console_url(job_id)
        raise PolarisJobTimeoutError("; ".join(parts) + "." + (f" Console: {url}" if url else ""))

    def cancel_job(self, job_id: str, *, reason: str, fresh_client: bool = False) -> bool:
        """Best-effort cancel; logs and swallows every error so it never masks the original one.

        ``fresh_client``: use a short-lived client of its own instead of the hook's cached one,
        which the interrupted wait may be in the middle of using (``on_kill`` runs from a signal
        handler).
        """
        try:
            if fresh_client:
                with self.hook.new_client() as client:
                    client.jobs.cancel(job_id)
            else:
                self.hook.get_client().jobs.cancel(job_id)
        except Exception as exc:
            self.log.warning("Could not cancel Polaris job %s (%s): %s", job_id, reason, exc)
            return False
        self.log.info("Requested cancellation of Polaris job %s (%s)", job_id, reason)
        return True

    def on_kill(self) -> None:
        job_id = self.submitted_job_id
        if not (self.cancel_on_kill and job_id and not self._job_finished):
            return
        not_owned = self.why_not_owned(job_id)
        if not_owned:
            self.log.info("Task killed; leaving Polaris job %s alone (%s)", job_id, not_owned)
            return
        self.cancel_job(job_id, reason="task killed", fresh_client=True)
