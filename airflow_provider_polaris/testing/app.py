"""The emulator's ASGI application: Polaris routes, the control API, auth, faults and the log.

A thin raw-ASGI front (``EmulatorFront``) does the per-request work that must stay cheap and
uniform — injected faults, authentication (cached per header value), the project check and the
request log — and hands everything else to a Starlette router. The hottest route,
``POST /events/{connection}``, skips the router and Starlette's Request/Response objects
altogether while no fault is waiting (``serve_events``); with faults waiting it is routed to the
same code, so both paths answer alike.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import Message, Receive, Scope, Send

from ._errors import ApiError, bad
from ._render import render_result
from ._sql import SqlFailure, parse_sql_request
from ._state import EVENTS_MAX_BYTES, EmulatorState
from ._traffic import Fault, limits_dict

logger = logging.getLogger("airflow_provider_polaris.testing")
Handler = Callable[[Request], Awaitable[Response]]
_JSON_TYPES = ("application/json",)
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
_FAULT_CODES = {
    400: "BadArgument",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "RequestTimeout",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON, the way the hot paths want it."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(error: ApiError, extra_headers: dict[str, str] | None = None) -> Response:
    """An ApiError as an HTTP response."""
    headers = {**error.headers, **(extra_headers or {})}
    return json_response(error.body(), error.status, headers)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request, *, required: bool = True) -> Any:
    """The parsed JSON body; 415 for another Content-Type, 400 for bad or missing JSON."""
    raw = await request.body()
    media = _media_type(request)
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


def _principal(request: Request) -> dict[str, str]:
    return request.scope.get("polaris.principal") or {"username": "anonymous", "userId": ""}


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _location(request: Request, collection_path: str, name: str) -> str:
    """The URL of a created resource: its name percent-encoded as one path segment (a table
    may be called ``Koalas Rollup``, a file ``dir/a.json``)."""
    return f"{_base_url(request)}{collection_path}/{quote(name, safe='')}"


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


def _query_lists(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


def polaris_routes(state: EmulatorState) -> list[Route]:
    """Routes of the Polaris API itself."""
    p = state.prefix

    @endpoint
    async def projects(request: Request) -> Response:
        if request.method == "GET":
            return json_response(state.list_projects())
        # 202 Accepted, as Polaris' spec answers: provisioning is asynchronous (§1).
        project = state.create_project(await json_body(request))
        location = _location(request, "/v1/projects", project["metadata"]["uid"])
        return json_response(project, 202, {"Location": location})

    @endpoint
    async def project(request: Request) -> Response:
        project_id = request.path_params["project_id"]
        if request.method == "GET":
            return json_response(state.get_project(project_id))
        if request.method == "DELETE":
            state.delete_project(project_id)
            return Response(b"", 202)
        return json_response(state.update_project(project_id, await json_body(request)), 202)

    @endpoint
    async def api_key_info(request: Request) -> Response:
        return json_response(
            {
                "id": "emulator-api-key",
                "permissions": [
                    "ManageIngestionJobs",
                    "ManageTables",
                    "ViewTables",
                    "ManageFiles",
                    "ManageConnections",
                    "AccessQueries",
                ],
            }
        )

    # jobs
    @endpoint
    async def jobs(request: Request) -> Response:
        if request.method == "GET":
            return json_response(state.list_jobs(_query_lists(request)))
        job = state.create_job(await json_body(request), _principal(request))
        return json_response(job, 201, {"Location": _location(request, f"{p}/jobs", job["id"])})

    @endpoint
    async def job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "GET":
            return json_response(state.get_job(job_id))
        found = state.set_desired(job_id, await json_body(request))
        return json_response(state.render(found))

    @endpoint
    async def job_status(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "GET":
            return json_response(state.job_status(job_id))
        found = state.set_desired(job_id, await json_body(request))
        return json_response({"executionStatus": state.shown_status(found)})

    @endpoint
    async def job_progress(request: Request) -> Response:
        return json_response(state.job_progress(request.path_params["job_id"]))

    @endpoint
    async def job_metrics(request: Request) -> Response:
        return json_response(state.job_metrics(request.path_params["job_id"]))

    @endpoint
    async def job_logs(request: Request) -> Response:
        return json_response(state.job_logs(request.path_params["job_id"]))

    @endpoint
    async def job_reset(request: Request) -> Response:
        state.reset_job(request.path_params["job_id"])
        return Response(b"", 200)

    # connections
    @endpoint
    async def connections(request: Request) -> Response:
        if request.method == "GET":
            return json_response(state.list_connections(_base_url(request)))
        conn = state.create_connection(
            await json_body(request), _principal(request), _base_url(request)
        )
        return json_response(
            conn, 201, {"Location": _location(request, f"{p}/connections", conn["name"])}
        )

    @endpoint
    async def connection(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            return json_response(state.get_connection(name, _base_url(request)))
        if request.method == "DELETE":
            state.delete_connection(name)
            return Response(b"", 200)
        body = await json_body(request)
        return json_response(
            state.update_connection(name, body, _principal(request), _base_url(request))
        )

    @endpoint
    async def connection_secrets(request: Request) -> Response:
        body = await json_body(request)
        state.set_connection_secrets(
            request.path_params["name"], body, _principal(request), _base_url(request)
        )
        return Response(b"", 200)  # the older docs: 200 OK, empty body

    @endpoint
    async def connection_test(request: Request) -> Response:
        await json_body(request, required=False)
        return json_response(state.test_connection(request.path_params["name"]))

    @endpoint
    async def connections_meta(request: Request) -> Response:
        return json_response(state.connections_meta())

    # tables
    @endpoint
    async def tables(request: Request) -> Response:
        if request.method == "GET":
            return json_response(state.list_tables(_query_lists(request)))
        table = state.create_table(await json_body(request), _principal(request))
        return json_response(
            table, 201, {"Location": _location(request, f"{p}/tables", table["name"])}
        )

    @endpoint
    async def table(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            return json_response(state.get_table(name))
        return json_response(
            state.update_table(name, await json_body(request), _principal(request))
        )

    @endpoint
    async def unused_segments(request: Request) -> Response:
        name = request.path_params["name"]
        return json_response(state.list_unused_segments(name, _query_lists(request)))

    # files
    @endpoint
    async def files(request: Request) -> Response:
        if request.method == "GET":
            return json_response(state.list_files(_query_lists(request), f"{p}/files"))
        if _media_type(request) != "multipart/form-data":
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "Upload files as multipart/form-data with a 'file' part",
            )
        form = await request.form()
        try:
            upload = next((v for _, v in form.multi_items() if not isinstance(v, str)), None)
            if upload is None:
                raise bad("A multipart part named 'file' is required", "file")
            content = await upload.read()
            name = upload.filename or ""
        finally:
            await form.close()
        params = request.query_params
        meta = state.upload_file(
            name,
            content,
            _principal(request),
            params.get("dataFormat"),
            params.get("compressionFormat"),
        )
        return json_response(
            meta, 200, {"Location": _location(request, f"{p}/files", meta["name"])}
        )

    @endpoint
    async def file(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            return json_response(state.get_file(name))
        state.delete_file(name)
        return Response(status_code=204)

    # query
    @endpoint
    async def query(request: Request) -> Response:
        sql = parse_sql_request(await json_body(request))
        result = state.run_sql(sql)
        content, media = render_result(
            list(result.columns),
            list(result.sql_types),
            [list(row) for row in result.rows],
            fmt=sql.result_format,
            header=sql.header,
            types_header=sql.types_header,
            sql_types_header=sql.sql_types_header,
        )
        headers = {"X-Druid-SQL-Header-Included": "yes"} if sql.header else None
        return Response(content, 200, headers=headers, media_type=media)

    @endpoint
    async def statements(request: Request) -> Response:
        return json_response(state.submit_statement(await json_body(request)))

    @endpoint
    async def statement(request: Request) -> Response:
        query_id = request.path_params["query_id"]
        if request.method == "DELETE":
            return Response(b"", state.cancel_statement(query_id))
        detail = request.query_params.get("detail", "false").lower() == "true"
        return json_response(state.statement_status(query_id, detail=detail))

    @endpoint
    async def statement_results(request: Request) -> Response:
        params = request.query_params
        content, media = state.statement_results(
            request.path_params["query_id"], params.get("page"), params.get("resultFormat")
        )
        filename = params.get("filename")
        headers = None
        if filename:
            headers = {"Content-Disposition": f'attachment; filename="{quote(filename)}"'}
        return Response(content, 200, headers=headers, media_type=media)

    # token endpoint (OAuth client credentials)
    @endpoint
    async def token(request: Request) -> Response:
        if _media_type(request) != "application/x-www-form-urlencoded":
            raise ApiError(415, "UnsupportedMediaType", "Use application/x-www-form-urlencoded")
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        issued = state.issue_token(
            request.path_params["org"], fields, request.headers.get("authorization")
        )
        return json_response(issued)

    return [
        PolarisRoute(p + "/jobs/{job_id}", job, methods=["GET", "PUT"]),
        PolarisRoute(p + "/jobs/{job_id}/status", job_status, methods=["GET", "POST"]),
        PolarisRoute(p + "/events/{name}", _EventsRoute(state), methods=["POST"]),
        PolarisRoute(p + "/jobs", jobs, methods=["GET", "POST"]),
        PolarisRoute(p + "/jobs/{job_id}/progress", job_progress, methods=["GET"]),
        PolarisRoute(p + "/jobs/{job_id}/metrics", job_metrics, methods=["GET"]),
        PolarisRoute(p + "/jobs/{job_id}/logs", job_logs, methods=["GET"]),
        PolarisRoute(p + "/jobs/{job_id}/reset", job_reset, methods=["POST"]),
        PolarisRoute(p + "/connections", connections, methods=["GET", "POST"]),
        PolarisRoute(p + "/connections/{name}", connection, methods=["GET", "PATCH", "DELETE"]),
        PolarisRoute(p + "/connections/{name}/test", connection_test, methods=["POST"]),
        PolarisRoute(p + "/connections/{name}/secrets", connection_secrets, methods=["PUT"]),
        PolarisRoute(p + "/connectionsMeta", connections_meta, methods=["GET"]),
        PolarisRoute(p + "/tables", tables, methods=["GET", "POST"]),
        PolarisRoute(p + "/tables/{name}", table, methods=["GET", "PUT"]),
        PolarisRoute(p + "/tables/{name}/unusedSegments", unused_segments, methods=["GET"]),
        PolarisRoute(p + "/files", files, methods=["GET", "POST"]),
        PolarisRoute(p + "/files/{name:path}", file, methods=["GET", "DELETE"]),
        PolarisRoute(p + "/query/sql", query, methods=["POST"]),
        PolarisRoute(p + "/query/sql/statements", statements, methods=["POST"]),
        PolarisRoute(p + "/query/sql/statements/{query_id}", statement, methods=["GET", "DELETE"]),
        PolarisRoute(
            p + "/query/sql/statements/{query_id}/results", statement_results, methods=["GET"]
        ),
        PolarisRoute("/v1/projects", projects, methods=["GET", "POST"]),
        PolarisRoute("/v1/projects/{project_id}", project, methods=["GET", "PATCH", "DELETE"]),
        PolarisRoute("/v1/apikeyinfo", api_key_info, methods=["GET"]),
        PolarisRoute("/auth/realms/{org}/protocol/openid-connect/token", token, methods=["POST"]),
    ]


Raw = tuple[int, list[tuple[bytes, bytes]], bytes]


async def serve_events(state: EmulatorState, scope: Scope, receive: Receive, name: str) -> Raw:
    """``POST /events/{name}`` as (status, raw headers, body), without Request/Response objects.

    The hot path of the emulator: rate-limit headers on every answer, the per-minute budget
    (429 + Retry-After), 413 over 1 MB, 415 for other content types or encodings, gzip, and the
    fan-out to the connection's streaming jobs (404 unknown connection, 400 not push_streaming).
    """
    with state.lock:
        allowed, limits = state.budget.take_raw()
    if not allowed:
        return _raw(json_response({"message": "API rate limit exceeded"}, 429, limits_dict(limits)))
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect()
    body: bytes = message.get("body", b"")
    if message.get("more_body", False):
        chunks = [body]
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
    elif body.__class__ is not bytes:
        body = bytes(body)
    try:
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
        if encoding is not None:
            coding = encoding.decode("latin-1").strip().lower()
            if coding == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError, zlib.error):
                    raise bad("The body is not valid gzip") from None
            elif coding not in ("", "identity"):
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"Content-Encoding {coding} is not supported; use gzip",
                )
        state.push_events(name, list(filter(bytes.strip, body.split(b"\n"))))
    except ApiError as error:
        return _raw(error_response(error, limits_dict(limits)))
    limits.append(_EVENTS_CONTENT_LENGTH_0)
    return 200, limits, b""


def _raw(response: Response) -> Raw:
    return response.status_code, response.raw_headers, bytes(response.body)


async def send_raw(send: Send, raw: Raw) -> None:
    """Send a (status, headers, body) answer, the way a Starlette Response would."""
    await send({"type": "http.response.start", "status": raw[0], "headers": raw[1]})
    await send({"type": "http.response.body", "body": raw[2]})


class _EventsRoute:
    """The events route as a plain ASGI app (Starlette routes to it when faults are waiting)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path_params"]["name"]
        await send_raw(send, await serve_events(self.state, scope, receive, name))


