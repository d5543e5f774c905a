"""Projects on the regional API host: ``/v1/projects`` and ``/v1/projects/{projectId}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_polaris.client._core import ApiCall, parse_nothing, parse_object, parse_values
from airflow_provider_polaris.client._resource import JsonObject, JsonObjects, M, Resource, endpoint
from airflow_provider_polaris.client.config import quote_segment


def _project_path(project_id: str) -> str:
    return f"/projects/{quote_segment(project_id)}"


class ProjectsApi(Resource[M]):
    """Polaris projects in the region (not scoped to the configured project).

    Creating, changing and deleting projects needs the ``AdministerProjects`` permission.
    """

    @endpoint
    def list(self) -> ApiCall[JsonObjects]:
        """List the projects (``GET /v1/projects``; a bare array of Project objects)."""
        return ApiCall("GET", "/projects", parse_values, idempotent=True, scope="api")

    @endpoint
    def get(self, project_id: str | None = None) -> ApiCall[JsonObject]:
        """Get one project (default: the configured one); its ID is ``metadata.uid``."""
        path = _project_path(project_id or self.config.project_id)
        return ApiCall("GET", path, parse_object, idempotent=True, scope="api")

    @endpoint
    def create(self, body: Mapping[str, Any]) -> ApiCall[JsonObject]:
        """Create a project (``POST /v1/projects``), e.g. ``{"metadata": {"name": ...},
        "spec": {"plan": ..., "region": ...}}``; returns the Project. Never re-sent once it may
        have reached the server."""
        return ApiCall("POST", "/projects", parse_object, json=dict(body), scope="api")

    @endpoint
    def update(self, project_id: str, body: Mapping[str, Any]) -> ApiCall[JsonObject]:
        """Change a project (``PATCH /v1/projects/{projectId}``), e.g. its ``spec.desiredState``
        (``running``, ``paused``, ``stopped``); returns the Project."""
        return ApiCall(
            "PATCH",
            _project_path(project_id),
            parse_object,
            json=dict(body),
            idempotent=True,
            scope="api",
        )

    @endpoint
    def delete(self, project_id: str) -> ApiCall[None]:
        """Delete a project (``DELETE /v1/projects/{projectId}``). The ID is required: there is
        no default, so the configured project is never deleted by accident."""
        return ApiCall(
            "DELETE", _project_path(project_id), parse_nothing, idempotent=True, scope="api"
        )
