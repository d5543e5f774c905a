"""Tables: ``/v1/projects/{projectId}/tables``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_polaris.client._core import ApiCall, parse_object, parse_values, query_params
from airflow_provider_polaris.client._resource import JsonObject, JsonObjects, M, Resource, endpoint
from airflow_provider_polaris.client.config import quote_segment


def _path(name: str, suffix: str = "") -> str:
    return f"/tables/{quote_segment(name)}{suffix}"


class TablesApi(Resource[M]):
    """Create, inspect and update tables (drop them with a ``drop_table`` job)."""

    @endpoint
    def create(self, body: Mapping[str, Any]) -> ApiCall[JsonObject]:
        """Create a table (409 when the name exists)."""
        return ApiCall("POST", "/tables", parse_object, json=dict(body))

    @endpoint
    def get(self, name: str) -> ApiCall[JsonObject]:
        """Get a table, including ``version`` and ``availability``."""
        return ApiCall("GET", _path(name), parse_object, idempotent=True)

    @endpoint
    def list(
        self,
        *,
        partitioning_granularity: str | None = None,
        segment_count: int | None = None,
    ) -> ApiCall[JsonObjects]:
        """All tables of the project (unpaginated summaries)."""
        params = query_params(
            partitioningGranularity=partitioning_granularity, segmentCount=segment_count
        )
        return ApiCall("GET", "/tables", parse_values, params=params, idempotent=True)

    @endpoint
    def update(self, name: str, body: Mapping[str, Any]) -> ApiCall[JsonObject]:
        """PUT the full table payload with its current ``version`` (409 when stale)."""
        return ApiCall("PUT", _path(name), parse_object, json=dict(body), idempotent=True)

    @endpoint
    def list_unused_segments(
        self,
        name: str,
        *,
        interval: str | None = None,
        limit: int | None = None,
        last_segment_id: str | None = None,
        sort_order: str | None = None,
    ) -> ApiCall[JsonObject]:
        """One page of unused segments: ``{"values": [...]}``; pass the last ``id`` as
        ``last_segment_id`` for the next page."""
        params = query_params(
            interval=interval, limit=limit, lastSegmentId=last_segment_id, sortOrder=sort_order
        )
        return ApiCall(
            "GET", _path(name, "/unusedSegments"), parse_object, params=params, idempotent=True
        )
