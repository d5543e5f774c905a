"""The asyncio Polaris client: carries out the core's plans with ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import httpx

from airflow_provider_polaris.client._core import ApiCall, Auth, Core, Plan, Send, Sleep
from airflow_provider_polaris.client._resource import AsyncMode, Pager
from airflow_provider_polaris.client.auth import Authenticator, bearer_token
from airflow_provider_polaris.client.config import PolarisConfig
from airflow_provider_polaris.client.connections import ConnectionsApi
from airflow_provider_polaris.client.events import EventsApi
from airflow_provider_polaris.client.files import FilesApi
from airflow_provider_polaris.client.jobs import JobsApi
from airflow_provider_polaris.client.projects import ProjectsApi
from airflow_provider_polaris.client.query import QueryApi
from airflow_provider_polaris.client.tables import TablesApi

T = TypeVar("T")


class AsyncPolarisClient:
    """Asyncio client for one Polaris project, holding one connection pool.

    Same namespaces and methods as :class:`~.sync.PolarisClient`; every method returns an
    awaitable (``iter_all`` an async iterator). Share one instance across many coroutines of
    the same event loop: at most ``config.max_connections`` requests are in flight, the others
    wait on a semaphore (not in httpx's pool, whose wait costs CPU per queued request and times
    out), and OAuth refreshes are serialised by an ``asyncio.Lock`` so concurrent callers
    trigger one token request. Use ``async with`` or call :meth:`aclose`. ``on_secret`` (sync or
    async) is called with every new OAuth access token, e.g. to mask it in logs.
    """

    def __init__(
        self,
        config: PolarisConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        on_secret: Callable[[str], Awaitable[None] | None] | None = None,
    ) -> None:
        self.config = config
        self._core = Core(config, clock)
        self._auth = Authenticator(self._core)
        self._sleep = sleep or asyncio.sleep
        self._on_secret = on_secret
        self._token_lock = asyncio.Lock()
        self._gate: asyncio.Semaphore | None = None
        self._gate_loop: asyncio.AbstractEventLoop | None = None
        self._http = httpx.AsyncClient(transport=transport, **self._core.client_options())
        self.projects: ProjectsApi[AsyncMode] = ProjectsApi(self)
        self.jobs: JobsApi[AsyncMode] = JobsApi(self)
        self.connections: ConnectionsApi[AsyncMode] = ConnectionsApi(self)
        self.tables: TablesApi[AsyncMode] = TablesApi(self)
        self.files: FilesApi[AsyncMode] = FilesApi(self)
        self.events: EventsApi[AsyncMode] = EventsApi(self)
        self.query: QueryApi[AsyncMode] = QueryApi(self)

    def __repr__(self) -> str:
        return (
            f"AsyncPolarisClient(project_id={self.config.project_id!r}, "
            f"url={self.config.base_url!r})"
        )

    async def execute(self, call: ApiCall[T]) -> T:
        """Run one :class:`ApiCall` with retries and auth; return its parsed result."""
        return await self._run(self._core.plan(call))

    async def paginate(self, pager: Pager[T]) -> AsyncIterator[T]:
        """Yield every item of a paginated listing, fetching pages lazily."""
        position = 0
        while True:
            page = await self.execute(pager.page_call(position))
            items = pager.items(page)
            for item in items:
                yield item
            position = pager.advance(position, len(items))
            if not items or not pager.has_more(page, position):
                return

    def url_for(self, call: ApiCall[Any]) -> str:
        """The full URL (without query string) that :meth:`execute` would send ``call`` to.

        For callers that send a request themselves, such as the event pusher's own transport.
        """
        return self._core.url_for(call)

    async def authorization_header(self, stale: str | None = None) -> str:
        """The ``Authorization`` header value :meth:`execute` would send now.

        API keys give a constant ``Basic`` header; OAuth gives the cached ``Bearer`` token,
        fetched or refreshed (ahead of its expiry, one refresh at a time) when needed. Pass the
        header a server refused with 401 as ``stale`` to force a new token.
        """
        return await self._authorization(stale)

    async def _run(self, plan: Plan[T]) -> T:
        reply: Any = None
        error: httpx.TransportError | None = None
        try:
            while True:
                try:
                    command = plan.throw(error) if error is not None else plan.send(reply)
                except StopIteration as done:
                    return cast(T, done.value)
                reply, error = None, None
                if isinstance(command, Send):
                    async with self._send_gate():
                        try:
                            reply = await self._http.send(command.request)
                        except httpx.TransportError as exc:
                            error = exc
                elif isinstance(command, Sleep):
                    await self._sleep(command.seconds)
                elif isinstance(command, Auth):
                    reply = await self._authorization(command.stale)
        finally:
            plan.close()

    def _send_gate(self) -> asyncio.Semaphore:
        """The semaphore bounding requests in flight, made in (and for) the running loop.

        Made lazily because a semaphore belongs to the loop it first waits in, and the client
        may be built outside any loop (or in a worker thread). A client reused from another
        loop gets a fresh semaphore rather than a ``RuntimeError``.
        """
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate_loop is not loop:
            self._gate = asyncio.Semaphore(self.config.max_connections)
            self._gate_loop = loop
        return self._gate

    async def _authorization(self, stale: str | None) -> str:
        header = self._auth.current(stale)
        if header is not None:
            return header
        async with self._token_lock:
            # Another coroutine may have refreshed while this one waited for the lock.
            header = self._auth.current(stale)
            if header is None:
                header = await self._run(self._auth.refresh_plan())
                if self._on_secret is not None:
                    reported = self._on_secret(bearer_token(header))
                    if inspect.isawaitable(reported):
                        await reported
            return header

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPolarisClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
