"""SQL queries: synchronous (``POST /query/sql``) and asynchronous statements
(``/query/sql/statements``, Polaris' deep-storage queries; polaris-api.md section 9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from airflow_provider_polaris.client._core import (
    ApiCall,
    parse_json,
    parse_nothing,
    parse_object,
    query_params,
)
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

JSON_RESULT_FORMATS = frozenset({"object", "array"})
RESULT_FORMATS = frozenset({"object", "array", "objectLines", "arrayLines", "csv"})

Parameters = Sequence[Mapping[str, Any]]


def _parse_result(result_format: str | None) -> Any:
    """Parsed JSON for the JSON formats (``None`` is the server's default, ``object``), else
    the text of the lines/CSV formats."""

    def parse(response: httpx.Response) -> Any:
        if result_format is None or result_format in JSON_RESULT_FORMATS:
            return parse_json(response)
        return response.text

    return parse


def _check_format(result_format: str | None, allowed: frozenset[str] = RESULT_FORMATS) -> None:
    if result_format is not None and result_format not in allowed:
        raise ValueError(f"result_format must be one of {sorted(allowed)}, got {result_format!r}")


def _sql_body(
    query: str,
    parameters: Parameters | None,
    result_format: str | None,
    context: Mapping[str, Any] | None,
    header: bool,
    types_header: bool,
    sql_types_header: bool,
) -> JsonObject:
    """The SqlRequest body shared by sync queries and async statements."""
    _check_format(result_format)
    body: JsonObject = {"query": query}
    if result_format is not None:
        body["resultFormat"] = result_format
    if parameters:
        body["parameters"] = [dict(p) for p in parameters]
    if context:
        body["context"] = dict(context)
    if header:
        body["header"] = True
    if types_header:
        body["typesHeader"] = True
    if sql_types_header:
        body["sqlTypesHeader"] = True
    return body


def _statement_path(query_id: str, suffix: str = "") -> str:
    return f"/query/sql/statements/{quote_segment(query_id)}{suffix}"


def _result_pages(status: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The query id and result page ids of a finished statement's SqlStatus."""
    query_id = status.get("queryId")
    if not isinstance(query_id, str) or not query_id:
        raise ValueError(
            "status has no queryId: pass the SqlStatus that submit_statement or get_statement "
            "returned"
        )
    state = status.get("state")
    if state != "SUCCESS":
        raise ValueError(
            f"statement {query_id!r} is {state!r}: its results can be read once its state is "
            "SUCCESS (poll get_statement)"
        )
    result = status.get("result")
    pages = result.get("pages") if isinstance(result, Mapping) else None
    return query_id, [page["id"] for page in pages or [] if isinstance(page, Mapping)]


class QueryApi(Resource[M]):
    """Run Druid SQL against the project's tables, synchronously or as async statements."""

    @endpoint
    def sql(
        self,
        query: str,
        *,
        parameters: Parameters | None = None,
        result_format: str = "object",
        context: Mapping[str, Any] | None = None,
        header: bool = False,
        types_header: bool = False,
        sql_types_header: bool = False,
    ) -> ApiCall[Any]:
        """Run ``query`` (``POST /query/sql``); ``?`` placeholders bind to ``parameters``
        (``{"type", "value"}``).

        Returns parsed JSON (a list of rows) for the ``object``/``array`` formats and the raw
        text for ``objectLines``, ``arrayLines`` and ``csv``.
        """
        body = _sql_body(
            query, parameters, result_format, context, header, types_header, sql_types_header
        )
        # A read-only query may be re-sent safely.
        return ApiCall(
            "POST", "/query/sql", _parse_result(result_format), json=body, idempotent=True
        )

    @endpoint
    def submit_statement(
        self,
        query: str,
        *,
        parameters: Parameters | None = None,
        context: Mapping[str, Any] | None = None,
        result_format: str | None = None,
        header: bool = False,
        types_header: bool = False,
        sql_types_header: bool = False,
    ) -> ApiCall[JsonObject]:
        """Start an async (deep-storage) query (``POST /query/sql/statements``).

        Returns its SqlStatus: ``queryId``, ``state`` (``ACCEPTED``, ``RUNNING``, ``SUCCESS``,
        ``FAILED``) and, once done, ``schema`` and ``result.pages``. Not re-sent once it may
        have reached the server: a second POST would start a second query.
        """
        body = _sql_body(
            query, parameters, result_format, context, header, types_header, sql_types_header
        )
        return ApiCall("POST", "/query/sql/statements", parse_object, json=body)

    @endpoint
    def get_statement(self, query_id: str, *, detail: bool = False) -> ApiCall[JsonObject]:
        """An async query's SqlStatus (``GET /query/sql/statements/{queryId}``); ``detail``
        adds its ``stages``, ``counters`` and ``warnings``."""
        params = query_params(detail=True) if detail else ()
        return ApiCall(
            "GET", _statement_path(query_id), parse_object, params=params, idempotent=True
        )

    @endpoint
    def get_statement_results(
        self, query_id: str, *, page: int | None = None, result_format: str | None = None
    ) -> ApiCall[Any]:
        """Rows of a finished async query (``GET /query/sql/statements/{queryId}/results``).

        ``page`` is one of the ``result.pages[].id`` of its SqlStatus (default: every page in
        one response). Parsed JSON for the ``object`` (default) and ``array`` formats, text for
        ``objectLines``, ``arrayLines`` and ``csv``.
        """
        _check_format(result_format)
        params = query_params(page=page, resultFormat=result_format)
        return ApiCall(
            "GET",
            _statement_path(query_id, "/results"),
            _parse_result(result_format),
            params=params,
            idempotent=True,
        )

    @paged
    def iter_statement_results(
        self, status: Mapping[str, Any], *, result_format: str | None = None
    ) -> Pager[Any]:
        """Every row of a finished async query, fetching its result pages one at a time.

        ``status`` is its SqlStatus with ``state`` ``SUCCESS`` (from :meth:`get_statement`);
        ``result_format`` is ``object`` (rows as dicts, the default) or ``array``.
        """
        _check_format(result_format, JSON_RESULT_FORMATS)
        query_id, pages = _result_pages(status)

        def page_call(number: int) -> ApiCall[Page]:
            # Without page ids (a single-page result) one request returns every row.
            page = pages[number] if pages else None
            call = QueryApi.get_statement_results.build(
                self, query_id, page=page, result_format=result_format
            )
            rows = call.parse
            return replace(call, parse=lambda response: {"rows": rows(response) or []})

        return Pager(
            page_call,
            items=lambda page: list(page["rows"]),
            has_more=lambda _page, number: number < len(pages),
            advance=lambda number, _rows: number + 1,
        )

    @endpoint
    def cancel_statement(self, query_id: str) -> ApiCall[None]:
        """Cancel an async query (``DELETE /query/sql/statements/{queryId}``)."""
        return ApiCall("DELETE", _statement_path(query_id), parse_nothing, idempotent=True)
