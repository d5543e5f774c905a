"""HTTP plumbing the resource routes share: JSON in and out, errors, routes that answer 405 in
Polaris' shape, and binding module-level handlers to the emulator state."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ._errors import ApiError, bad
from ._sql import SqlFailure

logger = logging.getLogger("airflow_provider_polaris.testing")
Handler = Callable[[Request], Awaitable[Response]]
S = TypeVar("S")
# (path, handler taking the state and the request, methods)
RouteTable = Sequence[tuple[str, Callable[[S, Request], Awaitable[Response]], list[str]]]
_JSON_TYPES = ("application/json",)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON, the way the hot paths want it."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(error: ApiError, extra_headers: dict[str, str] | None = None) -> Response:
    """An ApiError as an HTTP response."""
    headers = {**error.headers, **(extra_headers or {})}
    return json_response(error.body(), error.status, headers)


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters, lower-cased."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request, *, required: bool = True) -> Any:
    """The parsed JSON body; 415 for another Content-Type, 400 for bad or missing JSON."""
    raw = await request.body()
    media = media_type(request)
    if (raw or media) and not (media in _JSON_TYPES or media.endswith("+json")):
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"Content-Type {media or 'none'} is not supported; use application/json",
        )
    if not raw:
        if required:
            raise bad("A JSON request body is required")
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad("Unable to process JSON") from None


def principal(request: Request) -> dict[str, str]:
    """Who the front authenticated for this request."""
    return request.scope.get("polaris.principal") or {"username": "anonymous", "userId": ""}


def base_url(request: Request) -> str:
    """``scheme://host:port`` the client used."""
    return str(request.base_url).rstrip("/")


def created(request: Request, record: Any, name: str, status: int = 201) -> Response:
    """A created ``record`` with its ``Location``: the request's collection URL and ``name``
    percent-encoded as one path segment (a table may be called ``Koalas Rollup``)."""
    collection = str(request.url.replace(query="")).rstrip("/")
    where = f"{collection}/{quote(name, safe='')}"
    return json_response(record, status, {"Location": where})


def collection(
    listing: Callable[[Any, dict[str, list[str]]], Any],
    create: Callable[[Any, Any, dict[str, str]], dict[str, Any]],
    key: str,
) -> Callable[[Any, Request], Awaitable[Response]]:
    """A collection route: GET lists (with the query), POST creates (201 and ``Location``)."""

    async def handler(state: Any, request: Request) -> Response:
        if request.method == "GET":
            return json_response(listing(state, query_lists(request)))
        record = create(state, await json_body(request), principal(request))
        return created(request, record, record[key])

    return handler


def read(fetch: Callable[..., Any]) -> Callable[[Any, Request], Awaitable[Response]]:
    """A route that answers ``fetch(state, *path parameters)`` as JSON."""

    async def handler(state: Any, request: Request) -> Response:
        return json_response(fetch(state, *request.path_params.values()))

    return handler


def query_lists(request: Request) -> dict[str, list[str]]:
    """The query parameters, every value of each key."""
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


def endpoint(handler: Handler) -> Handler:
    """Turn ApiError (and any bug) into a JSON error response."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except SqlFailure as failure:  # SQL routes answer in Druid's SqlErrorResponse shape
            return json_response(failure.body, failure.status)
        except ClientDisconnect:
            raise  # nobody to answer: the front ends the request quietly
        except Exception as exc:  # a bug in the emulator: say so instead of dropping the socket
            logger.exception("emulator handler failed")
            return json_response(
                {"code": "InternalError", "message": f"Emulator error: {exc}"}, 500
            )

    return wrapped


class PolarisRoute(Route):
    """A route answering a method it does not serve with Polaris' JSON error shape (405)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, or 405 ``{"code", "message"}`` with ``Allow``."""
        if self.methods and scope["method"] not in self.methods:
            allowed = ", ".join(sorted(self.methods))
            message = f"Method {scope['method']} is not allowed on {scope['path']}; use {allowed}"
            response = json_response(
                {"code": "MethodNotAllowed", "message": message}, 405, {"Allow": allowed}
            )
            await response(scope, receive, send)
            return
        await super().handle(scope, receive, send)


def bind(state: S, table: RouteTable[S]) -> list[BaseRoute]:
    """Routes for ``(path, handler(state, request), methods)`` rows, each behind ``endpoint``."""
    return [
        PolarisRoute(path, endpoint(partial(handler, state)), methods=methods)
        for path, handler, methods in table
    ]
