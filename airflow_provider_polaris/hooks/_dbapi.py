"""A small PEP 249 (DB-API 2.0) adapter over the Polaris client's SQL endpoints.

``connect(client)`` -> :class:`Connection` -> :class:`Cursor`. A cursor runs one statement at a
time on ``POST /query/sql`` (the default, ``query_mode="sync"``) or as an async statement on
``/query/sql/statements`` (``query_mode="async"``, for long or deep-storage queries: polled
until it ends, and canceled when the wait is interrupted, e.g. by the exception Airflow raises
in a killed task, or times out). No other HTTP stack and no pydruid: the Polaris client does the
requests, retries and auth.

Parameters are Druid's positional ``?`` parameters (``paramstyle = "qmark"``), typed from the
Python value (:func:`~._dbapi_base.druid_parameter`). Polaris SQL is read-only: writes go
through ingestion jobs, so ``executemany`` and ``rollback`` are refused. Values are returned as
Druid sends them (a TIMESTAMP is its ISO text); ``description`` carries each column's SQL type
as its ``type_code`` (compare with :data:`NUMBER`, :data:`STRING`, :data:`DATETIME`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_polaris.client.errors import PolarisError
from airflow_provider_polaris.hooks._dbapi_base import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    DatabaseError,
    DataError,
    DBAPITypeObject,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
    bind_parameters,
    druid_error,
    query_error,
    shown_query,
)

if TYPE_CHECKING:
    from airflow_provider_polaris.client import PolarisClient

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "qmark"

QUERY_MODES = ("sync", "async")
_RUNNING_STATES = frozenset({"ACCEPTED", "RUNNING"})

Description = list[tuple[str, Any, None, None, None, None, None]]


def check_query_mode(query_mode: str, error: type[Exception] = InterfaceError) -> None:
    """Raise ``error`` unless ``query_mode`` is one of :data:`QUERY_MODES`."""
    if query_mode not in QUERY_MODES:
        raise error(
            f"query_mode must be one of {list(QUERY_MODES)}, got {query_mode!r}: 'sync' runs "
            "POST /query/sql, 'async' the statements API for long queries."
        )


class Connection:
    """A PEP 249 connection to one Polaris project (through its client).

    :param client: the Polaris client; closed with the connection when ``owns_client``.
    :param query_mode: ``"sync"`` (``POST /query/sql``) or ``"async"`` (statements API).
    :param context: Druid query context sent with every query (e.g. ``{"sqlTimeZone": ...}``).
    :param poll_interval: seconds between status reads of an async statement.
    :param statement_timeout: seconds an async statement may run before it is canceled and the
        query fails (``None``: no limit).
    :param sleep: ``clock``: injected for tests (no real waiting).
    """

    autocommit = True

    def __init__(
        self,
        client: PolarisClient,
        *,
        owns_client: bool = True,
        query_mode: str = "sync",
        context: Mapping[str, Any] | None = None,
        poll_interval: float = 1.0,
        statement_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_query_mode(query_mode)
        self.client = client
        self.owns_client = owns_client
        self.query_mode = query_mode
        self.context = dict(context or {})
        self.poll_interval = poll_interval
        self.statement_timeout = statement_timeout
        self.sleep = sleep
        self.clock = clock
        self.closed = False

    def cursor(self) -> Cursor:
        """A new cursor on this connection."""
        if self.closed:
            raise InterfaceError("The Polaris SQL connection is closed; open a new one.")
        return Cursor(self)

    def commit(self) -> None:
        """Nothing to commit: Polaris SQL queries are read-only."""

    def rollback(self) -> None:
        """Refused: Polaris SQL has no transactions."""
        raise NotSupportedError("Polaris SQL has no transactions: there is nothing to roll back.")

    def close(self) -> None:
        """Close the connection (and its client when it owns it)."""
        if not self.closed:
            self.closed = True
            if self.owns_client:
                self.client.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(client: PolarisClient, **options: Any) -> Connection:
    """Open a PEP 249 connection over ``client`` (options: see :class:`Connection`)."""
    return Connection(client, **options)


def _statement_text(operation: Any) -> str:
    if not isinstance(operation, str):
        raise ProgrammingError(
            f"The SQL query must be a string, got {type(operation).__name__}; pass one "
            "statement per execute()."
        )
    # A trailing ';' (common in .sql files) is not part of a Druid statement.
    sql = operation.strip().rstrip(";").rstrip()
    if not sql:
        raise ProgrammingError("The SQL query is empty; pass a SELECT statement.")
    return sql


def _schema_columns(schema: Any) -> tuple[list[str], list[Any]]:
    """Column names and SQL types from an async statement's ``schema``."""
    names: list[str] = []
    types: list[Any] = []
    for column in schema if isinstance(schema, list) else []:
        if isinstance(column, Mapping):
            names.append(str(column.get("name")))
            types.append(column.get("type"))
        else:
            names.append(str(column))
            types.append(None)
    return names, types


