"""The HTTP control API under ``/_emulator/`` (not part of Polaris; no auth, not logged)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ._errors import ApiError
from ._http import error_response, json_response
from ._state import EmulatorState


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _guarded(action: Any) -> Any:
    """Control errors as JSON: ApiError as is, KeyError 404, ValueError/TypeError 400."""

    async def handler(request: Request) -> Response:
        try:
            return await action(request)
        except ApiError as exc:
            return error_response(exc)
        except KeyError as exc:
            return json_response({"message": f"not found: {exc.args[0] if exc.args else ''}"}, 404)
        except (ValueError, TypeError) as exc:
            return json_response({"message": str(exc)}, 400)

    return handler


class _Control:
    """The control API's handlers, one method per route."""

    def __init__(self, state: EmulatorState, info: dict[str, Any]) -> None:
        self.state = state
        self.info = info

    async def health(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def get_info(self, request: Request) -> Response:
        with self.state.lock:
            current = {
                "time_scale": self.state.time_scale,
                "manual_clock": self.state.clock.manual,
                "job_durations": dict(self.state.job_durations),
                "now": self.state.clock.now(),
            }
        return json_response({**self.info, **current})

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return json_response({"status": "reset"})

    async def configure(self, request: Request) -> Response:
        body = await _body(request)
        durations = body.get("job_durations")
        if durations is not None and not isinstance(durations, dict):
            raise ValueError("job_durations must be an object of seconds by name")
        self.state.configure(
            time_scale=body.get("time_scale"),
            manual_clock=body.get("manual_clock"),
            job_durations=durations,
        )
        return json_response({"status": "ok"})

    async def advance(self, request: Request) -> Response:
        body = await _body(request)
        self.state.advance(float(body["seconds"]))
        return json_response({"now": self.state.clock.now()})

    async def scripts(self, request: Request) -> Response:
        body = await _body(request)
        job_id = body.pop("job_id", None)
        self.state.script_job(job_id, **body)
        return json_response({"status": "scripted"}, 201)

    async def faults(self, request: Request) -> Response:
        if request.method == "GET":
            with self.state.lock:
                return json_response({"faults": self.state.faults.pending()})
        if request.method == "DELETE":
            with self.state.lock:
                self.state.faults.clear()
            return json_response({"status": "cleared"})
        body = await _body(request)
        with self.state.lock:
            self.state.faults.add(**body)
        return json_response({"status": "injected"}, 201)

    async def budget(self, request: Request) -> Response:
        body = await _body(request)
        self.state.set_events_budget(int(body["per_minute"]))
        return json_response({"status": "ok"})

    async def requests_(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.state.requests.clear()
            return json_response({"status": "cleared"})
        return json_response({"requests": self.state.requests.entries()})

    async def count(self, request: Request) -> Response:
        params = request.query_params
        total = self.state.requests.count(
            params.get("method"), params.get("path_regex"), self.state.prefix
        )
        return json_response({"count": total})

    async def oauth(self, request: Request) -> Response:
        body = await _body(request)
        self.state.register_oauth_client(str(body["client_id"]), str(body["client_secret"]))
        return json_response({"status": "registered"}, 201)

    async def job(self, request: Request) -> Response:
        return json_response(self.state.internal_job(request.path_params["job_id"]))

    async def rows(self, request: Request) -> Response:
        return json_response({"rows": self.state.table_rows(request.path_params["name"])})

    async def dropped(self, request: Request) -> Response:
        counts = self.state.dropped_event_counts()
        return json_response({"total": sum(counts.values()), "byConnection": counts})


def control_router(state: EmulatorState, info: dict[str, Any]) -> Router:
    """Routes mirroring ``PolarisEmulator``'s control methods; ``info`` is served by /info."""
    c = _Control(state, info)
    routes = [
        ("/_emulator/health", c.health, ["GET"]),
        ("/_emulator/events/dropped", c.dropped, ["GET"]),
        ("/_emulator/info", c.get_info, ["GET"]),
        ("/_emulator/reset", c.reset, ["POST"]),
        ("/_emulator/configure", c.configure, ["POST"]),
        ("/_emulator/advance", c.advance, ["POST"]),
        ("/_emulator/scripts", c.scripts, ["POST"]),
        ("/_emulator/faults", c.faults, ["GET", "POST", "DELETE"]),
        ("/_emulator/events-budget", c.budget, ["POST"]),
        ("/_emulator/requests", c.requests_, ["GET", "DELETE"]),
        ("/_emulator/requests/count", c.count, ["GET"]),
        ("/_emulator/oauth-clients", c.oauth, ["POST"]),
        ("/_emulator/jobs/{job_id}", c.job, ["GET"]),
        ("/_emulator/tables/{name}/rows", c.rows, ["GET"]),
    ]
    return Router([Route(path, _guarded(fn), methods=methods) for path, fn, methods in routes])
