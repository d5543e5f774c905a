"""Many callers sharing one client: requests wait their turn for a pooled connection.

Against a real socket server on 127.0.0.1 that answers after a short delay, with a small pool:
every call succeeds, none is retried, at most ``max_connections`` requests are handed to httpx
at once (httpx's own pool queue wakes every waiter on every freed connection, which burns CPU
under load), and waiting for a turn never counts as a connect timeout.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from polaris_client_harness import make_config
from slow_http_server import SlowHttpServer

from airflow_provider_polaris.client import AsyncPolarisClient, PolarisClient, PolarisConfig

POOL = 5
CALLS = 200


class CountingTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """A real httpx transport (sockets, pool of ``POOL``) that counts requests handed to it."""

    def __init__(self) -> None:
        limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
        self._async = httpx.AsyncHTTPTransport(limits=limits)
        self._sync = httpx.HTTPTransport(limits=limits)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._enter()
        try:
            response = await self._async.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self._leave()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._enter()
        try:
            response = self._sync.handle_request(request)
            response.read()
            return response
        finally:
            self._leave()

    async def aclose(self) -> None:
        await self._async.aclose()

    def close(self) -> None:
        self._sync.close()


def _config(server: SlowHttpServer, **overrides: Any) -> PolarisConfig:
    return make_config(base_url=server.url, max_connections=POOL, **overrides)


async def test_async_client_shared_by_many_coroutines() -> None:
    retries: list[float] = []

    async def record_retry(seconds: float) -> None:
        retries.append(seconds)

    transport = CountingTransport()
    with SlowHttpServer(delay=0.01) as server:
        client = AsyncPolarisClient(_config(server), transport=transport, sleep=record_retry)
        async with client:
            results = await asyncio.gather(*(client.jobs.get("j1") for _ in range(CALLS)))
    assert results == [{"id": "j1"}] * CALLS
    assert retries == []
    assert server.requests == CALLS
    assert transport.max_in_flight <= POOL  # the others waited on the client's semaphore
    assert server.connections <= POOL  # freed connections are reused, not reopened


def test_sync_client_shared_by_many_threads() -> None:
    retries: list[float] = []
    transport = CountingTransport()
    with (
        SlowHttpServer(delay=0.01) as server,
        PolarisClient(_config(server), transport=transport, sleep=retries.append) as client,
        ThreadPoolExecutor(max_workers=40) as threads,
    ):
        results = list(threads.map(lambda _: client.jobs.get("j1"), range(CALLS)))
    assert results == [{"id": "j1"}] * CALLS
    assert retries == []
    assert server.requests == CALLS
    assert transport.max_in_flight <= POOL
    assert server.connections <= POOL


# Each answer takes 0.15 s, three times the connect timeout: a request queued behind a full pool
# waits longer than connecting may take, and must still succeed without a retry.
SLOW_ANSWER = 0.15
CONNECT_TIMEOUT = 0.05


async def test_async_wait_for_a_connection_is_not_a_connect_timeout() -> None:
    retries: list[float] = []

    async def record_retry(seconds: float) -> None:
        retries.append(seconds)

    with SlowHttpServer(delay=SLOW_ANSWER) as server:
        config = _config(server, connect_timeout=CONNECT_TIMEOUT)
        async with AsyncPolarisClient(config, sleep=record_retry) as client:
            results = await asyncio.gather(*(client.jobs.get("j1") for _ in range(3 * POOL)))
    assert results == [{"id": "j1"}] * (3 * POOL)
    assert retries == []
    assert (server.requests, server.max_in_flight) == (3 * POOL, POOL)


def test_sync_wait_for_a_connection_is_not_a_connect_timeout() -> None:
    retries: list[float] = []
    with (
        SlowHttpServer(delay=SLOW_ANSWER) as server,
        PolarisClient(
            _config(server, connect_timeout=CONNECT_TIMEOUT), sleep=retries.append
        ) as client,
        ThreadPoolExecutor(max_workers=3 * POOL) as threads,
    ):
        results = list(threads.map(lambda _: client.jobs.get("j1"), range(3 * POOL)))
    assert results == [{"id": "j1"}] * (3 * POOL)
    assert retries == []
    assert (server.requests, server.max_in_flight) == (3 * POOL, POOL)


class YieldingTransport(httpx.AsyncBaseTransport):
    """Answers after giving the loop a few turns, so concurrent callers contend for a turn."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(3):
            await asyncio.sleep(0)
        return httpx.Response(200, json={"id": "j1"})


def test_async_client_reused_from_a_second_event_loop() -> None:
    """The turn-taking semaphore belongs to a loop; a later loop gets its own."""
    client = AsyncPolarisClient(make_config(max_connections=1), transport=YieldingTransport())

    async def burst() -> list[object]:
        return await asyncio.gather(*(client.jobs.get("j1") for _ in range(4)))

    assert asyncio.run(burst()) == [{"id": "j1"}] * 4
    assert asyncio.run(burst()) == [{"id": "j1"}] * 4
    asyncio.run(client.aclose())
