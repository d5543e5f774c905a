"""Push streaming events (polaris-api.md §8): ``POST /events/{connection}``, the hot path.

``serve_events`` answers without Starlette's Request/Response objects: the front calls it
directly while no fault is waiting, and the router reaches it (as a plain ASGI app) otherwise,
so both paths answer alike. Events fan out to every live streaming job reading the connection.
"""

from __future__ import annotations

import gzip
import zlib

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from .._core import StateCore
from .._errors import ApiError, bad, found
from .._http import PolarisRoute, error_response, json_response
from .._lifecycle import Job
from .._traffic import limits_dict

EVENTS_MAX_BYTES = 1024 * 1024
_EVENT_TYPES = frozenset(
    {
        "",
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "text/plain",
        # Polaris' OpenAPI spec lists it and Imply's SDK sends it by default for a bytes body.
        "application/octet-stream",
    }
)
# Content-Type header values served without parsing (the general check handles the rest).
_EVENT_TYPES_RAW = frozenset(t.encode() for t in _EVENT_TYPES)
_EVENTS_CONTENT_LENGTH_0 = (b"content-length", b"0")
Raw = tuple[int, list[tuple[bytes, bytes]], bytes]


class EventsApi(StateCore):
    """Event pushes, the per-minute budget and the count of events no job read."""

    def _clear(self) -> None:
        super()._clear()
        self.dropped_events: dict[str, int] = {}  # pushed while no live job read the connection

    def set_events_budget(self, per_minute: int) -> None:
        """Set the per-minute call budget of the events endpoint (starts a fresh window)."""
        if per_minute < 0:
            raise ValueError("per_minute must be >= 0")
        with self.lock:
            self.budget.reset(per_minute)

    def check_events_connection(self, name: str) -> list[Job]:
        """The jobs reading a push connection; 404 unknown, 400 not push_streaming."""
        conn = found(self.connections, name, "Connection", "connectionName")
        if conn["type"] != "push_streaming":
            raise bad(
                f"Connection {name} is a {conn['type']} connection, not push_streaming",
                "connectionName",
            )
        return [job for job in self._readers.get(name, ()) if not job.terminal]

    def push_events(self, name: str, lines: list[bytes]) -> None:
        """Fan events out to every live streaming job reading the connection. Without one,
        Polaris accepts the events and they land nowhere (§8): counted in ``dropped_events``."""
        with self.lock:
            jobs = self.check_events_connection(name)
            now = self.clock.now()
            read = False
            for job in jobs:
                read = self.lifecycle.deliver(job, lines, now) or read
            if not read and lines:
                self.dropped_events[name] = self.dropped_events.get(name, 0) + len(lines)

    def dropped_event_counts(self) -> dict[str, int]:
        """Events accepted for a push connection that no live streaming job read, by name."""
        with self.lock:
            return dict(self.dropped_events)


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (ClientDisconnect when the client goes away first)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)  # one chunk of bytes: that very object


def _decoded(scope: Scope, body: bytes) -> bytes:
    """The body checked (size, Content-Type) and gunzipped when its Content-Encoding says so."""
    if len(body) > EVENTS_MAX_BYTES:
        raise ApiError(
            413, "PayloadTooLarge", f"Event payloads are limited to {EVENTS_MAX_BYTES} bytes"
        )
    content_type = b""
    encoding: bytes | None = None
    seen_type = False
    for key, value in scope["headers"]:
        if key == b"content-type" and not seen_type:
            content_type, seen_type = value, True
        elif key == b"content-encoding" and encoding is None:
            encoding = value
    if content_type not in _EVENT_TYPES_RAW:
        media = content_type.decode("latin-1").split(";")[0].strip().lower()
        if media not in _EVENT_TYPES:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "Send events as newline-delimited JSON (application/json)",
            )
    if encoding is None:
        return body
    coding = encoding.decode("latin-1").strip().lower()
    if coding == "gzip":
        try:
            return gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            raise bad("The body is not valid gzip") from None
    if coding not in ("", "identity"):
        raise ApiError(
            415, "UnsupportedMediaType", f"Content-Encoding {coding} is not supported; use gzip"
        )
    return body


async def serve_events(state: EventsApi, scope: Scope, receive: Receive, name: str) -> Raw:
    """``POST /events/{name}`` as (status, raw headers, body), without Request/Response objects.

    Rate-limit headers on every answer, the per-minute budget (429 + Retry-After), 413 over
    1 MB, 415 for other content types or encodings, gzip, and the fan-out to the connection's
    streaming jobs (404 unknown connection, 400 not push_streaming).
    """
    with state.lock:
        allowed, limits = state.budget.take_raw()
    if not allowed:
        return raw(json_response({"message": "API rate limit exceeded"}, 429, limits_dict(limits)))
    body = await _read_body(receive)
    try:
        body = _decoded(scope, body)
        state.push_events(name, list(filter(bytes.strip, body.split(b"\n"))))
    except ApiError as error:
        return raw(error_response(error, limits_dict(limits)))
    limits.append(_EVENTS_CONTENT_LENGTH_0)
    return 200, limits, b""


def raw(response: Response) -> Raw:
    """A Starlette response as (status, raw headers, body)."""
    return response.status_code, response.raw_headers, bytes(response.body)


async def send_raw(send: Send, answer: Raw) -> None:
    """Send a (status, headers, body) answer, the way a Starlette Response would."""
    await send({"type": "http.response.start", "status": answer[0], "headers": answer[1]})
    await send({"type": "http.response.body", "body": answer[2]})


class _EventsApp:
    """The events route as a plain ASGI app (the router reaches it when faults are waiting;
    not a function or partial, which Starlette would serve as a request/response handler)."""

    def __init__(self, state: EventsApi) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path_params"]["name"]
        await send_raw(send, await serve_events(self.state, scope, receive, name))


def route(state: EventsApi) -> BaseRoute:
    """``/events/{connection}`` through the router (the front serves it directly otherwise)."""
    return PolarisRoute(state.prefix + "/events/{name}", _EventsApp(state), methods=["POST"])
