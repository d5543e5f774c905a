"""The one wait step: :class:`JobWatch` follows one Polaris job, whatever loop drives it.

Four loops wait on a job: the worker's sync wait (``operators/_wait.py``), the sensor's poke, the
lone trigger and the triggerer's shared poller (``triggers/``). Each only gets the job and sleeps;
the watch does the rest, the same way for all four:

- judge every poll through :func:`~airflow_provider_polaris.outcomes.decide_outcome`, failing a
  job that stays ``unknown`` for ``max_unknown_polls`` polls in a row;
- count API errors: a fatal one (:func:`is_fatal_error`) ends the wait, transient ones are
  tolerated ``max_consecutive_errors`` in a row;
- say when a progress sample (``/progress`` + ``/metrics``) of a running job is due, and log one
  line per change of status, progress % or rows processed;
- say how long to sleep before the next poll, or that the deadline passed.

It also owns the trigger event format (:func:`job_event`) and turns an event back into the final
outcome (:func:`conclude`), for the operators' and the sensor's ``execute_complete``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.exceptions import PolarisJobFailedError
from airflow_provider_polaris.outcomes import JobState, Outcome, decide_outcome, job_label

DEFAULT_MAX_UNKNOWN_POLLS = 20
DEFAULT_PROGRESS_INTERVAL = 300.0
DEFAULT_MAX_CONSECUTIVE_ERRORS = 5
"""Transient API errors in a row that every wait (sync, trigger, sensor) tolerates."""

EVENT_STATUSES = frozenset({"success", "failure", "canceled", "timeout", "error"})


def check_max_unknown_polls(value: Any) -> int | None:
    """Validate ``max_unknown_polls``: a positive int, or ``None`` for no bound."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_unknown_polls must be a positive int or None, got {value!r}")
    return value


