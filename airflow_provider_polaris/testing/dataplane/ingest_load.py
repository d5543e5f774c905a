"""Parse one uploaded file (or inline payload) into a job's staged source table.

The table has ``__file``, ``__line`` and ``__err`` (NULL for a good row, else why it could not
be parsed) and one column per ``inputSchema`` field. NDJSON with an ``inputSchema`` is parsed
and converted by DuckDB in one statement; CSV/TSV and schema-less input go through
:func:`formats.read_records` in Python, loaded in batches with one JSON read each.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.formats import (
    BadRecord,
    apply_schema,
    format_name,
    read_records,
)
from airflow_provider_polaris.testing.dataplane.store import quote

_BATCH = 50_000
_DUCK_TYPES = {
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


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def field_type(field: Mapping[str, Any]) -> str:
    """The DuckDB type of an ``inputSchema`` field (VARCHAR when unknown)."""
    return _DUCK_TYPES.get(str(field.get("dataType") or "string").lower(), "VARCHAR")


def load_records(
    con: duckdb.DuckDBPyConnection,
    table: str,
    text: str,
    spec: Mapping[str, Any],
    name: str,
    number: int,
    schema: Sequence[Mapping[str, Any]],
) -> None:
    """Append the rows of one payload (file ``number`` called ``name``) to ``table``."""
    fmt = format_name(spec.get("formatSettings"), name)
    if schema and fmt in ("nd-json", "json", "ndjson"):
        _ndjson(con, table, text, name, number, schema)
        return
    records = read_records(text, spec.get("formatSettings"), name)
    if not schema:
        _schemaless(con, table, list(records), name, number)
        return
    batch: list[dict[str, Any]] = []
    for line, record in enumerate(records, start=1):
        row: dict[str, Any] = {"__file": number, "__line": line, "__err": None}
        if isinstance(record, BadRecord):
            row["__err"] = f"{name}: {record.message}"
        else:
            try:
                row.update(apply_schema(record, schema))
            except ValueError as exc:
                row["__err"] = f"{name}: {exc}"
        batch.append(row)
        if len(batch) >= _BATCH:
            _insert(con, table, batch, schema)
            batch = []
    _insert(con, table, batch, schema)


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: list[dict[str, Any]],
    schema: Sequence[Mapping[str, Any]],
) -> None:
    """One bulk load of Python rows: a JSON temp file read with the columns' types."""
    if not rows:
        return
    kinds = {"__file": "BIGINT", "__line": "BIGINT", "__err": "VARCHAR"}
    kinds.update({str(f.get("name")): field_type(f) for f in schema})
    read = {c: "BIGINT" if k == "TIMESTAMP" else k for c, k in kinds.items()}
    struct = "{" + ", ".join(f"{_s(c)}: {_s(k)}" for c, k in read.items()) + "}"
    values = [f"epoch_ms({quote(c)})" if k == "TIMESTAMP" else quote(c) for c, k in kinds.items()]
    fd, path = tempfile.mkstemp(suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(rows, default=str, separators=(",", ":")))
        con.execute(
            f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in kinds)}) "
            f"SELECT {', '.join(values)} FROM read_json({_s(path)}, format = 'array', "
            f"columns = {struct}, maximum_object_size = 2147483647)"
        )
    finally:
        os.unlink(path)


def _schemaless(
    con: duckdb.DuckDBPyConnection, table: str, records: list[Any], name: str, number: int
) -> None:
    """No inputSchema: every field is a column typed from its values (long, double, json,
    else string)."""
    good = [r for r in records if not isinstance(r, BadRecord)]
    fields = list(dict.fromkeys(key for record in good for key in record))
    schema = [{"name": f, "dataType": _infer(r.get(f) for r in good)} for f in fields]
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]
    ).fetchone()
    if not exists or not exists[0]:
        columns = ["__file BIGINT", "__line BIGINT", "__err VARCHAR"]
        columns += [f"{quote(str(f['name']))} {field_type(f)}" for f in schema]
        con.execute(f"CREATE TEMP TABLE {quote(table)} ({', '.join(columns)})")
    rows = []
    for line, record in enumerate(records, start=1):
        row: dict[str, Any] = {"__file": number, "__line": line, "__err": None}
        if isinstance(record, BadRecord):
            row["__err"] = f"{name}: {record.message}"
        else:
            row.update(apply_schema(record, schema))
        rows.append(row)
    _insert(con, table, rows, schema)


