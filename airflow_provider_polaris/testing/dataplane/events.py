"""Streaming ingestion: map pushed events with a streaming job's spec and append them.

A push carries about 60 events and the emulator should take well over a thousand pushes a
second, so everything that depends only on the job spec and the target table (parsed and
compiled mappings and filter, field converters, rejection periods, rollup settings) is
prepared once in a :class:`StreamPlan` and reused for every push; the per-event work is a JSON
parse and a few closure calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.compiler import RowFn, compile_node
from airflow_provider_polaris.testing.dataplane.errors import EvalError, SqlError
from airflow_provider_polaris.testing.dataplane.evaluator import validate
from airflow_provider_polaris.testing.dataplane.eventfn import EventFn, event_function
from airflow_provider_polaris.testing.dataplane.formats import (
    BadRecord,
    FormatError,
    format_name,
    read_records,
)
from airflow_provider_polaris.testing.dataplane.ingestion import (
    exact_class,
    input_converter,
    output_converter,
    schema_types,
    store_value,
)
from airflow_provider_polaris.testing.dataplane.parser import parse_expression
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.timeutil import (
    GRANULARITY_PERIODS,
    Period,
    Timestamp,
    add_period,
    floor_time,
    parse_period,
)
from airflow_provider_polaris.testing.dataplane.values import to_timestamp, truth

DEFAULT_LATE_REJECTION = "P30D"
DEFAULT_EARLY_REJECTION = "P2000D"
_MAX_MESSAGES = 20
_JSON_FORMATS = frozenset({"nd-json", "json", "ndjson"})


@dataclass
class EventsResult:
    """What happened to one push: accepted, unparseable and filtered events."""

    rows_processed: int = 0
    rows_skipped_by_error: int = 0
    rows_skipped_by_filter: int = 0
    messages: list[str] = field(default_factory=list)

    def skip(self, message: str) -> None:
        """Count an unparseable event and keep the first few reasons for the job log."""
        self.rows_skipped_by_error += 1
        if len(self.messages) < _MAX_MESSAGES:
            self.messages.append(message)


@lru_cache(maxsize=512)
def compile_expression(text: str, allow_aggregates: bool = True) -> n.Node:
    """Parse and validate a mapping or filter expression once per distinct text."""
    node = parse_expression(text)
    validate(node, allow_aggregates=allow_aggregates)
    return node


class _Mapping(NamedTuple):
    column: str
    node: n.Node
    compute: RowFn
    aggregate: bool  # an aggregation sees a group of one event
    store: Callable[[Any], Any] | None  # the stored form for the column's type; None: as is


@dataclass
class StreamPlan:
    """Everything about a streaming job that doesn't change from one push to the next."""

    target: str
    format_settings: Mapping[str, Any] | None
    json_lines: bool
    fields: list[tuple[str, type | None, Callable[[Any], Any]]] | None  # None: all, untyped
    discovery: bool
    excluded: frozenset[str]
    condition: RowFn | None
    mappings: list[_Mapping]
    late: Period
    early: Period
    resolution: Period | None
    types: dict[str, str]
    aggregate_table: bool
    error: str | None = None  # the spec can't run: every event is an error with this message
    fast: EventFn | None = None  # generated straight-line _event for the common job shape


def compile_stream(
    spec: Mapping[str, Any], table: Mapping[str, Any] | None, now_ms: Callable[[], int]
) -> StreamPlan:
    """Prepare a streaming job for pushes; a spec that can't run gives a plan with ``error``."""
    source = spec.get("source") or {}
    settings = source.get("formatSettings")
    schema = source.get("inputSchema")
    types = schema_types(table)
    resolution_name = str((table or {}).get("timeResolution") or "").lower()
    resolution = GRANULARITY_PERIODS.get(resolution_name)
    plan = StreamPlan(
        target=str((spec.get("target") or {}).get("tableName") or ""),
        format_settings=settings,
        json_lines=format_name(settings) in _JSON_FORMATS,
        fields=[
            (
                str(f.get("name")),
                exact_class(str(f.get("dataType") or "string")),
                input_converter(str(f.get("dataType") or "string")),
            )
            for f in schema
            if isinstance(f, Mapping)
        ]
        if isinstance(schema, list) and schema
        else None,
        discovery=bool(spec.get("useSchemaDiscovery")),
        excluded=frozenset(spec.get("dimensionExclusions") or ()),
        condition=None,
        mappings=[],
        late=parse_period(DEFAULT_LATE_REJECTION),
        early=parse_period(DEFAULT_EARLY_REJECTION),
        resolution=parse_period(resolution) if resolution else None,
        types=types,
        aggregate_table=str((table or {}).get("type", "")).lower() == "aggregate",
    )
    try:
        excluded = set(plan.excluded)
        for raw in spec.get("mappings") or []:
            node = compile_expression(str(raw.get("expression") or ""))
            flag = raw.get("isAggregation")
            aggregate = bool(flag) if flag is not None else n.contains_aggregate(node)
            column = str(raw.get("columnName"))
            # __time is checked and bucketed as a timestamp after mapping, not converted here
            store = None if column == "__time" else output_converter(types.get(column))
            compute = compile_node(node, (), now_ms)
            plan.mappings.append(_Mapping(column, node, compute, aggregate, store))
            if column == "__time":
                excluded |= n.column_names(node)  # the time field isn't a discovered dimension
        plan.excluded = frozenset(excluded)
        if spec.get("filterExpression"):
            node = compile_expression(str(spec["filterExpression"]), False)
            plan.condition = compile_node(node, (), now_ms)
        plan.late = parse_period(str(spec.get("lateMessageRejectionPeriod") or "P30D"))
        plan.early = parse_period(str(spec.get("earlyMessageRejectionPeriod") or "P2000D"))
        if plan.fields is not None and not plan.discovery:
            plan.fast = event_function(plan.fields, plan.condition, plan.mappings)
    except (SqlError, ValueError, EvalError) as exc:
        plan.error = f"invalid streaming job spec: {exc}"
    return plan


