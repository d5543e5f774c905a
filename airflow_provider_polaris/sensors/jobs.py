"""``PolarisJobSensor``: wait for a Polaris job someone else submitted.

Poke, reschedule and deferrable modes decide through the same
:func:`~airflow_provider_polaris.outcomes.decide_outcome`. ``soft_fail`` turns only a *timeout*
into a skip, identically in every mode; a failed or canceled job always fails the task (Airflow's
own sensor base class would skip on any error in deferrable mode, so ``resume_execution`` is
narrowed here).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris._compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseOperator,
    BaseSensorOperator,
    conf,
)
from airflow_provider_polaris.links import PolarisJobLink
from airflow_provider_polaris.operators._job_base import PolarisJobFailedError, read_trigger_event
from airflow_provider_polaris.outcomes import (
    Outcome,
    ProgressTracker,
    decide_outcome,
    describe_failure,
)

if TYPE_CHECKING:
    from airflow_provider_polaris._compat import Context
    from airflow_provider_polaris.hooks.polaris import PolarisHook


class PolarisJobSensor(BaseSensorOperator):
    """Wait until a Polaris job completes (or reaches one of ``target_statuses``).

    :param job_id: the Polaris job id (templated), e.g.
        ``"{{ ti.xcom_pull('load', key='job_id') }}"``.
    :param polaris_conn_id: Airflow connection to Polaris.
    :param poll_interval: seconds between checks (alias of ``poke_interval``; used in every mode).
    :param deferrable: wait in the triggerer.
    :param target_statuses: for streaming jobs, e.g. ``["running", "idle"]``.

    A failed job raises ``PolarisJobFailedError`` and a canceled one too (in every mode, whatever
    ``soft_fail`` says); a timeout raises ``AirflowSensorTimeout`` or, with ``soft_fail``, skips.
    """

    template_fields: Sequence[str] = ("job_id", "polaris_conn_id")
    operator_extra_links = (PolarisJobLink(),)

    def __init__(
        self,
        *,
        job_id: str,
        polaris_conn_id: str = "polaris_default",
        poll_interval: float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        target_statuses: Collection[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if poll_interval is not None:
            kwargs["poke_interval"] = poll_interval
        super().__init__(**kwargs)
        self.job_id = job_id
        self.polaris_conn_id = polaris_conn_id
        self.deferrable = deferrable
        self.target_statuses = (
            frozenset(s.lower() for s in target_statuses) if target_statuses else None
        )
        self._tracker = ProgressTracker()

    @cached_property
    def hook(self) -> PolarisHook:
        from airflow_provider_polaris.hooks.polaris import PolarisHook

        return PolarisHook(polaris_conn_id=self.polaris_conn_id)

    def _poll_seconds(self) -> float:
        interval = self.poke_interval
        return interval.total_seconds() if isinstance(interval, timedelta) else float(interval)

    def poke(self, context: Context) -> bool:
        job = self.hook.get_client().jobs.get(self.job_id)
        line = self._tracker.observe(job)
        if line:
            self.log.info("%s", line)
        return self._judge(decide_outcome(job, target_statuses=self.target_statuses), job)

    def _judge(self, outcome: Outcome, job: Any) -> bool:
        if outcome.kind == "waiting":
            return False
        if outcome.kind == "success":
            if outcome.warning:
                self.log.warning("%s", outcome.warning)
            return True
        url = None
        with contextlib.suppress(Exception):
            url = self.hook.get_config().job_console_url(self.job_id)
        raise PolarisJobFailedError(
            describe_failure(job, None, None, url, headline=outcome.message)
        )

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        # One check first: no deferral round trip for a job that is already done.
        if self.poke(context):
            return None
        from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger

        self.defer(
            trigger=PolarisJobTrigger(
                job_id=self.job_id,
                polaris_conn_id=self.polaris_conn_id,
                poll_interval=self._poll_seconds(),
                deadline=time.time() + float(self.timeout) if self.timeout else None,
                target_statuses=sorted(self.target_statuses) if self.target_statuses else None,
                # The sensor does not own the job: never cancel it.
                cancel_on_kill=False,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: Any = None) -> None:
        status, job_id, message, job = read_trigger_event(event)
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"Sensor has timed out waiting for Polaris job {job_id}: {message}"
            )
        if status == "error":
            raise PolarisJobFailedError(message)
        outcome = decide_outcome(job, target_statuses=self.target_statuses)
        if outcome.kind != status:
            outcome = Outcome(
                "failure",
                f"Trigger said {status!r} but the job says {outcome.kind!r}; failing closed.",
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
