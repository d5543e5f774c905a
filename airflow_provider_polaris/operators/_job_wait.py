"""The wait half every job operator shares: follow one Polaris job to its outcome.

A subclass gets hold of a job (submits one, or sends a control request for someone's) and hands
it to :meth:`PolarisJobWaitMixin.follow`: push ``job_id``/``job_url`` to XCom, then wait (in the
worker, or deferred to the triggerer) and turn the final job into a result or an exception
through :func:`~airflow_provider_polaris.outcomes.decide_outcome`. A timeout or a kill cancels
the job only when this task owns it (:attr:`~PolarisJobWaitMixin.not_owned_reason`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_polaris._task import (
    console_url,
    default_deferrable,
    publish_job,
    raise_for_outcome,
)
from airflow_provider_polaris.exceptions import PolarisJobTimeoutError
from airflow_provider_polaris.links import PolarisJobLink
from airflow_provider_polaris.operators._base import PolarisOperator
from airflow_provider_polaris.operators._wait import execution_timeout_deadline, wait_for_job
from airflow_provider_polaris.outcomes import STREAMING_LIVE, JobState, Outcome, decide_outcome
from airflow_provider_polaris.waiting import (
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    check_max_unknown_polls,
    check_progress_interval,
    conclude,
)

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context


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


class PolarisJobWaitMixin(PolarisOperator):
    """Wait on one Polaris job: the arguments and steps shared by every job operator.

    :param polaris_conn_id: Airflow connection to Polaris.
    :param wait_for_completion: wait for the job's outcome (default); otherwise succeed once the
        job is known.
    :param deferrable: wait in the triggerer instead of holding a worker slot (default:
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between status checks, in both modes.
    :param timeout: give up waiting after this long (seconds or ``timedelta``): a job this task
        owns is asked to cancel and the task fails. ``None`` waits for ever (but see
        ``execution_timeout``: the wait also ends, and cancels the job, shortly before it).
    :param cancel_on_kill: cancel a job this task owns when the task is killed, marked or cleared.
    :param max_unknown_polls: consecutive ``unknown`` statuses tolerated before the task fails
        (``None``: no bound).
    :param progress_interval: seconds between samples of a running job's progress % and rows
        processed (two requests each), logged when they change; ``None``/``0``: never.
    """

    template_fields: Sequence[str] = ("polaris_conn_id",)
    operator_extra_links = (PolarisJobLink(),)
    ui_color = "#e8f1ff"
    # None: wait for a batch job to complete (a streaming job waits for ``running``/``idle``);
    # control operators wait for these statuses.
    wait_target_statuses: ClassVar[frozenset[str] | None] = None
    # The console URL the "Polaris job" link shows: None until this object runs, then "" until
    # a job is known (so the link never reads an XCom that was never pushed).
    polaris_job_url: str | None = None
    # Ownership, the one place it is stored: why this task must never cancel the job it waits
    # on (on kill or timeout), or None when the task submitted the job and owns it.
    not_owned_reason: str | None = None

    def __init__(
        self,
        *,
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
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = to_seconds(timeout)
        self.cancel_on_kill = cancel_on_kill
        self.max_unknown_polls = check_max_unknown_polls(max_unknown_polls)
        self.progress_interval = check_progress_interval(progress_interval)
        self.submitted_job_id: str | None = None
        self._job_finished = False

    def succeeded(self, context: Context, job: Mapping[str, Any], *, waited: bool) -> None:
        """Called once the task succeeds with ``job`` (``waited``: it reached its outcome)."""

    def follow(
        self, context: Context, client: Any, job: Mapping[str, Any], targets: Any = None
    ) -> Any:
        """Publish ``job`` and wait for its outcome (``targets``: see :meth:`wait_targets`)."""
        job_id = str(job["id"])
        self.submitted_job_id = job_id
        self.polaris_job_url = publish_job(context, self.hook, job_id, self.log)
        if not self.wait_for_completion:
            self._job_finished = True
            self.succeeded(context, job, waited=False)
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
                cancel_on_kill=self.cancel_on_kill and self.not_owned_reason is None,
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
        job_id, job, outcome = conclude(event, self.wait_targets)
        self.submitted_job_id = job_id
        if not outcome.is_final:  # the deadline passed
            self.give_up(job_id, job)
        assert job is not None
        return self.finish(context, outcome, job)

    def finish(self, context: Context, outcome: Outcome, job: Mapping[str, Any]) -> Any:
        self._job_finished = True
        job_id = str(job.get("id") or self.submitted_job_id)
        raise_for_outcome(self, outcome, job_id, job)
        self.log.info("%s", outcome.message)
        self.succeeded(context, job, waited=True)
        return json_safe(job)

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
        if self.not_owned_reason:
            parts.append(f"left as it is ({self.not_owned_reason})")
        elif self.cancel_job(job_id, reason="timeout"):
            parts.append("cancellation requested")
        else:
            parts.append("it could not be canceled (see the log)")
        url = console_url(self.hook, job_id)
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
        if self.not_owned_reason:
            self.log.info(
                "Task killed; leaving Polaris job %s alone (%s)", job_id, self.not_owned_reason
            )
            return
        self.cancel_job(job_id, reason="task killed", fresh_client=True)
