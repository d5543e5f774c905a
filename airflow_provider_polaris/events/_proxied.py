"""Pushing through an HTTP(S) proxy: the environment's proxy settings, and an httpx transport.

The fast transport (``_transport``) talks to Polaris directly over asyncio streams and knows
nothing of proxies. Every other call of the provider goes through httpx, which honours
``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``. So that a push goes where the
rest of the provider's traffic goes, :func:`proxy_for` applies the same environment settings to
the events URL, and when a proxy applies the pusher sends through :class:`HttpxPushTransport`
instead (an ``httpx.AsyncClient``, which uses the proxy).
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_polaris.client._core import MAX_KEEPALIVE, tls_context
from airflow_provider_polaris.client.errors import PolarisTransportError, transport_error
from airflow_provider_polaris.client.events import PushEndpoint
from airflow_provider_polaris.events._http import HttpResponse
from airflow_provider_polaris.events._transport import PushSender, PushTransport


def proxy_for(url: str) -> str | None:
    """The proxy URL the environment sets for ``url`` (``None``: connect directly).

    Reads ``<scheme>_proxy`` (then ``all_proxy``) and ``no_proxy``, upper or lower case, with
    the standard library's rules.
    """
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    host = parts.netloc.rpartition("@")[2]
    # The environment's no_proxy only, as httpx (proxy_bypass may ask macOS/Windows settings).
    if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxy


def describe_proxy(proxy: str) -> str:
    """``scheme://host:port`` of a proxy URL: what may be logged (no credentials)."""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}"


class HttpxPushTransport(PushSender):
    """Sends pushes on an ``httpx.AsyncClient`` (so through the environment's proxy); create
    and use it in one event loop. Same contract as
    :class:`~airflow_provider_polaris.events._transport.PushTransport`."""

    def __init__(self, endpoint: PushEndpoint, proxy: str, *, max_connections: int = 1) -> None:
        super().__init__(endpoint)
        self._proxy = describe_proxy(proxy)
        self._timeout = httpx.Timeout(
            connect=endpoint.connect_timeout,
            read=endpoint.read_timeout,
            write=endpoint.read_timeout,
            pool=None,
        )
        # A connection per sender (``max_connections``: the pusher's requests in flight).
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(max_connections, MAX_KEEPALIVE),
        )
        self._client: httpx.AsyncClient | None = None

    async def _post(self, body: bytes, authorization: str) -> HttpResponse:
        if self._client is None:  # in the pusher's loop
            self._client = httpx.AsyncClient(
                verify=tls_context(self.endpoint.verify),
                timeout=self._timeout,
                limits=self._limits,
                follow_redirects=False,
            )
        headers = {**self.endpoint.headers, "Authorization": authorization}
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as exc:
            error = transport_error(
                exc, method="POST", url=self.url, timeouts=self._timeout.as_dict()
            )
            # Name the proxy: a dead or refusing proxy is the likely cause, not Polaris.
            raise PolarisTransportError(
                f"{error.reason} (through the proxy {self._proxy})", "POST", self.url
            ) from exc
        return HttpResponse(
            response.status_code,
            response.reason_phrase,
            dict(response.headers.items()),
            response.content,
            False,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def open_transport(endpoint: PushEndpoint, max_connections: int, log: Any) -> PushSender:
    """The transport for ``endpoint``: raw asyncio streams, or httpx when the environment sets
    a proxy for its URL (httpx honours it for every other call: the pushes follow it too)."""
    proxy = proxy_for(endpoint.url)
    if proxy is None:
        log.info("pushing to %s directly (asyncio streams)", endpoint.url)
        return PushTransport(endpoint)
    log.info(
        "pushing to %s through the proxy %s (httpx; HTTP(S)_PROXY / NO_PROXY)",
        endpoint.url,
        describe_proxy(proxy),
    )
    return HttpxPushTransport(endpoint, proxy, max_connections=max_connections)
