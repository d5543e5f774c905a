"""The HTTP control API under ``/_emulator/`` (not part of Polaris; no auth, not logged)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ._errors import ApiError
from ._state import EmulatorState


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def control_router(state: EmulatorState, info: dict[str, Any]) -> Router:
    """Routes mirroring ``PolarisEmulator``'s control methods; ``info`` is served by /info."""

    def guarded(action: Any) -> Any:
        async def handler(request: Request) -> Response:
            try:
                return await action(request)
            except ApiError as exc:
                return _json(exc.body(), exc.status)
            except KeyError as exc:
                return _json({"message": f"not found: {exc.args[0] if exc.args else ''}"}, 404)
            except (ValueError, TypeError) as exc:
                return _json({"message": str(exc)}, 400)

        return handler

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    async def get_info(request: Request) -> Response:
        with state.lock:
            current = {
                "time_scale": state.time_scale,
                "manual_clock": state.clock.manual,
                "job_durations": dict(state.job_durations),
                "now": state.clock.now(),
            }
        return _json({**info, **current})

    async def reset(request: Request) -> Response:
        state.reset()
        return _json({"status": "reset"})

    async def configure(request: Request) -> Response:
        body = await _body(request)
        durations = body.get("job_durations")
        if durations is not None and not isinstance(durations, dict):
            raise ValueError("job_durations must be an object of seconds by name")
        state.configure(
            time_scale=body.get("time_scale"),
            manual_clock=body.get("manual_clock"),
            job_durations=durations,
        )
        return _json({"status": "ok"})

    async def advance(request: Request) -> Response:
        body = await _body(request)
        state.advance(float(body["seconds"]))
        return _json({"now": state.clock.now()})

    async def scripts(request: Request) -> Response:
        body = await _body(request)
        job_id = body.pop("job_id", None)
        state.script_job(job_id, **body)
        return _json({"status": "scripted"}, 201)

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            with state.lock:
                return _json({"faults": state.faults.pending()})
        if request.method == "DELETE":
            with state.lock:
                state.faults.clear()
            return _json({"status": "cleared"})
        body = await _body(request)
        with state.lock:
            state.faults.add(**body)
        return _json({"status": "injected"}, 201)

    async def budget(request: Request) -> Response:
        body = await _body(request)
        state.set_events_budget(int(body["per_minute"]))
        return _json({"status": "ok"})

    async def requests_(request: Request) -> Response:
        if request.method == "DELETE":
            state.requests.clear()
            return _json({"status": "cleared"})
        return _json({"requests": state.requests.entries()})

    async def count(request: Request) -> Response:
        params = request.query_params
        total = state.requests.count(params.get("method"), params.get("path_regex"), state.prefix)
        return _json({"count": total})

    async def oauth(request: Request) -> Response:
        body = await _body(request)
        state.register_oauth_client(str(body["client_id"]), str(body["client_secret"]))
        return _json({"status": "registered"}, 201)

    async def job(request: Request) -> Response:
        return _json(state.internal_job(request.path_params["job_id"]))

    async def rows(request: Request) -> Response:
        return _json({"rows": state.table_rows(request.path_params["name"])})

    async def dropped(request: Request) -> Response:
        counts = state.dropped_event_counts()
        return _json({"total": sum(counts.values()), "byConnection": counts})

    routes = [
        ("/_emulator/health", health, ["GET"]),
        ("/_emulator/events/dropped", dropped, ["GET"]),
        ("/_emulator/info", get_info, ["GET"]),
        ("/_emulator/reset", reset, ["POST"]),
        ("/_emulator/configure", configure, ["POST"]),
        ("/_emulator/advance", advance, ["POST"]),
        ("/_emulator/scripts", scripts, ["POST"]),
        ("/_emulator/faults", faults, ["GET", "POST", "DELETE"]),
        ("/_emulator/events-budget", budget, ["POST"]),
        ("/_emulator/requests", requests_, ["GET", "DELETE"]),
        ("/_emulator/requests/count", count, ["GET"]),
        ("/_emulator/oauth-clients", oauth, ["POST"]),
        ("/_emulator/jobs/{job_id}", job, ["GET"]),
        ("/_emulator/tables/{name}/rows", rows, ["GET"]),
    ]
    return Router([Route(path, guarded(fn), methods=methods) for path, fn, methods in routes])
