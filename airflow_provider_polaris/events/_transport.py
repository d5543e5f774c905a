"""The push transports: keep-alive HTTP/1.1 connections driven by one asyncio event loop.

:class:`PushSender` is what both transports share: the body (gzip), a current ``Authorization``
header, one re-send after an OAuth 401 (Polaris refuses an expired token before ingesting
anything) and the mapping of an answer to a ``PushResult`` or the client's error. It never
retries otherwise: the pusher owns the retry policy. Everything that gives a push its meaning
comes from the client package: the :class:`~airflow_provider_polaris.client.events.PushEndpoint`
(URL, headers, TLS setting, authorization), ``api_error`` and ``RateLimitInfo``.

:class:`PushTransport` sends over raw asyncio streams: each request in flight uses its own
connection (taken from an idle list, opened on demand), and the request bytes are a head prefix
computed once per ``Authorization`` value plus ``Content-Length`` and the body.
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import time
from urllib.parse import urlsplit

import httpx

from airflow_provider_polaris.client import PolarisTransportError
from airflow_provider_polaris.client._core import tls_context
from airflow_provider_polaris.client.errors import api_error, decode_body
from airflow_provider_polaris.client.events import PushEndpoint, PushResult, RateLimitInfo
from airflow_provider_polaris.client.retry import server_delay
from airflow_provider_polaris.events._http import HttpConnection, HttpProtocolError, HttpResponse

#: How long an OAuth header is reused before asking the endpoint again. The client refreshes
#: tokens 20% of their lifetime (at most 60 s) ahead of expiry, so a 5 s old header is still
#: valid; asking on every request would cost a thread hop each (the ask may block on a refresh).
_OAUTH_RECHECK_SECONDS = 5.0

_NETWORK_ERRORS = (
    OSError,
    EOFError,  # asyncio.IncompleteReadError: the server closed or dropped the connection
    asyncio.LimitOverrunError,
    asyncio.TimeoutError,
    HttpProtocolError,
)


class PushSender:
    """One push request per ``await sender(payload)``; subclasses carry the request out
    (``_post``). Raises ``PolarisApiError`` subclasses for error statuses."""

    def __init__(self, endpoint: PushEndpoint) -> None:
        self.endpoint = endpoint
        self.url = endpoint.url
        self._authorization: str | None = None
        self._authorization_at = 0.0
        self._auth_lock: asyncio.Lock | None = None

    async def _post(self, body: bytes, authorization: str) -> HttpResponse:
        raise NotImplementedError

    async def __call__(self, payload: bytes) -> PushResult:
        endpoint = self.endpoint
        body = gzip_module.compress(payload, compresslevel=6) if endpoint.gzip else payload
        authorization = await self._current(None)
        for attempt in (1, 2):
            response = await self._post(body, authorization)
            status = response.status
            if 200 <= status < 300:
                return PushResult(status, RateLimitInfo.from_headers(response.headers))
            if status == 401 and endpoint.oauth and attempt == 1:
                # An expired token is refused before anything is ingested: safe to re-send.
                authorization = await self._current(authorization)
                continue
            headers = httpx.Headers(response.headers)
            raise api_error(
                status,
                decode_body(response.body, headers.get("content-type")),
                method="POST",
                url=self.url,
                retry_after=server_delay(headers, time.time(), status),
                reason=response.reason,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _current(self, stale: str | None) -> str:
        """The ``Authorization`` header to send; never ``stale`` (one a server refused)."""
        if stale is None and self._fresh():
            return self._authorization  # type: ignore[return-value]
        if self._auth_lock is None:
            self._auth_lock = asyncio.Lock()
        async with self._auth_lock:  # one token request at a time, whatever the senders
            current = self._authorization
            if (stale is not None and current != stale) or (stale is None and self._fresh()):
                return current  # type: ignore[return-value]  # another sender got a new one
            if self.endpoint.oauth:
                # May block on the token URL: keep the event loop (and the other pushes) going.
                header = await asyncio.to_thread(self.endpoint.authorization, stale)
            else:
                header = self.endpoint.authorization(stale)  # constant: no I/O
            self._authorization, self._authorization_at = header, time.monotonic()
            return header

    def _fresh(self) -> bool:
        if self._authorization is None:
            return False
        return (
            not self.endpoint.oauth
            or time.monotonic() - self._authorization_at < _OAUTH_RECHECK_SECONDS
        )


class PushTransport(PushSender):
    """Sends pushes over raw asyncio streams; create and use it in one event loop.

    Network failures raise ``PolarisTransportError``, timeouts included (``connect_timeout`` to
    connect, ``read_timeout`` for the rest).
    """

    def __init__(self, endpoint: PushEndpoint) -> None:
        super().__init__(endpoint)
        parts = urlsplit(self.url)
        https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if https else 80)
        self._ssl = tls_context(endpoint.verify) if https else None
        self._connect_timeout = endpoint.connect_timeout
        self._read_timeout = endpoint.read_timeout
        headers = {"Host": parts.netloc.rpartition("@")[2], **endpoint.headers}
        self._head_start = f"POST {parts.path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        self._head: tuple[str, bytes] = ("", b"")  # (Authorization, head up to Content-Length)
        self._idle: list[HttpConnection] = []
        self._busy: set[HttpConnection] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def _post(self, body: bytes, authorization: str) -> HttpResponse:
        if self._head[0] != authorization:
            prefix = f"{self._head_start}Authorization: {authorization}\r\nContent-Length: "
            self._head = (authorization, prefix.encode("latin-1"))
        return await self._exchange(b"%s%d\r\n\r\n%s" % (self._head[1], len(body), body))

    async def _exchange(self, request: bytes) -> HttpResponse:
        conn = None
        while self._idle:
            candidate = self._idle.pop()  # the most recently used: least likely closed
            if candidate.reusable:
                conn = candidate
                break
            candidate.close()
        if conn is None:
            conn = await self._connect()
        loop = asyncio.get_running_loop()
        conn.deadline = loop.time() + self._read_timeout
        self._busy.add(conn)
        try:
            response = await conn.exchange(request)
        except BaseException as exc:
            conn.abort()
            if isinstance(exc, _NETWORK_ERRORS):
                why = (
                    f"no response within read_timeout={self._read_timeout}s"
                    if conn.timed_out
                    else f"{type(exc).__name__}: {exc}"
                )
                raise PolarisTransportError(why, "POST", self.url) from exc
            raise
        finally:
            self._busy.discard(conn)
            conn.deadline = 0.0
        if response.will_close:
            conn.close()
        else:
            self._idle.append(conn)
        return response

    async def _connect(self) -> HttpConnection:
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        try:
            return await HttpConnection.open(
                self._host, self._port, self._ssl, self._connect_timeout
            )
        except _NETWORK_ERRORS as exc:
            why = (
                f"could not connect within connect_timeout={self._connect_timeout}s"
                if isinstance(exc, asyncio.TimeoutError)
                else f"{type(exc).__name__}: {exc}"
            )
            raise PolarisTransportError(why, "POST", self.url) from exc

    async def _watch(self) -> None:
        """Abort requests that outlive the read timeout.

        One sweep a second instead of a timer per request: a per-request ``asyncio.wait_for``
        or ``asyncio.timeout`` costs more CPU than the rest of the request's client side.
        """
        loop = asyncio.get_running_loop()
        period = min(1.0, self._read_timeout / 4)
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for conn in [c for c in self._busy if 0 < c.deadline <= now]:
                conn.abort(timed_out=True)

    async def aclose(self) -> None:
        """Stop the timeout watchdog and close every connection."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for conn in [*self._idle, *self._busy]:
            conn.abort()
        self._idle.clear()
        self._busy.clear()
