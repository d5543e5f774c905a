"""The query engine: Druid SQL (rewritten by :mod:`druid_sql`) run on an embedded DuckDB.

The rows live in DuckDB already (:class:`TableStore`): a query first writes the streamed events
staged for the tables it reads, then runs on them directly. Results come back the way Druid
prints them: timestamps as ``2024-01-01T10:00:00.000Z``, Druid SQL type names, JSON values as JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import re
import struct
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.druid_functions import (
    OTHER,
    SKETCH_TYPES,
    parse_zone,
    sketch_field,
)
from airflow_provider_polaris.testing.dataplane.druid_sql import translate
from airflow_provider_polaris.testing.dataplane.errors import SqlError, UnsupportedError
from airflow_provider_polaris.testing.dataplane.parameters import bind_parameters
from airflow_provider_polaris.testing.dataplane.store import INTEGER_TYPES, TableStore, base_type

# DuckDB messages reworded as Druid's: (pattern, template filled with its groups, unsupported).
_ERRORS = [
    (r'Referenced column "?([^"]+?)"? not found', "Column '{0}' not found in any table", False),
    (
        r'column "?([^"]+?)"? must appear in the GROUP BY',
        "Expression '{0}' is not being grouped",
        False,
    ),
    (
        r"(WHERE|JOIN|GROUP BY) clause cannot contain aggregates",
        "Aggregate functions are not allowed in {0}",
        False,
    ),
    (r"term out of range", "Ordinal out of range", False),
    (r"Table with name ([^ ]+) does not exist", "Object '{0}' not found", False),
    (
        r"Function with name ([^ ]+) does not exist",
        "Function '{0}' is not supported by the emulator",
        True,
    ),
    (r"([^:\n]*is not supported by the emulator)", "{0}", True),
    (
        r"struct_extract|druid_(?:hll|theta|quantiles)_sketch",
        "A sketch function's first argument must be a sketch of its kind (DS_HLL for HLL_*, "
        "DS_THETA for THETA_*, DS_QUANTILES_SKETCH for DS_GET_*)",
        False,
    ),
]


def run_query(
    store: TableStore,
    sql: str,
    parameters: list[dict[str, Any]] | None,
    time_zone: str | None,
    now_ms: int,
) -> tuple[list[str], list[str], list[list[Any]]]:
    """Columns, Druid SQL types and JSON-ready rows of a Druid SELECT on the store's tables,
    computed and printed in ``time_zone`` (``context.sqlTimeZone``; UTC by default)."""
    zone = parse_zone(time_zone)
    plan = translate(sql, now_ms, zone, store.sketch_columns)
    values = bind_parameters(parameters)
    if len(values) != plan.placeholders:
        raise SqlError(
            f"The query has {plan.placeholders} parameter(s) ('?') "
            f"but {len(values)} parameter value(s) were given"
        )
    for name in plan.tables:
        if not store.exists(name):  # exists() writes the table's staged events first
            raise SqlError(f"Object '{name}' not found")
    try:
        with store.lock:
            # In the session zone, which DuckDB uses for TIMESTAMPTZ casts; UTC for the rest.
            if zone is not None:
                store.con.execute(f"SET TimeZone = '{zone.duck}'")
            try:
                cursor = store.con.execute(plan.sql, values)
                description, raw = cursor.description or [], cursor.fetchall()
            finally:
                if zone is not None:
                    store.con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error as exc:
        raise as_sql_error(exc) from None
    columns = [str(d[0]) for d in description]
    types = [str(d[1]) for d in description]
    tz = zone.tzinfo if zone is not None else None
    rows = [[_value(v, t, tz) for v, t in zip(row, types, strict=True)] for row in raw]
    return columns, [_sql_type(t) for t in types], rows


# DuckDB base types → Druid's names; the rest (STRUCT, MAP, JSON ...) are COMPLEX<json>.
_SQL_TYPES = dict.fromkeys(INTEGER_TYPES, "BIGINT") | {"DECIMAL": "DOUBLE", '"NULL"': "VARCHAR"}
_SQL_TYPES |= {name: name for name in ("DOUBLE", "FLOAT", "DATE", "BOOLEAN", "VARCHAR")}


def _sql_type(duck_type: str) -> str:
    """Druid's name (in ``sqlTypesHeader``) of a DuckDB result type."""
    field = sketch_field(duck_type)
    if field is not None:
        return SKETCH_TYPES.get(field, "OTHER")
    base = base_type(duck_type)
    if base.endswith("[]"):
        return "ARRAY"
    if base.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    return _SQL_TYPES.get(base, "COMPLEX<json>")


def _sketch(value: dict[str, Any]) -> Any:
    """A sketch prints as a base64 string like Druid's; it decodes to the emulator's JSON list
    of the sketch's values, not to DataSketches' binary form. Other wrapped values unwrap."""
    field, inner = next(iter(value.items()))
    if field == OTHER:
        return [_value(v) for v in inner]
    text = json.dumps([_value(v) for v in inner or []], separators=(",", ":"))
    return base64.b64encode(text.encode()).decode("ascii")


def _value(value: Any, duck_type: str = "", tz: dt.tzinfo | None = None) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.date):  # Joda's ISO print in the zone, naive = local to it
        if not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        tz = tz or dt.timezone.utc
        aware = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        text = aware.astimezone(tz).isoformat(timespec="milliseconds")[:29]  # no offset seconds
        return text[:-6] + "Z" if text.endswith("+00:00") else text  # 2024-01-01T10:00:00.000Z
    if isinstance(value, dict) and str(next(iter(value), "")).startswith("druid_"):
        return _sketch(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return _shortest_float32(value) if duck_type == "FLOAT" else value
    if duck_type == "JSON" and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, dt.timedelta):
        return str(value)
    return value


def _shortest_float32(value: float) -> float:
    """A FLOAT (32-bit) result with the fewest digits that still read back as the same float,
    as Java prints a float: 0.1, not 0.10000000149011612."""
    for digits in range(6, 10):  # .6g already drops trailing zeros; 9 always round-trips
        short = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", short))[0] == value:
            return short
    return value


def as_sql_error(exc: duckdb.Error) -> SqlError:
    """DuckDB's error as the Druid-shaped SqlError (known messages reworded, the rest kept)."""
    text = str(exc)
    message = text.split("\n")[0].split(": ", 1)[-1]
    for pattern, template, unsupported in _ERRORS:
        found = re.search(pattern, text)
        if found:
            filled = template.format(*found.groups())
            return UnsupportedError(filled) if unsupported else SqlError(filled)
    if isinstance(exc, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException):
        return SqlError(message)
    if isinstance(exc, duckdb.NotImplementedException):
        return UnsupportedError(message)
    return SqlError(message, category="RUNTIME_FAILURE", error_code="runtimeFailure")
