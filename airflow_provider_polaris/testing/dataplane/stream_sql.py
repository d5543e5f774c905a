"""Map a batch of staged streaming events on DuckDB and append the accepted rows.

One batch is one streaming job's typed events from many pushes. They are loaded into a TEMP
table (:func:`stage`, one NDJSON read) numbered in arrival order (``SEQ``); a small table of the
pushes gives each event, by an ASOF join on ``SEQ``, the push it came in (``PUSH``) and that
push's acceptance window (``LOW`` .. ``HIGH``, epoch ms, from the late/early rejection periods
and the push time). Then:

1. one ``INSERT ... SELECT`` maps them: the filter (only TRUE passes), the mappings translated
   from Druid (:func:`druid_sql.translate_expression`); aggregations see a group of one event
   (``GROUP BY`` the event); schema discovery passes the other fields through;
2. in the same statement ``__time`` becomes a TIMESTAMP (numbers are epoch ms, strings
   ISO-8601) and is checked against the window; the counts per push come from a ``GROUP BY``;
3. the accepted rows, ``__time`` bucketed to the table's ``timeResolution`` and ``__count`` = 1
   for aggregate tables, go into the table with :meth:`TableStore.insert_select`.

An event that makes DuckDB fail at run time (a failing cast, say) is found by halving the batch
and is an error with DuckDB's message; the others are written.
"""

from __future__ import annotations

import json
import os
import tempfile
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.druid_sql import translate_expression
from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.events import (
    STAGED_TYPES,
    EventCounts,
    StreamPlan,
    typed_row,
)
from airflow_provider_polaris.testing.dataplane.ingest_load import as_timestamp, json_data_type
from airflow_provider_polaris.testing.dataplane.ingest_run import declared_value, describe
from airflow_provider_polaris.testing.dataplane.store import TableStore, quote, sql_string

# Columns the staged events carry beside their fields (names no event field is expected to use).
PUSH = "__polaris_push"  # which push of the batch the event came in
LOW = "__polaris_low"  # the push's acceptance window for __time, epoch ms
HIGH = "__polaris_high"
SEQ = "__polaris_seq"  # arrival order within the batch
_KEEP = (PUSH, LOW, HIGH, SEQ)
_EVENTS = "__polaris_events"
_PUSHES = "__polaris_pushes"
_MAPPED = "__polaris_mapped"
NULL_TIME = "null or unparseable __time"
Staged = bytes | dict[str, Any]  # a raw JSON line already typed as declared, or a typed row


def map_batch(
    store: TableStore,
    plan: StreamPlan,
    items: list[Staged],
    pushes: list[tuple[int, int, int]],
    now: int,
) -> list[EventCounts]:
    """Map and append one job's staged events; the counts of each push. ``pushes`` are
    (first event, LOW, HIGH) of each push, in order."""
    counts = [EventCounts() for _ in pushes]
    firsts = [first for first, _, _ in pushes]
    staged = [end - start for start, end in zip(firsts, [*firsts[1:], len(items)], strict=True)]
    with store.lock:
        con = store.con
        try:
            stage(store, _EVENTS, items, _staged_kinds(plan, items))
        except duckdb.Error:
            # DuckDB refused a raw line that Python read (a repeated key, say): stage typed rows
            items = [typed_row(plan, item) for item in items]
            stage(store, _EVENTS, items, _staged_kinds(plan, items))
        columns = [list(column) for column in zip(*pushes, strict=True)]  # first, low, high
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_PUSHES} AS SELECT unnest(range(?)) AS {PUSH}, "
            f"unnest(?::BIGINT[]) AS __polaris_first, unnest(?::BIGINT[]) AS {LOW}, "
            f"unnest(?::BIGINT[]) AS {HIGH}",
            [len(pushes), *columns],
        )
        try:
            select = _mapped_select(plan, dict(describe(con, _EVENTS)), now)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_MAPPED} AS {select}", [0, -1])
            select = _timed(select, dict(describe(con, _MAPPED)))  # now that __time's type is known
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_MAPPED} AS {select}", [0, -1])
        except (duckdb.Error, SqlError) as exc:
            message = f"invalid streaming job spec: {_first_line(exc)}"
            for push, count in enumerate(staged):
                counts[push].skip(message, count)
            return counts
        try:
            _fill(con, select, (0, len(items) - 1), firsts, counts)
            _check_times(con, counts, staged)
            if any(c.processed for c in counts):
                store.insert_select(plan.target, _output_select(plan, dict(describe(con, _MAPPED))))
        finally:
            for temp in (_EVENTS, _PUSHES, _MAPPED):
                con.execute(f"DROP TABLE IF EXISTS {temp}")
    return counts


