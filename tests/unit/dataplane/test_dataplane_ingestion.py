"""Batch, table-to-table and SQL ingestion, write modes, failures and data-management jobs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane
from airflow_provider_polaris.testing.dataplane.timeutil import parse_timestamp

from .conftest import batch_job, ndjson_schema, run

SCHEMA = ndjson_schema(("ts", "string"), ("city", "string"), ("session", "long"))
SOURCE = {
    "type": "uploaded",
    "fileList": ["events.json"],
    "inputSchema": SCHEMA,
    "formatSettings": {"format": "nd-json"},
}
RAW_MAPPINGS = [
    {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
    {"columnName": "city", "expression": '"city"'},
    {"columnName": "session_length", "expression": '"session"'},
]
EVENTS = [
    ("2024-01-01T10:05:00Z", "paris", 10),
    ("2024-01-01T10:20:00Z", "paris", 30),
    ("2024-01-01T10:40:00Z", "oslo", 5),
    ("2024-01-01T10:59:59Z", "paris", 20),
    ("2024-01-01T11:10:00Z", "paris", 7),
    ("2024-01-01T12:10:00Z", "oslo", 9),
]
HOUR = "2024-01-01T10:00:00Z/2024-01-01T11:00:00Z"


def ndjson(rows: list[tuple[str, str, int]]) -> bytes:
    return b"".join(
        json.dumps({"ts": ts, "city": city, "session": n}).encode() + b"\n" for ts, city, n in rows
    )


@pytest.fixture
def loaded(dp: DataPlane, files: dict[str, bytes]) -> DataPlane:
    files["events.json"] = ndjson(EVENTS)
    assert run(dp, batch_job(SOURCE, "Source", RAW_MAPPINGS), files).error_code is None
    return dp


def rollup_job(**extra: Any) -> dict[str, Any]:
    mappings = [
        {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
        {"columnName": "city", "expression": 'UPPER("city")'},
        {"columnName": "max_session_length", "expression": 'MAX("session_length")'},
        {"columnName": "total", "expression": 'SUM("session_length")', "isAggregation": True},
    ]
    return batch_job(
        {"type": "table", "tableName": "Source", "interval": HOUR},
        "Rollup",
        mappings,
        ingestionMode="replace",
        intervals=[HOUR],
        **extra,
    )


AGGREGATE_TABLE = {"type": "aggregate", "name": "Rollup", "partitioningGranularity": "hour"}


def test_hourly_rollup_in_replace_mode(loaded: DataPlane, files: dict[str, bytes]) -> None:
    result = run(loaded, rollup_job(), files, AGGREGATE_TABLE)
    assert result.error_code is None
    assert (result.rows_processed, result.rows_persisted) == (4, 2)
    assert result.rows_persisted < result.rows_processed
    assert loaded.table_rows("Rollup") == [
        {
            "__time": 1704103200000,
            "city": "OSLO",
            "max_session_length": 5,
            "total": 5,
            "__count": 1,
        },
        {
            "__time": 1704103200000,
            "city": "PARIS",
            "max_session_length": 30,
            "total": 60,
            "__count": 3,
        },
    ]
    assert result.query.startswith('REPLACE INTO "Rollup" OVERWRITE WHERE')
    assert "GROUP BY 1, 2 PARTITIONED BY HOUR" in result.query
    assert 'COUNT(*) AS "__count"' in result.query

    # A rerun replaces the hour instead of duplicating it.
    again = run(loaded, rollup_job(), files, AGGREGATE_TABLE)
    assert again.rows_persisted == 2
    assert len(loaded.table_rows("Rollup")) == 2
    count = loaded.query('SELECT SUM("__count") AS "n", COUNT(*) AS "rows" FROM "Rollup"', None)
    assert count.rows == [[4, 2]]


def test_replace_leaves_other_hours_untouched(loaded: DataPlane, files: dict[str, bytes]) -> None:
    everything = batch_job(
        {"type": "table", "tableName": "Source"},
        "Rollup",
        [
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "city", "expression": '"city"'},
            {"columnName": "n", "expression": "COUNT(*)"},
        ],
    )
    assert run(loaded, everything, files).rows_persisted == 4  # hours 10 (2 cities), 11, 12
    hour_ten = {
        **everything,
        "ingestionMode": "replace",
        "source": {"type": "table", "tableName": "Source", "interval": HOUR},
        "target": {"type": "table", "tableName": "Rollup", "intervals": [HOUR]},
        "mappings": [*everything["mappings"][:2], {"columnName": "n", "expression": "100"}],
    }
    run(loaded, hour_ten, files)
    rows = loaded.table_rows("Rollup")
    assert [(r["__time"], r["n"]) for r in rows] == [
        (1704103200000, 100),
        (1704103200000, 100),
        (1704103200000, 100),
        (1704103200000, 100),
        (1704106800000, 1),
        (1704110400000, 1),
    ]


def test_replace_drops_rows_outside_the_intervals(
    loaded: DataPlane, files: dict[str, bytes]
) -> None:
    job = rollup_job()
    job["source"] = {"type": "table", "tableName": "Source"}  # reads all hours, replaces one
    result = run(loaded, job, files, AGGREGATE_TABLE)
    assert result.rows_persisted == 2
    assert result.rows_skipped_by_filter == 2  # the 11:00 and 12:00 groups


def test_replace_all(loaded: DataPlane, files: dict[str, bytes]) -> None:
    run(loaded, rollup_job(), files, AGGREGATE_TABLE)
    job = rollup_job(replaceAll=True)
    job["target"].pop("intervals")
    job["source"] = {"type": "table", "tableName": "Source", "interval": "2024-01-01T12/PT1H"}
    result = run(loaded, job, files, AGGREGATE_TABLE)
    assert 'REPLACE INTO "Rollup" OVERWRITE ALL' in result.query
    assert [r["city"] for r in loaded.table_rows("Rollup")] == ["OSLO"]


def test_append_twice_duplicates_and_table_into_itself(
    loaded: DataPlane, files: dict[str, bytes]
) -> None:
    run(loaded, batch_job(SOURCE, "Source", RAW_MAPPINGS), files)
    assert len(loaded.table_rows("Source")) == 12
    itself = batch_job({"type": "table", "tableName": "Source"}, "Source", [])
    result = run(loaded, itself, files)
    assert result.query.startswith('INSERT INTO "Source" SELECT "__time" AS "__time" FROM "Source"')
    assert len(loaded.table_rows("Source")) == 24


def test_commit_is_needed_and_happens_once(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["events.json"] = ndjson(EVENTS)
    result = dp.prepare_ingestion(
        batch_job(SOURCE, "t", RAW_MAPPINGS), read_file=files.get, table=None
    )
    assert not dp.has_table_data("t")  # a canceled job never writes
    result.commit()
    result.commit()
    assert len(dp.table_rows("t")) == 6
    assert dp.has_table_data("t")


def test_snapshot_taken_at_prepare(loaded: DataPlane, files: dict[str, bytes]) -> None:
    pending = loaded.prepare_ingestion(
        batch_job({"type": "table", "tableName": "Source"}, "Copy", []),
        read_file=files.get,
        table=None,
    )
    run(loaded, batch_job(SOURCE, "Source", RAW_MAPPINGS), files)  # more rows arrive meanwhile
    pending.commit()
    assert len(loaded.table_rows("Copy")) == 6


def test_filter_expression(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["events.json"] = ndjson(EVENTS)
    job = batch_job(SOURCE, "t", RAW_MAPPINGS, filterExpression="\"city\" = 'paris'")
    result = run(dp, job, files)
    assert (result.rows_processed, result.rows_skipped_by_filter) == (4, 2)
    assert {r["city"] for r in dp.table_rows("t")} == {"paris"}


def test_no_rows_found_warning(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["events.json"] = ndjson(EVENTS)
    job = batch_job(SOURCE, "t", RAW_MAPPINGS, filterExpression="\"city\" = 'rome'")
    result = run(dp, job, files)
    assert result.error_code is None
    assert (result.rows_persisted, result.warning_code) == (0, "no_rows_found")


def test_max_parse_exceptions(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["events.json"] = ndjson(EVENTS) + b"oops\n{bad\n"
    ok = run(dp, batch_job(SOURCE, "t", RAW_MAPPINGS, maxParseExceptions=2), files)
    assert (ok.error_code, ok.rows_skipped_by_error) == (None, 2)
    failed = run(dp, batch_job(SOURCE, "u", RAW_MAPPINGS, maxParseExceptions=1), files)
    assert failed.error_code == "cannot_parse_source"
    assert failed.rows_skipped_by_error == 2
    failed.commit()  # a failed result never writes
    assert not dp.has_table_data("u")


def test_missing_file(dp: DataPlane) -> None:
    result = run(dp, batch_job(SOURCE, "t", RAW_MAPPINGS), {})
    assert result.error_code == "cannot_parse_source"
    assert "events.json" in result.error_message


def test_remote_sources_cannot_connect(dp: DataPlane) -> None:
    source = {"type": "s3", "connectionName": "c", "uris": ["s3://b/k"], "inputSchema": SCHEMA}
    result = run(dp, batch_job(source, "t", RAW_MAPPINGS), {})
    assert result.error_code == "could_not_connect_to_source"


def test_null_timestamp(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["events.json"] = ndjson(EVENTS)
    missing = run(dp, batch_job(SOURCE, "t", RAW_MAPPINGS[1:]), files)
    assert missing.error_code == "null_timestamp"
    files["events.json"] += b'{"ts":"yesterday","city":"x","session":1}\n'
    bad = run(dp, batch_job(SOURCE, "t", RAW_MAPPINGS), files)
    assert bad.error_code == "null_timestamp"


def test_bad_mapping_expression(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["events.json"] = ndjson(EVENTS)
    mappings = [*RAW_MAPPINGS, {"columnName": "x", "expression": 'NOPE("city")'}]
    result = run(dp, batch_job(SOURCE, "t", mappings), files)
    assert result.error_code == "query_not_supported"
    assert "NOPE" in result.error_message
    assert dp.validate_job(batch_job(SOURCE, "t", mappings)) is not None
    assert dp.validate_job(batch_job(SOURCE, "t", RAW_MAPPINGS)) is None


def test_aggregate_table_time_resolution_and_schema_types(
    dp: DataPlane, files: dict[str, bytes]
) -> None:
    files["events.json"] = ndjson(EVENTS)
    table = {
        "type": "aggregate",
        "timeResolution": "day",
        "schema": [
            {"type": "dimension", "name": "city", "dataType": "string"},
            {"type": "measure", "name": "total", "dataType": "double"},
        ],
    }
    mappings = [
        RAW_MAPPINGS[0],
        RAW_MAPPINGS[1],
        {"columnName": "total", "expression": 'SUM("session")'},
    ]
    result = run(dp, batch_job(SOURCE, "t", mappings), files, table)
    assert result.rows_persisted == 2
    assert dp.table_rows("t") == [
        {"__time": 1704067200000, "city": "oslo", "total": 14.0, "__count": 2},
        {"__time": 1704067200000, "city": "paris", "total": 67.0, "__count": 4},
    ]


def test_sql_insert_from_polaris_source(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["events.json"] = ndjson(EVENTS)
    source = json.dumps(SOURCE).replace("'", "''")
    query = (
        'INSERT INTO "Sql" SELECT TIME_FLOOR(TIME_PARSE("ts"), \'P1D\') AS "__time", "city", '
        'COUNT(*) AS "n", SUM("session") AS "s" '
        f"FROM TABLE(POLARIS_SOURCE('{source}')) WHERE \"session\" > ? "
        'GROUP BY 1, 2 PARTITIONED BY DAY CLUSTERED BY "city"'
    )
    job = {"type": "sql", "query": query, "parameters": [{"type": "BIGINT", "value": 5}]}
    result = run(dp, job, files)
    assert result.error_code is None
    assert result.query == query
    assert (result.rows_processed, result.rows_persisted, result.rows_skipped_by_filter) == (
        5,
        2,
        1,
    )
    assert dp.table_rows("Sql") == [
        {"__time": 1704067200000, "city": "oslo", "n": 1, "s": 9},
        {"__time": 1704067200000, "city": "paris", "n": 4, "s": 67},
    ]


def test_sql_replace_overwrite_where(loaded: DataPlane, files: dict[str, bytes]) -> None:
    copy = {"type": "sql", "query": 'INSERT INTO "Copy" SELECT * FROM "Source" PARTITIONED BY HOUR'}
    assert run(loaded, copy, files).rows_persisted == 6
    replace = {
        "type": "sql",
        "query": (
            'REPLACE INTO "Copy" OVERWRITE WHERE "__time" >= TIMESTAMP \'2024-01-01 10:00:00\' '
            "AND \"__time\" < TIMESTAMP '2024-01-01 11:00:00' "
            'SELECT "__time", \'replaced\' AS city, 0 AS session_length FROM "Source" '
            "WHERE TIME_IN_INTERVAL(\"__time\", '2024-01-01T10/PT1H') PARTITIONED BY HOUR"
        ),
    }
    result = run(loaded, replace, files)
    assert result.error_code is None
    cities = [r["city"] for r in loaded.table_rows("Copy")]
    assert cities == ["replaced"] * 4 + ["paris", "oslo"]
    overwrite_all = {
        "type": "sql",
        "query": 'REPLACE INTO "Copy" OVERWRITE ALL SELECT * FROM "Source" WHERE "city" = \'oslo\' '
        "PARTITIONED BY ALL TIME",
    }
    run(loaded, overwrite_all, files)
    assert [r["city"] for r in loaded.table_rows("Copy")] == ["oslo", "oslo"]


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * FROM "Source"',
        'INSERT INTO "x" SELECT * FROM "Source"',  # no PARTITIONED BY
        'REPLACE INTO "x" OVERWRITE WHERE "city" = \'a\' SELECT * FROM "Source" PARTITIONED BY DAY',
    ],
)
def test_sql_job_errors(loaded: DataPlane, files: dict[str, bytes], query: str) -> None:
    result = run(loaded, {"type": "sql", "query": query}, files)
    assert result.error_code == "query_not_supported"


def test_delete_data_and_drop_table(loaded: DataPlane, files: dict[str, bytes]) -> None:
    delete = {
        "type": "delete_data",
        "target": {"type": "table", "tableName": "Source", "intervals": [HOUR]},
    }
    result = run(loaded, delete, files)
    assert result.rows_deleted == 4
    assert len(loaded.table_rows("Source")) == 2
    run(
        loaded, {"type": "delete_data", "target": {"tableName": "Source"}, "deleteAll": True}, files
    )
    assert loaded.table_rows("Source") == []
    assert (
        run(loaded, {"type": "restore_data", "target": {"tableName": "Source"}}, files).error_code
        is None
    )
    run(loaded, {"type": "drop_table", "target": {"type": "table", "tableName": "Source"}}, files)
    assert not loaded.has_table_data("Source")
    assert parse_timestamp(HOUR.split("/")[0]) == 1704103200000


SALES_SCHEMA = ndjson_schema(
    ("ts", "string"), ("amount", "long"), ("price", "double"), ("country", "string")
)


@pytest.fixture
def sales(dp: DataPlane) -> DataPlane:
    row = {"ts": "2024-06-01T10:00:00Z", "amount": 5, "price": 2.5, "country": "fr"}
    source = {"type": "inline", "data": json.dumps(row), "inputSchema": SALES_SCHEMA}
    mappings = [{"columnName": "__time", "expression": 'TIME_PARSE("ts")'}] + [
        {"columnName": c, "expression": f'"{c}"'} for c in ("amount", "price", "country")
    ]
    assert run(dp, batch_job(source, "sales", mappings), {}).error_code is None
    return dp


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('SUM("amount")', "long"),
        ('SUM("price")', "double"),
        ('MIN("amount")', "long"),
        ('MAX("price")', "double"),
        ('AVG("amount")', "double"),
        ("COUNT(*)", "long"),
        ('COUNT(DISTINCT "country")', "long"),
        ("TIME_FLOOR(\"__time\", 'PT1H')", "timestamp"),
        ('"__time"', "timestamp"),
        ('UPPER("country")', "string"),
        ('"amount" * 2', "long"),
        ('"amount" * "price"', "double"),
        ('"amount" > 1', "long"),
        ('LATEST("price")', "double"),
        ('CAST("amount" AS DOUBLE)', "double"),
        ('"unknown"', None),
    ],
)
def test_output_column_types(sales: DataPlane, expression: str, expected: str | None) -> None:
    job = batch_job(
        {"type": "table", "tableName": "sales"},
        "out",
        [{"columnName": "c", "expression": expression}],
    )
    types = {c.name: c.data_type for c in sales.output_columns(job)}
    assert types.get("c") == expected


def test_output_columns_of_a_sql_job(sales: DataPlane) -> None:
    query = (
        'INSERT INTO "out" SELECT FLOOR("__time" TO DAY) AS "__time", "country", '
        'SUM("amount") AS "total" FROM "sales" GROUP BY 1, 2 PARTITIONED BY DAY'
    )
    columns = sales.output_columns({"type": "sql", "query": query})
    assert [(c.name, c.data_type, c.aggregate) for c in columns] == [
        ("__time", "timestamp", False),
        ("country", "string", False),
        ("total", "long", True),
    ]


def test_parse_error_messages_name_the_file_line_and_field(
    dp: DataPlane, files: dict[str, bytes]
) -> None:
    files["events.json"] = ndjson(EVENTS[:1]) + b'{"ts":"2024-01-01T10:00:00Z","session":"many"}\n'
    files["events.json"] += b"oops\n"
    result = run(dp, batch_job(SOURCE, "t", RAW_MAPPINGS), files)
    assert result.rows_skipped_by_error == 2
    assert result.parse_errors == [
        "events.json: field 'session': could not convert string to float: 'many'",
        "events.json: line 3: unable to parse JSON",
    ]
    assert len(dp.table_rows("t")) == 1


def test_a_discarded_job_writes_nothing_and_leaves_no_temp_tables(
    dp: DataPlane, files: dict[str, bytes]
) -> None:
    files["events.json"] = ndjson(EVENTS)
    result = dp.prepare_ingestion(
        batch_job(SOURCE, "t", RAW_MAPPINGS), read_file=files.get, table=None
    )
    assert result.rows_persisted == 6
    result.discard()  # the control plane's fail/cancel path
    result.commit()
    assert not dp.has_table_data("t")
    temporary = "SELECT count(*) FROM duckdb_tables() WHERE temporary"
    assert dp._store.con.execute(temporary).fetchone() == (0,)  # the leak check


def test_sql_parameters_in_overwrite_where_and_the_select(loaded: DataPlane) -> None:
    query = (
        "-- hour ten only\n"
        'REPLACE INTO "Copy" OVERWRITE WHERE "__time" >= ? AND "__time" < ? '
        'SELECT "__time", "city", "session_length" FROM "Source" WHERE "session_length" > ? '
        "PARTITIONED BY HOUR"
    )
    parameters = [
        {"type": "TIMESTAMP", "value": "2024-01-01 10:00:00"},
        {"type": "TIMESTAMP", "value": "2024-01-01 11:00:00"},
        {"type": "BIGINT", "value": 6},
    ]
    job = {"type": "sql", "query": query, "parameters": parameters}
    assert loaded.sql_overwrite(job) == ([(1704103200000, 1704106800000)], "hour")
    result = run(loaded, job, {})
    assert result.error_code is None
    # 10:40 (5) fails the WHERE; 11:10 (7) and 12:10 (9) pass it but fall outside the hour.
    assert (result.rows_processed, result.rows_skipped_by_filter) == (5, 3)
    assert [r["session_length"] for r in loaded.table_rows("Copy")] == [10, 30, 20]


def test_sql_insert_from_extern(dp: DataPlane) -> None:
    source = json.dumps({"type": "inline", "data": '{"ts":"2024-01-01T00:00:00Z","n":3}'})
    signature = json.dumps([{"name": "ts", "type": "string"}, {"name": "n", "type": "long"}])
    query = (
        'INSERT INTO "x" SELECT TIME_PARSE("ts") AS "__time", "n" * 2 AS "n" '
        f"FROM TABLE(EXTERN('{source}', '{{\"type\":\"json\"}}', '{signature}')) "
        "PARTITIONED BY DAY"
    )
    assert run(dp, {"type": "sql", "query": query}, {}).error_code is None
    assert dp.table_rows("x") == [{"__time": 1704067200000, "n": 6}]


def test_sql_job_with_comments_and_qualified_names(loaded: DataPlane) -> None:
    query = (
        "-- copy the paris rows\n"
        'INSERT INTO druid."Paris" -- the target\n'
        'SELECT * FROM druid."Source" WHERE "city" = \'paris\' -- only paris\n'
        "PARTITIONED BY TIME_FLOOR(__time, 'PT1H') -- hourly\n"
        'CLUSTERED BY "city" -- end'
    )
    result = run(loaded, {"type": "sql", "query": query}, {})
    assert (result.error_code, result.rows_persisted) == (None, 4)
    assert {r["city"] for r in loaded.table_rows("Paris")} == {"paris"}
