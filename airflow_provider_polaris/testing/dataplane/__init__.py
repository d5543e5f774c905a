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

Storage: rows live in an in-memory DuckDB, one table per table name, ``__time`` a TIMESTAMP
(:mod:`store`); :meth:`DataPlane.table_rows` returns ``__time`` as an ``int`` (epoch ms).
Queries print timestamps as ``2024-01-01T10:00:00.000Z`` like Druid's object format. Booleans
and timestamps stored into columns become longs, as in Druid.

Ingestion (``batch`` and ``sql`` jobs):

* Sources: ``uploaded`` (``fileList``; nd-json, csv, tsv; gzip/bz2/xz by ``.gz`` name or magic
  bytes), ``inline`` (``data``), ``table`` (rows of another table in ``source.interval``, a
  snapshot taken when the job starts). s3/azure fail with ``could_not_connect_to_source``
  (the emulator is offline). CSV reads a header row unless ``columns`` is given;
  ``skipHeaderRows`` skips lines first.
* ``inputSchema`` types the fields (long/double/string/timestamp/json); a value that doesn't
  convert, or a bad JSON line, is an unparseable row (``numRowsSkippedByError``). The job fails
  with ``cannot_parse_source`` when their count exceeds ``maxParseExceptions`` (default
  2147483647, the value Polaris shows, i.e. never). A missing file fails the job with
  ``cannot_parse_source`` naming the file.
* A batch job is rendered as the SQL Polaris shows in the job's ``query`` field and that SQL is
  what runs, so batch and SQL jobs share one engine. A missing ``__time`` mapping or a NULL
  ``__time`` fails the job with ``null_timestamp``; table-to-table jobs without a ``__time``
  mapping keep the source ``__time``.
* Rollup: when a mapping is an aggregation (``isAggregation`` or an aggregate call in the
  expression) or the target table is ``aggregate``, rows are grouped by the other mappings.
  Aggregate targets also get ``__count`` = ``COUNT(*)`` and ``__time`` bucketed to the table's
  ``timeResolution``.
* ``filterExpression`` / ``WHERE`` rejects rows before mapping (``numRowsSkippedByFilter``).
* Writes on commit: append adds rows; replace deletes the target rows inside
  ``target.intervals`` (or the ``OVERWRITE WHERE`` range) and inserts the new rows. New rows
  outside those intervals are dropped and counted as filtered (Druid would fail the job
  instead). ``replaceAll`` / ``OVERWRITE ALL`` replaces the whole table.
* ``numRowsProcessed`` counts parsed rows that passed the filter; ``numRowsPersisted`` the rows
  written (smaller after a rollup). Zero rows written → ``warning_code = "no_rows_found"``.
* ``delete_data`` (intervals or ``deleteAll``), ``drop_table``; ``restore_data`` is a no-op.

Streaming (:meth:`DataPlane.ingest_events`): each NDJSON line is typed by ``inputSchema`` at
push time and staged; a job's staged events are mapped on DuckDB in batches (before anything
reads the table or the job's counts): filtered by ``filterExpression``, mapped (aggregations
see a group of one event), and rejected as filtered when ``__time`` is outside
``push time - lateMessageRejectionPeriod`` (P30D) .. ``push time + earlyMessageRejectionPeriod``
(P2000D). Bad lines and NULL times are skipped by error.
With ``useSchemaDiscovery`` every other field is kept as a dimension except
``dimensionExclusions`` and the fields the ``__time`` mapping reads.

The SQL subset and expression functions are listed in ``docs/emulator-data.md``.
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
