"""One status poller per (event loop, connection, project) shared by every job wait in a triggerer.

A triggerer runs all triggers in one asyncio loop on one core, and an httpx request costs the
client milliseconds of CPU. With a poller per trigger, 1,000 waits polling every 30 s mean 1,000
requests per interval. Here one poller reads, per interval, only what changed in the project:

- **Incremental walk** (the usual interval): ``GET /jobs`` sorted by ``last_updated_date_time``
  descending, page by page, stopping at the previous walk's high-water mark minus an overlap
  margin (equal timestamps, clock skew, late commits). Only waiters whose job appears there are
  touched; requests per interval grow with the jobs that changed, not with the jobs running.
- **Full walk** when in doubt: the first walk, after a failed walk, when the list is not sorted
  as expected or a timestamp cannot be read, when the incremental walk would read more pages
  than a full one, when many new waiters arrived, and at least every ``FULL_WALK_SECONDS`` as a
  safety net. It is the page walk of ``GET /jobs?executionStatus=pending&executionStatus=running``:
  every waiter whose job is not in it has its job fetched.
- **Fetches**: the full job (with health) of each job that left the active set or is about to be
  judged final, of a few new waiters (a new wait's job is fetched rather than forcing a full
  walk), and of jobs showing a status outside pending/running that is not final (``unknown``,
  counted against ``max_unknown_polls`` every interval). Fetches run concurrently, at most
  ``FETCH_CONCURRENCY`` at a time, and each result is delivered as soon as it arrives.

The per-interval work never allocates per waiter and yields to the event loop every
``YIELD_EVERY`` items, so one poller with thousands of waiters does not stall the triggerer.

Life cycle: the first waiter for a key creates the poller, which gets its one
``AsyncPolarisClient`` from a ``PolarisHook`` (``get_async_client``); the last waiter to leave
(result, timeout or cancellation) removes it from the registry, stops its task and closes the
client. Each waiter is a :class:`~airflow_provider_polaris.waiting.JobWatch`: it judges what the
walks and fetches deliver, and counts their errors (a list error reaches every waiter), ending
with a (``permanent`` when a retry cannot help) ``error`` event when its watch gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

from airflow_provider_polaris.client import AsyncPolarisClient, PolarisConfig
from airflow_provider_polaris.outcomes import JobState, Outcome
from airflow_provider_polaris.waiting import JobWatch

log = logging.getLogger(__name__)

Event = dict[str, Any]
ACTIVE_STATUSES = ["pending", "running"]
_ACTIVE = frozenset(ACTIVE_STATUSES)
# Fetches in flight at most (also bounded by the client's max_connections): a burst of ended
# jobs is fetched in about one request's time, so every event is at most one fetch late.
FETCH_CONCURRENCY = 100
YIELD_EVERY = 250  # items handled between two yields to the event loop
OVERLAP_SECONDS = 2.0  # how far under the high-water mark an incremental walk re-reads
FULL_WALK_SECONDS = 300.0  # a full walk at least this often, whatever else happened
DIRECT_FETCH_MAX = 8  # new waiters fetched one by one; more than this make a full walk
PAGE_MIN, PAGE_MAX = 100, 1000  # incremental page size, adapted to the last walk's length


class Waiter(JobWatch):
    """One job wait registered with a :class:`SharedJobPoller`: a :class:`JobWatch` whose
    ``result`` resolves to the trigger event it ends with (exactly once).

    :param result: the future the event is set on.
    :param conn_id: the Airflow connection, named by a permanent error's explanation.
    """

    def __init__(self, *, result: asyncio.Future[Event], conn_id: str | None = None, **watch: Any):
        super().__init__(**watch)
        self.result = result
        self.conn_id = conn_id
        # The poller this wait is registered with (set by SharedJobPoller.add): lends its client.
        self.poller: SharedJobPoller | None = None
        # The ``lastUpdatedTimestamp`` of the job document last judged: an incremental walk that
        # re-reads the same version (inside the overlap margin) skips it.
        self.seen: Any = None

    def judge(self, job: Mapping[str, Any]) -> Outcome:
        """Judge one poll of the job and log a line when something changed."""
        outcome = self.observe(job)
        self.log_change(job)
        return outcome

    def finish(self, event: Event) -> None:
        if not self.result.done():
            self.result.set_result(event)

    def error(self, exc: BaseException) -> None:
        """Count a failed poll; end the wait with an ``error`` event (flagged ``permanent`` when a
        retry cannot help, e.g. a 401) once the watch gives up."""
        if self.gives_up(exc):
            config = self.poller.config if self.poller is not None else None
            self.finish(self.error_event(exc, self.conn_id, config))


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
    """Polls one project's job list on behalf of every registered :class:`Waiter`.

    ``overlap`` and ``full_walk_seconds`` default to the module constants (tests shorten them).
    """

    def __init__(
        self,
        key: tuple[Any, ...],
        config: PolarisConfig,
        source: ClientSource,
        *,
        overlap: float = OVERLAP_SECONDS,
        full_walk_seconds: float = FULL_WALK_SECONDS,
    ) -> None:
        self.key = key
        self.config = config
        self._source = source
        self.overlap = overlap
        self.full_walk_seconds = full_walk_seconds
        self.waiters: set[Waiter] = set()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0
        self.full_walks = 0
        self._by_job: dict[str, list[Waiter]] = {}
        self._intervals: Counter[float] = Counter()
        self._new: set[Waiter] = set()  # registered, job state not read yet
        self._watch: set[Waiter] = set()  # fetched every interval (e.g. ``unknown``)
        self._fetch: dict[str, None] = {}  # job ids to fetch this interval (ordered set)
        self._mark: float | None = None  # high-water mark: newest timestamp walked (server clock)
        self._doubt = True  # the next walk must be a full one
        self._errored = False  # some waiter holds a list-error count to reset
        self._last_full = 0.0
        self._full_pages = 1
        self._page_size = PAGE_MIN

    def add(self, waiter: Waiter, *, start: bool = True) -> None:
        """Register ``waiter``; with ``start`` (default) make sure the polling task runs."""
        waiter.poller = self
        self.waiters.add(waiter)
        self._by_job.setdefault(waiter.job_id, []).append(waiter)
        self._intervals[waiter.poll_interval] += 1
        self._new.add(waiter)
        if start and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"polaris-job-poller-{self.config.project_id}"
            )

    def remove(self, waiter: Waiter) -> bool:
        """Unregister ``waiter``; return True when that was the last one (the poller stops)."""
        if waiter in self.waiters:
            self.waiters.discard(waiter)
            same_job = self._by_job.get(waiter.job_id, [])
            if waiter in same_job:
                same_job.remove(waiter)
            if not same_job:
                self._by_job.pop(waiter.job_id, None)
            self._intervals -= Counter({waiter.poll_interval: 1})  # drops a count that hits 0
            self._new.discard(waiter)
            self._watch.discard(waiter)
        if self.waiters:
            return False
        if self._task is not None and not self._task.done():
            self._task.cancel()
        return True

    async def client(self) -> AsyncPolarisClient:
        """The poller's client (one per project), lent to its waiters' own per-job requests
        such as progress samples, so that a thousand waits do not open a thousand pools."""
        return await self._source.get_async_client()

    async def poll_once(self) -> None:
        """Do one interval's work now (what the polling task does every interval)."""
        await self._tick(await self._source.get_async_client())

    async def _run(self) -> None:
        try:
            client = await self._source.get_async_client()
        except Exception as exc:  # e.g. the connection vanished: every waiter hears of it
            for waiter in list(self.waiters):
                waiter.finish(
                    waiter.error_event(exc, waiter.conn_id, self.config, "Opening a client for")
                )
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
                    self._doubt = True
                    await self._error_all(exc)
                self.ticks += 1
                if not self._intervals:
                    break
                interval = min(self._intervals)
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            await _aclose(self._source)

    async def _tick(self, client: AsyncPolarisClient) -> None:
        """One interval: a walk (incremental, or full when in doubt), then the fetches."""
        if not self.waiters:
            return
        now = time.monotonic()
        full = (
            self._doubt
            or self._mark is None
            or len(self._new) > DIRECT_FETCH_MAX
            or now - self._last_full >= self.full_walk_seconds
        )
        try:
            if not full:
                full = not await self._walk_changes(client)
            if full:
                await self._walk_active(client)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the list failed: every waiter counts it; next walk is full
            self._doubt = True
            self._fetch.clear()
            await self._error_all(exc)
            return
        if self._errored:  # a walk succeeded: the list-error streaks are over
            self._errored = False
            for waiter in self.waiters:
                waiter.errors = 0
        for waiter in self._new:  # the few new waits not covered by a full walk
            self._fetch[waiter.job_id] = None
        self._new.clear()
        for waiter in self._watch:
            self._fetch[waiter.job_id] = None
        if self._fetch:
            await self._fetch_all(client)

    async def _walk_changes(self, client: AsyncPolarisClient) -> bool:
        """Walk the jobs changed since the high-water mark (minus the overlap), newest first.

        Returns False, having judged nothing final yet, when a full walk is the better read: the
        changes span more pages than a full walk would read.
        """
        assert self._mark is not None
        stop_below = self._mark - self.overlap
        newest: float | None = None
        previous = float("inf")
        count = 0
        pager = client.jobs.iter_all(
            sort_column="last_updated_date_time", sort_order="DESC", page_size=self._page_size
        )
        async with contextlib.aclosing(pager) as jobs:  # type: ignore[type-var]
            async for job in jobs:
                count += 1
                stamp = _stamp(job)
                if stamp is None or stamp > previous + 0.001:  # unreadable or out of order
                    self._doubt = True
                    return False
                previous = stamp
                if stamp < stop_below:
                    break
                newest = stamp if newest is None else max(newest, stamp)
                self._judge_summary(job, full=False)
                if count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                if count > self._full_pages * PAGE_MAX:  # a full walk reads less
                    self._page_size = PAGE_MAX
                    return False
        if newest is not None:
            self._mark = max(self._mark, newest)
        self._page_size = max(PAGE_MIN, min(PAGE_MAX, count + count // 2 + 10))
        return True

    async def _walk_active(self, client: AsyncPolarisClient) -> None:
        """The full walk: every active job; a waiter whose job is not among them is fetched.

        The high-water mark comes from the newest job of the whole project, read first: every
        change after that read is newer, and everything before it is in the state this walk
        reads (active, or fetched).
        """
        self.full_walks += 1
        newest = await self._newest_stamp(client)
        self._new.clear()  # all registered so far are accounted for by this walk
        waiting = list(self.waiters)  # waiters arriving during the walk stay new
        active: set[str] = set()
        async for job in client.jobs.iter_all(execution_status=ACTIVE_STATUSES, page_size=1000):
            job_id = job.get("id") if isinstance(job, Mapping) else None
            if not isinstance(job_id, str):
                continue
            active.add(job_id)
            self._judge_summary(job, full=True)
            if len(active) % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        for index, waiter in enumerate(waiting):
            if waiter.job_id not in active:
                self._fetch[waiter.job_id] = None
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        # Not the newest active job's time: a later page is read later, so a job changed
        # between two pages could sit under it without ever being walked.
        if newest is not None:
            self._mark = newest
        self._doubt = self._mark is None
        self._last_full = time.monotonic()
        self._full_pages = 1 + len(active) // 1000

    async def _newest_stamp(self, client: AsyncPolarisClient) -> float | None:
        pager = client.jobs.iter_all(
            sort_column="last_updated_date_time", sort_order="DESC", page_size=1
        )
        async with contextlib.aclosing(pager) as jobs:  # type: ignore[type-var]
            async for job in jobs:
                return _stamp(job)
        return None

    def _judge_summary(self, job: Mapping[str, Any], *, full: bool) -> None:
        """A walked list entry: judge it for its waiters, or queue the full job for a fetch."""
        waiters = self._by_job.get(job.get("id"))  # type: ignore[arg-type]
        if not waiters:
            return
        stamp = job.get("lastUpdatedTimestamp")
        active = job.get("executionStatus") in _ACTIVE
        for waiter in waiters:
            if waiter.result.done() or (not full and stamp is not None and waiter.seen == stamp):
                continue
            waiter.seen = stamp
            self._new.discard(waiter)
            # Only pending/running entries are judged from the summary; anything else (ended,
            # unknown) is decided from the full job, as the event carries it.
            if active and waiter.judge(job).kind == "waiting":
                self._watch.discard(waiter)
            else:
                self._fetch[waiter.job_id] = None

    async def _fetch_all(self, client: AsyncPolarisClient) -> None:
        """Fetch the queued jobs, ``FETCH_CONCURRENCY`` at a time, judging each on arrival."""
        queued = list(self._fetch)
        self._fetch.clear()
        job_ids = iter(queued)

        async def worker() -> None:
            for job_id in job_ids:  # one iterator shared by the workers
                try:
                    job = await client.jobs.get(job_id)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    for waiter in self._by_job.get(job_id, ()):
                        self._watch.add(waiter)  # try again next interval
                        waiter.error(exc)
                    continue
                self._judge_job(job_id, job)

        workers = min(FETCH_CONCURRENCY, self.config.max_connections, len(queued))
        await asyncio.gather(*(worker() for _ in range(workers)))

    def _judge_job(self, job_id: str, job: Mapping[str, Any]) -> None:
        for waiter in list(self._by_job.get(job_id, ())):
            if waiter.result.done():
                continue
            waiter.seen = job.get("lastUpdatedTimestamp")
            outcome = waiter.judge(job)
            if outcome.is_final:
                self._watch.discard(waiter)
                waiter.finish(waiter.event(outcome, job))
            elif JobState(job).execution_status in _ACTIVE:
                self._watch.discard(waiter)
            else:
                self._watch.add(waiter)

    async def _error_all(self, exc: BaseException) -> None:
        self._errored = True
        for index, waiter in enumerate(list(self.waiters)):
            waiter.error(exc)
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)


def _stamp(job: Any) -> float | None:
    """``lastUpdatedTimestamp`` as epoch seconds (naive times are UTC); None when unreadable."""
    text = job.get("lastUpdatedTimestamp") if isinstance(job, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


async def _aclose(source: ClientSource) -> None:
    try:
        await source.aclose()
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
) -> Event | None:
    """Register ``waiter`` with the shared poller for its project and wait for its event.

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
