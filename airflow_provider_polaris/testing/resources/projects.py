"""Projects of the emulated region: ``/v1/projects`` and ``/v1/projects/{projectId}`` (§1).

The emulator serves one project's API (jobs, tables, ...). Projects created through
``POST /v1/projects`` exist as records only: they are listed, read, changed and deleted, but
their own API paths answer 404. Every project's ``status.state`` follows its
``spec.desiredState`` at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._clock import iso
from .._core import StateCore
from .._errors import bad, found
from .._http import RouteTable, created, json_body, json_response
from .._rules import check_enum

PROJECT_MAX_BYTES = 100_000_000_000
MAX_PROJECTS = 25  # per region
REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "eu-central-1",
        "eu-west-1",
        "us-west-2",
        "ap-northeast-2",
        "ap-south-1",
        "eastus",
        "germanywestcentral",
        "westus2",
    }
)
DESIRED_STATES = frozenset({"running", "paused", "stopped"})
_PROTECTIONS = ("deletionProtection", "stopProtection")


def _name(value: Any, target: str = "metadata.name") -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 128:
        raise bad("A project name must be 1-128 characters", target)
    return value


def _section(body: dict[str, Any], key: str) -> dict[str, Any]:
    section = body.get(key) or {}
    if not isinstance(section, dict):
        raise bad(f"{key} must be an object", key)
    return section


def _check_protections(spec: dict[str, Any]) -> None:
    for flag in _PROTECTIONS:
        if flag in spec and not isinstance(spec[flag], bool):
            raise bad(f"spec.{flag} must be a boolean", f"spec.{flag}")


class ProjectsApi(StateCore):
    """The region's projects; the served one reports the bytes of its uploaded files."""

    def _clear(self) -> None:
        super()._clear()
        self.projects: dict[str, dict[str, Any]] = {}  # back to the served project alone
        self._add(self.project_id, "Emulator project", {"plan": "a.01", "region": "us-east-1"})

    def _add(self, project_id: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """A new project record: ``spec`` gives ``plan`` and ``region``, maybe more."""
        self.projects[project_id] = {
            "metadata": {
                "uid": project_id,
                "name": name,
                "createdOnTimestamp": iso(self.clock.now()),
            },
            "spec": {
                "plan": spec["plan"],
                "desiredState": spec.get("desiredState", "running"),
                "deletionProtection": spec.get("deletionProtection", False),
                "stopProtection": spec.get("stopProtection", False),
                "region": spec["region"],
            },
        }
        return self.projects[project_id]

    def _render_project(self, project: dict[str, Any]) -> dict[str, Any]:
        served = project["metadata"]["uid"] == self.project_id
        return {
            "metadata": dict(project["metadata"]),
            "spec": dict(project["spec"]),
            "status": {
                "maxBytes": PROJECT_MAX_BYTES,
                "currentBytes": self._used_bytes() if served else 0,
                "deepStorageBytes": 0,
                "state": project["spec"]["desiredState"],
                "version": "emulator",
            },
        }

    def _project(self, project_id: str) -> dict[str, Any]:
        return found(self.projects, project_id, "Project", "projectId")

    def list_projects(self) -> list[dict[str, Any]]:
        """GET /v1/projects: a bare array."""
        with self.lock:
            return [self._render_project(p) for p in self.projects.values()]

    def get_project(self, project_id: str) -> dict[str, Any]:
        """GET /v1/projects/{id}."""
        with self.lock:
            return self._render_project(self._project(project_id))

    def create_project(self, body: Any) -> dict[str, Any]:
        """POST /v1/projects (a record only: its API is not served): ``metadata.name``,
        ``spec.plan`` and ``spec.region`` required."""
        with self.lock:
            if not isinstance(body, dict):
                raise bad("The request body must be a JSON object")
            metadata, spec = _section(body, "metadata"), _section(body, "spec")
            if len(self.projects) >= MAX_PROJECTS:
                raise bad(f"A region holds at most {MAX_PROJECTS} projects", "metadata.name")
            name = _name(metadata.get("name"))
            if not isinstance(spec.get("plan"), str) or not spec["plan"]:
                raise bad("spec.plan is required", "spec.plan")
            check_enum(spec.get("region"), REGIONS, "spec.region")
            check_enum(spec.get("desiredState", "running"), DESIRED_STATES, "spec.desiredState")
            _check_protections(spec)
            return self._render_project(self._add(str(uuid.uuid4()), name, spec))

    def update_project(self, project_id: str, body: Any) -> dict[str, Any]:
        """PATCH /v1/projects/{id}: ``metadata.name`` and ``spec`` fields; the region stays."""
        with self.lock:
            project = self._project(project_id)
            if not isinstance(body, dict):
                raise bad("The request body must be a JSON object")
            metadata, spec = _section(body, "metadata"), _section(body, "spec")
            name = _name(metadata["name"]) if "name" in metadata else project["metadata"]["name"]
            current = project["spec"]
            if spec.get("region", current["region"]) != current["region"]:
                raise bad("A project's region can't change", "spec.region")
            desired = check_enum(
                spec.get("desiredState", current["desiredState"]),
                DESIRED_STATES,
                "spec.desiredState",
            )
            _check_protections(spec)
            merged = {**current, **{k: v for k, v in spec.items() if k in current}}
            merged["desiredState"] = desired
            if desired == "stopped" != current["desiredState"] and merged["stopProtection"]:
                raise bad("The project has stop protection", "spec.desiredState")
            project["metadata"]["name"] = name
            project["spec"] = merged
            return self._render_project(project)

    def delete_project(self, project_id: str) -> None:
        """DELETE /v1/projects/{id}: not the served project, not with deletion protection."""
        with self.lock:
            project = self._project(project_id)
            if project_id == self.project_id:
                raise bad(
                    "The emulator serves this project and can't delete it (reset() empties it)",
                    "projectId",
                )
            if project["spec"]["deletionProtection"]:
                raise bad("The project has deletion protection", "projectId")
            del self.projects[project_id]


async def _projects(state: ProjectsApi, request: Request) -> Response:
    if request.method == "GET":
        return json_response(state.list_projects())
    # 202 Accepted, as Polaris' spec answers: provisioning is asynchronous (§1).
    project = state.create_project(await json_body(request))
    return created(request, project, project["metadata"]["uid"], 202)


async def _project(state: ProjectsApi, request: Request) -> Response:
    project_id = request.path_params["project_id"]
    if request.method == "GET":
        return json_response(state.get_project(project_id))
    if request.method == "DELETE":
        state.delete_project(project_id)
        return Response(b"", 202)
    return json_response(state.update_project(project_id, await json_body(request)), 202)


# ``/v1/projects`` and ``/v1/projects/{id}``. (paths from the root)
ROUTES: RouteTable[ProjectsApi] = [
    ("/v1/projects", _projects, ["GET", "POST"]),
    ("/v1/projects/{project_id}", _project, ["GET", "PATCH", "DELETE"]),
]