def check_progress_interval(value: Any) -> float | None:
    """Validate ``progress_interval``: seconds (``None`` or ``0`` disable progress sampling)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"progress_interval must be seconds >= 0 or None, got {value!r}")
    return float(value) or None


def is_fatal_error(exc: BaseException) -> bool:
    """Errors a later poll cannot fix: bad credentials/permissions, a missing job, a bad request."""
    from airflow_provider_polaris.client import (
        PolarisApiError,
        PolarisAuthError,
        PolarisBadRequestError,
        PolarisNotFoundError,
        PolarisTransportError,
    )

    if isinstance(exc, PolarisAuthError | PolarisNotFoundError | PolarisBadRequestError):
        return True
    transport = isinstance(exc, PolarisTransportError | OSError | asyncio.TimeoutError)
    return not isinstance(exc, PolarisApiError) and not transport


class JobWatch:
    """One wait on one Polaris job (see the module docstring); the caller's loop polls and sleeps.

    :param job_id: the job.
    :param target_statuses: statuses that end the wait successfully (``None``: complete).
    :param poll_interval: seconds between polls.
    :param deadline: epoch seconds (on ``clock``) after which :meth:`pause` says stop.
    :param max_consecutive_errors: transient API errors tolerated in a row.
    :param max_unknown_polls: consecutive ``unknown`` statuses tolerated (``None``: no bound).
    :param progress_interval: seconds between progress samples of a running job, the first one
        interval after the watch began (``None``/``0``: never).
    :param report: where a progress line goes; ``warn``: where a retried error goes.
    :param clock: epoch seconds (injectable: tests never sleep).
    """

    def __init__(
        self,
        job_id: str,
        *,
        target_statuses: Collection[str] | None = None,
        poll_interval: float = 30.0,
        deadline: float | None = None,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        max_unknown_polls: int | None = DEFAULT_MAX_UNKNOWN_POLLS,
        progress_interval: float | None = None,
        report: Callable[[str], None] = lambda _line: None,
        warn: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.job_id = str(job_id)
        self.target_statuses = (
            frozenset(s.lower() for s in target_statuses) if target_statuses else None
        )
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.max_unknown_polls = check_max_unknown_polls(max_unknown_polls)
        self.progress_interval = check_progress_interval(progress_interval)
        self.report = report
        self.warn = warn or report
        self.clock = clock
        self.errors = 0  # API errors in a row
        self.unknowns = 0  # ``unknown`` statuses in a row
        # The last job document seen (list summary or full job): what a timeout reports.
        self.last: Mapping[str, Any] | None = None
        interval = self.progress_interval
        self._next_progress = None if interval is None else clock() + interval
        self._shown: tuple[Any, ...] | None = None  # what the last progress line said

    def observe(self, job: Mapping[str, Any]) -> Outcome:
        """Judge one successful poll: the outcome, or a failure after too many ``unknown``s."""
        self.errors = 0
        self.last = job
        outcome = decide_outcome(job, target_statuses=self.target_statuses)
        if outcome.is_final or JobState(job).execution_status != "unknown":
            self.unknowns = 0
            return outcome
        self.unknowns += 1
        limit = self.max_unknown_polls
        if limit is not None and self.unknowns >= limit:
            return Outcome(
                "failure",
                f"{job_label(JobState(job))}: Polaris reported executionStatus 'unknown' for "
                f"{self.unknowns} consecutive polls (max_unknown_polls={limit}); failing closed.",
            )
        return outcome

    def progress_due(self, outcome: Outcome) -> bool:
        """True (and the next sample scheduled) when the running job's progress is due now."""
        running = self.last is not None and JobState(self.last).execution_status == "running"
        if outcome.is_final or not running or self._next_progress is None:
            return False
        now = self.clock()
        if now < self._next_progress:
            return False
        self._next_progress = now + (self.progress_interval or 0.0)
        return True

    def gives_up(self, exc: BaseException) -> bool:
        """Count a failed poll; True when the wait must end with ``exc`` (else a warning)."""
        self.errors += 1
        if is_fatal_error(exc) or self.errors > self.max_consecutive_errors:
            return True
        self.warn(
            f"Polling Polaris job {self.job_id} failed ({self.errors} in a row), will retry: {exc}"
        )
        return False

    def pause(self) -> float | None:
        """Seconds to sleep before the next poll; ``None`` once the deadline has passed."""
        if self.deadline is None:
            return self.poll_interval
        left = self.deadline - self.clock()
        return None if left <= 0 else min(self.poll_interval, left)

    def remaining(self) -> float | None:
        """Seconds left until the deadline (``None``: no deadline)."""
        return None if self.deadline is None else max(0.0, self.deadline - self.clock())

    def change_line(
        self,
        job: Mapping[str, Any],
        progress: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> str | None:
        """The line to log when status, progress % or rows processed changed, else ``None``.

        A poll without progress keeps the values last seen *while the status stays the same*; a
        status change drops them, so a final ``failed`` line never repeats a stale "52% done".
        """
        state = JobState(job)
        percent = rows = None
        if isinstance(progress, Mapping) and isinstance(
            progress.get("overallProgress"), int | float
        ):
            percent = int(float(progress["overallProgress"]) * 100)
        totals = metrics.get("totals") if isinstance(metrics, Mapping) else None
        if isinstance(totals, Mapping):
            rows = totals.get("numRowsProcessed")
        if self._shown is not None and self._shown[0] == state.execution_status:
            percent = self._shown[2] if percent is None else percent
            rows = self._shown[3] if rows is None else rows
        current = (state.execution_status, state.health_status, percent, rows)
        if current == self._shown:
            return None
        self._shown = current
        line = f"Polaris job {state.job_id or '?'}: {state.describe()}"
        if percent is not None:
            line += f", {percent}% done"
        return line + (f", {rows} rows processed" if rows is not None else "")

    def log_change(
        self,
        job: Mapping[str, Any],
        progress: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        """Report :meth:`change_line` when there is one."""
        line = self.change_line(job, progress, metrics)
        if line:
            self.report(line)

    def event(self, outcome: Outcome, job: Mapping[str, Any] | None) -> dict[str, Any]:
        """The trigger event of a final outcome."""
        return job_event(outcome.kind, self.job_id, outcome.message, job)

    def timeout_event(self) -> dict[str, Any]:
        """The trigger event for a passed deadline, naming the status last seen."""
        last = f" Last seen: {JobState(self.last).describe()}." if self.last else ""
        message = f"Timed out waiting for Polaris job {self.job_id} (deadline passed).{last}"
        return job_event("timeout", self.job_id, message, self.last)

    def error_event(
        self, exc: BaseException, conn_id: str | None, config: Any = None, doing: str = "Polling"
    ) -> dict[str, Any]:
        """The ``error`` event a wait ends with; a permanent error (hooks/errors.py) is flagged
        and explained (connection and field to fix), so the task fails without retries."""
        from airflow_provider_polaris.hooks.errors import permanent_failure

        failure = permanent_failure(exc, conn_id, config)
        if failure is not None:
            return job_event("error", self.job_id, str(failure), permanent=True)
        return job_event("error", self.job_id, f"{doing} Polaris job {self.job_id} failed: {exc}")


def fetch_progress(client: Any, job_id: str) -> tuple[Any, Any]:
    """``(progress, metrics)`` of a job for the progress line; ``(None, None)`` on any error."""
    try:
        return client.jobs.get_progress(job_id), client.jobs.get_metrics(job_id)
    except Exception:  # progress is decoration; never fail a wait for it
        return None, None


async def afetch_progress(client: Any, job_id: str) -> tuple[Any, Any]:
    """:func:`fetch_progress` with an async client (both requests at once)."""
    try:
        progress, metrics = await asyncio.gather(
            client.jobs.get_progress(job_id), client.jobs.get_metrics(job_id)
        )
        return progress, metrics
    except asyncio.CancelledError:
        raise
    except Exception:
        return None, None


def job_event(
    status: str,
    job_id: str,
    message: str,
    job: Mapping[str, Any] | None = None,
    *,
    permanent: bool = False,
) -> dict[str, Any]:
    """A ``PolarisJobTrigger`` event payload.

    ``permanent`` (``error`` events only, key present only when true): a retry cannot help
    (hooks/errors.py ``is_permanent``), so ``execute_complete`` fails without Airflow retries.
    """
    event: dict[str, Any] = {
        "status": status,
        "job_id": job_id,
        "message": message,
        "job": dict(job) if job else None,
    }
    if permanent:
        event["permanent"] = True
    return event


def validate_event(event: Any) -> tuple[str, str, str, Mapping[str, Any] | None]:
    """``(status, job_id, message, job)`` from a trigger event; ``ValueError`` if malformed."""
    if not isinstance(event, Mapping):
        raise ValueError(f"expected a mapping, got {type(event).__name__}")
    status = event.get("status")
    if status not in EVENT_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ValueError("missing job_id")
    job = event.get("job")
    if job is not None and not isinstance(job, Mapping):
        raise ValueError("job is not a mapping")
    if status in ("success", "failure", "canceled") and job is None:
        raise ValueError(f"a {status!r} event without the job document")
    message = event.get("message")
    return str(status), job_id, str(message) if message else "", job


Targets = Collection[str] | Callable[[Mapping[str, Any]], Collection[str] | None] | None


def conclude(event: Any, targets: Targets) -> tuple[str, Mapping[str, Any] | None, Outcome]:
    """``(job_id, job, outcome)`` of a trigger event, decided again from the job it carries.

    ``targets``: the wait's target statuses, or a function of the final job giving them. An
    ``error`` event raises ``AirflowFailException`` (no retries) when the trigger flagged it
    ``permanent``, else a retryable error (older triggers set no flag); a malformed event fails
    the task. A ``timeout`` event gives a ``waiting`` outcome (the job was still on its way when
    the deadline passed). The event's status and the job's state must agree, else the outcome
    is a failure (fail closed).
    """
    try:
        status, job_id, message, job = validate_event(event)
    except ValueError as exc:
        raise PolarisJobFailedError(
            f"Malformed event from the Polaris trigger ({exc}): {event!r}"
        ) from None
    fallback = message or f"Waiting for Polaris job {job_id} failed"
    if status == "error":
        permanent = isinstance(event, Mapping) and event.get("permanent") is True
        raise AirflowFailException(fallback) if permanent else PolarisJobFailedError(fallback)
    if status == "timeout":
        return job_id, job, Outcome("waiting", message)
    assert job is not None
    wanted = targets(job) if callable(targets) else targets
    outcome = decide_outcome(job, target_statuses=wanted)
    if status == "failure" and outcome.kind == "waiting":
        # The trigger gave up on a job still in flight (e.g. max_unknown_polls): its reason.
        outcome = Outcome("failure", fallback)
    elif outcome.kind != status:
        outcome = Outcome(
            "failure",
            f"The trigger reported {status!r} for Polaris job {job_id}, but its final state says "
            f"{outcome.kind!r} ({JobState(job).describe()}); failing closed.",
        )
    return job_id, job, outcome
