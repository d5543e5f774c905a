"""An ingestion job's SELECT run on DuckDB: translation, and the job's result as a temp table.

The SELECT is translated by :mod:`druid_sql` with each source pointed at its staged snapshot
(:class:`sources.Staging`). The rows it yields go into a temp table with ``__time`` as a
TIMESTAMP and the target's declared column types applied; ``commit()`` copies that table into
the store (:meth:`TableStore.insert_select`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from sqlglot import exp

from airflow_provider_polaris.testing.dataplane.druid_functions import SKETCH_TYPES, sketch_field
from airflow_provider_polaris.testing.dataplane.druid_sql import (
    DruidDialect,
    Translation,
    name_outputs,
    parse_statements,
    read_tables,
    rewrite_all,
    translate_expression,
)
from airflow_provider_polaris.testing.dataplane.errors import ExpressionError
from airflow_provider_polaris.testing.dataplane.ingest_load import NUMBERS, as_timestamp
from airflow_provider_polaris.testing.dataplane.store import INTEGER_TYPES, base_type, quote

Node = Any
_serial = itertools.count(1)
_POLARIS_TYPES = {"DOUBLE": "double", "FLOAT": "double", "DECIMAL": "double", "VARCHAR": "string"}
_POLARIS_TYPES |= {"JSON": "json", "DATE": "timestamp", "BOOLEAN": "long"}


def translate_ingestion(
    sql: str,
    now_ms: int,
    stage: Callable[[Node], None],
    prepare: Callable[[Node], Node],
    sketches_of: Callable[[], Mapping[str, str]],
) -> tuple[Translation, str | None]:
    """The DuckDB text of an ingestion job's SELECT, each source it reads handed to ``stage``
    (which points it at a staged table; ``sketches_of`` then gives their stored sketch
    columns) and the parsed Druid tree first passed to ``prepare``;
    also a query counting the rows the outer WHERE keeps when it reads one source."""
    statements = parse_statements(sql)
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ExpressionError("An ingestion query must be INSERT INTO or REPLACE INTO ... SELECT")
    tree = prepare(statements[0])
    read_tables(tree, stage)
    tree = rewrite_all(tree, now_ms, None, sketches_of())
    names = name_outputs(tree)
    kept = None
    if isinstance(tree, exp.Select) and tree.args.get("from_") and not tree.args.get("joins"):
        count = exp.select("count(*)").from_(tree.args["from_"].this.copy())
        where = tree.args.get("where")
        kept = (count.where(where.this.copy()) if where else count).sql(dialect="duckdb")
    placeholders = len(list(tree.find_all(exp.Placeholder)))
    return Translation(tree.sql(dialect="duckdb"), (), names, placeholders), kept


def constant_ms(con: duckdb.DuckDBPyConnection, now_ms: int) -> Callable[[Node], int]:
    """An evaluator of constant Druid expressions (OVERWRITE WHERE bounds) to epoch ms."""

    def to_ms(node: Node) -> int:
        text = translate_expression(node.sql(dialect=DruidDialect), now_ms)
        try:
            found = con.execute(f"SELECT epoch_ms(CAST(({text}) AS TIMESTAMP))").fetchone()
        except duckdb.Error:
            found = None
        if not found or found[0] is None:
            raise ExpressionError("OVERWRITE WHERE bound is not a timestamp")
        return int(found[0])

    return to_ms


@dataclass
class Output:
    """The job's rows in a temp table, and what a job report needs about them."""

    table: str
    columns: list[tuple[str, str]]  # (name, DuckDB type) as the SELECT gives them
    rows: int
    null_time_row: int | None  # 1-based row with a NULL __time, if any


