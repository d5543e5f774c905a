"""``EmulatorState``: one emulated organization with one project, assembled from the core
(lock, clock, records, the rules between resources) and one mixin per resource."""

from __future__ import annotations

from .resources.auth import AuthApi
from .resources.connections import ConnectionsApi
from .resources.events import EventsApi
from .resources.files import FilesApi
from .resources.jobs import JobsApi
from .resources.projects import ProjectsApi
from .resources.query import QueryApi
from .resources.tables import TablesApi


class EmulatorState(
    AuthApi, ProjectsApi, JobsApi, ConnectionsApi, TablesApi, FilesApi, EventsApi, QueryApi
):
    """All state of one emulated organization with one project (see ``_core.StateCore``)."""
