"""Parse a source's files (or inline payload) into a job's staged source table, in DuckDB.

Every format is first loaded as lines of JSON objects: NDJSON is split by DuckDB itself,
CSV/TSV rows are read by :func:`formats.read_records` and written out as JSON objects. One SQL
conversion then types every line by the ``inputSchema`` (inferred from the values when there is
none). The table has ``__file``, ``__line``, one column per field (``__none`` when there is
none) and ``__err`` (NULL for a good row, else why it could not be parsed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.druid_functions import LONG_OF
from airflow_provider_polaris.testing.dataplane.formats import (
    JSON_FORMATS,
    BadRecord,
    format_name,
    read_records,
)
from airflow_provider_polaris.testing.dataplane.store import (
    INTEGER_TYPES,
    base_type,
    quote,
    sql_string,
)

DUCK_TYPES = {
    "long": "BIGINT",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "float": "DOUBLE",
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "json": "JSON",
    "complex<json>": "JSON",
}
# Blank lines are no records; \r is left by CRLF line ends.
_BLANK = "trim(line, ' ' || chr(9) || chr(13)) = ''"


def field_type(field: Mapping[str, Any]) -> str:
    """The DuckDB type of an ``inputSchema`` field (VARCHAR when unknown)."""
    return DUCK_TYPES.get(str(field.get("dataType") or "string").lower(), "VARCHAR")


def load_source(
    con: duckdb.DuckDBPyConnection,
    table: str,
    payloads: Iterable[tuple[str, str]],
    settings: Mapping[str, Any] | None,
    schema: Sequence[Mapping[str, Any]],
) -> None:
    """Create ``table`` from the payloads (file name, text) of one source, typed by
    ``schema`` (no schema: every field, typed from its values)."""
    lines = quote(table + "_lines")
    con.execute(
        f"CREATE TEMP TABLE {lines} "
        "(__file BIGINT, __line BIGINT, __name VARCHAR, __text VARCHAR, __bad VARCHAR)"
    )
    try:
        for number, (name, text) in enumerate(payloads):
            _split(con, lines, number, name, text, settings)
        if not schema:
            schema = _inferred(con, lines)
        con.execute(f"CREATE TEMP TABLE {quote(table)} AS {_typed(lines, schema)}")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {lines}")


def _split(
    con: duckdb.DuckDBPyConnection,
    lines: str,
    number: int,
    name: str,
    text: str,
    settings: Mapping[str, Any] | None,
) -> None:
    """Append the lines of one payload; a line that isn't a JSON object gets its ``bad``."""
    prefix = sql_string(f"{name}: line ")
    if format_name(settings, name) in JSON_FORMATS:
        con.execute(
            f"INSERT INTO {lines} SELECT ?, n, ?, line, CASE WHEN NOT json_valid(line) THEN "
            f"{prefix} || n || ': unable to parse JSON' WHEN json_type(line) <> 'OBJECT' THEN "
            f"{prefix} || n || ': expected a JSON object' END FROM (SELECT unnest(l) AS line, "
            "unnest(range(1, len(l) + 1)) AS n FROM (SELECT string_split(?, chr(10)) AS l)) "
            f"WHERE NOT {_BLANK}",
            [number, name, text],
        )
        return
    good: list[str | None] = []
    bad: list[str | None] = []
    for record in read_records(text, settings, name):
        bad.append(f"{name}: {record.message}" if isinstance(record, BadRecord) else None)
        good.append(None if bad[-1] else json.dumps(record))
    con.execute(
        f"INSERT INTO {lines} SELECT ?, unnest(range(1, len(g) + 1)), ?, unnest(g), unnest(b) "
        "FROM (SELECT ?::VARCHAR[] AS g, ?::VARCHAR[] AS b)",
        [number, name, good, bad],
    )


def _inferred(con: duckdb.DuckDBPyConnection, lines: str) -> list[dict[str, str]]:
    """Every field of the good lines, in order of appearance, typed from its values."""
    found = con.execute(
        "SELECT j.key, list(DISTINCT j.type) "
        f"FROM {lines} AS l, json_each(l.__text) AS j WHERE l.__bad IS NULL "
        "GROUP BY j.key ORDER BY min([l.__file, l.__line, j.id])"
    ).fetchall()
    return [{"name": str(key), "dataType": json_data_type(kinds)} for key, kinds in found]


def json_data_type(kinds: Iterable[str], *, booleans: bool = False) -> str:
    """The ``dataType`` of a field from the JSON types (DuckDB's ``json_type``) of its values:
    long when all are integers (or booleans, with ``booleans``), double when all are numbers,
    json when all are objects or arrays, else string."""
    found = set(kinds) - {"NULL"}
    longs = {"BIGINT", "UBIGINT", "BOOLEAN"} if booleans else {"BIGINT", "UBIGINT"}
    if found and found <= longs:
        return "long"
    if found and found <= longs | {"DOUBLE"}:
        return "double"
    if found and found <= {"OBJECT", "ARRAY"}:
        return "json"
    return "string"