class Cursor:
    """A PEP 249 cursor: one query at a time, its rows held in memory once it ends.

    ``query_id`` is the async statement's id (``query_mode="async"``), ``rowcount`` the number of
    rows of the last query (-1 before any).
    """

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.description: Description | None = None
        self.rowcount = -1
        self.query_id: str | None = None
        self._running: str | None = None  # the async statement being waited for
        self._rows: list[tuple[Any, ...]] | None = None
        self._position = 0
        self.closed = False

    # -- running a query -------------------------------------------------------------------------

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> Cursor:
        """Run one SQL statement; ``?`` placeholders bind to ``parameters`` (checked first)."""
        self._check_open()
        sql = _statement_text(operation)
        bound = bind_parameters(sql, parameters)
        self.description, self.rowcount, self._rows, self._position = None, -1, None, 0
        self.query_id = None
        if self.connection.query_mode == "async":
            names, types, rows = self._run_statement(sql, bound)
        else:
            names, types, rows = self._run_sync(sql, bound)
        # A missing SQL type (an odd header) leaves type_code None rather than failing.
        kinds = [*types, *[None] * (len(names) - len(types))]
        self.description = [
            (name, kind, None, None, None, None, None)
            for name, kind in zip(names, kinds, strict=False)
        ]
        self._rows = [tuple(row) if isinstance(row, (list, tuple)) else (row,) for row in rows]
        self.rowcount = len(self._rows)
        return self

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        """Refused: Polaris SQL is read-only, so running one statement per row is never useful."""
        raise NotSupportedError(
            "executemany is not supported: Polaris SQL is read-only. Load rows with an ingestion "
            "job (PolarisSqlIngestionOperator, PolarisBatchIngestionOperator) or push events."
        )

    def _context(self) -> dict[str, Any] | None:
        return dict(self.connection.context) or None

    def _run_sync(
        self, sql: str, bound: list[dict[str, Any]] | None
    ) -> tuple[list[str], list[Any], list[Any]]:
        try:
            result = self.connection.client.query.sql(
                sql,
                parameters=bound,
                result_format="array",
                context=self._context(),
                header=True,
                sql_types_header=True,
            )
        except PolarisError as err:
            raise query_error(err, sql) from err
        if not isinstance(result, list) or len(result) < 2:
            raise InterfaceError(
                "Polaris answered the SQL query without its header rows (names and SQL types); "
                f"got {type(result).__name__}. Query: {shown_query(sql)}"
            )
        return list(result[0]), list(result[1]), result[2:]

    def _run_statement(
        self, sql: str, bound: list[dict[str, Any]] | None
    ) -> tuple[list[str], list[Any], list[Any]]:
        query = self.connection.client.query
        try:
            submitted = query.submit_statement(sql, parameters=bound, context=self._context())
        except PolarisError as err:
            raise query_error(err, sql) from err
        self.query_id = str(submitted.get("queryId") or "")
        self._running = self.query_id
        try:
            status = self._wait(submitted, sql)
            self._running = None
            names, types = _schema_columns(status.get("schema"))
            rows = list(query.iter_statement_results(status, result_format="array"))
        except PolarisError as err:
            raise query_error(err, sql) from err
        finally:
            # Still running here: the wait was interrupted (task killed, timeout): stop it.
            if self._running is not None:
                self.cancel()
        return names, types, rows

    def _wait(self, status: Mapping[str, Any], sql: str) -> Mapping[str, Any]:
        """Poll the statement until it ends; its final SqlStatus (raises when it failed)."""
        conn = self.connection
        limit = conn.statement_timeout
        deadline = None if limit is None else conn.clock() + limit
        while status.get("state") in _RUNNING_STATES:
            if deadline is not None and conn.clock() >= deadline:
                raise OperationalError(
                    f"Polaris SQL statement {self.query_id} still ran after statement_timeout="
                    f"{limit} s and was canceled; raise statement_timeout or narrow the query. "
                    f"Query: {shown_query(sql)}",
                    category="TIMEOUT",
                    permanent=False,
                )
            conn.sleep(conn.poll_interval)
            status = conn.client.query.get_statement(self.query_id or "")
        state = status.get("state")
        if state == "SUCCESS":
            return status
        self._running = None
        code, category, message = druid_error(status)
        label = ", ".join(part for part in (code, category) if part) or f"state {state}"
        error = OperationalError if category in (None, "CANCELED") else ProgrammingError
        raise error(
            f"Polaris SQL statement {self.query_id} failed ({label}): "
            f"{message or 'no details'}. Query: {shown_query(sql)}",
            error_code=code,
            category=category,
            permanent=category not in (None, "CANCELED", "TIMEOUT", "CAPACITY_EXCEEDED"),
        )

    def cancel(self) -> None:
        """Cancel the async statement this cursor waits for, if any (errors are ignored: the
        statement may have ended meanwhile)."""
        query_id, self._running = self._running, None
        if query_id:
            with contextlib.suppress(PolarisError):
                self.connection.client.query.cancel_statement(query_id)

    # -- results ---------------------------------------------------------------------------------

    def _result(self) -> list[tuple[Any, ...]]:
        self._check_open()
        if self._rows is None:
            raise InterfaceError("No result to fetch: call execute() with a query first.")
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or ``None`` when all were read."""
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        """Up to ``size`` (default :attr:`arraysize`) next rows."""
        rows = self._result()
        count = self.arraysize if size is None else size
        chunk = rows[self._position : self._position + max(count, 0)]
        self._position += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row."""
        return self.fetchmany(len(self._result()))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row

    def setinputsizes(self, sizes: Any) -> None:
        """Does nothing (PEP 249 allows it)."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Does nothing (PEP 249 allows it)."""

    def _check_open(self) -> None:
        if self.closed or self.connection.closed:
            raise InterfaceError("The Polaris SQL cursor is closed; open a new cursor.")

    def close(self) -> None:
        """Close the cursor (a running async statement is canceled)."""
        self.cancel()
        self.closed = True
        self._rows = None

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Connection",
    "Cursor",
    "DBAPITypeObject",
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]
