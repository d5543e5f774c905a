"""Batch/SQL ingestion and data-management jobs: compute at job start, write on commit().

A job's statement (:mod:`ingest_sql`) runs on DuckDB: its sources are staged as temp tables
(:mod:`sources`), the translated SELECT fills a temp table with the job's rows
(:mod:`ingest_run`), and :meth:`IngestionResult.commit` copies them into the target table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from airflow_provider_polaris.testing.dataplane.druid_sql import translate_expression
from airflow_provider_polaris.testing.dataplane.duck import as_sql_error
from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.ingest_run import (
    Output,
    compute_output,
    constant_ms,
    drop_outside,
    in_intervals,
    schema_types,
    translate_ingestion,
)
from airflow_provider_polaris.testing.dataplane.ingest_sql import (
    Statement,
    overwrite_ranges,
    render_batch,
    rollup,
    split_statement,
)
from airflow_provider_polaris.testing.dataplane.parameters import bind_parameters
from airflow_provider_polaris.testing.dataplane.sources import (
    FileReader,
    SourceError,
    Staging,
    source_interval,
)
from airflow_provider_polaris.testing.dataplane.store import TableStore, quote
from airflow_provider_polaris.testing.dataplane.timeutil import (
    ALL_TIME,
    GRANULARITY_PERIODS,
    parse_interval,
)

# Polaris shows this default in job responses; effectively "never fail on bad rows".
DEFAULT_MAX_PARSE_EXCEPTIONS = 2_147_483_647


@dataclass
class IngestionResult:
    """Row metrics and outcome of one job; :meth:`commit` applies its writes.

    ``error_code`` set means the job fails (health error) and must not be committed;
    ``warning_code`` (e.g. ``no_rows_found``) means it completes with health ``warn``.
    """

    rows_processed: int = 0
    rows_persisted: int = 0
    rows_with_warning: int = 0
    rows_skipped_by_error: int = 0
    rows_skipped_by_filter: int = 0
    bytes_processed: int = 0
    error_code: str | None = None
    error_message: str | None = None
    warning_code: str | None = None
    warning_message: str | None = None
    parse_errors: list[str] = field(default_factory=list)  # the first unparseable rows' reasons
    query: str | None = None
    rows_deleted: int = 0
    _apply: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
    _discard: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        """True when the job must end ``failed``."""
        return self.error_code is not None

    def metrics(self) -> dict[str, int]:
        """The ``GET /jobs/{id}/metrics`` ``totals`` object."""
        return {
            "numBytesProcessed": self.bytes_processed,
            "numRowsPersisted": self.rows_persisted,
            "numRowsProcessed": self.rows_processed,
            "numRowsProcessedWithWarning": self.rows_with_warning,
            "numRowsSkippedByError": self.rows_skipped_by_error,
            "numRowsSkippedByFilter": self.rows_skipped_by_filter,
        }

    def commit(self) -> None:
        """Apply the job's writes in one swap. No-op for failed jobs and on a second call."""
        apply, self._apply = self._apply, None
        try:
            if apply is not None and not self.failed:
                apply()
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop the job's pending writes (a failed or canceled job); safe to repeat."""
        self._apply = None
        discard, self._discard = self._discard, None
        if discard is not None:
            discard()

    def fail(self, code: str, message: str) -> IngestionResult:
        """Mark the job failed (and drop its pending writes)."""
        self.error_code, self.error_message = code, message
        self.discard()
        return self


