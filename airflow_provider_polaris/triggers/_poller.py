"""One status poller per (event loop, connection, project) shared by every job wait in a triggerer.

A triggerer runs all triggers in one asyncio loop on one core, and an httpx request costs the
client milliseconds of CPU. With a poller per trigger, 1,000 waits polling every 30 s mean 1,000
requests per interval. Here, one page walk of
``GET /jobs?executionStatus=pending&executionStatus=running`` per interval tells every waiter
whether its job is still in flight; only jobs that left that set (or are about to be judged
final) are fetched individually. Requests per interval are O(1) per project plus O(jobs that
changed).

Life cycle: the first waiter for a key creates the poller (and its one ``AsyncPolarisClient``);
the last waiter to leave (result, timeout or cancellation) removes it from the registry, stops its
task and closes the client. Errors from the list call are delivered to every waiter, which fails
once its own ``max_consecutive_errors`` is exceeded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_polaris.client import (
    AsyncPolarisClient,
    PolarisApiError,
    PolarisAuthError,
    PolarisBadRequestError,
    PolarisConfig,
    PolarisNotFoundError,
)
from airflow_provider_polaris.outcomes import (
    DEFAULT_MAX_UNKNOWN_POLLS,
    Outcome,
    ProgressTracker,
    UnknownStreak,
    decide_outcome,
)

log = logging.getLogger(__name__)

ACTIVE_STATUSES = ["pending", "running"]
_FETCH_CONCURRENCY = 8


def is_fatal_error(exc: BaseException) -> bool:
    """Errors a later poll cannot fix: bad credentials/permissions, a missing job, a bad request."""
    if isinstance(exc, PolarisAuthError | PolarisNotFoundError | PolarisBadRequestError):
        return True
    return not isinstance(exc, PolarisApiError) and not _is_transport(exc)


def _is_transport(exc: BaseException) -> bool:
    from airflow_provider_polaris.client import PolarisTransportError

    return isinstance(exc, PolarisTransportError | OSError | asyncio.TimeoutError)


@dataclass(eq=False)
class Waiter:
    """One job wait registered with a :class:`SharedJobPoller`.

    ``result`` resolves to ``(status, message, job)`` where status is one of the trigger event
    statuses (``success``, ``failure``, ``canceled``, ``error``).
    """

    job_id: str
    target_statuses: frozenset[str] | None
    poll_interval: float
    max_consecutive_errors: int
    report: Callable[[str], None]
    result: asyncio.Future[tuple[str, str, Mapping[str, Any] | None]]
    tracker: ProgressTracker = field(default_factory=ProgressTracker)
    errors: int = 0
    max_unknown_polls: int | None = DEFAULT_MAX_UNKNOWN_POLLS
    unknown: UnknownStreak | None = None

    def observe(self, job: Mapping[str, Any]) -> Outcome:
        self.errors = 0
        if self.unknown is None:
            self.unknown = UnknownStreak(self.max_unknown_polls)
        outcome = self.unknown.check(job, decide_outcome(job, target_statuses=self.target_statuses))
        line = self.tracker.observe(job)
        if line:
            self.report(line)
        return outcome

    def finish(self, status: str, message: str, job: Mapping[str, Any] | None) -> None:
        if not self.result.done():
            self.result.set_result((status, message, job))

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if is_fatal_error(exc) or self.errors > self.max_consecutive_errors:
            self.finish("error", f"Polling Polaris job {self.job_id} failed: {exc}", None)
        else:
            self.report(
                f"Polling Polaris job {self.job_id} failed ({self.errors}/"
                f"{self.max_consecutive_errors} consecutive errors), will retry: {exc}"
            )


class SharedJobPoller:
    """Polls one project's active-job list on behalf of every registered :class:`Waiter`."""

    def __init__(
        self,
        key: tuple[Any, ...],
        config: PolarisConfig,
        client_factory: Callable[[PolarisConfig], AsyncPolarisClient] = AsyncPolarisClient,
    ) -> None:
        self.key = key
        self.config = config
        self._client_factory = client_factory
        self.waiters: set[Waiter] = set()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    def add(self, waiter: Waiter) -> None:
        self.waiters.add(waiter)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"polaris-job-poller-{self.config.project_id}"
            )

    def remove(self, waiter: Waiter) -> bool:
        """Unregister ``waiter``; return True when that was the last one (the poller stops)."""
        self.waiters.discard(waiter)
        if self.waiters:
            return False
        if self._task is not None and not self._task.done():
            self._task.cancel()
        return True

    async def _run(self) -> None:
        client = self._client_factory(self.config)
        try:
            while self.waiters:
                started = time.monotonic()
                try:
                    await self._tick(client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # never let one bad tick kill every wait
                    log.exception("Polaris job poller tick failed")
                    for waiter in list(self.waiters):
                        waiter.error(exc)
                self.ticks += 1
                pending = [w for w in self.waiters if not w.result.done()] or list(self.waiters)
                if not pending:
                    break
                interval = min(w.poll_interval for w in pending)
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            await _aclose(client)

    async def _tick(self, client: AsyncPolarisClient) -> None:
        waiters = [w for w in self.waiters if not w.result.done()]
        if not waiters:
            return
        try:
            active: dict[str, Mapping[str, Any]] = {}
            async for job in client.jobs.iter_all(execution_status=ACTIVE_STATUSES, page_size=1000):
                if isinstance(job, Mapping) and isinstance(job.get("id"), str):
                    active[job["id"]] = job
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            for waiter in waiters:
                waiter.error(exc)
            return

        to_fetch: dict[str, list[Waiter]] = {}
        for waiter in waiters:
            summary = active.get(waiter.job_id)
            if summary is not None and waiter.observe(summary).kind == "waiting":
                continue
            # Gone from the active set, or about to be judged final: the full job (with health)
            # is what the decision and the event carry.
            to_fetch.setdefault(waiter.job_id, []).append(waiter)
        if not to_fetch:
            return

        semaphore = asyncio.Semaphore(_FETCH_CONCURRENCY)

        async def fetch(job_id: str) -> Mapping[str, Any]:
            async with semaphore:
                result: Mapping[str, Any] = await client.jobs.get(job_id)
                return result

        job_ids = list(to_fetch)
        results = await asyncio.gather(*(fetch(j) for j in job_ids), return_exceptions=True)
        for job_id, result in zip(job_ids, results, strict=True):
            for waiter in to_fetch[job_id]:
                if isinstance(result, BaseException):
                    if isinstance(result, asyncio.CancelledError):
                        raise result
                    waiter.error(result)
                    continue
                outcome = waiter.observe(result)
                if outcome.is_final:
                    waiter.finish(outcome.kind, outcome.message, result)


async def _aclose(client: Any) -> None:
    try:
        closer = getattr(client, "aclose", None)
        if closer is not None:
            await closer()
        else:
            await client.__aexit__(None, None, None)
    except Exception:  # closing is best effort
        log.debug("Closing the Polaris client failed", exc_info=True)


_POLLERS: dict[tuple[Any, ...], SharedJobPoller] = {}


def credentials_fingerprint(config: PolarisConfig) -> str:
    """A sha256 of the config's auth material (never the secret itself) for the poller key.

    A rotated API key or OAuth secret gets a new poller instead of reusing the first waiter's
    client and credentials.
    """
    import hashlib
    import json

    material = [
        getattr(config, name, None)
        for name in ("api_key", "client_id", "client_secret", "token_url")
    ]
    text = json.dumps(material, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def poller_count() -> int:
    """How many shared pollers are alive (for tests and diagnostics)."""
    return len(_POLLERS)


async def wait_shared(
    conn_id: str,
    config: PolarisConfig,
    waiter: Waiter,
    timeout: float | None,
    client_factory: Callable[[PolarisConfig], AsyncPolarisClient] = AsyncPolarisClient,
) -> tuple[str, str, Mapping[str, Any] | None] | None:
    """Register ``waiter`` with the shared poller for its project and wait for its result.

    Returns ``None`` on timeout. Always unregisters, including on cancellation.
    """
    loop = asyncio.get_running_loop()
    key = (loop, conn_id, config.base_url, config.project_id, credentials_fingerprint(config))
    poller = _POLLERS.get(key)
    if poller is None:
        poller = _POLLERS[key] = SharedJobPoller(key, config, client_factory)
    poller.add(waiter)
    try:
        done, _ = await asyncio.wait({waiter.result}, timeout=timeout)
        return waiter.result.result() if done else None
    finally:
        if poller.remove(waiter) and _POLLERS.get(key) is poller:
            del _POLLERS[key]