def _infer(values: Iterator[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int}:
        return "long"
    if kinds and kinds <= {int, float}:
        return "double"
    if kinds and kinds <= {dict, list}:
        return "json"
    return "string"


# --- NDJSON in DuckDB -----------------------------------------------------------------------


def _ndjson(
    con: duckdb.DuckDBPyConnection,
    table: str,
    text: str,
    name: str,
    number: int,
    schema: Sequence[Mapping[str, Any]],
) -> None:
    """Split, parse and convert every line in one DuckDB statement."""
    fields = [(str(f.get("name")), field_type(f)) for f in schema]
    paths = "[" + ", ".join(_s(_path(f)) for f, _ in fields) + "]"
    converted = [
        _convert(f"v[{i + 1}]", kind, f"line -> {_s(_path(f))}")
        for i, (f, kind) in enumerate(fields)
    ]
    errors = [
        _error(f"v[{i + 1}]", f"c{i}", f"{name}: field {field!r}", kind)
        for i, (field, kind) in enumerate(fields)
    ]
    prefix = _s(f"{name}: line ")
    lines = (
        "SELECT unnest(l) AS line, unnest(range(1, len(l) + 1)) AS n "
        "FROM (SELECT string_split(?, chr(10)) AS l)"
    )
    parsed = (
        f"SELECT n, line, CASE WHEN NOT json_valid(line) THEN {prefix} || n || "
        f"': unable to parse JSON' WHEN json_type(line) <> 'OBJECT' THEN {prefix} || n || "
        "': expected a JSON object' END AS bad FROM lines WHERE trim(line) <> ''"
    )
    values = (
        f"SELECT n, bad, line, CASE WHEN bad IS NULL THEN json_extract_string(line, {paths}) "
        "END AS v FROM parsed"
    )
    typed = (
        "SELECT n, bad, v, "
        + ", ".join(f"{c} AS c{i}" for i, c in enumerate(converted))
        + " FROM vals"
    )
    err = "coalesce(bad, " + ", ".join([*errors, "NULL"]) + ")"
    names = ", ".join(quote(f) for f, _ in fields)
    outputs = ", ".join(f"c{i}" for i in range(len(fields)))
    con.execute(
        f"INSERT INTO {quote(table)} (__file, __line, __err, {names}) "
        f"WITH lines AS ({lines}), parsed AS ({parsed}), vals AS ({values}), typed AS ({typed}) "
        f"SELECT {int(number)}, n, {err}, {outputs} FROM typed",
        [text],
    )


def _path(field: str) -> str:
    return '$."' + field.replace('"', '\\"') + '"'


_NUMBER = "CASE WHEN trim({v}) = '' THEN NULL ELSE {cast} END"


def _convert(v: str, kind: str, as_json: str) -> str:
    """The SQL converting a field's extracted text ``v`` to ``kind`` (NULL when it can't)."""
    if kind == "BIGINT":
        cast = (
            f"coalesce(TRY_CAST(trim({v}) AS BIGINT), "
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
        return (
            f"coalesce(CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP), "
            f"try(epoch_ms(TRY_CAST(trunc(TRY_CAST({v} AS DOUBLE)) AS BIGINT))))"
        )
    if kind == "JSON":
        return (
            f"CASE WHEN {v} IS NULL THEN NULL WHEN json_type({as_json}) = 'VARCHAR' "
            f"AND json_valid({v}) THEN json({v}) ELSE {as_json} END"
        )
    return v


def _error(v: str, value: str, where: str, kind: str) -> str:
    """The SQL of a field's error message (NULL when it converted)."""
    if kind in ("BIGINT", "DOUBLE"):
        what = "could not convert string to float: '"
        check = f"{v} IS NOT NULL AND trim({v}) <> '' AND {value} IS NULL"
    elif kind == "TIMESTAMP":
        what = "cannot parse '"
        check = f"{v} IS NOT NULL AND {value} IS NULL"
    else:
        return "NULL"
    suffix = "' as a timestamp" if kind == "TIMESTAMP" else "'"
    prefix = _s(f"{where}: {what}")
    return f"CASE WHEN {check} THEN {prefix} || {v} || {_s(suffix)} END"
