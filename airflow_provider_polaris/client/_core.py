"""The transport core shared by the sync and async clients.

An endpoint is described once as an :class:`ApiCall` (method, path, params, body, idempotency,
response parser). :meth:`Core.plan` turns a call into a *plan*: a generator that yields commands
(:class:`Send` a request, :class:`Sleep`, get an :class:`Auth` header) and finally returns the
parsed result or raises a Polaris error. Request building, auth handling, the retry policy and
error mapping all live in that one generator; the sync and async clients only carry the
commands out (``client.send`` vs ``await client.send``, ``time.sleep`` vs ``asyncio.sleep``).

Retry rule: 408/429/500/502/503/504 responses, connect errors and read timeouts are retried with
exponential backoff and full jitter, honouring ``Retry-After`` (and ``RateLimit-Reset`` when the
rate limit was hit; after a 5xx the server's delay never shortens the backoff), bounded by
``RetryPolicy.max_attempts`` and ``max_elapsed``. A call that is not idempotent (creating a job,
connection or table, uploading a file, pushing events) is retried only when the request certainly
did not reach the server (connect error, connect or pool timeout) or the server refused it
without acting (429); after a read timeout, a 5xx or a broken response it is not sent again,
because that could create a second job. An upload from a non-seekable stream is only re-sent
when it was never sent. With OAuth, a 401 fetches a new token and re-sends once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import platform
import ssl
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import IO, Any, Generic, TypeVar

import httpx

from airflow_provider_polaris.client.config import PolarisConfig
from airflow_provider_polaris.client.errors import (
    PolarisApiError,
    api_error,
    decode_body,
    safe_url,
    transport_error,
)
from airflow_provider_polaris.client.retry import MAYBE_SENT_ERRORS, NOT_SENT_ERRORS, server_delay

log = logging.getLogger(__name__)

T = TypeVar("T")

FileSpec = tuple[str, IO[bytes], str | None]


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One Polaris API operation, described as data.

    ``path`` is relative to the project URL (``/jobs/...``) unless ``scope`` is ``"api"``
    (relative to ``{base_url}/v1``) or ``"absolute"`` (a full URL, e.g. the token endpoint).
    Path segments must already be encoded with :func:`~.config.quote_segment`.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Sequence[tuple[str, str]] = ()
    json: Any = None
    content: bytes | None = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, FileSpec] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = False
    scope: str = "project"
    authenticate: bool = True


@dataclass(frozen=True)
class Send:
    """Command: send ``request`` and resume the plan with the response (or the httpx error)."""

    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    """Command: wait ``seconds`` before resuming."""

    seconds: float


@dataclass(frozen=True)
class Auth:
    """Command: resume with the Authorization header value; never ``stale`` (a refused one)."""

    stale: str | None = None


Command = Send | Sleep | Auth
Plan = Generator[Command, Any, T]

MAX_KEEPALIVE = 20
"""Idle connections a client keeps open (httpx's default; more costs CPU in httpcore's pool)."""


@lru_cache(maxsize=1)
def default_user_agent() -> str:
    """``airflow-provider-polaris/<v> apache-airflow/<v> python/<x.y> httpx/<v>``."""
    from airflow_provider_polaris import __version__

    parts = [f"airflow-provider-polaris/{__version__}"]
    with contextlib.suppress(metadata.PackageNotFoundError):
        parts.append(f"apache-airflow/{metadata.version('apache-airflow')}")
    python = ".".join(platform.python_version_tuple()[:2])
    parts += [f"python/{python}", f"httpx/{httpx.__version__}"]
    return " ".join(parts)


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """The TLS context for a config's ``verify``, for the clients and the event pusher alike: a
    CA bundle path, True (httpx's trust store: certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``)
    or False (no verification)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


def _invalid_response(response: httpx.Response, why: str) -> PolarisApiError:
    return PolarisApiError(
        response.status_code,
        "InvalidResponse",
        why,
        None,
        response.request.method,
        str(response.request.url),
        None,
        response.text[:500],
    )


def parse_json(response: httpx.Response) -> Any:
    """The JSON body, or None when the body is empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid_response(response, "response is not valid JSON") from exc


def parse_object(response: httpx.Response) -> dict[str, Any]:
    """A JSON object body (``{}`` when the body is empty)."""
    body = parse_json(response)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _invalid_response(response, "expected a JSON object")
    return body


def parse_values(response: httpx.Response) -> list[dict[str, Any]]:
    """A list body: a bare JSON array or the ``values`` of ``{"values": [...]}``."""
    body = parse_json(response)
    if isinstance(body, dict):
        body = body.get("values")
    if not isinstance(body, list):
        raise _invalid_response(response, "expected a JSON array or {'values': [...]}")
    return body


def parse_nothing(response: httpx.Response) -> None:
    """Ignore the body."""


def _replayable(call: ApiCall[Any]) -> bool:
    """Whether the request body can be sent again after it may have been consumed."""
    for _name, file, _type in (call.files or {}).values():
        seekable = getattr(file, "seekable", None)
        # httpx rewinds file objects itself before streaming them; it needs a working seek.
        if not (callable(seekable) and seekable()):
            return False
    return True


class Core:
    """Builds requests and runs the retry/auth/error logic for one :class:`PolarisConfig`."""

    def __init__(self, config: PolarisConfig, clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self.clock = clock or time.monotonic
        self.wall_clock: Callable[[], float] = time.time
        # No pool timeout: both clients let at most ``max_connections`` requests reach the pool
        # at once (a semaphore), so a request never queues inside httpx. Waiting for a turn is
        # not a failure to connect; counting it as one turned load into PoolTimeouts and retries.
        self.timeout = httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.read_timeout,
            pool=None,
        )
        self.base_headers = {
            "Accept": "application/json",
            "User-Agent": config.user_agent or default_user_agent(),
        }

    # -- shared httpx client settings ------------------------------------------------------
    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client`` / ``httpx.AsyncClient``."""
        config = self.config
        verify = tls_context(config.verify)
        size = config.max_connections
        # httpcore re-scans every pooled connection, for every idle one, whenever a request
        # starts or ends: keeping 100 idle connections instead of httpx's default 20 cost 14x
        # the CPU for 1,500 gated calls (benchmarks/client_concurrency_bench.py).
        limits = httpx.Limits(
            max_connections=size, max_keepalive_connections=min(size, MAX_KEEPALIVE)
        )
        return {
            "timeout": self.timeout,
            "verify": verify,
            "limits": limits,
            "follow_redirects": False,
        }

    def url_for(self, call: ApiCall[Any]) -> str:
        """The full URL of ``call`` (without query string)."""
        if call.scope == "absolute":
            return call.path
        root = self.config.api_url if call.scope == "api" else self.config.project_url
        return f"{root}{call.path}"

    def build_request(self, call: ApiCall[Any], authorization: str | None) -> httpx.Request:
        """An ``httpx.Request`` for ``call``; multipart files are streamed, not read.

        Requests are built here rather than by ``httpx.Client.build_request`` so both clients
        share it, which means the default headers and the timeouts are set here too.
        """
        headers = {**self.base_headers, **call.headers}
        if authorization is not None:
            headers["Authorization"] = authorization
        content = call.content
        if call.json is not None:
            content = json.dumps(call.json, separators=(",", ":")).encode()
            headers.setdefault("Content-Type", "application/json")
        return httpx.Request(
            call.method,
            self.url_for(call),
            params=list(call.params) or None,
            content=content,
            data=dict(call.data) if call.data is not None else None,
            files=dict(call.files) if call.files is not None else None,
            headers=headers,
            extensions={"timeout": self.timeout.as_dict()},
        )

    # -- the one retry loop ----------------------------------------------------------------
    def plan(self, call: ApiCall[T]) -> Plan[T]:
        """Run ``call`` to completion: the retry, re-auth and error-mapping logic, written once."""
        started = self.clock()
        attempt = 0
        reauthenticated = False
        stale: str | None = None
        url = self.url_for(call)
        path = safe_url(url)
        while True:
            attempt += 1
            authorization = (yield Auth(stale)) if call.authenticate else None
            request = self.build_request(call, authorization)
            try:
                response: httpx.Response = yield Send(request)
            except httpx.TransportError as exc:
                delay = self._after_transport_error(call, exc, url, attempt, started)
                self._log_retry(call.method, path, type(exc).__name__, attempt, delay)
                yield Sleep(delay)
                continue
            status = response.status_code
            if 200 <= status < 300:
                return call.parse(response)
            if status == 401 and not reauthenticated and self._may_reauthenticate(call):
                # An expired token is refused before the server acts, so any call may re-send.
                reauthenticated = True
                stale = authorization
                attempt -= 1
                log.info("Polaris %s %s -> 401; fetching a new OAuth token", call.method, path)
                continue
            delay = self._after_error_status(call, response, url, attempt, started)
            self._log_retry(call.method, path, str(status), attempt, delay)
            yield Sleep(delay)

    def _may_reauthenticate(self, call: ApiCall[Any]) -> bool:
        return call.authenticate and self.config.auth_kind == "oauth" and _replayable(call)

    def _after_transport_error(
        self, call: ApiCall[Any], exc: httpx.TransportError, url: str, attempt: int, started: float
    ) -> float:
        """The delay before the next attempt, or the error to raise (the request may have acted)."""
        not_sent = isinstance(exc, NOT_SENT_ERRORS)
        may_retry = not_sent or (
            call.idempotent and isinstance(exc, MAYBE_SENT_ERRORS) and _replayable(call)
        )
        delay = self._retry_delay(attempt, started, None) if may_retry else None
        if delay is None:
            raise transport_error(
                exc,
                method=call.method,
                url=url,
                timeouts=self.timeout.as_dict(),
                attempts=attempt,
                withheld=not may_retry and isinstance(exc, MAYBE_SENT_ERRORS),
            ) from exc
        return delay

    def _after_error_status(
        self, call: ApiCall[Any], response: httpx.Response, url: str, attempt: int, started: float
    ) -> float:
        """The delay before the next attempt, or the mapped API error to raise."""
        status = response.status_code
        hint = server_delay(response.headers, self.wall_clock(), status)
        error = api_error(
            status,
            decode_body(response.content, response.headers.get("content-type")),
            method=call.method,
            url=url,
            retry_after=hint,
            reason=response.reason_phrase,
        )
        may_retry = (
            status in self.config.retry.retry_statuses
            and (status == 429 or call.idempotent)
            and _replayable(call)
        )
        if not may_retry:
            raise error
        delay = self._retry_delay(attempt, started, hint, at_least_backoff=status >= 500)
        if delay is None:
            raise error
        return delay

    def _retry_delay(
        self, attempt: int, started: float, hint: float | None, *, at_least_backoff: bool = False
    ) -> float | None:
        """The wait before the next attempt, or None when the policy's budget is spent."""
        policy = self.config.retry
        if attempt >= policy.max_attempts:
            return None
        if hint is not None and hint > policy.max_server_delay:
            return None
        delay = policy.delay(attempt, hint, at_least_backoff=at_least_backoff)
        if self.clock() - started + delay > policy.max_elapsed:
            return None
        return delay

    @staticmethod
    def _log_retry(method: str, url: str, reason: str, attempt: int, delay: float) -> None:
        log.warning(
            "Polaris %s %s failed (%s) on attempt %d; retrying in %.2fs",
            method,
            httpx.URL(url).path,
            reason,
            attempt,
            delay,
        )


QueryValue = str | int | float | bool | Sequence[str] | None


def query_params(**values: QueryValue) -> list[tuple[str, str]]:
    """Query parameters in order, skipping None; a sequence repeats the parameter."""
    params: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        items = [value] if isinstance(value, (str, int, float, bool)) else list(value)
        for item in items:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            params.append((name, text))
    return params
