"""Bind ``?`` placeholders from a request's ``parameters`` list (``[{"type", "value"}]``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.druid_functions import LONG_OF
from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.timeutil import parse_timestamp

# Druid SQL parameter types → the DuckDB type that converts a value the way Druid's CAST does.
_DUCK_TYPES = {
    **dict.fromkeys(("BIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT", "LONG"), "BIGINT"),
    **dict.fromkeys(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC"), "DOUBLE"),
    **dict.fromkeys(("VARCHAR", "CHAR", "STRING", "CHARACTER"), "VARCHAR"),
    "TIMESTAMP": "TIMESTAMP",
    "DATE": "DATE",
    "BOOLEAN": "BOOLEAN",
}


def bind_parameters(parameters: Any) -> list[Any]:
    """Convert Druid SQL parameters to values; a value that doesn't fit its type is an error.
    TIMESTAMP values come back as naive UTC datetimes and DATE values as dates (numbers are
    epoch millis)."""
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
        if not type_name:  # Druid needs it: a parameter's type is what its value means
            raise SqlError(f"Parameter {index} has no 'type' (e.g. BIGINT, VARCHAR, TIMESTAMP)")
        if value is None:
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
    """``TRY_CAST(value AS type)`` on DuckDB (a long truncated, as Druid's ``longValue()``);
    NULL when the value doesn't convert."""
    duck_type = _DUCK_TYPES[type_name]
    if type_name in ("TIMESTAMP", "DATE") and isinstance(value, int | float | str):
        with contextlib.suppress(ValueError):  # epoch millis, or ISO text at its own offset
            millis = int(value) if not isinstance(value, str) else parse_timestamp(value)
            value = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=millis)
    cast = LONG_OF.format("?") if duck_type == "BIGINT" else f"TRY_CAST(? AS {duck_type})"
    row = duckdb.execute(f"SELECT {cast}", [value]).fetchone()
    result = None if row is None else row[0]
    if isinstance(result, dt.datetime):  # Druid's timestamps are whole milliseconds
        return result.replace(microsecond=result.microsecond // 1000 * 1000)
    return result
