"""Push streaming: ``POST /v1/projects/{projectId}/events/{connectionName}``."""

from __future__ import annotations

import gzip as gzip_module
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from airflow_provider_polaris.client._core import ApiCall, Core, default_user_agent
from airflow_provider_polaris.client._resource import M, Resource, endpoint
from airflow_provider_polaris.client.auth import basic_authorization
from airflow_provider_polaris.client.config import PolarisConfig, quote_segment
from airflow_provider_polaris.client.retry import parse_seconds

_LEADING_INT = re.compile(r"\s*(\d+)")


def _first_int(value: str | None) -> int | None:
    # Draft-standard headers may read "100, 100;w=60": the first number is the current limit.
    match = _LEADING_INT.match(value) if value else None
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class RateLimitInfo:
    """Polaris' rate-limit headers: requests per window, requests left, seconds to reset."""

    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        """Read ``RateLimit-*`` or, failing that, ``X-RateLimit-*-Minute`` headers.

        ``headers`` is ``httpx.Headers`` or any mapping whose keys are lower-case names.
        """
        limit = _first_int(headers.get("ratelimit-limit"))
        if limit is None:
            limit = _first_int(headers.get("x-ratelimit-limit-minute"))
        remaining = _first_int(headers.get("ratelimit-remaining"))
        if remaining is None:
            remaining = _first_int(headers.get("x-ratelimit-remaining-minute"))
        return cls(limit, remaining, parse_seconds(headers.get("ratelimit-reset")))


@dataclass(frozen=True)
class PushResult:
    """The outcome of one accepted event push."""

    status_code: int
    rate_limit: RateLimitInfo


def parse_push(response: httpx.Response) -> PushResult:
    """Any 2xx is success; keep the status and the rate-limit headers."""
    return PushResult(response.status_code, RateLimitInfo.from_headers(response.headers))


def _push_call(connection_name: str, payload: bytes, gzip: bool) -> ApiCall[PushResult]:
    headers = {"Content-Type": "application/json"}
    body = payload
    if gzip:
        body = gzip_module.compress(payload, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return ApiCall(
        "POST",
        f"/events/{quote_segment(connection_name)}",
        parse_push,
        content=body,
        headers=headers,
    )


@dataclass(frozen=True)
class PushEndpoint:
    """Where and how a connection's pushes go, for a push transport with its own HTTP stack.

    ``url`` and ``headers`` (without ``Authorization`` and ``Content-Length``) are what
    ``EventsApi.push`` would send; ``verify`` is the TLS setting (see ``_core.tls_context``).
    ``authorization(stale)`` gives the current ``Authorization`` header: constant for an API key;
    with OAuth (``oauth``) the cached token, fetched or refreshed when needed (it may block on
    the token URL; pass a header refused with 401 as ``stale`` for a new one). Leaving the
    ``with`` block closes what fetched the tokens.
    """

    url: str
    headers: Mapping[str, str]
    authorization: Callable[[str | None], str] = field(repr=False)
    oauth: bool
    verify: bool | str
    connect_timeout: float
    read_timeout: float
    gzip: bool
    close: Callable[[], None] = field(default=lambda: None, repr=False)

    def __enter__(self) -> PushEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def push_endpoint(
    config: PolarisConfig,
    connection_name: str,
    *,
    gzip: bool = False,
    authorization: Callable[[str | None], str] | None = None,
) -> PushEndpoint:
    """The :class:`PushEndpoint` of ``connection_name`` for ``config``. ``authorization``
    replaces the header source (e.g. a client's ``authorization_header``, to share its token)."""
    call = _push_call(connection_name, b"", gzip)
    closing: Callable[[], None] = lambda: None  # noqa: E731
    if authorization is None and config.api_key:
        header = basic_authorization(config.api_key)
        authorization = lambda stale=None: header  # noqa: E731
    elif authorization is None:  # OAuth: a client of its own fetches and refreshes the token
        from airflow_provider_polaris.client.sync import PolarisClient

        client = PolarisClient(config)
        authorization, closing = client.authorization_header, client.close
    return PushEndpoint(
        url=Core(config).url_for(call),
        headers={
            "Accept": "application/json",
            "User-Agent": config.user_agent or default_user_agent(),
            **call.headers,
        },
        authorization=authorization,
        oauth=config.auth_kind == "oauth",
        verify=config.verify,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        gzip=gzip,
        close=closing,
    )


class EventsApi(Resource[M]):
    """Send events to a ``push_streaming`` connection."""

    @endpoint
    def push(
        self, connection_name: str, payload: bytes, *, gzip: bool = False
    ) -> ApiCall[PushResult]:
        """Push newline-delimited JSON events (at most 1 MB per request).

        With ``gzip=True`` the payload is compressed and sent with ``Content-Encoding: gzip``.
        Retried on 429 and connection failures only: a re-sent push could duplicate events.
        """
        return _push_call(connection_name, payload, gzip)
