"""Druid SQL request bodies, results in Druid's result formats and SqlErrorResponse bodies
(polaris-api.md §9).

Shared by the synchronous ``POST /query/sql`` and the async ``/query/sql/statements`` routes:
both take the same body and answer errors in Druid's shape, not Polaris' ``{code, message}``.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

RESULT_FORMATS = frozenset({"object", "array", "objectLines", "arrayLines", "csv"})


def sql_error_body(message: str, category: str = "INVALID_INPUT") -> dict[str, Any]:
    """A Druid SqlErrorResponse; its ``errorCode`` is the category in camel case."""
    first, *rest = category.lower().split("_")
    return {
        "error": "druidException",
        "errorCode": first + "".join(word.title() for word in rest),
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


def result_format(fmt: str | None) -> str:
    """A ``resultFormat`` (``object`` when absent); SqlFailure for an unknown one."""
    if (fmt or "object") not in RESULT_FORMATS:
        raise SqlFailure.of(f"Invalid resultFormat {fmt!r}")
    return fmt or "object"


def parse_sql_request(body: Any) -> SqlRequest:
    """Check a SqlRequest body; SqlFailure (400 INVALID_INPUT) naming what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise SqlFailure.of("query is required")
    fmt = result_format(body.get("resultFormat"))
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


_NATIVE_TYPES = {
    "BIGINT": "LONG",
    "INTEGER": "LONG",
    "SMALLINT": "LONG",
    "TINYINT": "LONG",
    "BOOLEAN": "LONG",
    "TIMESTAMP": "LONG",
    "DATE": "LONG",
    "DOUBLE": "DOUBLE",
    "DECIMAL": "DOUBLE",
    "REAL": "DOUBLE",
    "FLOAT": "FLOAT",
    "VARCHAR": "STRING",
    "CHAR": "STRING",
}


def native_type(sql_type: str) -> str:
    """Druid's native column type for a SQL type (the ``typesHeader`` value)."""
    base = sql_type.upper().split("(")[0].strip()
    if base.startswith(("VARCHAR ARRAY", "ARRAY")):
        return "ARRAY<STRING>"
    if base.startswith("COMPLEX<"):  # e.g. COMPLEX<HLLSketch>: the same name natively
        return sql_type
    return _NATIVE_TYPES.get(base, "COMPLEX<json>")


def _csv_field(value: Any) -> Any:
    """A value as Druid's CSV writer prints it: Java's ``toString()`` (``true``, ``1.0E20``);
    a JSON value as compact JSON; NULL as an empty field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def java_double(value: float) -> str:
    """Java's ``Double.toString``: the shortest digits, plain between 1e-3 and 1e7, else
    ``d.dddE<n>`` (``1.0E20``, ``1.5E-7``)."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python prints this range plainly, with ".0" when whole
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + int(exponent)
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def render_result(
    columns: list[str],
    sql_types: list[str],
    rows: list[list[Any]],
    *,
    fmt: str,
    header: bool,
    types_header: bool,
    sql_types_header: bool,
) -> tuple[bytes, str]:
    """(body, media type) of a query result in ``fmt``."""
    natives = [native_type(t) for t in sql_types]
    records: list[Any] = []
    if fmt in ("object", "objectLines"):
        if header:
            head: dict[str, Any] = {}
            for name, native, sql in zip(columns, natives, sql_types, strict=True):
                types: dict[str, str] = {}
                if types_header:
                    types["type"] = native
                if sql_types_header:
                    types["sqlType"] = sql
                head[name] = types or None
            records.append(head)
        records += [dict(zip(columns, row, strict=False)) for row in rows]
    else:  # array, arrayLines or csv (the caller checked the format)
        if header:
            records.append(list(columns))
            if types_header:
                records.append(natives)
            if sql_types_header:
                records.append(list(sql_types))
        records += [list(row) for row in rows]
    if fmt in ("object", "array"):
        return _dumps(records).encode(), "application/json"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for record in records:
            writer.writerow([_csv_field(v) for v in record])
        return (buffer.getvalue() + "\n").encode(), "text/csv"
    return ("".join(_dumps(r) + "\n" for r in records) + "\n").encode(), "text/plain"
