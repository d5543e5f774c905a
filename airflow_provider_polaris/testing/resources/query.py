"""Druid SQL (polaris-api.md §9): ``POST /query/sql`` and the async ``/query/sql/statements``.

Both run on the data plane after every job's due transitions, and both answer errors in
Druid's SqlErrorResponse shape (``_sql.py``); statements are kept by ``_statements.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from .._core import StateCore
from .._http import RouteTable, json_body, json_response
from .._render import render_result
from .._sql import SqlRequest, as_sql_failure, parse_sql_request
from .._statements import StatementStore


class QueryApi(StateCore):
    """SQL queries and async statements."""

    def _clear(self) -> None:
        super()._clear()
        self.statements = StatementStore(
            clock=lambda: self.clock.now(), runtime=lambda: self.lifecycle.seconds("statement")
        )

    def query(
        self, sql: str, parameters: list[dict[str, Any]] | None, time_zone: str | None = None
    ) -> Any:
        """Run SQL on the data plane in ``time_zone`` (its SqlError propagates)."""
        with self.lock:
            self._advance_all()
            return self.dataplane.query(sql, parameters, time_zone)

    def run_sql(self, request: SqlRequest) -> Any:
        """POST /query/sql (and statements): the query's result, in ``context.sqlTimeZone``;
        SqlFailure for what the data plane refuses."""
        zone = request.context.get("sqlTimeZone")
        try:
            return self.query(
                request.query, request.parameters, None if zone is None else str(zone)
            )
        except Exception as exc:
            failure = as_sql_failure(exc)
            if failure is None:
                raise
            raise failure from None

    def submit_statement(self, body: Any) -> dict[str, Any]:
        """POST /query/sql/statements: run now, show RUNNING for the ``statement`` duration."""
        with self.lock:
            return self.statements.submit(body, self.run_sql)

    def statement_status(self, query_id: str, *, detail: bool) -> dict[str, Any]:
        """GET /query/sql/statements/{id}."""
        with self.lock:
            return self.statements.status(query_id, detail=detail)

    def statement_results(
        self, query_id: str, page: str | None, result_format: str | None
    ) -> tuple[bytes, str]:
        """GET /query/sql/statements/{id}/results: (body, media type)."""
        with self.lock:
            return self.statements.results(query_id, page, result_format)

    def cancel_statement(self, query_id: str) -> int:
        """DELETE /query/sql/statements/{id}: the status code (202 canceled, 200 already done)."""
        with self.lock:
            return self.statements.cancel(query_id)


async def _query(state: QueryApi, request: Request) -> Response:
    sql = parse_sql_request(await json_body(request))
    result = state.run_sql(sql)
    content, media = render_result(
        list(result.columns),
        list(result.sql_types),
        [list(row) for row in result.rows],
        fmt=sql.result_format,
        header=sql.header,
        types_header=sql.types_header,
        sql_types_header=sql.sql_types_header,
    )
    headers = {"X-Druid-SQL-Header-Included": "yes"} if sql.header else None
    return Response(content, 200, headers=headers, media_type=media)


async def _statements(state: QueryApi, request: Request) -> Response:
    return json_response(state.submit_statement(await json_body(request)))


async def _statement(state: QueryApi, request: Request) -> Response:
    query_id = request.path_params["query_id"]
    if request.method == "DELETE":
        return Response(b"", state.cancel_statement(query_id))
    detail = request.query_params.get("detail", "false").lower() == "true"
    return json_response(state.statement_status(query_id, detail=detail))


async def _statement_results(state: QueryApi, request: Request) -> Response:
    params = request.query_params
    content, media = state.statement_results(
        request.path_params["query_id"], params.get("page"), params.get("resultFormat")
    )
    filename = params.get("filename")
    headers = None
    if filename:
        headers = {"Content-Disposition": f'attachment; filename="{quote(filename)}"'}
    return Response(content, 200, headers=headers, media_type=media)


# ``/query/sql`` and the statements API. (paths under the project)
ROUTES: RouteTable[QueryApi] = [
    ("/query/sql", _query, ["POST"]),
    ("/query/sql/statements", _statements, ["POST"]),
    ("/query/sql/statements/{query_id}", _statement, ["GET", "DELETE"]),
    ("/query/sql/statements/{query_id}/results", _statement_results, ["GET"]),
]
