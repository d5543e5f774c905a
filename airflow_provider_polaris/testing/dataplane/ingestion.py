"""Batch/SQL ingestion and data-management jobs: compute at job start, write on commit()."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_polaris.testing.dataplane.errors import EvalError, SqlError
from airflow_provider_polaris.testing.dataplane.evaluator import Evaluator
from airflow_provider_polaris.testing.dataplane.formats import coerce
from airflow_provider_polaris.testing.dataplane.plans import Plan, plan_batch, plan_sql
from airflow_provider_polaris.testing.dataplane.select import run_select
from airflow_provider_polaris.testing.dataplane.sources import (
    FileReader,
    SourceError,
    load_source,
)
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.timeutil import (
    Timestamp,
    in_intervals,
    parse_interval,
)
from airflow_provider_polaris.testing.dataplane.values import to_timestamp

# Polaris shows this default in job responses; effectively "never fail on bad rows".
DEFAULT_MAX_PARSE_EXCEPTIONS = 2_147_483_647
_PARSE_ERRORS_KEPT = 5


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
        if apply is not None and not self.failed:
            apply()

    def fail(self, code: str, message: str) -> IngestionResult:
        """Mark the job failed (and drop its pending writes)."""
        self.error_code, self.error_message, self._apply = code, message, None
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
            return self._delete(spec, target)
        if kind == "drop_table":
            return IngestionResult(_apply=lambda: self.store.drop(target))
        if kind == "restore_data":
            return IngestionResult()  # nothing is ever soft-deleted here
        return IngestionResult().fail("query_not_supported", f"Job type {kind!r} has no data plane")

    def _delete(self, spec: Mapping[str, Any], target: str) -> IngestionResult:
        intervals = None
        if not spec.get("deleteAll"):
            texts = (spec.get("target") or {}).get("intervals") or []
            try:
                intervals = [parse_interval(str(t)) for t in texts]
            except ValueError as exc:
                return IngestionResult().fail("internal_error", f"target.intervals: {exc}")
        doomed = sum(
            1
            for row in self.store.rows(target)
            if intervals is None or in_intervals(row["__time"], intervals)
        )
        result = IngestionResult(rows_deleted=doomed)
        result._apply = lambda: self.store.delete(target, intervals)
        return result

    def _ingest(
        self, spec: Mapping[str, Any], read_file: FileReader, table: Mapping[str, Any] | None
    ) -> IngestionResult:
        result = IngestionResult(query=spec.get("query") if spec.get("type") == "sql" else None)
        try:
            plan = plan_sql(spec, table) if spec.get("type") == "sql" else plan_batch(spec, table)
        except SqlError as exc:
            return result.fail("query_not_supported", exc.message)
        result.query = plan.query_text
        try:
            source = load_source(plan.source, read_file, self.store)
        except SourceError as exc:
            return result.fail(exc.code, exc.message)
        result.bytes_processed = source.bytes_processed
        result.rows_skipped_by_error = len(source.bad)
        result.parse_errors = source.bad[:_PARSE_ERRORS_KEPT]
        limit = _max_parse_exceptions(spec)
        if len(source.bad) > limit:
            # The wording of Druid's MSQ engine, which runs Polaris' batch ingestion.
            return result.fail(
                "cannot_parse_source",
                "Too many warnings of type CannotParseExternalData generated "
                f"(max = {limit}): {len(source.bad)} rows could not be parsed; "
                f"first: {source.bad[0]}",
            )
        evaluator = Evaluator(plan.params, self.now_ms)
        try:
            projection = run_select(
                plan.statement.select, source.rows, evaluator, known_columns=self._columns(plan)
            )
        except EvalError as exc:
            return result.fail("cannot_parse_source", str(exc))
        except SqlError as exc:
            return result.fail("query_not_supported", exc.message)
        result.rows_processed = len(source.rows) - projection.filtered
        result.rows_skipped_by_filter = projection.filtered
        if "__time" not in projection.columns:
            return result.fail(
                "null_timestamp", "No __time mapping: map a timestamp expression to __time"
            )
        rows, outside = _output_rows(projection.columns, projection.rows, plan, table)
        if rows is None:
            return result.fail("null_timestamp", f"Row {outside + 1} has a null or bad __time")
        result.rows_skipped_by_filter += outside
        result.rows_persisted = len(rows)
        if not rows:
            result.warning_code = "no_rows_found"
            result.warning_message = "The job completed but found no rows to ingest"
        columns = [*projection.columns, *_schema_columns(table)]
        result._apply = lambda: self._write(plan, rows, columns)
        return result

    def _columns(self, plan: Plan) -> list[str] | None:
        """Input columns a statement may reference (None: unknown, don't check)."""
        if plan.source.get("type") == "table":
            name = str(plan.source.get("tableName"))
            return list(self.store.columns(name)) if self.store.exists(name) else None
        schema = plan.source.get("inputSchema")
        if isinstance(schema, list) and schema:
            return [str(f.get("name")) for f in schema if isinstance(f, Mapping)]
        return None

    def _write(self, plan: Plan, rows: Sequence[Mapping[str, Any]], columns: list[str]) -> None:
        keep = {"append": "all", "replace": "outside", "replace_all": "none"}[plan.mode]
        self.store.write(plan.target, rows, keep=keep, intervals=plan.intervals, columns=columns)


def _max_parse_exceptions(spec: Mapping[str, Any]) -> int:
    value = spec.get("maxParseExceptions")
    if value is None and isinstance(spec.get("context"), Mapping):
        value = spec["context"].get("maxParseExceptions")
    try:
        return DEFAULT_MAX_PARSE_EXCEPTIONS if value is None else int(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_PARSE_EXCEPTIONS


def _output_rows(
    columns: list[str], values: list[list[Any]], plan: Plan, table: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]] | None, int]:
    """Rows to store, and how many fell outside the REPLACE intervals (dropped, counted as
    filtered). ``(None, index)`` when row ``index`` has no usable ``__time``."""
    types = schema_types(table)
    rows: list[dict[str, Any]] = []
    outside = 0
    for index, value_row in enumerate(values):
        pairs = zip(columns, value_row, strict=True)
        row = {name: store_value(value, types.get(name)) for name, value in pairs}
        stamp = to_timestamp(value_row[columns.index("__time")])
        if stamp is None:
            return None, index
        row["__time"] = int(stamp)  # stored as a plain int: see store.py
        if plan.mode == "replace" and not in_intervals(stamp, plan.intervals):
            outside += 1
            continue
        rows.append(row)
    return rows, outside


