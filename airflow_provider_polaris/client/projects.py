"""Projects: ``GET /v1/projects`` and ``GET /v1/projects/{projectId}``."""

from __future__ import annotations

from typing import Any

from airflow_provider_polaris.client._core import ApiCall, parse_object, parse_values
from airflow_provider_polaris.client._resource import M, Resource, endpoint
from airflow_provider_polaris.client.config import quote_segment

JsonObject = dict[str, Any]
JsonObjects = list[dict[str, Any]]


class ProjectsApi(Resource[M]):
    """Polaris projects in the region (not scoped to the configured project)."""

    @endpoint
    def list(self) -> ApiCall[JsonObjects]:
        """List the projects (``GET /v1/projects``; a bare array of Project objects)."""
        return ApiCall("GET", "/projects", parse_values, idempotent=True, scope="api")

    @endpoint
    def get(self, project_id: str | None = None) -> ApiCall[JsonObject]:
        """Get one project (default: the configured one); its ID is ``metadata.uid``."""
        project = quote_segment(project_id or self.config.project_id)
        return ApiCall("GET", f"/projects/{project}", parse_object, idempotent=True, scope="api")
