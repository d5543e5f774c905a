"""Connections: ``/v1/projects/{projectId}/connections``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_polaris.client._core import ApiCall, parse_nothing, parse_object, parse_values
from airflow_provider_polaris.client._resource import JsonObject, JsonObjects, M, Resource, endpoint
from airflow_provider_polaris.client.config import quote_segment


def _path(name: str, suffix: str = "") -> str:
    return f"/connections/{quote_segment(name)}{suffix}"


class ConnectionsApi(Resource[M]):
    """Create and manage connections (Kafka, Confluent, Kinesis, S3, Azure, push streaming...)."""

    @endpoint
    def create(self, body: Mapping[str, Any]) -> ApiCall[JsonObject]:
        """Create a connection (409 when the name exists); ``secrets`` may be included."""
        return ApiCall("POST", "/connections", parse_object, json=dict(body))

    @endpoint
    def get(self, name: str) -> ApiCall[JsonObject]:
        """Get a connection (Polaris never returns stored secrets)."""
        return ApiCall("GET", _path(name), parse_object, idempotent=True)

    @endpoint
    def list(self) -> ApiCall[JsonObjects]:
        """All connections of the project (unpaginated)."""
        return ApiCall("GET", "/connections", parse_values, idempotent=True)

    @endpoint
    def update(self, name: str, body: Mapping[str, Any]) -> ApiCall[JsonObject]:
        """PATCH a connection; ``type`` is required and ``secrets`` updates credentials."""
        return ApiCall("PATCH", _path(name), parse_object, json=dict(body), idempotent=True)

    @endpoint
    def delete(self, name: str) -> ApiCall[None]:
        """Delete a connection."""
        return ApiCall("DELETE", _path(name), parse_nothing, idempotent=True)

    @endpoint
    def test(self, name: str) -> ApiCall[JsonObject]:
        """Ask Polaris to test a connection (200 when it works)."""
        return ApiCall("POST", _path(name, "/test"), parse_object, idempotent=True)

    @endpoint
    def get_meta(self) -> ApiCall[JsonObject]:
        """``{"externalId", "implyArn"}`` for AWS trust policies (``GET /connectionsMeta``)."""
        return ApiCall("GET", "/connectionsMeta", parse_object, idempotent=True)
