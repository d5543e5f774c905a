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
import time
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

from airflow_provider_polaris._compat import BaseTrigger, TriggerEvent
from airflow_provider_polaris.hooks.errors import permanent_failure
from airflow_provider_polaris.outcomes import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_MAX_UNKNOWN_POLLS,
    DEFAULT_PROGRESS_INTERVAL,
    ErrorStreak,
    JobState,
    ProgressSchedule,
    ProgressTracker,
    UnknownStreak,
    check_max_unknown_polls,
    check_progress_interval,
    decide_outcome,
)
from airflow_provider_polaris.triggers._poller import Waiter, wait_shared

EVENT_STATUSES = frozenset({"success", "failure", "canceled", "timeout", "error"})
# How long ``on_kill`` may spend canceling the job (the triggerer also bounds it).
_CANCEL_TIMEOUT = 20.0


def job_event(
    status: str,
    job_id: str,
    message: str,
    job: Mapping[str, Any] | None = None,
    *,
    permanent: bool = False,
) -> dict[str, Any]:
    """Build a trigger event payload (also used by tests and by operators for symmetry).

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
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "polaris_conn_id": self.polaris_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "target_statuses": list(self.target_statuses) if self.target_statuses else None,
                "cancel_on_kill": self.cancel_on_kill,
                "max_consecutive_errors": self.max_consecutive_errors,
                "shared_poller": self.shared_poller,
                "max_unknown_polls": self.max_unknown_polls,
                "progress_interval": self.progress_interval,
            },
        )

    def _hook(self) -> Any:
        """A new ``PolarisHook``: each use (the wait, ``on_kill``) closes the client it opens."""
        from airflow_provider_polaris.hooks.polaris import PolarisHook

        return PolarisHook(polaris_conn_id=self.polaris_conn_id)

    def _remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.time())

    def _timeout_event(self, job: Mapping[str, Any] | None = None) -> dict[str, Any]:
        last = f" Last seen: {JobState(job).describe()}." if job else ""
        return job_event(
            "timeout",
            self.job_id,
            f"Timed out waiting for Polaris job {self.job_id} (deadline passed).{last}",
            job,
        )

    def _error_event(self, exc: BaseException, doing: str, config: Any = None) -> dict[str, Any]:
        """An ``error`` event; a permanent error (hooks/errors.py) is flagged and explained
        (connection and field to fix), so ``execute_complete`` fails without retries."""
        failure = permanent_failure(exc, self.polaris_conn_id, config)
        if failure is not None:
            return job_event("error", self.job_id, str(failure), permanent=True)
        return job_event("error", self.job_id, f"{doing} Polaris job {self.job_id} failed: {exc}")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # fail closed: any crash is an error event, never silence
            self.log.exception("Waiting for Polaris job %s failed", self.job_id)
            event = self._error_event(exc, "Waiting for")
        yield TriggerEvent(event)
        return

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
            return await self._wait_alone(hook)
        finally:
            await hook.aclose()

    async def _wait_shared(self, hook: Any, config: Any) -> dict[str, Any]:
        waiter = Waiter(
            job_id=self.job_id,
            target_statuses=frozenset(self.target_statuses) if self.target_statuses else None,
            poll_interval=self.poll_interval,
            max_consecutive_errors=self.max_consecutive_errors,
            max_unknown_polls=self.max_unknown_polls,
            report=self.log.info,
            result=asyncio.get_running_loop().create_future(),
        )
        sampler = (
            asyncio.get_running_loop().create_task(self._sample_progress(hook, waiter))
            if self.progress_interval
            else None
        )
        try:
            result = await wait_shared(self.polaris_conn_id, config, waiter, self._remaining())
        finally:
            if sampler is not None:
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
        if result is None:
            return self._timeout_event(waiter.last)
        status, message, job = result
        return job_event(status, self.job_id, message, job)

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
            progress, metrics = await _progress_and_metrics(client, self.job_id)
            waiter.log_change(job, progress, metrics)

    async def _wait_alone(self, hook: Any) -> dict[str, Any]:
        client = await hook.get_async_client()
        tracker = ProgressTracker()
        schedule = ProgressSchedule(self.progress_interval, time.monotonic())
        targets = set(self.target_statuses) if self.target_statuses else None
        errors = ErrorStreak(self.max_consecutive_errors)
        unknown = UnknownStreak(self.max_unknown_polls)
        last: Mapping[str, Any] | None = None
        while True:
            try:
                job = await client.jobs.get(self.job_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if errors.gives_up(exc):
                    return self._error_event(exc, "Polling", getattr(hook, "_config", None))
                self.log.warning(
                    "Polling Polaris job %s failed (%s in a row), will retry: %s",
                    self.job_id,
                    errors.count,
                    exc,
                )
            else:
                errors.reset()
                last = job
                outcome = unknown.check(job, decide_outcome(job, target_statuses=targets))
                progress, metrics = None, None
                if (
                    not outcome.is_final
                    and JobState(job).execution_status == "running"
                    and schedule.due(time.monotonic())
                ):
                    progress, metrics = await _progress_and_metrics(client, self.job_id)
                line = tracker.observe(job, progress, metrics)
                if line:
                    self.log.info("%s", line)
                if outcome.is_final:
                    return job_event(outcome.kind, self.job_id, outcome.message, job)
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                return self._timeout_event(last)
            await asyncio.sleep(
                self.poll_interval if remaining is None else min(self.poll_interval, remaining)
            )

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


async def _progress_and_metrics(client: Any, job_id: str) -> tuple[Any, Any]:
    """Best-effort progress and row metrics for the progress log line."""
    try:
        progress, metrics = await asyncio.gather(
            client.jobs.get_progress(job_id), client.jobs.get_metrics(job_id)
        )
        return progress, metrics
    except asyncio.CancelledError:
        raise
    except Exception:
        return None, None


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