def _typed(lines: str, schema: Sequence[Mapping[str, Any]]) -> str:
    """The SELECT converting every line's fields to their types, with the first error."""
    fields = [(str(f.get("name")), field_type(f)) for f in schema]
    paths = "[" + ", ".join(sql_string(_path(f)) for f, _ in fields) + "]"
    columns, errors = [], []
    for i, (field, kind) in enumerate(fields):
        value = _convert(f"__v[{i + 1}]", kind, f"__text -> {sql_string(_path(field))}")
        columns.append(f"CAST({value} AS {kind}) AS {quote(field)}")
        errors.append(_error(f"__v[{i + 1}]", quote(field), f"field {field!r}", kind))
    values = (
        f"SELECT *, CASE WHEN __bad IS NULL AND {len(fields)} > 0 THEN "
        f"json_extract_string(__text, {paths}::VARCHAR[]) END AS __v FROM {lines}"
    )
    columns = columns or ["NULL AS __none"]
    typed = f"SELECT __file, __line, __name, __bad, __v, {', '.join(columns)} FROM vals"
    return (
        f"WITH vals AS ({values}), typed AS ({typed}) SELECT * EXCLUDE (__name, __bad, __v), "
        f"coalesce({', '.join(['__bad', *errors, 'NULL'])}) AS __err FROM typed"
    )


def _path(field: str) -> str:
    return '$."' + field.replace('"', '\\"') + '"'


_NUMBER = "CASE WHEN trim({v}) = '' THEN NULL ELSE {cast} END"


def _convert(v: str, kind: str, as_json: str) -> str:
    """The SQL converting a field's extracted text ``v`` to ``kind`` (NULL when it can't)."""
    if kind == "BIGINT":  # DuckDB rounds '2.7' to 3 as a BIGINT; a long of 2.7 is 2
        cast = (
            f"coalesce(CASE WHEN NOT (contains({v}, '.') OR contains(lower({v}), 'e')) THEN "
            f"TRY_CAST(trim({v}) AS BIGINT) END, "
            f"TRY_CAST(trunc(TRY_CAST(trim({v}) AS DOUBLE)) AS BIGINT), "
            f"CASE {v} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)"
        )
        return _NUMBER.format(v=v, cast=cast)
    if kind == "DOUBLE":
        cast = (
            f"coalesce(TRY_CAST(trim({v}) AS DOUBLE), "
            f"CASE {v} WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END)"
        )
        return _NUMBER.format(v=v, cast=cast)
    if kind == "TIMESTAMP":
        return f"CAST({as_timestamp(v, 'VARCHAR')} AS TIMESTAMP)"
    if kind == "JSON":
        return (
            f"CASE WHEN {v} IS NULL THEN NULL WHEN json_type({as_json}) = 'VARCHAR' "
            f"AND json_valid({v}) THEN json({v}) ELSE {as_json} END"
        )
    return v


def _error(v: str, value: str, where: str, kind: str) -> str:
    """The SQL of a field's error message (NULL when it converted)."""
    if kind in ("BIGINT", "DOUBLE"):
        what, suffix = "could not convert string to float: '", "'"
        check = f"{v} IS NOT NULL AND trim({v}) <> '' AND {value} IS NULL"
    elif kind == "TIMESTAMP":
        what, suffix = "cannot parse '", "' as a timestamp"
        check = f"{v} IS NOT NULL AND {value} IS NULL"
    else:
        return "NULL"
    return (
        f"CASE WHEN {check} THEN __name || {sql_string(f': {where}: {what}')} || {v} || "
        f"{sql_string(suffix)} END"
    )


NUMBERS = INTEGER_TYPES | {"DOUBLE", "FLOAT", "DECIMAL", "BOOLEAN"}  # a boolean is a 0/1 long


def as_timestamp(column: str, kind: str) -> str:
    """A value of DuckDB type ``kind`` as a TIMESTAMP in whole milliseconds (Druid's times):
    numbers are epoch ms, strings ISO-8601 or a number; NULL when it is neither (or out of
    range)."""
    base = base_type(kind)
    if base.startswith("TIMESTAMP") or base == "DATE":
        return f"date_trunc('millisecond', CAST({column} AS TIMESTAMP))"
    number = f"try(epoch_ms({LONG_OF.format(column)}))"
    if base in NUMBERS:
        return number
    if base in ("VARCHAR", "JSON"):
        text = f"CAST(TRY_CAST({column} AS TIMESTAMPTZ) AS TIMESTAMP)"
        return f"coalesce(date_trunc('millisecond', {text}), {number})"
    return "CAST(NULL AS TIMESTAMP)"
