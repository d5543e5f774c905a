"""Bind ``?`` placeholders from a request's ``parameters`` list (``[{"type", "value"}]``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp

# Druid SQL parameter types → the DuckDB type that converts a value the way Druid's CAST does.
_DUCK_TYPES = {
    **dict.fromkeys(("BIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT", "LONG"), "BIGINT"),
    **dict.fromkeys(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC"), "DOUBLE"),
    **dict.fromkeys(("VARCHAR", "CHAR", "STRING", "CHARACTER"), "VARCHAR"),
    "TIMESTAMP": "TIMESTAMP",
    "DATE": "DATE",
    "BOOLEAN": "BOOLEAN",
}
_DAY_MS = 86_400_000


def bind_parameters(parameters: Any) -> list[Any]:
    """Convert Druid SQL parameters to values; a value that doesn't fit its type is an error.
    TIMESTAMP and DATE values come back as :class:`Timestamp` (numbers are epoch millis)."""
    if parameters is None:
        return []
    if not isinstance(parameters, list):
        raise SqlError("parameters must be a list of {type, value} objects")
    values: list[Any] = []
    for index, parameter in enumerate(parameters, start=1):
        if not isinstance(parameter, dict) or "value" not in parameter:
            raise SqlError(f"Parameter {index} must be an object with 'type' and 'value'")
        value = parameter["value"]
        type_name = str(parameter.get("type") or "").upper()
        if value is None or not type_name:
            values.append(value)
            continue
        if type_name not in _DUCK_TYPES:
            raise SqlError(f"Parameter {index} has unsupported type {type_name}")
        converted = _cast(value, type_name)
        if converted is None:
            raise SqlError(f"Parameter {index}: cannot convert {value!r} to {type_name}")
        values.append(converted)
    return values


def _cast(value: Any, type_name: str) -> Any:
    """``TRY_CAST(value AS type)`` on DuckDB; NULL when the value doesn't convert."""
    if type_name in ("TIMESTAMP", "DATE") and isinstance(value, int | float):
        millis = int(value)
    else:
        if isinstance(value, bool) and _DUCK_TYPES[type_name] == "VARCHAR":
            return "true" if value else "false"
        found = duckdb.execute(f"SELECT TRY_CAST(? AS {_DUCK_TYPES[type_name]})", [value])
        row = found.fetchone()
        result = None if row is None else row[0]
        if not isinstance(result, dt.date):
            return result
        if not isinstance(result, dt.datetime):
            result = dt.datetime(result.year, result.month, result.day)
        millis = int(result.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
    if type_name == "DATE":
        millis -= millis % _DAY_MS
    return Timestamp(millis)
