"""The :class:`DataPlane` facade the emulator server calls."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.duck import as_sql_error, run_query
from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.events import (
    EventsResult,
    StreamPlan,
    compile_stream,
)
from airflow_provider_polaris.testing.dataplane.ingest_run import (
    describe,
    polaris_type,
    translate_ingestion,
)
from airflow_provider_polaris.testing.dataplane.ingest_sql import granularity_name, rollup
from airflow_provider_polaris.testing.dataplane.ingestion import IngestionResult, Ingestor
from airflow_provider_polaris.testing.dataplane.sources import FileReader, SourceError
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.stream_batch import BatchCallback, EventBatcher

_MAX_STREAM_PLANS = 256
_SIZE_SAMPLE = 1000


@dataclass(frozen=True)
class TableStats:
    """What ``GET /tables`` reports about a table's data."""

    rows: int
    size_bytes: int  # an estimate: the rows' text size (sampled for big tables)
    segments: int  # days holding data (one segment per day, the default partitioning)
    columns: tuple[str, ...]  # every column written or declared, ``__time`` first
    types: dict[str, str]  # the Polaris dataType of each column's stored values


@dataclass(frozen=True)
class OutputColumn:
    """A column an ingestion job writes: its name, inferred Polaris ``dataType`` (None when it
    can't be told) and whether it is an aggregation (a measure)."""

    name: str
    data_type: str | None
    aggregate: bool


