"""The synchronous wait on a Polaris job (worker side) and its deadline.

``wait_for_job`` is a get-and-sleep loop around :class:`~airflow_provider_polaris.waiting.JobWatch`
(the triggerer's loops are in ``triggers/``, the sensor's in ``sensors/jobs.py``).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from airflow_provider_polaris.outcomes import Outcome
from airflow_provider_polaris.waiting import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    JobWatch,
    fetch_progress,
)

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

    The rules (error and ``unknown`` bounds, progress sampling, one log line per change) are the
    watch's, as in the trigger and the sensor.
    """
    watch = JobWatch(
        job_id,
        target_statuses=target_statuses,
        poll_interval=poll_interval,
        deadline=deadline,
        max_consecutive_errors=max_consecutive_errors,
        max_unknown_polls=max_unknown_polls,
        progress_interval=progress_interval,
        report=partial(log.info, "%s"),
        warn=partial(log.warning, "%s"),
        clock=now,
    )
    while True:
        try:
            job = client.jobs.get(job_id)
        except Exception as exc:
            if watch.gives_up(exc):
                raise
        else:
            outcome = watch.observe(job)
            due = watch.progress_due(outcome)
            watch.log_change(job, *(fetch_progress(client, job_id) if due else (None, None)))
            if outcome.is_final:
                return outcome, job
        pause = watch.pause()
        if pause is None:
            return None, watch.last
        sleep(pause)
