"""Streaming ingestion, the push side: compile a streaming job once, type each push's events.

A push carries about 60 events and the emulator should take well over a thousand pushes a
second, so a push only parses its lines and types them by the ``inputSchema`` in Python (a bad
line is counted at once, with its message). The typed events are staged; :mod:`stream_batch`
maps the staged events of a job on DuckDB in one statement per batch (:mod:`stream_sql`), which
is when the accepted, filtered and late/early counts are known. :class:`EventsResult` settles
that batch the first time one of those counts is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp

from airflow_provider_polaris.testing.dataplane.druid_sql import translate_expression
from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.formats import (
    JSON_FORMATS,
    BadRecord,
    FormatError,
    coerce,
    format_name,
    read_records,
)
from airflow_provider_polaris.testing.dataplane.ingest_load import DUCK_TYPES
from airflow_provider_polaris.testing.dataplane.ingest_run import schema_types
from airflow_provider_polaris.testing.dataplane.ingest_sql import is_aggregate_table
from airflow_provider_polaris.testing.dataplane.timeutil import (
    GRANULARITY_PERIODS,
    Period,
    parse_period,
)

DEFAULT_LATE_REJECTION = "P30D"
DEFAULT_EARLY_REJECTION = "P2000D"
_MAX_MESSAGES = 20
# inputSchema dataType -> the DuckDB type the staged events hold it in (timestamps: epoch ms)
STAGED_TYPES = {**DUCK_TYPES, "timestamp": "BIGINT"}


@dataclass
class EventCounts:
    """Accepted, unparseable and filtered events, and the first few reasons for errors."""

    processed: int = 0
    errors: int = 0
    filtered: int = 0
    messages: list[str] = field(default_factory=list)

    def skip(self, message: str, count: int = 1) -> None:
        """Count ``count`` unparseable events and keep the first few reasons for the job log."""
        self.errors += count
        for _ in range(min(count, _MAX_MESSAGES - len(self.messages))):
            self.messages.append(message)

    def add(self, other: EventCounts) -> None:
        """Add another set of counts to this one."""
        self.processed += other.processed
        self.filtered += other.filtered
        self.errors += other.errors
        room = max(_MAX_MESSAGES - len(self.messages), 0)
        self.messages.extend(other.messages[:room])


class EventsResult:
    """What happened to one push. ``parsed`` is known at once (lines that didn't parse or
    type); ``batch`` when the job's staged events are mapped, which reading
    ``rows_processed``, ``rows_skipped_by_error``, ``rows_skipped_by_filter`` or ``messages``
    makes happen now."""

    def __init__(self, settle: Callable[[], None] | None = None) -> None:
        self.parsed = EventCounts()
        self.batch = EventCounts()
        self._settle = settle

    def settled(self) -> None:
        """Called when the batch holding this push has been mapped (or there is none)."""
        self._settle = None

    def _wait(self) -> EventCounts:
        if self._settle is not None:
            self._settle()
            self._settle = None
        return self.batch

    @property
    def rows_processed(self) -> int:
        """Events written to the table."""
        return self._wait().processed

    @property
    def rows_skipped_by_error(self) -> int:
        """Unparseable events: bad lines, values that don't type, NULL ``__time``."""
        return self.parsed.errors + self._wait().errors

    @property
    def rows_skipped_by_filter(self) -> int:
        """Events the ``filterExpression`` or the late/early rejection periods dropped."""
        return self._wait().filtered

    @property
    def messages(self) -> list[str]:
        """The first reasons for unparseable events."""
        return (self.parsed.messages + self._wait().messages)[:_MAX_MESSAGES]


class StreamMapping(NamedTuple):
    """One mapping of a streaming job: its column, Druid expression and whether it is an
    aggregation (it then sees a group of one event)."""

    column: str
    expression: str
    aggregate: bool


@dataclass
class StreamPlan:
    """Everything about a streaming job that doesn't change from one push to the next."""

    target: str
    format_settings: Mapping[str, Any] | None
    json_lines: bool
    fields: list[tuple[str, str, Callable[[Any], Any]]] | None  # None: all, untyped
    discovery: bool
    excluded: frozenset[str]
    mappings: list[StreamMapping]
    condition: str | None  # the filterExpression
    late: Period
    early: Period
    resolution: str | None  # the target's timeResolution as a period (aggregate tables)
    types: dict[str, str]  # declared column types of the target
    aggregate_table: bool
    referenced: frozenset[str] = frozenset()  # input fields the expressions read
    # (field, class) when every declared type has one class and there is no discovery: a JSON
    # line whose values are NULL or of those classes is staged as the line itself
    exact: list[tuple[str, type]] | None = None
    error: str | None = None  # the spec can't run: every event is an error with this message


