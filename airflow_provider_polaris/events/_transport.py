"""The push transport: keep-alive HTTP/1.1 connections driven by one asyncio event loop.

Each request in flight uses its own connection (taken from an idle list, opened on demand), so
``max_concurrent_requests`` senders need at most that many connections. Request bytes are built
from a head prefix computed once (request line, ``Host``, ``Accept``, ``User-Agent``,
``Content-Type``, ``Authorization``) plus ``Content-Length``. Everything that gives a push its
meaning still comes from the client package: the URL and headers of ``EventsApi.push``, the
``Authorization`` header (``PolarisClient.authorization_header``: API key, or the cached OAuth
token refreshed ahead of expiry), the error mapping (``api_error``) and the rate-limit headers
(``RateLimitInfo``). Never retries: the pusher owns the retry policy (except one re-send after
an OAuth 401, which Polaris refuses before ingesting anything).
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_polaris.client import PolarisTransportError
from airflow_provider_polaris.client._core import default_user_agent
from airflow_provider_polaris.client.errors import api_error, decode_body
from airflow_provider_polaris.client.events import EventsApi, PushResult, RateLimitInfo
from airflow_provider_polaris.client.retry import server_delay
from airflow_provider_polaris.client.sync import PolarisClient
from airflow_provider_polaris.events._http import HttpConnection, HttpProtocolError, HttpResponse

#: How long an OAuth header is reused before asking the client again. The client refreshes
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


def ssl_context_for(verify: bool | str) -> ssl.SSLContext:
    """The TLS context for the config's ``verify``: a CA bundle path, True (system CAs) or
    False (no verification, as httpx does with ``verify=False``)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    if verify:
        return ssl.create_default_context()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class PushTransport:
    """Sends one push request per ``await transport(payload)``; create and use it in one loop.

    ``client`` provides the configuration and authentication; it is not used for the pushes.
    Raises the client's exceptions: ``PolarisApiError`` subclasses for error statuses (an expired
    OAuth token is refreshed and the push re-sent once) and ``PolarisTransportError`` for network
    failures, timeouts included (``connect_timeout`` to connect, ``read_timeout`` for the rest).
    """

    def __init__(self, client: PolarisClient, connection_name: str, *, gzip: bool = False) -> None:
        self._client = client
        config = client.config
        call = EventsApi.push.build(client.events, connection_name, b"", gzip=gzip)
        self.url = client.url_for(call)
        parts = urlsplit(self.url)
        https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if https else 80)
        self._ssl = ssl_context_for(config.verify) if https else None
        self._connect_timeout = config.connect_timeout
        self._read_timeout = config.read_timeout
        host = parts.netloc.rpartition("@")[2]
        headers = {
            "Host": host,
            "Accept": "application/json",
            "User-Agent": config.user_agent or default_user_agent(),
            **call.headers,
        }
        self._head_start = f"POST {parts.path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        self._gzip = gzip
        self._oauth = config.auth_kind == "oauth"
        self._authorization: str | None = None
        self._authorization_at = 0.0
        self._auth_lock: asyncio.Lock | None = None
        self._head_prefix = b""
        self._idle: list[HttpConnection] = []
        self._busy: set[HttpConnection] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def __call__(self, payload: bytes) -> PushResult:
        body = gzip_module.compress(payload, compresslevel=6) if self._gzip else payload
        prefix = await self._prefix(None)
        for attempt in (1, 2):
            response = await self._exchange(b"%s%d\r\n\r\n%s" % (prefix, len(body), body))
            status = response.status
            if 200 <= status < 300:
                return PushResult(status, RateLimitInfo.from_headers(response.headers))
            if status == 401 and self._oauth and attempt == 1:
                # An expired token is refused before anything is ingested: safe to re-send.
                prefix = await self._prefix(self._authorization)
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

    async def _prefix(self, stale: str | None) -> bytes:
        """The request head up to the ``Content-Length`` value, with a current Authorization."""
        if stale is None and self._fresh():
            return self._head_prefix
        if self._auth_lock is None:
            self._auth_lock = asyncio.Lock()
        async with self._auth_lock:  # one token request at a time, whatever the senders
            replaced = stale is not None and self._authorization != stale
            if replaced or (stale is None and self._fresh()):
                return self._head_prefix  # another sender got a new header meanwhile
            if self._oauth:
                # May block on the token URL: keep the event loop (and the other pushes) going.
                header = await asyncio.to_thread(self._client.authorization_header, stale)
            else:
                header = self._client.authorization_header(stale)  # constant: no I/O
            self._authorization, self._authorization_at = header, time.monotonic()
            self._head_prefix = (
                f"{self._head_start}Authorization: {header}\r\nContent-Length: "
            ).encode("latin-1")
            return self._head_prefix

    def _fresh(self) -> bool:
        if self._authorization is None:
            return False
        return not self._oauth or time.monotonic() - self._authorization_at < _OAUTH_RECHECK_SECONDS

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

    async def __aenter__(self) -> PushTransport:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
