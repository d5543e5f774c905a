"""Pushing through an HTTP(S) proxy: the environment's proxy settings, and an httpx transport.

The fast transport (``_transport``) talks to Polaris directly over asyncio streams and knows
nothing of proxies. Every other call of the provider goes through httpx, which honours
``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``. So that a push goes where the
rest of the provider's traffic goes, :func:`proxy_for` applies the same environment settings to
the events URL, and when a proxy applies the pusher sends through :class:`HttpxPushTransport`
instead (the client's own ``events.push`` on an ``httpx.AsyncClient``, which uses the proxy).
"""

from __future__ import annotations

import dataclasses
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_polaris.client.errors import PolarisTransportError
from airflow_provider_polaris.client.events import PushResult
from airflow_provider_polaris.client.retry import RetryPolicy


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


class HttpxPushTransport:
    """Sends one push per ``await transport(payload)`` with the client's ``events.push`` on an
    ``httpx.AsyncClient`` (so through the environment's proxy); create and use it in one loop.

    Same contract as :class:`~airflow_provider_polaris.events._transport.PushTransport`: returns
    a ``PushResult``, raises the client's errors, never retries (the pusher owns the retry
    policy; the client still refreshes an expired OAuth token once).
    """

    def __init__(
        self,
        client: Any,
        connection_name: str,
        proxy: str,
        *,
        gzip: bool = False,
        max_connections: int | None = None,
    ) -> None:
        # The pusher retries and paces: the client sends each push exactly once. Its pool holds
        # a connection per sender (``max_connections``: the pusher's requests in flight).
        config = client.config
        self._config = dataclasses.replace(
            config,
            retry=RetryPolicy.no_retries(),
            max_connections=max_connections or config.max_connections,
        )
        self._connection_name = connection_name
        self._proxy = describe_proxy(proxy)
        self._gzip = gzip
        self._client: Any = None

    async def __call__(self, payload: bytes) -> PushResult:
        if self._client is None:
            from airflow_provider_polaris.client.aio import AsyncPolarisClient

            self._client = AsyncPolarisClient(self._config)  # in the pusher's loop
        try:
            result: PushResult = await self._client.events.push(
                self._connection_name, payload, gzip=self._gzip
            )
        except PolarisTransportError as exc:
            # Name the proxy: a dead or refusing proxy is the likely cause, not Polaris.
            raise PolarisTransportError(
                f"{exc.reason} (through the proxy {self._proxy})", exc.method, exc.url
            ) from exc
        return result

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
