"""Async (deep-storage) query statements: ``/query/sql/statements`` (polaris-api.md §9).

A statement is answered by the same SQL data plane as ``POST /query/sql``, computed when it is
submitted (a snapshot, like an MSQ task reading its segments). It then shows ``RUNNING`` for the
``statement`` duration on the emulator clock (scaled by the time scale) and ``SUCCESS`` after;
a cancel while running ends it ``FAILED`` with a ``CANCELED`` error, as Druid reports it.
Results are split into pages of ``context.rowsPerPage`` rows (Druid's MSQ default 100,000).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._clock import iso
from ._sql import (
    SqlFailure,
    SqlRequest,
    native_type,
    parse_sql_request,
    render_result,
    result_format,
    sql_error_body,
)

DEFAULT_ROWS_PER_PAGE = 100_000
SAMPLE_RECORDS = 10
RESULTS_DATASOURCE = "__query_select"  # what Druid names the results of a SELECT statement


@dataclass
class Statement:
    """One submitted statement and its (already computed) result."""

    query_id: str
    created: float
    done_at: float
    columns: list[str]
    sql_types: list[str]
    rows: list[list[Any]]
    rows_per_page: int
    result_format: str = "object"  # the submitted resultFormat: the results' default
    canceled_at: float | None = None

    def state(self, now: float) -> str:
        """``RUNNING`` until ``done_at``, then ``SUCCESS``; ``FAILED`` once canceled."""
        if self.canceled_at is not None:
            return "FAILED"
        return "SUCCESS" if now >= self.done_at else "RUNNING"

    def pages(self) -> list[tuple[int, int]]:
        """(first row, end row) of each result page; one empty page for no rows."""
        if not self.rows:
            return [(0, 0)]
        size = self.rows_per_page
        return [
            (start, min(start + size, len(self.rows))) for start in range(0, len(self.rows), size)
        ]

    def page_bytes(self, start: int, end: int) -> int:
        """The size of a page as JSON lines (what ``sizeInBytes`` approximates)."""
        return sum(
            len(json.dumps(row, separators=(",", ":"), default=str)) + 1
            for row in self.rows[start:end]
        )


def _rows_per_page(context: dict[str, Any]) -> int:
    value = context.get("rowsPerPage", DEFAULT_ROWS_PER_PAGE)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SqlFailure.of("context.rowsPerPage must be a positive integer")
    return value


class StatementStore:
    """The statements of the emulated project; the caller holds the state lock."""

    def __init__(self, clock: Callable[[], float], runtime: Callable[[], float]) -> None:
        self._clock = clock
        self._runtime = runtime  # seconds a statement runs (the scaled `statement` duration)
        self._statements: dict[str, Statement] = {}

    def submit(self, body: Any, run: Callable[[SqlRequest], Any]) -> dict[str, Any]:
        """Check the SqlRequest ``body`` and run it now (``run`` raises SqlFailure); return
        its SqlStatus. Any failure is 400 ``{"taskId", "state": "FAILED", "error"}``."""
        query_id = f"query-{uuid.uuid4()}"
        try:
            request = parse_sql_request(body)
            rows_per_page = _rows_per_page(request.context)
            result = run(request)
        except SqlFailure as failure:
            raise SqlFailure(
                {"taskId": query_id, "state": "FAILED", "error": failure.body}, failure.status
            ) from None
        now = self._clock()
        statement = Statement(
            query_id=query_id,
            created=now,
            done_at=now + self._runtime(),
            columns=list(result.columns),
            sql_types=list(result.sql_types),
            rows=[list(row) for row in result.rows],
            rows_per_page=rows_per_page,
            result_format=request.result_format,
        )
        self._statements[query_id] = statement
        return self._status(statement, detail=False)

    def _get(self, query_id: str) -> Statement:
        statement = self._statements.get(query_id)
        if statement is None:
            raise SqlFailure.of(f"Query [{query_id}] was not found", "NOT_FOUND", 404)
        return statement

    def status(self, query_id: str, *, detail: bool) -> dict[str, Any]:
        """GET .../statements/{id}: the SqlStatus (``detail`` adds stages, counters, warnings)."""
        return self._status(self._get(query_id), detail=detail)

    def _status(self, statement: Statement, *, detail: bool) -> dict[str, Any]:
        now = self._clock()
        state = statement.state(now)
        ended = statement.done_at if statement.canceled_at is None else statement.canceled_at
        status: dict[str, Any] = {
            "queryId": statement.query_id,
            "state": state,
            "createdAt": iso(statement.created),
            "schema": [
                {"name": name, "type": sql_type, "nativeType": native_type(sql_type)}
                for name, sql_type in zip(statement.columns, statement.sql_types, strict=True)
            ],
            "durationMs": round((min(now, ended) - statement.created) * 1000),
        }
        if state == "SUCCESS":
            pages = statement.pages()
            sizes = [statement.page_bytes(start, end) for start, end in pages]
            status["result"] = {
                "numTotalRows": len(statement.rows),
                "totalSizeInBytes": sum(sizes),
                "dataSource": RESULTS_DATASOURCE,
                "sampleRecords": statement.rows[:SAMPLE_RECORDS],
                "pages": [
                    {"id": i, "numRows": end - start, "sizeInBytes": size}
                    for i, ((start, end), size) in enumerate(zip(pages, sizes, strict=True))
                ],
            }
        elif state == "FAILED":
            message = f"Query [{statement.query_id}] was canceled"
            status["errorDetails"] = sql_error_body(message, "CANCELED")
        if detail:
            status.update(self._details(statement, state))
        return status

    def _details(self, statement: Statement, state: str) -> dict[str, Any]:
        phase = {"SUCCESS": "FINISHED", "FAILED": "FAILED"}.get(state, "READING_INPUT")
        return {
            "stages": [
                {
                    "stageNumber": 0,
                    "definition": {"id": f"{statement.query_id}_0", "processor": "scan"},
                    "phase": phase,
                    "workerCount": 1,
                    "partitionCount": len(statement.pages()),
                    "startTime": iso(statement.created),
                }
            ],
            "counters": {
                "0": {"0": {"output": {"type": "channel", "rows": [len(statement.rows)]}}}
            },
            "warnings": [],
        }

    def results(self, query_id: str, page: str | None, fmt: str | None) -> tuple[bytes, str]:
        """GET .../statements/{id}/results: one page (or all of them) in ``resultFormat``."""
        statement = self._get(query_id)
        state = statement.state(self._clock())
        if state == "RUNNING":
            raise SqlFailure.of(
                f"Query [{query_id}] is currently in [{state}] state. "
                "Please wait for it to complete."
            )
        if state == "FAILED":
            raise SqlFailure.of(
                f"Query [{query_id}] failed. Check the status api for more details."
            )
        fmt = result_format(fmt or statement.result_format)
        rows = statement.rows
        if page is not None:
            rows = self._page_rows(statement, page)
        return render_result(
            statement.columns,
            statement.sql_types,
            rows,
            fmt=fmt,
            header=False,
            types_header=False,
            sql_types_header=False,
        )

    def _page_rows(self, statement: Statement, page: str) -> list[list[Any]]:
        pages = statement.pages()
        try:
            number = int(page)
        except ValueError:
            number = -1
        if not 0 <= number < len(pages):
            raise SqlFailure.of(
                f"Invalid page id [{page}] passed. Pages ids must be between 0 and {len(pages) - 1}"
            )
        start, end = pages[number]
        return statement.rows[start:end]

    def cancel(self, query_id: str) -> int:
        """DELETE .../statements/{id}: 202 when a running statement is canceled, 200 when it
        had already ended (nothing to cancel)."""
        statement = self._get(query_id)
        now = self._clock()
        if statement.state(now) != "RUNNING":
            return 200
        statement.canceled_at = now
        return 202
