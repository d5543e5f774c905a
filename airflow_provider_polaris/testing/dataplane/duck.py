"""The query engine: Druid SQL (rewritten by :mod:`druid_sql`) run on an embedded DuckDB.

The rows live in :class:`TableStore`; each table a query reads is mirrored into DuckDB and the
mirror is rebuilt only when the table changed since (its stamp), so repeated queries on a
quiet table cost nothing but the query. Results come back the way Druid prints them:
timestamps as ``2024-01-01T10:00:00.000Z``, Druid SQL type names, JSON values as JSON.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.druid_sql import translate
from airflow_provider_polaris.testing.dataplane.errors import SqlError, UnsupportedError
from airflow_provider_polaris.testing.dataplane.parameters import bind_parameters
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.timeutil import (
    Timestamp,
    format_iso,
    to_datetime,
)

_SETTINGS = (
    "SET integer_division = true",  # Druid: long / long stays a long
    "SET error_on_division_by_zero = false",  # x / 0 is NULL
    "SET TimeZone = 'UTC'",
    "SET default_null_order = 'nulls_first_on_asc_last_on_desc'",  # NULL sorts lowest
)
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"}
_INTEGER |= {"UINTEGER", "UBIGINT", "UHUGEINT"}
_ERRORS: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r'Referenced column "?([^"]+?)"? not found'),
        "Column '{0}' not found in any table",
        "INVALID_INPUT",
    ),
    (
        re.compile(r'column "?([^"]+?)"? must appear in the GROUP BY'),
        "Expression '{0}' is not being grouped",
        "INVALID_INPUT",
    ),
    (
        re.compile(r"(WHERE|JOIN|GROUP BY) clause cannot contain aggregates"),
        "Aggregate functions are not allowed in {0}",
        "INVALID_INPUT",
    ),
    (re.compile(r"term out of range"), "Ordinal out of range", "INVALID_INPUT"),
    (
        re.compile(r"Table with name ([^ ]+) does not exist"),
        "Object '{0}' not found",
        "INVALID_INPUT",
    ),
    (
        re.compile(r"Function with name ([^ ]+) does not exist"),
        "Function '{0}' is not supported by the emulator",
        "UNSUPPORTED",
    ),
]


class DuckQueries:
    """Runs queries on the rows of a :class:`TableStore` through one DuckDB connection."""

    def __init__(self, store: TableStore, now_ms: Callable[[], int]) -> None:
        self._store = store
        self._now_ms = now_ms
        self._con = duckdb.connect()
        for setting in _SETTINGS:
            self._con.execute(setting)
        self._mirrors: dict[str, tuple[Any, ...]] = {}

    def reset(self) -> None:
        """Drop every mirror (the store was cleared)."""
        for name in list(self._mirrors):
            self._con.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
        self._mirrors.clear()

    def query(
        self, sql: str, parameters: list[dict[str, Any]] | None
    ) -> tuple[list[str], list[str], list[list[Any]]]:
        """Columns, Druid SQL types and JSON-ready rows of a Druid SELECT."""
        plan = translate(sql, self._now_ms())
        values = [_param(v) for v in bind_parameters(parameters)]
        if len(values) != plan.placeholders:
            raise SqlError(
                f"The query has {plan.placeholders} parameter(s) ('?') "
                f"but {len(values)} parameter value(s) were given"
            )
        for name in plan.tables:
            if not self._store.exists(name):
                raise SqlError(f"Object '{name}' not found")
            self._sync(name)
        try:
            cursor = self._con.execute(plan.sql, values)
            description = cursor.description or []
            raw = cursor.fetchall()
        except duckdb.Error as exc:
            raise _as_sql_error(exc) from None
        columns = [str(d[0]) for d in description]
        types = [_sql_type(str(d[1])) for d in description]
        rows = [[_value(v, t) for v, t in zip(row, types, strict=True)] for row in raw]
        return columns, [_output_type(t) for t in types], rows

    # --- mirrors -------------------------------------------------------------------------------

    def _sync(self, name: str) -> None:
        stamp = self._store.stamp(name)
        if self._mirrors.get(name) == stamp:
            return
        rows = self._store.rows(name)
        columns = self._store.columns(name)
        kinds = {c: _column_kind(rows, c) for c in columns if c != "__time"}
        self._con.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
        defs = ", ".join(
            [f"{_quote('__time')} TIMESTAMP"] + [f"{_quote(c)} {k}" for c, k in kinds.items()]
        )
        self._con.execute(f"CREATE TABLE {_quote(name)} ({defs})")
        if rows:
            self._load(name, rows, kinds)
        self._mirrors[name] = stamp

    def _load(self, name: str, rows: Sequence[Any], kinds: dict[str, str]) -> None:
        fd, path = tempfile.mkstemp(suffix=".ndjson")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(_load_row(row, kinds), default=str))
                    out.write("\n")
            spec = {
                "__time": "BIGINT",
                **{c: ("VARCHAR" if k == "JSON" else k) for c, k in kinds.items()},
            }
            struct = (
                "{"
                + ", ".join(f"{_sql_string(c)}: {_sql_string(k)}" for c, k in spec.items())
                + "}"
            )
            select = ", ".join(
                [f"epoch_ms({_quote('__time')})"]
                + [f"{_quote(c)}::JSON" if k == "JSON" else _quote(c) for c, k in kinds.items()]
            )
            self._con.execute(
                f"INSERT INTO {_quote(name)} SELECT {select} FROM read_json("
                f"{_sql_string(path)}, format = 'newline_delimited', columns = {struct})"
            )
        finally:
            os.unlink(path)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _column_kind(rows: Sequence[Any], column: str) -> str:
    """The DuckDB type a stored column mirrors as: the widest kind among its values."""
    seen: set[str] = set()
    for row in rows:
        value = row.get(column)
        if value is None:
            continue
        if isinstance(value, bool | int):
            seen.add("BIGINT")
        elif isinstance(value, float):
            seen.add("DOUBLE")
        elif isinstance(value, dict | list):
            seen.add("JSON")
        else:
            seen.add("VARCHAR")
        if len(seen) > 1 and seen != {"BIGINT", "DOUBLE"}:
            break
    if seen and seen <= {"BIGINT", "DOUBLE"}:
        return "DOUBLE" if "DOUBLE" in seen else "BIGINT"
    if seen == {"JSON"}:
        return "JSON"
    return "VARCHAR"


def _load_row(row: Any, kinds: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"__time": int(row["__time"])}
    for column, kind in kinds.items():
        value = row.get(column)
        if value is None:
            out[column] = None
        elif kind == "JSON":
            out[column] = json.dumps(value, separators=(",", ":"))
        elif kind == "VARCHAR" and not isinstance(value, str):
            out[column] = json.dumps(value) if isinstance(value, dict | list) else str(value)
        elif isinstance(value, float) and not math.isfinite(value):
            out[column] = None
        else:
            out[column] = int(value) if isinstance(value, bool) else value
    return out


def _param(value: Any) -> Any:
    if isinstance(value, Timestamp):
        return to_datetime(int(value)).replace(tzinfo=None)
    return value


def _sql_type(duck_type: str) -> str:
    base = duck_type.split("(")[0].strip().upper()
    if base.endswith("[]"):
        return "ARRAY"
    if base in _INTEGER:
        return "BIGINT"
    if base in ("DOUBLE", "DECIMAL"):
        return "DOUBLE"
    if base.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    if base in ("FLOAT", "DATE", "BOOLEAN", "VARCHAR", "JSON"):
        return base
    if base == '"NULL"':
        return "NULL"
    return "OTHER:" + base


def _output_type(kind: str) -> str:
    if kind == "JSON" or kind.startswith("OTHER:"):
        return "COMPLEX<json>"
    return "VARCHAR" if kind == "NULL" else kind


def _value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return format_iso(_ms(value))
    if isinstance(value, dt.date):
        return format_iso(_ms(dt.datetime(value.year, value.month, value.day)))
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if kind == "JSON" and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, list):
        return [_value(v, "") for v in value]
    if isinstance(value, dict):
        return {k: _value(v, "") for k, v in value.items()}
    if isinstance(value, dt.timedelta):
        return str(value)
    return value


def _ms(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _as_sql_error(exc: duckdb.Error) -> SqlError:
    text = str(exc)
    message = text.split("\n")[0].split(": ", 1)[-1]
    for pattern, template, category in _ERRORS:
        found = pattern.search(text)
        if found:
            filled = template.format(*found.groups())
            if category == "UNSUPPORTED":
                return UnsupportedError(filled)
            return SqlError(filled)
    if isinstance(exc, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException):
        return SqlError(message)
    if isinstance(exc, duckdb.NotImplementedException):
        return UnsupportedError(message)
    return SqlError(message, category="RUNTIME_FAILURE", error_code="runtimeFailure")
