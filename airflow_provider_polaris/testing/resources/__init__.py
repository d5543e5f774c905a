"""The emulated Polaris API, one module per resource as in ``client/``: each holds its
requests (a mixin over ``_core.StateCore``) and its Starlette routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import auth, connections, events, files, jobs, projects, query, tables

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from .._state import EmulatorState

# Jobs first: a job's status is what clients poll most (events mostly skip the router).
_MODULES = (jobs, events, connections, tables, files, query, projects, auth)


def polaris_routes(state: EmulatorState) -> list[BaseRoute]:
    """Routes of the Polaris API itself."""
    return [route for module in _MODULES for route in module.routes(state)]