def _fill(
    con: Any, select: str, span: tuple[int, int], firsts: list[int], counts: list[EventCounts]
) -> None:
    """Map events ``span`` (first, last SEQ); on a run-time error halve the range until the
    events that fail are alone: each is then an error with DuckDB's message."""
    first, last = span
    try:
        con.execute(f"INSERT INTO {_MAPPED} {select}", [first, last])
    except duckdb.Error as exc:
        if first == last:
            counts[bisect_right(firsts, first) - 1].skip(_first_line(exc))
            return
        middle = (first + last) // 2
        _fill(con, select, (first, middle), firsts, counts)
        _fill(con, select, (middle + 1, last), firsts, counts)


def _check_times(con: Any, counts: list[EventCounts], staged: list[int]) -> None:
    """Counts per push: NULL times (errors), accepted, the rest filtered."""
    found = con.execute(
        f"SELECT {PUSH}, count(*) FILTER (WHERE __polaris_t IS NULL), "
        f"count(*) FILTER (WHERE __polaris_ok) FROM {_MAPPED} GROUP BY 1"
    ).fetchall()
    mapped = {int(push): (int(null), int(accepted)) for push, null, accepted in found}
    for push, count in enumerate(staged):
        null, accepted = mapped.get(push, (0, 0))
        out = counts[push]
        # neither failed to map (the errors so far), nor NULL time, nor accepted: late, early
        # or rejected by the filter
        out.filtered += count - out.errors - null - accepted
        out.skip(NULL_TIME, null)
        out.processed += accepted


def _timed(select: str, kinds: dict[str, str]) -> str:
    """``select`` plus ``__time`` as a TIMESTAMP and whether it is inside its push's window."""
    stamp = as_timestamp(quote("__time"), kinds.get("__time", '"NULL"'))
    return (
        f"SELECT *, {stamp} AS __polaris_t, epoch_ms({stamp}) BETWEEN {LOW} AND {HIGH} "
        f"AS __polaris_ok FROM ({select})"
    )


def _mapped_select(plan: StreamPlan, inputs: dict[str, str], now: int) -> str:
    """The SELECT mapping events ``?`` .. ``?`` (by SEQ) of the staged events."""
    fields = [c for c in inputs if c not in _KEEP]
    view = [quote(c) for c in _KEEP]
    for column in fields:
        view.append(f"{_input_value(quote(column), plan, column)} AS {quote(column)}")
    missing = sorted(plan.referenced - set(inputs))  # fields no staged event has: NULL
    view += [f"NULL AS {quote(c)}" for c in missing]
    items = [quote(c) for c in _KEEP]
    mapped = {m.column for m in plan.mappings}
    for mapping in plan.mappings:
        items.append(f"{_translated(mapping.expression, now)} AS {quote(mapping.column)}")
    if "__time" not in mapped:  # the legacy push API's __time field
        items.append(f"{quote('__time') if '__time' in inputs else 'NULL'} AS {quote('__time')}")
        mapped.add("__time")
    if plan.discovery:
        skip = mapped | plan.excluded
        items += [quote(c) for c in fields if c not in skip]
    where = f"{SEQ} BETWEEN ? AND ?"
    if plan.condition is not None:
        where += f" AND ({_translated(plan.condition, now)}) IS TRUE"
    # each event gets its push: the last push that starts at or before it
    joined = f"{_EVENTS} AS e ASOF JOIN {_PUSHES} AS p ON e.{SEQ} >= p.__polaris_first"
    sql = f"SELECT {', '.join(items)} FROM (SELECT {', '.join(view)} FROM {joined}) WHERE {where}"
    if any(m.aggregate for m in plan.mappings):
        keys = [quote(c) for c in (*_KEEP, *fields, *missing)]
        sql += f" GROUP BY {', '.join(keys)}"  # one group per event
    return sql


