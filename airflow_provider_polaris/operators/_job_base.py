"""Shared plumbing of every operator that submits a Polaris job and waits on it.

``execute`` reads top to bottom: build and validate the spec (no request yet), reattach to an
earlier try's job or submit a new one, push ``job_id``/``job_url`` to XCom, then wait (in the
worker, or deferred to the triggerer) and turn the final job into a result or an exception through
:func:`~airflow_provider_polaris.outcomes.decide_outcome`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris._compat import (
    AirflowException,
    AirflowFailException,
    BaseOperator,
    conf,
)
from airflow_provider_polaris.links import PolarisJobLink
from airflow_provider_polaris.operators._intervals import IntervalError
from airflow_provider_polaris.operators._lifecycle import ClosesPolarisClient
from airflow_provider_polaris.operators._reattach import find_previous_job, forget_job, remember_job
from airflow_provider_polaris.operators._report import console_url, explain_failure, publish_job
from airflow_provider_polaris.outcomes import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    STREAMING_LIVE,
    ErrorStreak,
    JobState,
    Outcome,
    ProgressSchedule,
    ProgressTracker,
    UnknownStreak,
    check_max_unknown_polls,
    check_progress_interval,
    decide_outcome,
)

if TYPE_CHECKING:
    import jinja2

    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.hooks.polaris import PolarisHook


class PolarisJobFailedError(AirflowException):
    """The Polaris job failed (or could not be followed); a retry may help."""


class PolarisJobCanceledError(AirflowFailException):
    """The Polaris job was canceled by a user: the task fails without retrying."""


class PolarisJobTimeoutError(AirflowException):
    """The job did not finish within the operator's ``timeout``; it was asked to cancel."""


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


# How long before ``execution_timeout`` our own deadline fires (so we, not Airflow, end the wait
# and cancel the job): 5 % of the timeout, at least 5 s, at most half of it.
_EXECUTION_TIMEOUT_MARGIN = 0.05
_EXECUTION_TIMEOUT_MIN_MARGIN = 5.0


def execution_timeout_deadline(context: Mapping[str, Any], execution_timeout: Any) -> float | None:
    """Epoch seconds shortly before ``ti.start_date + execution_timeout`` (``None`` if unset).

    In deferrable mode Airflow 2.11 turns ``execution_timeout`` into the trigger timeout and kills
    the trigger without ``on_kill`` (the job keeps running); 3.3 does not apply it while deferred.
    Clamping our deadline to it makes our own wait time out first and cancel the job.
    """
    if not execution_timeout:
        return None
    total = (
        execution_timeout.total_seconds()
        if isinstance(execution_timeout, timedelta)
        else float(execution_timeout)
    )
    if total <= 0:
        return None
    ti = context.get("ti") or context.get("task_instance")
    started = getattr(ti, "start_date", None)
    start = started.timestamp() if isinstance(started, datetime) and started.tzinfo else time.time()
    margin = min(max(total * _EXECUTION_TIMEOUT_MARGIN, _EXECUTION_TIMEOUT_MIN_MARGIN), total / 2)
    return start + total - margin


def wait_for_job(
    client: Any,
    job_id: str,
    *,
    poll_interval: float,
    deadline: float | None,
    log: Any,
    target_statuses: Collection[str] | None = None,
    max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    max_unknown_polls: int | None = DEFAULT_MAX_UNKNOWN_POLLS,
    progress_interval: float | None = DEFAULT_PROGRESS_INTERVAL,
    sleep: Any = time.sleep,
    now: Any = time.time,
) -> tuple[Outcome | None, Mapping[str, Any] | None]:
    """Poll until the job reaches an outcome; ``(None, last job)`` when ``deadline`` passes.

    Logs one line whenever status, progress % or rows processed change, not one per poll;
    progress and row counts of a running job are fetched every ``progress_interval`` seconds.
    After ``max_unknown_polls`` consecutive ``unknown`` statuses the outcome is a failure.
    Transient API errors are tolerated as in the trigger and the sensor (``ErrorStreak``).
    """
    tracker = ProgressTracker()
    schedule = ProgressSchedule(progress_interval, now())
    unknown = UnknownStreak(max_unknown_polls)
    errors = ErrorStreak(max_consecutive_errors)
    last: Mapping[str, Any] | None = None
    while True:
        try:
            job = client.jobs.get(job_id)
        except Exception as exc:
            if errors.gives_up(exc):
                raise
            log.warning(
                "Polling Polaris job %s failed (%s in a row), will retry: %s",
                job_id,
                errors.count,
                exc,
            )
        else:
            errors.reset()
            last = job
            outcome = unknown.check(job, decide_outcome(job, target_statuses=target_statuses))
            progress = metrics = None
            if (
                not outcome.is_final
                and JobState(job).execution_status == "running"
                and schedule.due(now())
            ):
                progress, metrics = fetch_progress(client, job_id)
            line = tracker.observe(job, progress, metrics)
            if line:
                log.info("%s", line)
            if outcome.is_final:
                return outcome, job
        if deadline is not None and now() >= deadline:
            return None, last
        delay = (
            poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - now()))
        )
        sleep(delay)


def read_trigger_event(event: Any) -> tuple[str, str, str, Mapping[str, Any] | None]:
    """``(status, job_id, message, job)`` of a ``PolarisJobTrigger`` event; a malformed event
    fails the task (fail closed)."""
    from airflow_provider_polaris.triggers.jobs import validate_event

    try:
        return validate_event(event)
    except ValueError as exc:
        raise PolarisJobFailedError(
            f"Malformed event from the Polaris trigger ({exc}): {event!r}"
        ) from None


def fetch_progress(client: Any, job_id: str) -> tuple[Any, Any]:
    """``(progress, metrics)`` of a job for the progress line; ``(None, None)`` on any error."""
    try:
        return client.jobs.get_progress(job_id), client.jobs.get_metrics(job_id)
    except Exception:  # progress is decoration; never fail a wait for it
        return None, None


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
    """

    template_fields: Sequence[str] = ("polaris_conn_id",)
    operator_extra_links = (PolarisJobLink(),)
    ui_color = "#e8f1ff"
    # None: wait for a batch job to complete (a streaming spec waits for ``running``/``idle``);
    # control operators wait for these statuses.
    wait_target_statuses: ClassVar[frozenset[str] | None] = None
    # Whether an earlier try's job may be reattached to (off for operators whose job is a one-off).
    reattach_previous_job: ClassVar[bool] = True

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
        publish_job(context, self.hook, job_id, self.log)

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
            spec = parse_job_spec(raw)
        except PolarisSpecError as exc:
            raise AirflowFailException(str(exc)) from None
        self.check_job_spec(spec)
        body: dict[str, Any] = spec.to_api()
        return body

    def submit(self, context: Context, client: Any, body: Mapping[str, Any]) -> Mapping[str, Any]:
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
            raise PolarisJobFailedError(message or f"Waiting for Polaris job {job_id} failed")
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
