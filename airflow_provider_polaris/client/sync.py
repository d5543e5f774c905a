"""The synchronous Polaris client: carries out the core's plans with ``httpx.Client``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import httpx

from airflow_provider_polaris.client._core import ApiCall, Auth, Core, Plan, Send, Sleep
from airflow_provider_polaris.client._resource import Pager, SyncMode
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


class PolarisClient:
    """Blocking client for one Polaris project, holding one connection pool.

    Use as a context manager (or call :meth:`close`). Resource namespaces: ``projects``, ``jobs``,
    ``connections``, ``tables``, ``files``, ``events``, ``query``. ``transport`` replaces the
    network (tests), ``sleep`` and ``clock`` replace ``time.sleep`` / ``time.monotonic``.
    ``on_secret`` is called with every new OAuth access token (Airflow's hook registers it with
    the secrets masker).
    Thread-safe: at most ``config.max_connections`` requests are in flight (other threads wait
    their turn on a semaphore, without a timeout), and OAuth token refreshes are serialised by a
    lock.
    """

    def __init__(
        self,
        config: PolarisConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        on_secret: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self._core = Core(config, clock)
        self._auth = Authenticator(self._core)
        self._sleep = sleep or time.sleep
        self._on_secret = on_secret
        self._token_lock = threading.Lock()
        self._gate = threading.BoundedSemaphore(config.max_connections)
        self._http = httpx.Client(transport=transport, **self._core.client_options())
        self.projects: ProjectsApi[SyncMode] = ProjectsApi(self)
        self.jobs: JobsApi[SyncMode] = JobsApi(self)
        self.connections: ConnectionsApi[SyncMode] = ConnectionsApi(self)
        self.tables: TablesApi[SyncMode] = TablesApi(self)
        self.files: FilesApi[SyncMode] = FilesApi(self)
        self.events: EventsApi[SyncMode] = EventsApi(self)
        self.query: QueryApi[SyncMode] = QueryApi(self)

    def __repr__(self) -> str:
        return f"PolarisClient(project_id={self.config.project_id!r}, url={self.config.base_url!r})"

    def execute(self, call: ApiCall[T]) -> T:
        """Run one :class:`ApiCall` with retries and auth; return its parsed result."""
        return self._run(self._core.plan(call))

    def paginate(self, pager: Pager[T]) -> Iterator[T]:
        """Yield every item of a paginated listing, fetching pages lazily."""
        position = 0
        while True:
            page = self.execute(pager.page_call(position))
            items = pager.items(page)
            yield from items
            position = pager.advance(position, len(items))
            if not items or not pager.has_more(page, position):
                return

    def url_for(self, call: ApiCall[Any]) -> str:
        """The full URL (without query string) that :meth:`execute` would send ``call`` to.

        For callers that send a request themselves, such as the event pusher's own transport.
        """
        return self._core.url_for(call)

    def authorization_header(self, stale: str | None = None) -> str:
        """The ``Authorization`` header value :meth:`execute` would send now.

        API keys give a constant ``Basic`` header; OAuth gives the cached ``Bearer`` token,
        fetched or refreshed (ahead of its expiry, under a lock) when needed. Pass the header a
        server refused with 401 as ``stale`` to force a new token. May block on the token URL.
        """
        return self._authorization(stale)

    def _run(self, plan: Plan[T]) -> T:
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
                    with self._gate:
                        try:
                            reply = self._http.send(command.request)
                        except httpx.TransportError as exc:
                            error = exc
                elif isinstance(command, Sleep):
                    self._sleep(command.seconds)
                elif isinstance(command, Auth):
                    reply = self._authorization(command.stale)
        finally:
            plan.close()

    def _authorization(self, stale: str | None) -> str:
        header = self._auth.current(stale)
        if header is not None:
            return header
        with self._token_lock:
            # Another thread may have refreshed while this one waited for the lock.
            header = self._auth.current(stale)
            if header is None:
                header = self._run(self._auth.refresh_plan())
                if self._on_secret is not None:
                    self._on_secret(bearer_token(header))
            return header

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> PolarisClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