def output_converter(data_type: str | None) -> Callable[[Any], Any]:
    """:func:`store_value` for one column, with a fast path for values already of its type."""
    if not data_type:
        return _store_untyped
    exact = exact_class(data_type)
    if exact is None:
        return lambda value: store_value(value, data_type)

    def convert(value: Any) -> Any:
        return value if value.__class__ is exact else store_value(value, data_type)

    return convert


_PLAIN = frozenset({str, int, float, type(None)})


def _store_untyped(value: Any) -> Any:
    return value if value.__class__ in _PLAIN else store_value(value, None)


def input_converter(data_type: str) -> Callable[[Any], Any]:
    """:func:`coerce` for one ``inputSchema`` field, with a fast path for values (and NULLs)
    already of its type; raises ValueError like ``coerce``."""
    exact = exact_class(data_type)
    if exact is None:
        return lambda value: coerce(value, data_type)

    def convert(value: Any) -> Any:
        if value is None or value.__class__ is exact:
            return value
        return coerce(value, data_type)

    return convert


def exact_class(data_type: str) -> type | None:
    """The Python class values of ``data_type`` have once converted (None: no single class).
    Exact classes only: bool is an int and Timestamp an int subclass, and both get converted."""
    return _EXACT_CLASSES.get(data_type.lower())


_EXACT_CLASSES: dict[str, type] = {
    "string": str,
    "varchar": str,
    "long": int,
    "bigint": int,
    "double": float,
    "float": float,
}


def store_value(value: Any, data_type: str | None) -> Any:
    """The stored form of a value: booleans and timestamps become longs (as in Druid), and a
    declared column type is applied when the value converts (else it is kept as is)."""
    if isinstance(value, (bool, Timestamp)):
        value = int(value)
    if data_type and value is not None:
        try:
            value = coerce(value, data_type)
        except (ValueError, OverflowError):
            return value
        if isinstance(value, Timestamp):  # a timestamp column holds epoch millis
            return int(value)
    return value


def schema_types(table: Mapping[str, Any] | None) -> dict[str, str]:
    """Declared column types of a table payload (``__time`` excluded)."""
    schema = (table or {}).get("schema") or []
    return {
        str(c.get("name")): str(c.get("dataType"))
        for c in schema
        if isinstance(c, Mapping) and c.get("dataType") and c.get("name") != "__time"
    }


def _schema_columns(table: Mapping[str, Any] | None) -> list[str]:
    schema = (table or {}).get("schema") or []
    return [str(c.get("name")) for c in schema if isinstance(c, Mapping) and c.get("name")]
