"""Ingestion jobs: ``/v1/projects/{projectId}/jobs``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_polaris.client._core import ApiCall, parse_nothing, parse_object, query_params
from airflow_provider_polaris.client._resource import (
    JsonObject,
    M,
    Page,
    Pager,
    Resource,
    endpoint,
    paged,
)
from airflow_provider_polaris.client.config import quote_segment

OneOrMany = str | Sequence[str] | None

MAX_PAGE_SIZE = 1000


def _job_path(job_id: str, suffix: str = "") -> str:
    return f"/jobs/{quote_segment(job_id)}{suffix}"


def _get(path: str) -> ApiCall[JsonObject]:
    return ApiCall("GET", path, parse_object, idempotent=True)


class JobsApi(Resource[M]):
    """Create, inspect, list and control ingestion jobs."""

    @endpoint
    def create(self, spec: Mapping[str, Any]) -> ApiCall[JsonObject]:
        """Submit a job (``POST /jobs`` -> 201 JobResponse). Never re-sent once it may have
        reached the server: a second POST would create a second job."""
        return ApiCall("POST", "/jobs", parse_object, json=dict(spec))

    @endpoint
    def get(self, job_id: str) -> ApiCall[JsonObject]:
        """Get a job with its ``spec`` and ``health`` (``GET /jobs/{jobId}``)."""
        return _get(_job_path(job_id))

    @endpoint
    def list(
        self,
        *,
        type: OneOrMany = None,
        execution_status: OneOrMany = None,
        health_status: OneOrMany = None,
        connection_name: OneOrMany = None,
        target_table_name: str | None = None,
        target_table_id: str | None = None,
        search_string: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> ApiCall[JsonObject]:
        """One page of jobs: ``{"values": [...], "moreResultsAvailable": bool}``.

        List-valued filters (``type``, ``execution_status``, ``health_status``,
        ``connection_name``) repeat the query parameter; Polaris ORs repeated values.
        """
        params = query_params(
            type=type,
            executionStatus=execution_status,
            healthStatus=health_status,
            connectionName=connection_name,
            targetTableName=target_table_name,
            targetTableId=target_table_id,
            searchString=search_string,
            sortColumn=sort_column,
            sortOrder=sort_order,
            paginationLimit=limit,
            paginationOffset=offset,
        )
        return ApiCall("GET", "/jobs", parse_object, params=params, idempotent=True)

    @paged
    def iter_all(
        self,
        *,
        type: OneOrMany = None,
        execution_status: OneOrMany = None,
        health_status: OneOrMany = None,
        connection_name: OneOrMany = None,
        target_table_name: str | None = None,
        target_table_id: str | None = None,
        search_string: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Pager[JsonObject]:
        """Every job matching the filters, walking pages while ``moreResultsAvailable``."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")

        def page_call(offset: int) -> ApiCall[Page]:
            return JobsApi.list.build(
                self,
                type=type,
                execution_status=execution_status,
                health_status=health_status,
                connection_name=connection_name,
                target_table_name=target_table_name,
                target_table_id=target_table_id,
                search_string=search_string,
                sort_column=sort_column,
                sort_order=sort_order,
                limit=page_size,
                offset=offset,
            )

        return Pager(
            page_call,
            items=lambda page: list(page.get("values") or []),
            has_more=lambda page, _offset: bool(page.get("moreResultsAvailable")),
        )

    @endpoint
    def update(self, job_id: str, desired_execution_status: str) -> ApiCall[JsonObject]:
        """Request ``desiredExecutionStatus`` with the older ``PUT /jobs/{jobId}``; returns the
        JobResponse. Prefer :meth:`set_status` (``POST /jobs/{jobId}/status``).

        Asking twice for the same state has the same effect, so this PUT is retried."""
        return ApiCall(
            "PUT",
            _job_path(job_id),
            parse_object,
            json={"desiredExecutionStatus": desired_execution_status},
            idempotent=True,
        )

    @endpoint
    def get_status(self, job_id: str) -> ApiCall[JsonObject]:
        """``{"executionStatus": ...}`` (``GET /jobs/{jobId}/status``)."""
        return _get(_job_path(job_id, "/status"))

    @endpoint
    def set_status(self, job_id: str, desired: str) -> ApiCall[JsonObject]:
        """Request ``desiredExecutionStatus`` (``canceled``, ``suspended`` or ``running``).

        Asking twice for the same state has the same effect, so this POST is retried."""
        return ApiCall(
            "POST",
            _job_path(job_id, "/status"),
            parse_object,
            json={"desiredExecutionStatus": desired},
            idempotent=True,
        )

    @endpoint
    def cancel(self, job_id: str) -> ApiCall[JsonObject]:
        """Cancel a job."""
        return JobsApi.set_status.build(self, job_id, "canceled")

    @endpoint
    def suspend(self, job_id: str) -> ApiCall[JsonObject]:
        """Suspend a streaming job."""
        return JobsApi.set_status.build(self, job_id, "suspended")

    @endpoint
    def resume(self, job_id: str) -> ApiCall[JsonObject]:
        """Resume a suspended streaming job."""
        return JobsApi.set_status.build(self, job_id, "running")

    @endpoint
    def get_progress(self, job_id: str) -> ApiCall[JsonObject]:
        """``{"overallProgress": 0.0..1.0}``."""
        return _get(_job_path(job_id, "/progress"))

    @endpoint
    def get_metrics(self, job_id: str) -> ApiCall[JsonObject]:
        """Row and byte counts: ``{"totals": {...}}``."""
        return _get(_job_path(job_id, "/metrics"))

    @endpoint
    def get_logs(self, job_id: str) -> ApiCall[JsonObject]:
        """The job's log entries: ``{"logs": [{timestamp, healthStatus, code, message}]}``."""
        return _get(_job_path(job_id, "/logs"))

    @endpoint
    def reset(self, job_id: str) -> ApiCall[None]:
        """Move a streaming job's read offset back to its ``readFromPoint``.

        Not re-sent after it may have reached the server: a second reset re-reads events."""
        return ApiCall("POST", _job_path(job_id, "/reset"), parse_nothing)
