"""The emulated Polaris API, one module per resource as in ``client/``: each holds its
requests (a mixin over ``_core.StateCore``) and its handlers in a ``ROUTES`` table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._http import RouteTable, bind
from . import auth, connections, events, files, jobs, projects, query, tables

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from .._state import EmulatorState


def polaris_routes(state: EmulatorState) -> list[BaseRoute]:
    """Routes of the Polaris API itself, a job's reads first (what clients poll most)."""
    under_project: RouteTable[EmulatorState] = [
        (state.prefix + path, handler, methods)
        for module in (jobs, connections, tables, files, query)
        for path, handler, methods in module.ROUTES
    ]
    from_root: RouteTable[EmulatorState] = [*projects.ROUTES, *auth.ROUTES]
    return [*bind(state, under_project), events.route(state), *bind(state, from_root)]