@dataclass
class QueryResult:
    """Rows of a query: names, Druid SQL types, and JSON-ready values (timestamps as ISO)."""

    columns: list[str]
    sql_types: list[str]
    rows: list[list[Any]]

    def objects(self) -> list[dict[str, Any]]:
        """The rows in Druid's ``object`` result format."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class DataPlane:
    """In-memory table data for the emulator: ingestion, streaming events and SQL queries.

    ``clock`` returns the current time in epoch seconds (default :func:`time.time`); it decides
    late/early event rejection and CURRENT_TIMESTAMP. All methods run on the caller's thread;
    every DuckDB call holds the store's lock, so a reader never sees half a commit.
    """

    def __init__(
        self, clock: Callable[[], float] | None = None, rows_file: str | None = None
    ) -> None:
        self._clock = clock or time.time
        self._store = TableStore(rows_file)
        self._ingestor = Ingestor(self._store, self._now_ms)
        self._streams: dict[Hashable, StreamPlan] = {}
        self._events = EventBatcher(self._store, self._now_ms)
        self._stats: dict[str, tuple[int, TableStats]] = {}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def flush(self) -> None:
        """Make every written row durable (in the rows file, when there is one)."""
        self._events.settle()
        self._store.flush()

    def reset(self) -> None:
        """Forget every table's rows."""
        self._events.clear()
        self._store.clear()
        self._streams.clear()
        self._stats.clear()

    # --- ingestion -------------------------------------------------------------------------------

    def prepare_ingestion(
        self,
        job_spec: Mapping[str, Any],
        *,
        read_file: FileReader,
        table: Mapping[str, Any] | None,
    ) -> IngestionResult:
        """Run a batch/sql/delete_data/drop_table/restore_data job's computation now (the job
        start snapshot); the returned result's ``commit()`` writes it when the job completes."""
        return self._ingestor.prepare(job_spec, read_file, table)

    def sql_overwrite(
        self, job_spec: Mapping[str, Any]
    ) -> tuple[list[tuple[int, int]], str] | None:
        """``(intervals in epoch ms, Polaris granularity name)`` of a SQL job's ``REPLACE ...
        OVERWRITE WHERE``, for the create-time check that they line up; None for INSERT,
        OVERWRITE ALL, or a statement that can't be planned (the job then fails when it
        starts, with the planner's error)."""
        if job_spec.get("type") != "sql":
            return None
        try:
            statement = self._ingestor.statement(job_spec, None)
        except (SqlError, ValueError):
            return None
        if statement.mode != "replace":
            return None
        return list(statement.intervals), granularity_name(statement.partitioned_by)

    def validate_job(
        self, job_spec: Mapping[str, Any], table: Mapping[str, Any] | None = None
    ) -> str | None:
        """Check a batch/sql job's expressions and SQL without running it (over empty sources
        typed by ``inputSchema``); returns an error message (for a 400) or None."""
        if job_spec.get("type") not in ("batch", "sql"):
            return None
        try:
            self._plan(job_spec, table, None)
        except SqlError as exc:
            return exc.message
        return None

    def output_columns(
        self, job_spec: Mapping[str, Any], source_table: Mapping[str, Any] | None = None
    ) -> list[OutputColumn]:
        """The columns a batch/sql/streaming job writes, typed by DuckDB from its SELECT over empty
        sources typed by ``inputSchema`` (a table source: the stored column types, and
        ``source_table``'s declared types where nothing is stored). Empty when the job can't
        be planned."""
        if job_spec.get("type") == "streaming":  # its mappings typed as a batch job's would be
            source = job_spec.get("source") or {}
            inline = {"type": "inline", "data": "", "inputSchema": source.get("inputSchema")}
            inline["formatSettings"] = source.get("formatSettings")
            job_spec = {**job_spec, "type": "batch", "source": inline}
        if job_spec.get("type") not in ("batch", "sql"):
            return []
        try:
            names, aggregates, described = self._plan(job_spec, None, source_table)
        except SqlError:
            return []
        types = dict(described)
        return [
            OutputColumn(
                name,
                polaris_type(types[name]) if name in types else None,
                index < len(aggregates) and aggregates[index],
            )
            for index, name in enumerate(names)
            if name is not None  # None: SELECT *, the source's columns typed as they are
        ]

    def _plan(
        self,
        job_spec: Mapping[str, Any],
        table: Mapping[str, Any] | None,
        source_table: Mapping[str, Any] | None,
    ) -> tuple[tuple[str | None, ...], list[bool], list[tuple[str, str]]]:
        """Names, aggregate flags and DuckDB types of a job's output columns (no types when a
        source has no inputSchema); SqlError when the job can't be planned."""
        statement = self._ingestor.statement(job_spec, table)
        try:
            staging = self._ingestor.staging(job_spec, lambda name: None, empty=True)
        except SourceError:
            return (), [], []
        staging.declared = {
            str(c.get("name")): str(c.get("dataType"))
            for c in (source_table or {}).get("schema") or []
            if isinstance(c, Mapping) and c.get("dataType")
        }
        info: dict[str, Any] = {}
        try:
            with self._store.lock:
                translation, _ = translate_ingestion(
                    statement.select,
                    self._now_ms(),
                    staging,
                    rollup(table, info),
                    staging.sketch_columns,
                )
                con = self._store.con
                described = [] if staging.schemaless else describe(con, translation.sql)
        except SourceError:
            return (), [], []
        except duckdb.Error as exc:
            raise as_sql_error(exc) from None
        finally:
            staging.drop()
        return translation.names, list(info.get("aggregates") or []), described

    def ingest_events(
        self,
        job_spec: Mapping[str, Any],
        lines: Sequence[bytes],
        *,
        table: Mapping[str, Any] | None = None,
        plan_key: Hashable | None = None,
        on_batch: BatchCallback | None = None,
    ) -> EventsResult:
        """Apply a streaming job to pushed NDJSON lines: type them now, map and append them in
        a batch (:mod:`stream_batch`) before anything reads the table.

        ``table`` is the target's table payload. The job is compiled once per ``plan_key``
        (which the caller changes whenever the spec or table does), else per content of both.
        ``result.parsed`` counts the lines that didn't parse at once; the other counts come when
        the batch runs, to ``on_batch`` and to the result (reading them runs the batch now).
        """
        if plan_key is None:
            # By content, so a caller may edit a spec between pushes (a few µs per push).
            plan_key = json.dumps([job_spec, table], sort_keys=True, default=str)
        plan = self._streams.get(plan_key)
        if plan is None:
            if len(self._streams) >= _MAX_STREAM_PLANS:
                self._streams.clear()  # jobs come and go; a bound is all a test double needs
            plan = self._streams[plan_key] = compile_stream(job_spec, table, self._now_ms)
        return self._events.push(plan_key, plan, lines, on_batch)

    def settle_events(self) -> None:
        """Map and write every staged streamed event now (e.g. before showing job counts)."""
        self._events.settle()

    # --- tables ----------------------------------------------------------------------------------

    def ensure_table(self, name: str, columns: Iterable[str] = ()) -> None:
        """Make an (empty) table queryable, e.g. when the server creates it; optional."""
        self._store.ensure(name, columns)

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """Copies of a table's rows in time order; ``__time`` is epoch milliseconds (int)."""
        return list(self._store.rows(name))

    def table_stats(self, name: str) -> TableStats:
        """Row count, size and segments of a table; recomputed only after the table changed."""
        version = self._store.version(name)
        cached = self._stats.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        count = self._store.count(name)
        sample = self._store.rows(name, every=max(count // _SIZE_SAMPLE, 1))
        sampled = sum(len(repr(row)) for row in sample)
        size = sampled * count // len(sample) if sample else 0
        columns = self._store.columns(name)
        kinds = {c: self._store.kind(name, c) for c in columns}
        types = {c: polaris_type(kind or "VARCHAR") or "string" for c, kind in kinds.items()}
        stats = TableStats(count, size, self._store.days(name), columns, types)
        self._stats[name] = (version, stats)
        return stats

    def drop_table(self, name: str) -> None:
        """Forget a table and its rows."""
        self._store.drop(name)

    def has_table_data(self, name: str) -> bool:
        """True when the table holds at least one row."""
        return self._store.count(name) > 0

    # --- query -----------------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        parameters: list[dict[str, Any]] | None = None,
        time_zone: str | None = None,
    ) -> QueryResult:
        """Run a Druid SQL SELECT on DuckDB (:mod:`duck`) in ``time_zone`` (sqlTimeZone);
        raises :class:`SqlError` for what Druid or the emulator refuses."""
        columns, types, rows = run_query(self._store, sql, parameters, time_zone, self._now_ms())
        return QueryResult(columns, types, rows)
