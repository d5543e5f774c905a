"""Uploaded files: ``/v1/projects/{projectId}/files``."""

from __future__ import annotations

from typing import IO

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


def _path(name: str) -> str:
    return f"/files/{quote_segment(name)}"


def _has_more(page: Page, offset: int) -> bool:
    total = page.get("totalCount")
    if isinstance(total, int):
        return offset < total
    links = page.get("links")
    return isinstance(links, dict) and bool(links.get("@nextLink"))


class FilesApi(Resource[M]):
    """Upload, list, inspect and delete files used by batch jobs."""

    @endpoint
    def upload(
        self,
        name: str,
        file: IO[bytes],
        *,
        data_format: str | None = None,
        compression_format: str | None = None,
        content_type: str = "application/octet-stream",
    ) -> ApiCall[JsonObject]:
        """Upload ``file`` as ``name`` (multipart field ``file``; 409 when the name exists).

        The file object is streamed in chunks, never read whole into memory. A seekable file
        can be re-sent after a connection failure or a 429; a non-seekable stream only when it
        was never sent.
        """
        params = query_params(dataFormat=data_format, compressionFormat=compression_format)
        return ApiCall(
            "POST",
            "/files",
            parse_object,
            params=params,
            files={"file": (name, file, content_type)},
        )

    @endpoint
    def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        search_string: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
    ) -> ApiCall[JsonObject]:
        """One page: ``{"files": [...], "totalCount", "space", "links"}``."""
        params = query_params(
            paginationLimit=limit,
            paginationOffset=offset,
            searchString=search_string,
            sortColumn=sort_column,
            sortOrder=sort_order,
        )
        return ApiCall("GET", "/files", parse_object, params=params, idempotent=True)

    @paged
    def iter_all(
        self,
        *,
        search_string: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
        page_size: int = 1000,
    ) -> Pager[JsonObject]:
        """Every file's metadata, page by page."""
        if page_size < 1:
            raise ValueError("page_size must be >= 1")

        def page_call(offset: int) -> ApiCall[Page]:
            return FilesApi.list.build(
                self,
                limit=page_size,
                offset=offset,
                search_string=search_string,
                sort_column=sort_column,
                sort_order=sort_order,
            )

        return Pager(
            page_call, items=lambda page: list(page.get("files") or []), has_more=_has_more
        )

    @endpoint
    def get(self, name: str) -> ApiCall[JsonObject]:
        """A file's metadata (name, size, format, digest)."""
        return ApiCall("GET", _path(name), parse_object, idempotent=True)

    @endpoint
    def delete(self, name: str) -> ApiCall[None]:
        """Delete a file (204)."""
        return ApiCall("DELETE", _path(name), parse_nothing, idempotent=True)