def _authorization(scope: Scope) -> str | None:
    """The first Authorization header of a request, as text."""
    for key, value in scope["headers"]:
        if key == b"authorization":
            return str(value.decode("latin-1"))
    return None


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    response = json_response(
        {"code": "NotFound", "message": f"No route for {scope['method']} {scope['path']}"}, 404
    )
    await response(scope, receive, send)


class EmulatorFront:
    """Raw ASGI entry point: control API, faults, auth, project check, request log."""

    def __init__(self, state: EmulatorState, control: Router) -> None:
        self.state = state
        self.router = Router(polaris_routes(state), default=_not_found)
        self.control = control
        self.closing = False
        self._project_root = state.prefix
        self._project_slash = state.prefix + "/"
        self._events_prefix = state.prefix + "/events/"
        self._events_start = len(self._events_prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_emulator/"):
            await self.control(scope, receive, send)
            return
        state = self.state
        method: str = scope["method"]
        events = path.startswith(self._events_prefix)
        if method == "POST" and events and not state.faults.has_any():
            name = path[self._events_start :]
            if name and "/" not in name:
                await self._events(scope, receive, send, path, name)
                return
        header = _authorization(scope)
        auth = "none"
        refused: ApiError | None = None
        if not path.startswith("/auth/realms/"):
            try:
                with state.lock:
                    auth, scope["polaris.principal"] = state.authenticate(header)
            except ApiError as error:
                auth, refused = ("invalid" if header else "none"), error
        delay = 0.0
        logged = False

        def record(status: int) -> None:
            # Logged before the response leaves, so a client that saw it also sees the entry.
            nonlocal logged
            logged = True
            query = scope.get("query_string", b"")
            state.requests.add(method, path, query, status, auth, state.clock.now())

        async def send_and_watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(message["status"])
                if events:
                    message = self._with_rate_limits(message)
                if delay:
                    await self._sleep(delay)
            await send(message)

        try:
            if state.faults.has_any():
                relative = (
                    path[len(self._project_root) :]
                    if path.startswith(self._project_slash)
                    else path
                )
                with state.lock:
                    fault = state.faults.take(method, path, relative)
                if fault is not None:
                    if fault.kind == "drop":
                        await self._drop(send)
                        return
                    if fault.kind == "status":
                        await self._fault_response(fault)(scope, receive, send_and_watch)
                        return
                    delay = fault.delay_seconds
            if refused is not None:
                await self._refuse(refused, events)(scope, receive, send_and_watch)
                return
            if (
                path.startswith("/v1/projects/")
                and path.count("/") > 3  # a project's API, not the project itself
                and not path.startswith(self._project_slash)
            ):
                project = path.split("/")[3]
                missing = ApiError(404, "NotFound", f"Project {project} not found", "projectId")
                await error_response(missing)(scope, receive, send_and_watch)
                return
            await self.router(scope, receive, send_and_watch)
        except ClientDisconnect:
            return  # the client went away mid-request: nothing to answer, logged as status 0
        finally:
            if not logged:  # dropped connection, a disconnect or a crash before any response
                record(0)

    def _refuse(self, error: ApiError, events: bool) -> Response:
        """401 for bad credentials; on the events route with the rate-limit headers, in the
        same order as the fast path sends them."""
        if not events:
            return error_response(error)
        with self.state.lock:
            return error_response(error, limits_dict(self.state.budget.peek_raw()))

    def _with_rate_limits(self, start: Message) -> Message:
        """An events answer that never reached the budget still carries the rate-limit
        headers (polaris-api.md §14: every events response has them)."""
        headers = list(start.get("headers") or [])
        if any(key.lower() == b"ratelimit-limit" for key, _ in headers):
            return start
        with self.state.lock:
            headers += self.state.budget.peek_raw()
        return {**start, "headers": headers}

    async def _events(
        self, scope: Scope, receive: Receive, send: Send, path: str, name: str
    ) -> None:
        """The events route without faults waiting: what ``__call__`` and the router would do
        (authenticate, serve, log before answering), minus their per-request objects."""
        state = self.state
        header = _authorization(scope)
        auth = "none"
        query = scope.get("query_string", b"")
        try:
            try:
                with state.lock:
                    auth = state.authenticate(header)[0]
            except ApiError as error:
                auth = "invalid" if header else "none"
                raw = _raw(self._refuse(error, events=True))
            else:
                raw = await serve_events(state, scope, receive, name)
        except ClientDisconnect:
            state.requests.add("POST", path, query, 0, auth, state.clock.now())
            return  # the client went away mid-push: nothing to answer
        except BaseException:
            state.requests.add("POST", path, query, 0, auth, state.clock.now())
            raise
        state.requests.add("POST", path, query, raw[0], auth, state.clock.now())
        await send_raw(send, raw)

    def _fault_response(self, fault: Fault) -> Response:
        headers: dict[str, str] = {}
        if fault.status == 429:
            limit = str(self.state.budget.per_minute)
            retry = fault.retry_after if fault.retry_after is not None else 1
            headers.update(
                {
                    "RateLimit-Limit": limit,
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(max(int(retry), 1)),
                    "X-RateLimit-Limit-Minute": limit,
                    "X-RateLimit-Remaining-Minute": "0",
                }
            )
            body: dict[str, str] = {"message": "API rate limit exceeded"}
            headers["Retry-After"] = _seconds(retry)
        else:
            code = _FAULT_CODES.get(fault.status, "Error")
            body = {"code": code, "message": f"Injected fault: HTTP {fault.status}"}
            if fault.retry_after is not None:
                headers["Retry-After"] = _seconds(fault.retry_after)
        return json_response(body, fault.status, headers)

    async def _drop(self, send: Send) -> None:
        """Close the connection without any response: abort uvicorn's transport."""
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:  # not uvicorn: the best we can do is an exception
            raise ConnectionAbortedError("injected drop")
        transport.abort()
        if cycle is not None and hasattr(cycle, "disconnected"):
            cycle.disconnected = True  # so uvicorn does not try to send its own 500

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the server is stopping."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.closing and loop.time() < deadline:  # noqa: ASYNC110 - flag set by another thread
            await asyncio.sleep(min(0.05, deadline - loop.time()))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
