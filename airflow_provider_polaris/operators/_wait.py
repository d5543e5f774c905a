"""The synchronous wait on a Polaris job (worker side), its deadline and the trigger's events
(the exceptions a wait ends with live in :mod:`airflow_provider_polaris.exceptions`).

``wait_for_job`` polls in the worker; the triggerer's wait is ``triggers/jobs.py``. Both judge
through :func:`~airflow_provider_polaris.outcomes.decide_outcome`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_polaris._compat import AirflowException, AirflowFailException
from airflow_provider_polaris.exceptions import PolarisJobFailedError
from airflow_provider_polaris.outcomes import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    ErrorStreak,
    JobState,
    Outcome,
    ProgressSchedule,
    ProgressTracker,
    UnknownStreak,
    decide_outcome,
)


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


def event_error(event: Any, message: str) -> AirflowException:
    """The exception for a trigger ``error`` event: ``AirflowFailException`` (no retries) when
    the trigger flagged the error permanent (``"permanent": true``), else retryable. Events of
    older triggers have no flag and stay retryable."""
    permanent = isinstance(event, Mapping) and event.get("permanent") is True
    return AirflowFailException(message) if permanent else PolarisJobFailedError(message)


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


def fetch_progress(client: Any, job_id: str) -> tuple[Any, Any]:
    """``(progress, metrics)`` of a job for the progress line; ``(None, None)`` on any error."""
    try:
        return client.jobs.get_progress(job_id), client.jobs.get_metrics(job_id)
    except Exception:  # progress is decoration; never fail a wait for it
        return None, None