def describe(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    """Names and DuckDB types of a query's result columns."""
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {sql}").fetchall()]


def polaris_type(duck_type: str) -> str | None:
    """The Polaris ``dataType`` of a DuckDB result type (None: can't tell); a sketch's is
    its Druid complex type (``HLLSketch`` ...), so a created table keeps and merges it."""
    field = sketch_field(duck_type)
    if field is not None:
        return SKETCH_TYPES[field].removeprefix("COMPLEX<").removesuffix(">")
    base = base_type(duck_type)
    if base in INTEGER_TYPES:
        return "long"
    if base.startswith("TIMESTAMP"):
        return "timestamp"
    return _POLARIS_TYPES.get(base)


def compute_output(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    declared: Mapping[str, str],
    *,
    grouped: bool,
) -> Output:
    """Run the translated SELECT into a temp table: ``__time`` first, as a TIMESTAMP; the
    target's declared column types applied where the value is a number or a time. Grouped
    rows come out ordered by their values, as Druid's groupBy returns them."""
    columns = describe(con, sql)
    values = [
        f"{as_timestamp(quote(name), kind)} AS {quote(name)}"
        if name == "__time"
        else f"{declared_value(quote(name), kind, declared.get(name))} AS {quote(name)}"
        for name, kind in sorted(columns, key=lambda column: column[0] != "__time")
    ]
    table = f"__ingested_{next(_serial)}"
    order = " ORDER BY ALL" if grouped else ""
    con.execute(
        f"CREATE TEMP TABLE {quote(table)} AS SELECT {', '.join(values)} FROM ({sql}){order}"
    )
    null_time = f"{quote('__time')} IS NULL" if "__time" in dict(columns) else "FALSE"
    found = con.execute(
        f"SELECT count(*), min(CASE WHEN {null_time} THEN rowid END) FROM {quote(table)}"
    ).fetchone()
    rows, null_at = (int(found[0]), found[1]) if found else (0, None)
    return Output(table, columns, rows, None if null_at is None else int(null_at) + 1)


def declared_value(column: str, kind: str, data_type: str | None) -> str:
    """A value of DuckDB type ``kind`` stored into a column declared ``data_type``: a number or
    text converted to a declared number (NULL when the text isn't one; a long exactly, a
    fraction truncated: ``druid_long``), a number to a declared time's epoch ms, anything but
    text or JSON to a declared string; other values are kept as they are."""
    want = (data_type or "").lower()
    base = base_type(kind)
    number = base in NUMBERS
    if (want in ("long", "bigint") and (number or base == "VARCHAR")) or (
        want == "timestamp" and number
    ):
        return f"druid_long({column})"
    if want in ("double", "float") and (number or base == "VARCHAR"):
        return f"TRY_CAST({column} AS DOUBLE)"
    if want in ("string", "varchar") and base != "VARCHAR" and base != "JSON":
        if base == "BOOLEAN":
            return f"CAST(CAST({column} AS BIGINT) AS VARCHAR)"
        if base.startswith("TIMESTAMP"):
            return f"CAST(epoch_ms({column}) AS VARCHAR)"
        return f"CAST({column} AS VARCHAR)"
    return column


def schema_types(table: Mapping[str, Any] | None) -> dict[str, str]:
    """Declared column types of a table payload (``__time`` excluded)."""
    schema = (table or {}).get("schema") or []
    return {
        str(c.get("name")): str(c.get("dataType"))
        for c in schema
        if isinstance(c, Mapping) and c.get("dataType") and c.get("name") != "__time"
    }


def in_intervals(intervals: Sequence[tuple[int, int]]) -> str:
    """The SQL test that ``__time`` is inside one of ``intervals`` (FALSE for none)."""
    ms = f"epoch_ms({quote('__time')})"
    terms = [f"({ms} >= {int(a)} AND {ms} < {int(b)})" for a, b in intervals]
    return "(" + (" OR ".join(terms) or "FALSE") + ")"


def drop_outside(
    con: duckdb.DuckDBPyConnection, table: str, intervals: Sequence[tuple[int, int]]
) -> int:
    """Delete the rows outside ``intervals`` (a REPLACE's ranges); returns how many went."""
    found = con.execute(f"DELETE FROM {quote(table)} WHERE NOT {in_intervals(intervals)}")
    row = found.fetchone()
    return int(row[0]) if row else 0
