"""The :class:`DataPlane` facade the emulator server calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.errors import EvalError, SqlError, UnsupportedError
from airflow_provider_polaris.testing.dataplane.evaluator import Evaluator
from airflow_provider_polaris.testing.dataplane.events import EventsResult, ingest_events
from airflow_provider_polaris.testing.dataplane.formats import as_timestamp_row
from airflow_provider_polaris.testing.dataplane.ingestion import IngestionResult, Ingestor
from airflow_provider_polaris.testing.dataplane.parameters import bind_parameters
from airflow_provider_polaris.testing.dataplane.parser import parse_statement
from airflow_provider_polaris.testing.dataplane.plans import plan_batch, plan_sql
from airflow_provider_polaris.testing.dataplane.select import run_select
from airflow_provider_polaris.testing.dataplane.sources import FileReader
from airflow_provider_polaris.testing.dataplane.store import TableStore
from airflow_provider_polaris.testing.dataplane.timeutil import Timestamp, format_iso
from airflow_provider_polaris.testing.dataplane.values import sql_type


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
    writes swap whole row lists, so a reader never sees half a commit.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time
        self._store = TableStore()
        self._ingestor = Ingestor(self._store, self._now_ms)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def reset(self) -> None:
        """Forget every table's rows."""
        self._store.clear()

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

    def validate_job(
        self, job_spec: Mapping[str, Any], table: Mapping[str, Any] | None = None
    ) -> str | None:
        """Check a batch/sql job's expressions and SQL without running it; returns an error
        message (for a 400 at create time) or None."""
        try:
            if job_spec.get("type") == "sql":
                plan = plan_sql(job_spec, table)
            elif job_spec.get("type") == "batch":
                plan = plan_batch(job_spec, table)
            else:
                return None
            run_select(plan.statement.select, [], Evaluator(plan.params, self._now_ms))
        except SqlError as exc:
            return exc.message
        except EvalError as exc:
            return str(exc)
        return None

    def ingest_events(
        self,
        job_spec: Mapping[str, Any],
        lines: Sequence[bytes],
        *,
        table: Mapping[str, Any] | None = None,
    ) -> EventsResult:
        """Apply a streaming job to pushed NDJSON lines and append the accepted rows now."""
        return ingest_events(self._store, job_spec, lines, table=table, now_ms=self._now_ms)

    # --- tables ----------------------------------------------------------------------------------

    def ensure_table(self, name: str, columns: Iterable[str] = ()) -> None:
        """Make an (empty) table queryable, e.g. when the server creates it; optional."""
        self._store.ensure(name, columns)

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """Copies of a table's rows in time order; ``__time`` is epoch milliseconds (int)."""
        out = []
        for row in self._store.rows(name):
            copy = dict(row)
            copy["__time"] = int(row["__time"])
            out.append(copy)
        return out

    def drop_table(self, name: str) -> None:
        """Forget a table and its rows."""
        self._store.drop(name)

    def has_table_data(self, name: str) -> bool:
        """True when the table holds at least one row."""
        return bool(self._store.rows(name))

    # --- query -----------------------------------------------------------------------------------

    def query(self, sql: str, parameters: list[dict[str, Any]] | None = None) -> QueryResult:
        """Run a SELECT from the supported subset; raises :class:`SqlError` otherwise."""
        statement = parse_statement(sql)
        if isinstance(statement, n.Insert):
            raise UnsupportedError(
                "INSERT and REPLACE must be submitted as SQL ingestion jobs, not as queries"
            )
        params = bind_parameters(parameters)
        source = statement.source
        if source is None:
            rows: Sequence[Mapping[str, Any]] = [{}]
            known: Sequence[str] = ()
        elif isinstance(source, n.ExternalSource):
            raise UnsupportedError("POLARIS_SOURCE can only be used in SQL ingestion jobs")
        else:
            if not self._store.exists(source.name):
                raise SqlError(f"Object '{source.name}' not found")
            rows = [as_timestamp_row(dict(r)) for r in self._store.rows(source.name)]
            known = self._store.columns(source.name)
        try:
            projection = run_select(
                statement, rows, Evaluator(params, self._now_ms), known_columns=known
            )
        except EvalError as exc:
            raise SqlError(
                str(exc), category="RUNTIME_FAILURE", error_code="runtimeFailure"
            ) from None
        types = [
            _column_type(item.expr, projection.rows, i) for i, item in enumerate(projection.items)
        ]
        values = [[_json_value(v) for v in row] for row in projection.rows]
        return QueryResult(projection.columns, types, values)


def _column_type(expr: n.Node, rows: list[list[Any]], index: int) -> str:
    for row in rows:
        found = sql_type(row[index])
        if found is not None:
            return found
    if expr == n.Column("__time"):
        return "TIMESTAMP"
    if isinstance(expr, n.Call) and (expr.name == "COUNT" or expr.name.startswith("APPROX_COUNT")):
        return "BIGINT"
    return "VARCHAR"


def _json_value(value: Any) -> Any:
    if isinstance(value, Timestamp):
        return format_iso(value)
    if isinstance(value, float) and value != value:  # NaN isn't valid JSON
        return None
    return value