def _input_value(column: str, plan: StreamPlan, name: str) -> str:
    declared = {n: t for n, t, _ in plan.fields or ()}.get(name)
    if declared == "timestamp":
        return f"epoch_ms({column})"
    if STAGED_TYPES.get(declared or "") == "DOUBLE":
        return f"CASE WHEN isfinite({column}) THEN {column} END"  # NaN is NULL, as stored
    return column


def _output_select(plan: StreamPlan, columns: dict[str, str]) -> str:
    stamp = "__polaris_t"
    if plan.resolution is not None:
        stamp = _translated(f"TIME_FLOOR(\"__polaris_t\", '{plan.resolution}')", 0)
    items = [f"{stamp} AS {quote('__time')}"]
    for column, kind in columns.items():
        if column in _KEEP or column in ("__time", "__polaris_t", "__polaris_ok"):
            continue
        value = declared_value(quote(column), kind, plan.types.get(column))
        items.append(f"{value} AS {quote(column)}")
    if plan.aggregate_table and "__count" not in columns:
        items.append(f"1 AS {quote('__count')}")
    return f"SELECT {', '.join(items)} FROM {_MAPPED} WHERE __polaris_ok ORDER BY {SEQ}"


@lru_cache(maxsize=1024)
def _translated(text: str, now: int) -> str:
    return translate_expression(text, now)


def _staged_kinds(plan: StreamPlan, items: Sequence[Staged]) -> dict[str, str | None]:
    kinds: dict[str, str | None] = {}
    declared = {name: STAGED_TYPES.get(kind) for name, kind, _ in plan.fields or ()}
    if plan.fields is None or plan.discovery:  # typed rows only (see events.parse_push)
        for row in items:
            if isinstance(row, dict):
                kinds.update(dict.fromkeys(k for k in row if k not in kinds))
    kinds.update(declared)
    return kinds


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def stage(
    store: TableStore, name: str, items: Sequence[Staged], kinds: dict[str, str | None]
) -> None:
    """Replace the TEMP table ``name`` (scratch input, not a Polaris table) with ``items`` (raw
    JSON lines or typed rows) numbered from 0 in ``SEQ``: one column per ``kinds`` entry, of
    that DuckDB type, or for None (typed rows only) the type a stored column gets
    (:func:`_untyped`). One bulk NDJSON load."""
    dumps = json.JSONEncoder(default=str, separators=(",", ":")).encode
    text = b"\n".join(item if item.__class__ is bytes else dumps(item).encode() for item in items)
    final = {c: k or "JSON" for c, k in kinds.items()}
    struct = "{" + ", ".join(f"{sql_string(c)}: {sql_string(k)}" for c, k in final.items()) + "}"
    fd, path = tempfile.mkstemp(suffix=".json")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text)
        store.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS SELECT row_number() OVER () - 1 "
            f"AS {SEQ}, * FROM read_json({sql_string(path)}, format = 'newline_delimited', "
            f"columns = {struct}, maximum_object_size = 2147483647)"
        )
    finally:
        os.unlink(path)
    untyped = [quote(c) for c, k in kinds.items() if k is None]
    if untyped:
        lists = ", ".join(f"list(DISTINCT json_type({c}))" for c in untyped)
        found = store.con.execute(f"SELECT {lists} FROM {quote(name)}").fetchone() or ()
        values = [f"{_untyped(c, k)} AS {c}" for c, k in zip(untyped, found, strict=True)]
        store.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS "
            f"SELECT * REPLACE ({', '.join(values)}) FROM {quote(name)} ORDER BY {SEQ}"
        )


def _untyped(column: str, kinds: list[str] | None) -> str:
    """A column of JSON values of the ``kinds`` (JSON types) as it is stored: longs (booleans
    too), doubles (NaN as NULL), JSON for objects and arrays, else text; only NULLs stay
    untyped, so the stored column takes the type of the first value written to it."""
    kinds = [kind for kind in kinds or () if kind not in (None, "NULL")]  # a null is no type
    if not kinds:
        return "NULL"
    kind = json_data_type(kinds, booleans=True)
    number = f"TRY_CAST({column} AS DOUBLE)"
    if kind == "long":
        return f"TRY_CAST({column} AS BIGINT)"
    if kind == "double":
        return f"CASE WHEN isfinite({number}) THEN {number} END"
    return column if kind == "json" else f"{column} ->> '$'"
