"""One status poller per (event loop, connection, project) shared by every job wait in a triggerer.

A triggerer runs all triggers in one asyncio loop on one core, and an httpx request costs the
client milliseconds of CPU. With a poller per trigger, 1,000 waits polling every 30 s mean 1,000
requests per interval. Here, one page walk of
``GET /jobs?executionStatus=pending&executionStatus=running`` per interval tells every waiter
whether its job is still in flight; only jobs that left that set (or are about to be judged
final) are fetched individually. Requests per interval are O(1) per project plus O(jobs that
changed).

Life cycle: the first waiter for a key creates the poller, which gets its one
``AsyncPolarisClient`` from a ``PolarisHook`` (``get_async_client``); the last waiter to leave
(result, timeout or cancellation) removes it from the registry, stops its task and closes the
client. Errors from the list call are delivered to every waiter, which fails
once its own ``max_consecutive_errors`` is exceeded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_polaris.client import AsyncPolarisClient, PolarisConfig
from airflow_provider_polaris.outcomes import (
    DEFAULT_MAX_UNKNOWN_POLLS,
    ErrorStreak,
    Outcome,
    ProgressTracker,
    UnknownStreak,
    decide_outcome,
)

log = logging.getLogger(__name__)

ACTIVE_STATUSES = ["pending", "running"]
_FETCH_CONCURRENCY = 8


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
    max_unknown_polls: int | None = DEFAULT_MAX_UNKNOWN_POLLS
    unknown: UnknownStreak | None = None
    errors: ErrorStreak | None = None
    # The last job document seen (list summary or full job): what a timeout reports and what
    # progress samples are logged against.
    last: Mapping[str, Any] | None = None
    # The poller this wait is registered with (set by SharedJobPoller.add): it lends its client.
    poller: SharedJobPoller | None = field(default=None, repr=False)

    def observe(self, job: Mapping[str, Any]) -> Outcome:
        """Judge one poll of the job (and log a line when something changed)."""
        self._errors().reset()
        if self.unknown is None:
            self.unknown = UnknownStreak(self.max_unknown_polls)
        self.last = job
        outcome = self.unknown.check(job, decide_outcome(job, target_statuses=self.target_statuses))
        self.log_change(job)
        return outcome

    def log_change(
        self,
        job: Mapping[str, Any],
        progress: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        """Report one line when status, progress % or rows processed changed."""
        line = self.tracker.observe(job, progress, metrics)
        if line:
            self.report(line)

    def finish(self, status: str, message: str, job: Mapping[str, Any] | None) -> None:
        if not self.result.done():
            self.result.set_result((status, message, job))

    def error(self, exc: BaseException) -> None:
        streak = self._errors()
        if streak.gives_up(exc):
            self.finish("error", f"Polling Polaris job {self.job_id} failed: {exc}", None)
        else:
            self.report(
                f"Polling Polaris job {self.job_id} failed ({streak.count}/"
                f"{streak.limit} consecutive errors), will retry: {exc}"
            )

    def _errors(self) -> ErrorStreak:
        if self.errors is None:
            self.errors = ErrorStreak(self.max_consecutive_errors)
        return self.errors


class ClientSource(Protocol):
    """Where a poller gets its client: ``PolarisHook`` (its async getter builds the client off
    the event loop and registers fetched OAuth tokens with the secrets masker)."""

    async def get_async_client(self) -> AsyncPolarisClient: ...

    async def aclose(self) -> None: ...


def polaris_hook(conn_id: str) -> ClientSource:
    """A :class:`~airflow_provider_polaris.hooks.polaris.PolarisHook` for ``conn_id``."""
    from airflow_provider_polaris.hooks.polaris import PolarisHook

    return PolarisHook(polaris_conn_id=conn_id)


class SharedJobPoller:
    """Polls one project's active-job list on behalf of every registered :class:`Waiter`."""

    def __init__(
        self,
        key: tuple[Any, ...],
        config: PolarisConfig,
        source: ClientSource,
    ) -> None:
        self.key = key
        self.config = config
        self._source = source
        self.waiters: set[Waiter] = set()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    def add(self, waiter: Waiter) -> None:
        waiter.poller = self
        self.waiters.add(waiter)
        if self._task is None or self._task.done():
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

    async def client(self) -> AsyncPolarisClient:
        """The poller's client (one per project), lent to its waiters' own per-job requests
        such as progress samples, so that a thousand waits do not open a thousand pools."""
        return await self._source.get_async_client()

    async def _run(self) -> None:
        try:
            client = await self._source.get_async_client()
        except Exception as exc:  # e.g. the connection vanished: every waiter hears of it
            for waiter in list(self.waiters):
                waiter.finish("error", f"Cannot open a Polaris client: {exc}", None)
            await _aclose(self._source)
            return
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
            await _aclose(self._source)

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
    source_factory: Callable[[str], ClientSource] = polaris_hook,
) -> tuple[str, str, Mapping[str, Any] | None] | None:
    """Register ``waiter`` with the shared poller for its project and wait for its result.

    A new poller gets its client from ``source_factory(conn_id)`` (a ``PolarisHook``) and closes
    it when its last waiter leaves. Returns ``None`` on timeout. Always unregisters, including
    on cancellation.
    """
    loop = asyncio.get_running_loop()
    key = (loop, conn_id, config.base_url, config.project_id, credentials_fingerprint(config))
    poller = _POLLERS.get(key)
    if poller is None:
        poller = _POLLERS[key] = SharedJobPoller(key, config, source_factory(conn_id))
    poller.add(waiter)
    try:
        done, _ = await asyncio.wait({waiter.result}, timeout=timeout)
        return waiter.result.result() if done else None
    finally:
        if poller.remove(waiter) and _POLLERS.get(key) is poller:
            del _POLLERS[key]
