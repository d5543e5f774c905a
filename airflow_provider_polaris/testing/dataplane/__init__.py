"""Data plane of the local Polaris emulator: real rows for ingestion, streaming and queries.

The emulator server (:mod:`airflow_provider_polaris.testing`) owns the API surface: jobs,
tables, files, connections. This package owns the rows. It needs ``duckdb`` and ``sqlglot``
(the ``emulator`` extra) and has no Airflow or provider-client imports.

How the server uses it::

    dp = DataPlane(clock=emulator_clock.now)         # default time.time
    dp.ensure_table(name, columns)                   # a created table is queryable while empty
    dp.output_columns(job_spec, source_table)        # column types for createTableIfNotExists
    result = dp.prepare_ingestion(job_spec, read_file=files.get, table=table_payload)
    # ... job runs; result.error_code set -> job fails with health error <code>;
    # result.warning_code (no_rows_found) -> completed with health warn
    result.commit()                                  # on completion only: writes atomically
    dp.ingest_events(streaming_job_spec, ndjson_lines, table=table_payload,
                     plan_key=(job_id, table_id, table_version))  # staged; mapped in batches
    dp.table_stats(name)                             # rows, size, segments (cached)
    dp.query('SELECT COUNT(*) FROM "t"', None)       # QueryResult(columns, sql_types, rows)

Rows live in an in-memory DuckDB, one table per table name (:mod:`store`). What the data plane
understands (ingestion sources and formats, rollup, replace intervals, streaming rejection
periods, the SQL subset and its functions) is documented in ``docs/emulator-data.md``.
"""

from airflow_provider_polaris.testing.dataplane.errors import SqlError
from airflow_provider_polaris.testing.dataplane.events import EventsResult
from airflow_provider_polaris.testing.dataplane.ingestion import IngestionResult
from airflow_provider_polaris.testing.dataplane.plane import (
    DataPlane,
    OutputColumn,
    QueryResult,
    TableStats,
)

__all__ = [
    "DataPlane",
    "EventsResult",
    "IngestionResult",
    "OutputColumn",
    "QueryResult",
    "SqlError",
    "TableStats",
]