class Ingestor:
    """Runs ingestion and data-management jobs against a :class:`TableStore`."""

    def __init__(self, store: TableStore, now_ms: Callable[[], int]) -> None:
        self.store = store
        self.now_ms = now_ms

    def prepare(
        self, spec: Mapping[str, Any], read_file: FileReader, table: Mapping[str, Any] | None
    ) -> IngestionResult:
        """Compute a job's result from the data as it is now (the job-start snapshot)."""
        kind = spec.get("type")
        if kind in ("batch", "sql"):
            return self._ingest(spec, read_file, table)
        target = str((spec.get("target") or {}).get("tableName") or "")
        if kind == "delete_data":
            return self._delete(spec, target, table)
        if kind == "drop_table":
            return IngestionResult(_apply=lambda: self.store.drop(target))
        if kind == "restore_data":
            return IngestionResult()  # nothing is ever soft-deleted here
        return IngestionResult().fail("query_not_supported", f"Job type {kind!r} has no data plane")

    def statement(self, spec: Mapping[str, Any], table: Mapping[str, Any] | None) -> Statement:
        """The job's statement: a batch job rendered as SQL, a SQL job taken apart, with its
        REPLACE ranges evaluated. SqlError when it can't be planned."""
        if spec.get("type") == "batch":
            return render_batch(spec, table)
        text = str(spec.get("query") or "")
        statement = split_statement(text, bind_parameters(spec.get("parameters")))
        if statement.overwrite is not None:
            with self.store.lock:
                to_ms = constant_ms(self.store.con, self.now_ms())
                statement.intervals = overwrite_ranges(statement.overwrite, to_ms)
        return statement

    def staging(self, spec: Mapping[str, Any], read_file: FileReader, *, empty: bool) -> Staging:
        """Where a job's sources are staged; a batch table source reads its interval only."""
        source = spec.get("source") or {}
        interval = ALL_TIME
        if spec.get("type") == "batch" and source.get("type") == "table":
            interval = source_interval(source)
        return Staging(self.store, read_file, empty=empty, interval=interval)

    def _delete(
        self, spec: Mapping[str, Any], target: str, table: Mapping[str, Any] | None
    ) -> IngestionResult:
        intervals = None
        if not spec.get("deleteAll"):
            texts = (spec.get("target") or {}).get("intervals") or []
            try:
                intervals = [parse_interval(str(t)) for t in texts]
            except ValueError as exc:
                return IngestionResult().fail("internal_error", f"target.intervals: {exc}")
            granularity = str((table or {}).get("partitioningGranularity") or "").lower()
            intervals = self._widened(intervals, GRANULARITY_PERIODS.get(granularity))
        result = IngestionResult(_apply=lambda: self.store.delete(target, intervals))
        with self.store.lock:  # rows_deleted: how many rows the intervals hold now
            if self.store.exists(target):  # exists() writes what is staged for the table
                where = "" if intervals is None else " WHERE " + in_intervals(intervals)
                found = self.store.con.execute(f"SELECT count(*) FROM {quote(target)}{where}")
                result.rows_deleted = int((found.fetchone() or [0])[0])
        return result

    def _widened(
        self, intervals: list[tuple[int, int]], period: str | None
    ) -> list[tuple[int, int]]:
        """Polaris deletes whole segments: each interval widened to the table's partitions."""
        if period is None:
            return intervals
        widened = []
        for start, end in intervals:
            # int(): timeutil's Timestamp prints as an ISO text, not a number
            low = f"TIME_FLOOR(MILLIS_TO_TIMESTAMP({int(start)}), '{period}')"
            high = f"TIME_CEIL(MILLIS_TO_TIMESTAMP({int(end)}), '{period}')"
            sql = ", ".join(
                translate_expression(f"TIMESTAMP_TO_MILLIS({t})", 0) for t in (low, high)
            )
            with self.store.lock:
                found = self.store.con.execute(f"SELECT {sql}").fetchone()
            widened.append((int(found[0]), int(found[1])) if found else (start, end))
        return widened

    def _ingest(
        self, spec: Mapping[str, Any], read_file: FileReader, table: Mapping[str, Any] | None
    ) -> IngestionResult:
        result = IngestionResult(query=spec.get("query") if spec.get("type") == "sql" else None)
        staging = None
        try:
            statement = self.statement(spec, table)
            result.query = statement.text
            staging = self.staging(spec, read_file, empty=False)
            with self.store.lock:
                return self._run(spec, statement, staging, table, result)
        except SourceError as exc:
            return result.fail(exc.code, exc.message)
        except SqlError as exc:
            return result.fail("query_not_supported", exc.message)
        except duckdb.Error as exc:
            return result.fail("query_not_supported", as_sql_error(exc).message)
        finally:
            if staging is not None:
                staging.drop()

    def _run(
        self,
        spec: Mapping[str, Any],
        statement: Statement,
        staging: Staging,
        table: Mapping[str, Any] | None,
        result: IngestionResult,
    ) -> IngestionResult:
        con = self.store.con
        info: dict[str, Any] = {}
        translation, kept_sql = translate_ingestion(
            statement.select, self.now_ms(), staging, rollup(table, info), staging.sketch_columns
        )
        result.bytes_processed = staging.bytes
        bad, messages = staging.errors, staging.messages
        result.rows_skipped_by_error, result.parse_errors = bad, messages
        limit = _max_parse_exceptions(spec)
        if bad > limit:
            # The wording of Druid's MSQ engine, which runs Polaris' batch ingestion.
            return result.fail(
                "cannot_parse_source",
                "Too many warnings of type CannotParseExternalData generated "
                f"(max = {limit}): {bad} rows could not be parsed; first: {messages[0]}",
            )
        kept = con.execute(kept_sql).fetchone() if kept_sql else None
        result.rows_processed = int(kept[0]) if kept else staging.rows
        result.rows_skipped_by_filter = staging.rows - result.rows_processed
        output = compute_output(
            con, translation.sql, schema_types(table), grouped=bool(info.get("grouped"))
        )
        result._discard = lambda: self._drop(output.table)
        return self._finish(statement, output, table, result)

    def _finish(
        self,
        statement: Statement,
        output: Output,
        table: Mapping[str, Any] | None,
        result: IngestionResult,
    ) -> IngestionResult:
        if "__time" not in dict(output.columns):
            return result.fail(
                "null_timestamp", "No __time mapping: map a timestamp expression to __time"
            )
        if output.null_time_row is not None:
            return result.fail(
                "null_timestamp", f"Row {output.null_time_row} has a null or bad __time"
            )
        replace = statement.mode == "replace"
        outside = drop_outside(self.store.con, output.table, statement.intervals) if replace else 0
        result.rows_skipped_by_filter += outside
        result.rows_persisted = output.rows - outside
        if not result.rows_persisted:
            result.warning_code = "no_rows_found"
            result.warning_message = "The job completed but found no rows to ingest"
        keep = {"append": "all", "replace": "outside", "replace_all": "none"}[statement.mode]
        columns = _schema_columns(table)

        def apply() -> None:
            with self.store.lock:
                if columns:
                    self.store.ensure(statement.target, columns)
                select = f"SELECT * FROM {quote(output.table)}"
                self.store.insert_select(
                    statement.target, select, keep=keep, intervals=statement.intervals
                )

        result._apply = apply
        return result

    def _drop(self, name: str) -> None:
        with self.store.lock:
            self.store.con.execute(f"DROP TABLE IF EXISTS {quote(name)}")


def _max_parse_exceptions(spec: Mapping[str, Any]) -> int:
    value = spec.get("maxParseExceptions")
    if value is None and isinstance(spec.get("context"), Mapping):
        value = spec["context"].get("maxParseExceptions")
    try:
        return DEFAULT_MAX_PARSE_EXCEPTIONS if value is None else int(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_PARSE_EXCEPTIONS


def _schema_columns(table: Mapping[str, Any] | None) -> list[str]:
    schema = (table or {}).get("schema") or []
    return [str(c.get("name")) for c in schema if isinstance(c, Mapping) and c.get("name")]
