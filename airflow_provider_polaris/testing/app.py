"""The emulator's ASGI front: the control API, injected faults, authentication (cached per
header value), the project check and the request log, in front of the Polaris routes that
``resources/`` assembles.

The hottest route, ``POST /events/{connection}``, skips the router and Starlette's
Request/Response objects altogether while no fault is waiting (``resources.events``); with
faults waiting it is routed to the same code, so both paths answer alike.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import Message, Receive, Scope, Send

from ._errors import ApiError
from ._http import error_response, json_response
from ._state import EmulatorState
from ._traffic import Fault, limits_dict
from .resources import polaris_routes
from .resources.events import raw, send_raw, serve_events

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
        method: str = scope["method"]
        events = path.startswith(self._events_prefix)
        if method == "POST" and events and not self.state.faults.has_any():
            name = path[self._events_start :]
            if name and "/" not in name:
                await self._events(scope, receive, send, path, name)
                return
        await self._serve(scope, receive, send, events)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, events: bool) -> None:
        """Any request but the control API and fault-free events: authenticate, apply a
        waiting fault, route, and log the answer's status."""
        state = self.state
        path: str = scope["path"]
        method: str = scope["method"]
        auth, refused = self._authenticate(scope, path)
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
            fault = self._take_fault(method, path)
            if fault is not None:
                if fault.kind == "drop":
                    await self._drop(send)
                    return
                if fault.kind == "status":
                    await self._fault_response(fault)(scope, receive, send_and_watch)
                    return
                delay = fault.delay_seconds
            await self._route(scope, receive, send_and_watch, events, refused)
        except ClientDisconnect:
            return  # the client went away mid-request: nothing to answer, logged as status 0
        finally:
            if not logged:  # dropped connection, a disconnect or a crash before any response
                record(0)

    def _authenticate(self, scope: Scope, path: str) -> tuple[str, ApiError | None]:
        """(auth kind for the log, the 401 to answer or None); the token endpoint needs none."""
        if path.startswith("/auth/realms/"):
            return "none", None
        header = _authorization(scope)
        try:
            with self.state.lock:
                auth, scope["polaris.principal"] = self.state.authenticate(header)
        except ApiError as error:
            return ("invalid" if header else "none"), error
        return auth, None

    def _take_fault(self, method: str, path: str) -> Fault | None:
        """The injected fault this request meets, if any."""
        if not self.state.faults.has_any():
            return None
        with self.state.lock:
            return self.state.faults.take(method, path, self.state.prefix)

    async def _route(
        self, scope: Scope, receive: Receive, send: Send, events: bool, refused: ApiError | None
    ) -> None:
        """401 for refused credentials, 404 for another project's API, else the router."""
        path: str = scope["path"]
        if refused is not None:
            await self._refuse(refused, events)(scope, receive, send)
            return
        if (
            path.startswith("/v1/projects/")
            and path.count("/") > 3  # a project's API, not the project itself
            and not path.startswith(self._project_slash)
        ):
            project = path.split("/")[3]
            missing = ApiError(404, "NotFound", f"Project {project} not found", "projectId")
            await error_response(missing)(scope, receive, send)
            return
        await self.router(scope, receive, send)

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
        auth, status = "none", 0  # status 0: no answer (a disconnect or a crash)
        try:
            try:
                with state.lock:
                    auth = state.authenticate(header)[0]
            except ApiError as error:
                auth = "invalid" if header else "none"
                answer = raw(self._refuse(error, events=True))
            else:
                answer = await serve_events(state, scope, receive, name)
            status = answer[0]
        except ClientDisconnect:
            return  # the client went away mid-push: nothing to answer
        finally:  # logged before the answer leaves, so a client that saw it sees the entry
            query = scope.get("query_string", b"")
            state.requests.add("POST", path, query, status, auth, state.clock.now())
        await send_raw(send, answer)

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
