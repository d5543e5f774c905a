"""The PEP 249 pieces of the Polaris SQL adapter that need no connection (see
:mod:`._dbapi`): exceptions, type objects, ``?`` parameter binding, and the conversion of client
errors into PEP 249 errors that carry Druid's ``errorCode``, ``category`` and message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from airflow_provider_polaris.client.errors import PolarisApiError, PolarisError
from airflow_provider_polaris.models._references import sql_parts

_TRANSIENT_CATEGORIES = frozenset({"CAPACITY_EXCEEDED", "TIMEOUT", "RUNTIME_FAILURE"})
_QUERY_SHOWN = 200  # characters of the query quoted in an error message


# -- exceptions (PEP 249) ----------------------------------------------------------------------


class Warning(Exception):  # the name PEP 249 prescribes (shadows the builtin here)
    """PEP 249 Warning."""


class Error(Exception):
    """Base of the adapter's errors (PEP 249)."""


class InterfaceError(Error):
    """The adapter was misused (closed cursor, fetch before execute, bad parameters)."""


class DatabaseError(Error):
    """Polaris refused or failed a query.

    ``error_code`` and ``category`` are Druid's (``errorCode`` / ``category`` of its
    SqlErrorResponse) when Polaris sent them; ``status_code`` is the HTTP status, if any;
    ``permanent`` says whether sending the same query again cannot succeed.
    """

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        category: str | None = None,
        status_code: int | None = None,
        permanent: bool = True,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.category = category
        self.status_code = status_code
        self.permanent = permanent


class DataError(DatabaseError):
    """PEP 249 DataError."""


class OperationalError(DatabaseError):
    """Polaris could not run the query now (capacity, timeout, network, cancel)."""


class IntegrityError(DatabaseError):
    """PEP 249 IntegrityError (never raised: Polaris SQL is read-only)."""


class InternalError(DatabaseError):
    """PEP 249 InternalError."""


class ProgrammingError(DatabaseError):
    """The query is invalid: syntax, unknown table or column, wrong parameters."""


class NotSupportedError(DatabaseError):
    """Polaris does not support this (writes through SQL, transactions, ``executemany``)."""


# -- type objects (PEP 249) --------------------------------------------------------------------


class DBAPITypeObject:
    """Compares equal to each Druid SQL type name of its group (``BIGINT == NUMBER``)."""

    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.upper().split("(")[0].strip() in self.names

    def __hash__(self) -> int:
        return hash(self.names)


STRING = DBAPITypeObject("VARCHAR", "CHAR")
NUMBER = DBAPITypeObject(
    "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "BOOLEAN"
)
DATETIME = DBAPITypeObject("TIMESTAMP", "DATE")
BINARY = DBAPITypeObject("BINARY", "VARBINARY")
ROWID = DBAPITypeObject()


# -- parameters --------------------------------------------------------------------------------


def _timestamp_text(value: dt.datetime) -> str:
    """Druid's TIMESTAMP literal text, in UTC (a naive datetime is taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def druid_parameter(value: Any, position: int) -> dict[str, Any]:
    """The Druid SQL parameter (``{"type", "value"}``) for the ``position``-th ``?`` (from 1).

    bool -> BOOLEAN, int -> BIGINT, float/Decimal -> DOUBLE, str -> VARCHAR, datetime ->
    TIMESTAMP (UTC), date -> DATE, None -> a NULL VARCHAR.
    """
    if value is None:
        return {"type": "VARCHAR", "value": None}
    if isinstance(value, bool):  # before int: bool is an int
        return {"type": "BOOLEAN", "value": value}
    if isinstance(value, int):
        return {"type": "BIGINT", "value": value}
    if isinstance(value, (float, Decimal)):
        return {"type": "DOUBLE", "value": float(value)}
    if isinstance(value, str):
        return {"type": "VARCHAR", "value": value}
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return {"type": "TIMESTAMP", "value": _timestamp_text(value)}
    if isinstance(value, dt.date):
        return {"type": "DATE", "value": value.isoformat()}
    raise ProgrammingError(
        f"SQL parameter {position} is a {type(value).__name__} ({value!r}); Polaris SQL "
        "parameters are str, int, float, Decimal, bool, datetime, date or None. Convert it "
        "(e.g. str(value)) before passing it."
    )


def count_placeholders(sql: str) -> int:
    """The ``?`` placeholders of ``sql``, skipping string literals, quoted identifiers and
    comments."""
    return sum(kind == "code" and part == "?" for kind, part in sql_parts(sql))


def bind_parameters(sql: str, parameters: Any) -> list[dict[str, Any]] | None:
    """Druid parameters for ``sql``'s ``?`` placeholders; checked before any request."""
    if parameters is None:
        parameters = ()
    if isinstance(parameters, Mapping):
        raise ProgrammingError(
            "SQL parameters are a mapping, but Polaris takes positional ? parameters "
            "(paramstyle 'qmark'): write ? in the query and pass a list or tuple, "
            "e.g. parameters=['US', 10]."
        )
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence):
        raise ProgrammingError(
            f"SQL parameters must be a list or tuple of values, got {type(parameters).__name__}; "
            "e.g. parameters=['US', 10]."
        )
    expected = count_placeholders(sql)
    if expected != len(parameters):
        raise ProgrammingError(
            f"The query has {expected} ? placeholder(s) but {len(parameters)} parameter(s) were "
            "given; pass one value per ? (string literals, quoted names and comments do not "
            "count)."
        )
    return [druid_parameter(value, i) for i, value in enumerate(parameters, start=1)] or None


# -- errors from the client --------------------------------------------------------------------


def shown_query(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= _QUERY_SHOWN else text[: _QUERY_SHOWN - 3] + "..."


def druid_error(body: Any) -> tuple[str | None, str | None, str | None]:
    """``(errorCode, category, errorMessage)`` of a SqlErrorResponse, or of the one nested in an
    async failure (``{"error": {...}}`` / ``{"errorDetails": {...}}``)."""
    if not isinstance(body, Mapping):
        return None, None, None
    for key in ("error", "errorDetails"):
        nested = body.get(key)
        if isinstance(nested, Mapping):
            return druid_error(nested)
    code, category = body.get("errorCode"), body.get("category")
    message = body.get("errorMessage")
    return (
        str(code) if code else None,
        str(category) if category else None,
        str(message) if message else None,
    )


def _error_class(status: int | None, category: str | None) -> type[DatabaseError]:
    if category == "UNSUPPORTED":
        return NotSupportedError
    if category == "INVALID_INPUT" or (status == 400 and category is None):
        return ProgrammingError
    return OperationalError


def query_error(err: PolarisError, sql: str) -> DatabaseError:
    """The PEP 249 error for a failed request: Druid's errorCode and message first."""
    if not isinstance(err, PolarisApiError):  # network error or timeout: transient
        return OperationalError(
            f"Polaris SQL query could not be sent: {err}. Query: {shown_query(sql)}",
            permanent=False,
        )
    code, category, message = druid_error(err.body)
    status = err.status_code
    permanent = 400 <= status < 500 and status not in (408, 429)
    if category in _TRANSIENT_CATEGORIES:
        permanent = False
    code = code or err.code
    label = ", ".join(part for part in (code, category) if part) or f"HTTP {status}"
    return _error_class(status, category)(
        f"Polaris SQL query failed ({label}): {message or err.message or 'no details'}. "
        f"Query: {shown_query(sql)}",
        error_code=code,
        category=category,
        status_code=status,
        permanent=permanent,
    )
