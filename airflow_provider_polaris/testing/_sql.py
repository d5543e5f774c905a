"""Druid SQL request bodies and SqlErrorResponse bodies (polaris-api.md §9).

Shared by the synchronous ``POST /query/sql`` and the async ``/query/sql/statements`` routes:
both take the same body and answer errors in Druid's shape, not Polaris' ``{code, message}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._render import RESULT_FORMATS

# Druid's short error code per category, for errors the emulator raises itself.
_ERROR_CODES = {
    "INVALID_INPUT": "invalidInput",
    "NOT_FOUND": "notFound",
    "CANCELED": "canceled",
    "UNSUPPORTED": "unsupported",
    "RUNTIME_FAILURE": "runtimeFailure",
}


def sql_error_body(message: str, category: str = "INVALID_INPUT") -> dict[str, Any]:
    """A Druid SqlErrorResponse."""
    return {
        "error": "druidException",
        "errorCode": _ERROR_CODES.get(category, category.lower()),
        "persona": "USER",
        "category": category,
        "errorMessage": message,
        "context": {},
    }


class SqlFailure(Exception):
    """A SQL request refused with a SqlErrorResponse body (``status`` 400 unless said)."""

    def __init__(self, body: dict[str, Any], status: int = 400) -> None:
        super().__init__(body.get("errorMessage", ""))
        self.body = body
        self.status = status

    @classmethod
    def of(cls, message: str, category: str = "INVALID_INPUT", status: int = 400) -> SqlFailure:
        """A failure built from a message and a Druid category."""
        return cls(sql_error_body(message, category), status)


@dataclass(frozen=True)
class SqlRequest:
    """A validated SqlRequest body (``query`` with its options)."""

    query: str
    result_format: str = "object"
    parameters: list[dict[str, Any]] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    header: bool = False
    types_header: bool = False
    sql_types_header: bool = False


def parse_sql_request(body: Any) -> SqlRequest:
    """Check a SqlRequest body; SqlFailure (400 INVALID_INPUT) naming what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise SqlFailure.of("query is required")
    fmt = body.get("resultFormat") or "object"
    if fmt not in RESULT_FORMATS:
        raise SqlFailure.of(f"Invalid resultFormat {fmt!r}")
    params = body.get("parameters")
    if params is not None and not isinstance(params, list):
        raise SqlFailure.of("parameters must be a list")
    context = body.get("context") or {}
    if not isinstance(context, dict):
        raise SqlFailure.of("context must be an object")
    return SqlRequest(
        query=body["query"],
        result_format=fmt,
        parameters=params,
        context=context,
        header=bool(body.get("header")),
        types_header=bool(body.get("typesHeader")),
        sql_types_header=bool(body.get("sqlTypesHeader")),
    )


def as_sql_failure(exc: Exception) -> SqlFailure | None:
    """The SqlFailure for an error of the data plane (or its stand-in); None for a bug."""
    category = getattr(exc, "category", None)
    if category is None:
        return None
    to_response = getattr(exc, "to_response", None)
    if callable(to_response):
        return SqlFailure(to_response())
    return SqlFailure.of(getattr(exc, "message", str(exc)), category)
