"""``PolarisJobTrigger``: waits in the triggerer until a Polaris job reaches an outcome.

Fully async: the connection is looked up with ``PolarisHook.aget_config()`` and the client comes
from ``PolarisHook.get_async_client()`` (never built inside the loop by this module). By default
waits on the same connection and project share one status poller (``triggers/_poller.py``);
``shared_poller=False`` polls the job on its own. Progress % and rows processed are sampled per
job every ``progress_interval`` seconds.

The trigger yields exactly one event and returns. Its payload::

    {"status": "success" | "failure" | "canceled" | "timeout" | "error",
     "job_id": str, "message": str, "job": <final job dict or None>}

Every exception becomes an ``error`` event (fail closed); ``unknown`` states keep the wait going
for at most ``max_unknown_polls`` consecutive polls, transient API errors within
``max_consecutive_errors``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from functools import partial
from typing import Any

from airflow_provider_polaris._compat import BaseTrigger, TriggerEvent
from airflow_provider_polaris.outcomes import JobState
from airflow_provider_polaris.triggers._poller import Waiter, wait_shared
from airflow_provider_polaris.waiting import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    EVENT_STATUSES,
    JobWatch,
    afetch_progress,
    check_max_unknown_polls,
    check_progress_interval,
    job_event,
    validate_event,
)

__all__ = ["EVENT_STATUSES", "PolarisJobTrigger", "job_event", "validate_event"]

# How long ``on_kill`` may spend canceling the job (the triggerer also bounds it).
_CANCEL_TIMEOUT = 20.0
# The trigger's arguments that configure its JobWatch (same names on both).
_WATCH_ARGS = (
    "job_id",
    "target_statuses",
    "poll_interval",
    "deadline",
    "max_consecutive_errors",
    "max_unknown_polls",
    "progress_interval",
)


class PolarisJobTrigger(BaseTrigger):
    """Wait for a Polaris job to finish (or, with ``target_statuses``, to reach one of them).

    :param job_id: the Polaris job id.
    :param polaris_conn_id: the Airflow connection to Polaris.
    :param poll_interval: seconds between status checks.
    :param deadline: wall-clock epoch seconds after which a ``timeout`` event is sent; ``None``
        waits for ever.
    :param target_statuses: for streaming jobs, the statuses that count as success (e.g.
        ``["running", "idle"]``); ``None`` waits for a batch job to complete.
    :param cancel_on_kill: cancel the Polaris job when a user marks or clears the deferred task
        (Airflow >= 3.3 calls ``on_kill``; a triggerer restart does not).
    :param max_consecutive_errors: transient API errors tolerated in a row before an
        ``error`` event.
    :param shared_poller: share one status poller per connection and project (default).
    :param max_unknown_polls: consecutive ``unknown`` statuses tolerated before a ``failure``
        event (``None``: no bound).
    :param progress_interval: seconds between progress samples of a running job (two requests
        of this trigger's own: ``/progress`` and ``/metrics``), the first one interval after the
        wait began; ``None`` or ``0`` never samples (status changes are still logged).
    """

    def __init__(
        self,
        job_id: str,
        polaris_conn_id: str = "polaris_default",
        poll_interval: float = 30.0,
        deadline: float | None = None,
        target_statuses: Collection[str] | None = None,
        cancel_on_kill: bool = True,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        shared_poller: bool = True,
        max_unknown_polls: int | None = DEFAULT_MAX_UNKNOWN_POLLS,
        progress_interval: float | None = DEFAULT_PROGRESS_INTERVAL,
    ) -> None:
        super().__init__()
        self.job_id = str(job_id)
        self.polaris_conn_id = str(polaris_conn_id)
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline) if deadline is not None else None
        self.target_statuses = (
            sorted({str(s).lower() for s in target_statuses}) if target_statuses else None
        )
        self.cancel_on_kill = bool(cancel_on_kill)
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.shared_poller = bool(shared_poller)
        self.max_unknown_polls = check_max_unknown_polls(max_unknown_polls)
        self.progress_interval = check_progress_interval(progress_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        names = (*_WATCH_ARGS, "polaris_conn_id", "cancel_on_kill", "shared_poller")
        path = f"{type(self).__module__}.{type(self).__qualname__}"
        return path, {name: getattr(self, name) for name in names}

    def _watch(self, kind: Any = JobWatch, **extra: Any) -> Any:
        """A fresh :class:`JobWatch` (or ``Waiter``) for one run of this trigger."""
        settings = {name: getattr(self, name) for name in _WATCH_ARGS}
        report, warn = partial(self.log.info, "%s"), partial(self.log.warning, "%s")
        return kind(**settings, report=report, warn=warn, **extra)

    def _hook(self) -> Any:
        """A new ``PolarisHook``: each use (the wait, ``on_kill``) closes the client it opens."""
        from airflow_provider_polaris.hooks.polaris import PolarisHook

        return PolarisHook(polaris_conn_id=self.polaris_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # fail closed: any crash is an error event, never silence
            self.log.exception("Waiting for Polaris job %s failed", self.job_id)
            event = self._watch().error_event(exc, self.polaris_conn_id, doing="Waiting for")
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        hook = self._hook()
        try:
            config = await hook.aget_config()
            self.log.info(
                "Waiting for Polaris job %s (poll every %ss%s)",
                self.job_id,
                self.poll_interval,
                f", until {self.target_statuses}" if self.target_statuses else "",
            )
            if self.shared_poller:
                return await self._wait_shared(hook, config)
            return await self._wait_alone(hook, config)
        finally:
            await hook.aclose()

    async def _wait_shared(self, hook: Any, config: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        waiter = self._watch(Waiter, result=loop.create_future(), conn_id=self.polaris_conn_id)
        sampler = (
            loop.create_task(self._sample_progress(hook, waiter))
            if self.progress_interval
            else None
        )
        try:
            event = await wait_shared(self.polaris_conn_id, config, waiter, waiter.remaining())
        finally:
            if sampler is not None:
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
        return event or waiter.timeout_event()

    async def _sample_progress(self, hook: Any, waiter: Waiter) -> None:
        """Progress for the shared wait: the poller's one list call per interval carries only
        statuses, so this wait fetches its own job's progress, at most once per
        ``progress_interval`` (keeping the poller's requests O(1) per project)."""
        assert self.progress_interval
        while True:
            await asyncio.sleep(self.progress_interval)
            job = waiter.last
            if job is None or JobState(job).execution_status != "running":
                continue
            poller = waiter.poller
            client = await (poller.client() if poller else hook.get_async_client())
            waiter.log_change(job, *await afetch_progress(client, self.job_id))

    async def _wait_alone(self, hook: Any, config: Any) -> dict[str, Any]:
        client = await hook.get_async_client()
        watch: JobWatch = self._watch()
        while True:
            try:
                job = await client.jobs.get(self.job_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if watch.gives_up(exc):
                    return watch.error_event(exc, self.polaris_conn_id, config)
            else:
                outcome = watch.observe(job)
                due = watch.progress_due(outcome)
                watch.log_change(job, *(await afetch_progress(client, self.job_id) if due else ()))
                if outcome.is_final:
                    return watch.event(outcome, job)
            pause = watch.pause()
            if pause is None:
                return watch.timeout_event()
            await asyncio.sleep(pause)

    async def on_kill(self) -> None:
        """Cancel the Polaris job when a user marks or clears the deferred task (Airflow >= 3.3)."""
        if not self.cancel_on_kill:
            self.log.info(
                "Task killed; leaving Polaris job %s running (cancel_on_kill=False)", self.job_id
            )
            return
        # A hook of its own: the wait's client may be mid-request or already closed.
        hook = self._hook()
        try:
            client = await hook.get_async_client()
            await asyncio.wait_for(client.jobs.cancel(self.job_id), timeout=_CANCEL_TIMEOUT)
            self.log.info("Task killed; requested cancellation of Polaris job %s", self.job_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # best effort: never raise from on_kill
            self.log.warning("Task killed; could not cancel Polaris job %s: %s", self.job_id, exc)
        finally:
            try:
                await hook.aclose()
            except Exception as exc:
                self.log.debug("Closing the Polaris client failed: %s", exc)
