"""Streaming ingestion: map pushed events with a streaming job's spec and append them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.errors import EvalError, SqlError
from airflow_provider_polaris.testing.dataplane.evaluator import Evaluator, is_true, validate
from airflow_provider_polaris.testing.dataplane.formats import (
    BadRecord,
    FormatError,
    apply_schema,
    read_records,
)
from airflow_provider_polaris.testing.dataplane.ingestion import store_value
from airflow_provider_polaris.testing.dataplane.parser import parse_expression
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.timeutil import (
    GRANULARITY_PERIODS,
    add_period,
    floor_time,
    parse_period,
)
from airflow_provider_polaris.testing.dataplane.values import to_timestamp

DEFAULT_LATE_REJECTION = "P30D"
DEFAULT_EARLY_REJECTION = "P2000D"
_MAX_MESSAGES = 20


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


@dataclass(frozen=True)
class _Mapping:
    column: str
    node: n.Node
    aggregate: bool


def ingest_events(
    store: TableStore,
    spec: Mapping[str, Any],
    lines: Sequence[bytes],
    *,
    table: Mapping[str, Any] | None,
    now_ms: Callable[[], int],
) -> EventsResult:
    """Parse, filter, map and append a batch of pushed events to the job's target table."""
    result = EventsResult()
    target = str((spec.get("target") or {}).get("tableName") or "")
    source = spec.get("source") or {}
    try:
        mappings = _compile_mappings(spec)
        condition = (
            compile_expression(str(spec["filterExpression"]), False)
            if spec.get("filterExpression")
            else None
        )
        now = now_ms()
        late = spec.get("lateMessageRejectionPeriod") or DEFAULT_LATE_REJECTION
        early = spec.get("earlyMessageRejectionPeriod") or DEFAULT_EARLY_REJECTION
        oldest = add_period(now, parse_period(str(late)), -1)
        newest = add_period(now, parse_period(str(early)))
    except (SqlError, ValueError, EvalError) as exc:
        for _ in lines:
            result.skip(f"invalid streaming job spec: {exc}")
        return result

    text = b"\n".join(line.rstrip(b"\r\n") for line in lines).decode("utf-8", "replace")
    try:
        records = list(read_records(text, source.get("formatSettings")))
    except FormatError as exc:
        for _ in lines:
            result.skip(str(exc))
        return result

    evaluator = Evaluator(now_ms=now_ms)
    aggregate_table = str((table or {}).get("type", "")).lower() == "aggregate"
    resolution = GRANULARITY_PERIODS.get(str((table or {}).get("timeResolution") or "").lower())
    types = {
        str(c.get("name")): str(c.get("dataType"))
        for c in (table or {}).get("schema") or []
        if isinstance(c, Mapping) and c.get("dataType") and c.get("name") != "__time"
    }
    accepted: list[dict[str, Any]] = []
    for record in records:
        if isinstance(record, BadRecord):
            result.skip(record.message)
            continue
        try:
            row = _input_row(record, spec)
            if condition is not None and not is_true(evaluator.row(condition, row)):
                result.rows_skipped_by_filter += 1
                continue
            out = _map(row, mappings, spec, evaluator)
        except (ValueError, EvalError, SqlError) as exc:
            result.skip(str(exc))
            continue
        stamp = to_timestamp(out.get("__time"))
        if stamp is None:
            result.skip("null or unparseable __time")
            continue
        if not (oldest <= stamp <= newest):
            result.rows_skipped_by_filter += 1  # late/early messages are filtered, not errors
            continue
        if resolution:
            stamp = floor_time(stamp, parse_period(resolution))
        row_out = {k: store_value(v, types.get(k)) for k, v in out.items()}
        row_out["__time"] = stamp
        if aggregate_table and "__count" not in row_out:
            row_out["__count"] = 1
        accepted.append(row_out)
    if accepted:
        columns = dict.fromkeys(name for row in accepted for name in row)
        store.write(target, accepted, keep="all", columns=columns)
    result.rows_processed = len(accepted)
    return result


def _compile_mappings(spec: Mapping[str, Any]) -> list[_Mapping]:
    out = []
    for raw in spec.get("mappings") or []:
        node = compile_expression(str(raw.get("expression") or ""))
        flag = raw.get("isAggregation")
        aggregate = bool(flag) if flag is not None else n.contains_aggregate(node)
        out.append(_Mapping(str(raw.get("columnName")), node, aggregate))
    return out


def _input_row(record: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    schema = (spec.get("source") or {}).get("inputSchema")
    if spec.get("useSchemaDiscovery"):
        # Declared fields are typed; every other field is kept for discovery.
        return {**record, **apply_schema(record, schema)}
    return apply_schema(record, schema)


def _map(
    row: Mapping[str, Any], mappings: list[_Mapping], spec: Mapping[str, Any], evaluator: Evaluator
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mapping in mappings:
        if mapping.aggregate:  # one event is a group of one (COUNT(*) = 1, SUM(x) = x)
            out[mapping.column] = evaluator.group(mapping.node, [row])
        else:
            out[mapping.column] = evaluator.row(mapping.node, row)
    if "__time" not in out:
        out["__time"] = row.get("__time")  # the legacy push API required a __time field
    if spec.get("useSchemaDiscovery"):
        excluded = set(spec.get("dimensionExclusions") or [])
        for mapping in mappings:
            if mapping.column == "__time":
                excluded |= n.column_names(mapping.node)  # the time field isn't a dimension
        for name, value in row.items():
            if name not in out and name not in excluded:
                out[name] = value
    return out