def compile_stream(
    spec: Mapping[str, Any], table: Mapping[str, Any] | None, now_ms: Callable[[], int]
) -> StreamPlan:
    """Prepare a streaming job for pushes; a spec that can't run gives a plan with ``error``."""
    source = spec.get("source") or {}
    settings, schema = source.get("formatSettings"), source.get("inputSchema")
    fields = None
    if isinstance(schema, list) and schema:
        found = [f for f in schema if isinstance(f, Mapping)]
        kinds = [(str(f.get("name")), str(f.get("dataType") or "string")) for f in found]
        fields = [(name, kind.lower(), input_converter(kind)) for name, kind in kinds]
    plan = StreamPlan(
        target=str((spec.get("target") or {}).get("tableName") or ""),
        format_settings=settings,
        json_lines=format_name(settings) in JSON_FORMATS,
        fields=fields,
        discovery=bool(spec.get("useSchemaDiscovery")),
        excluded=frozenset(spec.get("dimensionExclusions") or ()),
        mappings=[],
        condition=str(spec["filterExpression"]) if spec.get("filterExpression") else None,
        late=parse_period(DEFAULT_LATE_REJECTION),
        early=parse_period(DEFAULT_EARLY_REJECTION),
        resolution=GRANULARITY_PERIODS.get(str((table or {}).get("timeResolution") or "").lower()),
        types=schema_types(table),
        aggregate_table=is_aggregate_table(table),
    )
    classes = [(name, _EXACT_CLASSES.get(kind)) for name, kind, _ in fields or ()]
    if fields is not None and not plan.discovery and all(cls for _, cls in classes):
        plan.exact = [(name, cls) for name, cls in classes if cls is not None]
    try:
        _compile_expressions(plan, spec, now_ms())
        late = spec.get("lateMessageRejectionPeriod") or DEFAULT_LATE_REJECTION
        early = spec.get("earlyMessageRejectionPeriod") or DEFAULT_EARLY_REJECTION
        plan.late, plan.early = parse_period(str(late)), parse_period(str(early))
    except (SqlError, ValueError, sqlglot.errors.SqlglotError) as exc:
        plan.error = f"invalid streaming job spec: {exc}"
    return plan


def _compile_expressions(plan: StreamPlan, spec: Mapping[str, Any], now: int) -> None:
    """Translate every expression once: a spec that can't run is found before any event,
    and the fields the expressions read are known (they are columns of the staged events)."""
    excluded = set(plan.excluded)
    referenced: set[str] = set()
    for raw in spec.get("mappings") or []:
        tree = _parsed(str(raw.get("expression") or ""), now)
        flag = raw.get("isAggregation")
        aggregate = bool(flag) if flag is not None else tree.find(exp.AggFunc) is not None
        column = str(raw.get("columnName"))
        plan.mappings.append(StreamMapping(column, str(raw.get("expression")), aggregate))
        names = {c.name for c in tree.find_all(exp.Column)}
        referenced |= names
        if column == "__time":
            excluded |= names  # the time field isn't a discovered dimension
    if plan.condition is not None:
        tree = _parsed(plan.condition, now)
        if tree.find(exp.AggFunc) is not None:
            raise SqlError("aggregate functions are not allowed in filterExpression")
        referenced |= {c.name for c in tree.find_all(exp.Column)}
    plan.excluded = frozenset(excluded)
    plan.referenced = frozenset(referenced)


def _parsed(text: str, now: int) -> exp.Expr:
    return sqlglot.parse_one(translate_expression(text, now), read="duckdb")


def parse_push(
    plan: StreamPlan, lines: Sequence[bytes], counts: EventCounts
) -> list[bytes | dict[str, Any]]:
    """The typed events of a push; lines that don't parse or type are counted in ``counts``.

    With a declared ``inputSchema`` (no discovery) a JSON line whose values already have their
    declared types (``plan.exact``) is kept as the line itself: DuckDB reads it again with
    those types, which costs less than typing and encoding the row. Other events are typed
    rows (dicts)."""
    exact = plan.exact
    out: list[bytes | dict[str, Any]] = []
    records = _json_records(lines) if plan.json_lines else _csv_records(plan, lines)
    for line, record in records:
        if isinstance(record, BadRecord):
            counts.skip(record.message)
        elif exact is not None and line[:1] == b"{" and _as_declared(record, exact):
            out.append(line)
        else:
            try:
                out.append(_input_row(record, plan))
            except (ValueError, OverflowError) as exc:
                counts.skip(str(exc))
    return out


def typed_row(plan: StreamPlan, item: bytes | dict[str, Any]) -> dict[str, Any]:
    """A staged event as a typed row (a raw line is parsed again)."""
    return item if isinstance(item, dict) else _input_row(_parse_line(item), plan)


def _as_declared(record: dict[str, Any], exact: list[tuple[str, type]]) -> bool:
    get = record.get
    for name, cls in exact:
        value = get(name)
        if value is not None and value.__class__ is not cls:
            return False
    return True


_Record = tuple[bytes, "dict[str, Any] | BadRecord"]


def _json_records(lines: Sequence[bytes]) -> Iterator[_Record]:
    for number, line in enumerate(lines, start=1):
        try:
            record = _parse_line(line)
        except ValueError as exc:
            if line.strip():  # blank lines are no events
                yield line, BadRecord(f"line {number}: unable to parse JSON: {exc}")
            continue
        if not isinstance(record, dict):
            record = BadRecord(f"line {number}: expected a JSON object")
        yield line, record


def _csv_records(plan: StreamPlan, lines: Sequence[bytes]) -> list[_Record]:
    text = b"\n".join(line.rstrip(b"\r\n") for line in lines).decode("utf-8", "replace")
    try:
        return [(b"", record) for record in read_records(text, plan.format_settings)]
    except (FormatError, ValueError) as exc:
        return [(b"", BadRecord(str(exc)))] * len(lines)


_EXACT_CLASSES = {"string": str, "varchar": str, "long": int, "bigint": int}
_EXACT_CLASSES |= {"double": float, "float": float}


def input_converter(data_type: str) -> Callable[[Any], Any]:
    """:func:`formats.coerce` for one ``inputSchema`` field, with a fast path for values (and
    NULLs) already of their type (exact classes only: bool is an int and Timestamp an int
    subclass, and both get converted); raises ValueError like ``coerce``."""
    exact = _EXACT_CLASSES.get(data_type.lower())

    def convert(value: Any) -> Any:
        if value is None or value.__class__ is exact:
            return value
        return coerce(value, data_type)

    return convert


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
