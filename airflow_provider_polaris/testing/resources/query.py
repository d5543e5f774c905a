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
from .._sql import SqlFailure, SqlRequest, parse_sql_request, render_result
from .._statements import StatementStore


class QueryApi(StateCore):
    """SQL queries and async statements (``statements``: the caller takes the lock)."""

    def _clear(self) -> None:
        super()._clear()
        self.statements = StatementStore(
            clock=lambda: self.clock.now(), runtime=lambda: self.lifecycle.seconds("statement")
        )

    def run_sql(self, request: SqlRequest) -> Any:
        """POST /query/sql (and statements): the query's result in ``context.sqlTimeZone``, run
        after every job's due transitions; SqlFailure for what the data plane refuses."""
        from ..dataplane.errors import SqlError  # lazily: dataplane loads duckdb and sqlglot

        zone = request.context.get("sqlTimeZone")
        with self.lock:
            self._advance_all()
            try:
                return self.dataplane.query(
                    request.query, request.parameters, None if zone is None else str(zone)
                )
            except SqlError as exc:
                raise SqlFailure(exc.to_response()) from None


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
    body = await json_body(request)
    with state.lock:  # runs now, shows RUNNING for the ``statement`` duration
        return json_response(state.statements.submit(body, state.run_sql))


async def _statement(state: QueryApi, request: Request) -> Response:
    query_id = request.path_params["query_id"]
    detail = request.query_params.get("detail", "false").lower() == "true"
    with state.lock:
        if request.method == "DELETE":  # 202 canceled, 200 already done
            return Response(b"", state.statements.cancel(query_id))
        return json_response(state.statements.status(query_id, detail=detail))


async def _statement_results(state: QueryApi, request: Request) -> Response:
    params = request.query_params
    with state.lock:
        content, media = state.statements.results(
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
