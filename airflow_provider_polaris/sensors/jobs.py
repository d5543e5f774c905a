"""``PolarisJobSensor``: wait for a Polaris job someone else submitted.

Poke, reschedule and deferrable modes decide through the same
:func:`~airflow_provider_polaris.outcomes.decide_outcome`. ``soft_fail`` turns only a *timeout*
into a skip, identically in every mode; a failed or canceled job always fails the task (Airflow's
own sensor base class would skip on any error in deferrable mode, so ``resume_execution`` is
narrowed here).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseOperator,
    BaseSensorOperator,
)
from airflow_provider_polaris._task import (
    ClosesPolarisClient,
    default_deferrable,
    publish_job,
    raise_for_outcome,
)
from airflow_provider_polaris.exceptions import PolarisJobCanceledError
from airflow_provider_polaris.links import PolarisJobLink
from airflow_provider_polaris.outcomes import Outcome
from airflow_provider_polaris.waiting import (
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    JobWatch,
    check_max_unknown_polls,
    check_progress_interval,
    conclude,
    fetch_progress,
)

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context

# Longest pause between the retries a reschedule-mode poke makes after a transient API error.
RESCHEDULE_ERROR_PAUSE_SECONDS = 10.0


class PolarisJobSensor(ClosesPolarisClient, BaseSensorOperator):
    """Wait until a Polaris job completes (or reaches one of ``target_statuses``).

    :param job_id: the Polaris job id (templated), e.g.
        ``"{{ ti.xcom_pull('load', key='job_id') }}"``.
    :param polaris_conn_id: Airflow connection to Polaris.
    :param poll_interval: seconds between checks (alias of ``poke_interval``; used in every mode).
    :param deferrable: wait in the triggerer.
    :param target_statuses: for streaming jobs, e.g. ``["running", "idle"]``.
    :param max_unknown_polls: consecutive ``unknown`` statuses tolerated before failing (poke and
        deferrable modes; a reschedule-mode sensor counts within one poke only). ``None``: no bound.
    :param progress_interval: seconds between samples of a running job's progress % and rows
        processed, logged when they change; ``None``/``0``: never.

    Permanent API errors (401/403, a missing job: any 4xx but 408/429) and a malformed
    connection fail at once without retries, in every mode (never a poke until the timeout).
    A failed job raises ``PolarisJobFailedError`` (retryable); a canceled one raises
    ``PolarisJobCanceledError`` (no retry). Both fail in every mode whatever ``soft_fail`` says; a
    timeout raises ``AirflowSensorTimeout`` or, with ``soft_fail``, skips. Transient API errors
    are tolerated as by the operators and the trigger (``DEFAULT_MAX_CONSECUTIVE_ERRORS`` in a
    row; in reschedule mode within one poke, which retries at most every
    ``RESCHEDULE_ERROR_PAUSE_SECONDS`` while the API fails, then gives up). ``job_id`` and
    ``job_url`` are pushed to XCom, so the "Polaris job" link works.
    """

    template_fields: Sequence[str] = ("job_id", "polaris_conn_id")
    operator_extra_links = (PolarisJobLink(),)
    # The URL pushed for the "Polaris job" link (see PolarisJobOperatorBase.polaris_job_url).
    polaris_job_url: str | None = None

    def __init__(
        self,
        *,
        job_id: str,
        polaris_conn_id: str = "polaris_default",
        poll_interval: float | None = None,
        deferrable: bool | None = None,
        target_statuses: Collection[str] | None = None,
        max_unknown_polls: int | None = DEFAULT_MAX_UNKNOWN_POLLS,
        progress_interval: float | None = DEFAULT_PROGRESS_INTERVAL,
        **kwargs: Any,
    ) -> None:
        if poll_interval is not None:
            kwargs["poke_interval"] = poll_interval
        super().__init__(**kwargs)
        self.job_id = job_id
        self.polaris_conn_id = polaris_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.target_statuses = (
            frozenset(s.lower() for s in target_statuses) if target_statuses else None
        )
        self.max_unknown_polls = check_max_unknown_polls(max_unknown_polls)
        self.progress_interval = check_progress_interval(progress_interval)
        self._watch: JobWatch | None = None  # made at the first poke (progress counts from it)
        # Injectable pause between a reschedule-mode poke's retries (tests never sleep).
        self._sleep: Callable[[float], None] = time.sleep

    @property
    def poll_interval(self) -> float:
        """Seconds between checks: ``poke_interval`` (which ``poll_interval=`` sets) in seconds."""
        interval = self.poke_interval
        return interval.total_seconds() if isinstance(interval, timedelta) else float(interval)

    def _job_watch(self) -> JobWatch:
        if self._watch is None:
            self._watch = JobWatch(
                self.job_id,
                target_statuses=self.target_statuses,
                poll_interval=self.poll_interval,
                max_unknown_polls=self.max_unknown_polls,
                progress_interval=self.progress_interval,
                report=partial(self.log.info, "%s"),
                warn=partial(self.log.warning, "%s"),
            )
        return self._watch

    def poke(self, context: Context) -> bool:
        client = self.hook.get_client()
        watch = self._job_watch()
        while True:
            try:
                job = client.jobs.get(self.job_id)
                break
            except Exception as exc:
                if watch.gives_up(exc):
                    raise
                if self.mode != "reschedule":
                    return False
                # Each reschedule poke is a new sensor object, so a count kept across pokes
                # would never pass 1 and an outage would be retried until the timeout. Retry
                # within this poke instead: the same bound as in the other modes.
                self._sleep(min(self.poll_interval, RESCHEDULE_ERROR_PAUSE_SECONDS))
        outcome = watch.observe(job)
        due = watch.progress_due(outcome)
        watch.log_change(job, *(fetch_progress(client, self.job_id) if due else (None, None)))
        return self._judge(outcome, job)

    def _judge(self, outcome: Outcome, job: Any) -> bool:
        if outcome.kind == "waiting":
            return False
        raise_for_outcome(self, outcome, self.job_id, job)
        return True

    def execute(self, context: Context) -> Any:
        self.polaris_job_url = ""
        self.polaris_job_url = publish_job(context, self.hook, self.job_id, self.log)
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSkipException as exc:
                # Airflow's sensor loop turns an AirflowFailException from poke into a skip under
                # soft_fail (2.11 and 3.3); a canceled job must fail as in deferrable mode.
                cause = exc.__cause__
                if isinstance(cause, PolarisJobCanceledError) and not getattr(
                    self, "never_fail", False
                ):
                    raise cause from None
                raise
        # One check first: no deferral round trip for a job that is already done.
        if self.poke(context):
            return None
        from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger

        self.defer(
            trigger=PolarisJobTrigger(
                job_id=self.job_id,
                polaris_conn_id=self.polaris_conn_id,
                poll_interval=self.poll_interval,
                deadline=time.time() + float(self.timeout) if self.timeout else None,
                target_statuses=sorted(self.target_statuses) if self.target_statuses else None,
                # The sensor does not own the job: never cancel it.
                cancel_on_kill=False,
                max_unknown_polls=self.max_unknown_polls,
                progress_interval=self.progress_interval,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: Any = None) -> None:
        job_id, job, outcome = conclude(event, self.target_statuses)
        if not outcome.is_final:
            raise AirflowSensorTimeout(
                f"Sensor has timed out waiting for Polaris job {job_id}: {outcome.message}"
            )
        self._judge(outcome, job)

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context
    ) -> Any:
        # Same soft_fail semantics as poke mode: only a timeout becomes a skip.
        try:
            return BaseOperator.resume_execution(self, next_method, next_kwargs, context)
        except AirflowSkipException:
            raise
        except AirflowSensorTimeout as exc:
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping on timeout (soft_fail): {exc}") from exc
            raise
        except Exception as exc:
            if getattr(self, "never_fail", False):
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from exc
            raise