def ingest_events(
    store: TableStore,
    plan: StreamPlan,
    lines: Sequence[bytes],
    *,
    now_ms: Callable[[], int],
) -> EventsResult:
    """Parse, filter, map and append a batch of pushed events to the job's target table."""
    result = EventsResult()
    if plan.error is not None:
        for _ in lines:
            result.skip(plan.error)
        return result
    try:
        now = now_ms()
        oldest = add_period(now, plan.late, -1)
        newest = add_period(now, plan.early)
        records = _records(plan, lines)
    except (FormatError, ValueError, EvalError) as exc:
        for _ in lines:
            result.skip(str(exc))
        return result

    accepted: list[dict[str, Any]] = []
    fast = plan.fast
    for record in records:
        if isinstance(record, BadRecord):
            result.skip(record.message)
            continue
        try:
            try:
                out = _event(record, plan) if fast is None else fast(record)
            except Exception:
                if fast is None:
                    raise
                out = _event(record, plan)  # the general path raises the precise error
        except (ValueError, EvalError, SqlError) as exc:
            result.skip(str(exc))
            continue
        if out is None:
            result.rows_skipped_by_filter += 1
            continue
        stamp = out.get("__time")
        if stamp.__class__ is not Timestamp:
            stamp = to_timestamp(stamp)
        if stamp is None:
            result.skip("null or unparseable __time")
            continue
        if not (oldest <= stamp <= newest):
            result.rows_skipped_by_filter += 1  # late/early messages are filtered, not errors
            continue
        if plan.resolution is not None:
            stamp = floor_time(stamp, plan.resolution)
        out["__time"] = int(stamp)  # stored as a plain int: see store.py
        if plan.aggregate_table and "__count" not in out:
            out["__count"] = 1
        accepted.append(out)
    if accepted:
        columns = dict.fromkeys(m.column for m in plan.mappings)
        if plan.discovery or plan.aggregate_table:
            for row in accepted:
                columns.update(dict.fromkeys(row))
        store.append(plan.target, accepted, columns)
    result.rows_processed = len(accepted)
    return result


def _records(plan: StreamPlan, lines: Sequence[bytes]) -> list[dict[str, Any] | BadRecord]:
    if not plan.json_lines:
        text = b"\n".join(line.rstrip(b"\r\n") for line in lines).decode("utf-8", "replace")
        return list(read_records(text, plan.format_settings))
    out: list[dict[str, Any] | BadRecord] = []
    for number, line in enumerate(lines, start=1):
        try:
            record = _parse_line(line)
        except ValueError as exc:
            if line.strip():  # blank lines are no events
                out.append(BadRecord(f"line {number}: unable to parse JSON: {exc}"))
            continue
        if isinstance(record, dict):
            out.append(record)
        else:
            out.append(BadRecord(f"line {number}: expected a JSON object"))
    return out


# The decoder's C scanner: json.loads minus encoding detection and argument checks.
_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _parse_line(line: bytes) -> Any:
    """``json.loads(line)``, but the usual line, exactly one JSON value, goes straight to the
    C scanner (json.loads spends most of its time on encoding detection and checks)."""
    try:
        text = line.decode()
        value, end = _SCAN_ONCE(text, 0)
    except (ValueError, StopIteration):
        return json.loads(line)  # the real error message, or leading spaces, a BOM ...
    if end != len(text):
        return json.loads(line)  # trailing spaces (fine) or extra data (an error)
    return value


def _event(record: dict[str, Any], plan: StreamPlan) -> dict[str, Any] | None:
    """One event's output row, or None when the filter rejects it (only TRUE passes)."""
    row = _input_row(record, plan)
    if plan.condition is not None and truth(plan.condition(row, None)) is not True:
        return None
    return _map(row, plan)


def _input_row(record: dict[str, Any], plan: StreamPlan) -> dict[str, Any]:
    fields = plan.fields
    if fields is None:
        return dict(record)
    get = record.get
    try:
        typed = {name: convert(get(name)) for name, _, convert in fields}
    except (ValueError, OverflowError):
        for name, _, convert in fields:  # again, slowly, to name the field
            try:
                convert(get(name))
            except (ValueError, OverflowError) as exc:
                raise ValueError(f"field {name!r}: {exc}") from None
        raise
    if plan.discovery:
        return {**record, **typed}  # declared fields are typed; the rest kept for discovery
    return typed


def _map(row: dict[str, Any], plan: StreamPlan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, _, compute, aggregate, store in plan.mappings:
        value = compute(row, [row] if aggregate else None)
        out[column] = value if store is None else store(value)
    if "__time" not in out:
        out["__time"] = row.get("__time")  # the legacy push API required a __time field
    if plan.discovery:
        excluded = plan.excluded
        types = plan.types
        for name, value in row.items():
            if name not in out and name not in excluded:
                out[name] = store_value(value, types.get(name))
    return out
