"""Rendering SQL results in Druid's result formats (polaris-api.md §9)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

RESULT_FORMATS = frozenset({"object", "array", "objectLines", "arrayLines", "csv"})
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
    if fmt in ("object", "objectLines"):
        records: list[Any] = []
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
    elif fmt in ("array", "arrayLines", "csv"):
        records = []
        if header:
            records.append(list(columns))
            if types_header:
                records.append(natives)
            if sql_types_header:
                records.append(list(sql_types))
        records += [list(row) for row in rows]
    else:  # validated by the caller
        raise ValueError(fmt)
    if fmt in ("object", "array"):
        return _dumps(records).encode(), "application/json"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for record in records:
            writer.writerow(["" if v is None else v for v in record])
        return (buffer.getvalue() + "\n").encode(), "text/csv"
    return ("".join(_dumps(r) + "\n" for r in records) + "\n").encode(), "text/plain"
