"""The fast paths behind event ingestion: lazy ordering in the store, plans compiled once,
compiled expressions, column type inference and cached table stats."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane, events
from airflow_provider_polaris.testing.dataplane.store import TableStore

from .conftest import batch_job, ndjson_schema, run
from .test_dataplane_events import NOW, line, streaming_job
from .test_dataplane_store import insert_rows


def test_writes_are_ordered_and_snapshots_never_change() -> None:
    store = TableStore()
    insert_rows(store, "t", [{"__time": 30, "n": 1}, {"__time": 10, "n": 2}])
    before = store.rows("t")
    insert_rows(store, "t", [{"__time": 20, "n": 3}, {"__time": 10, "n": 4}])
    assert store.count("t") == 4
    assert [r["n"] for r in before] == [2, 1]  # a reader's snapshot is immutable
    assert [r["n"] for r in store.rows("t")] == [2, 4, 3, 1]  # time order, stable on ties


def test_a_replace_is_installed_whole() -> None:
    store = TableStore()
    insert_rows(store, "t", [{"__time": t, "n": t} for t in (1, 5, 9)])
    version = store.version("t")
    snapshot = store.rows("t")
    insert_rows(store, "t", [{"__time": 6, "n": 60}], keep="outside", intervals=[(4, 8)])
    assert [r["n"] for r in snapshot] == [1, 5, 9]
    assert [r["n"] for r in store.rows("t")] == [1, 60, 9]
    assert store.version("t") > version
    assert store.delete("t", [(0, 2)]) == 1 and store.count("t") == 2


def test_a_batch_job_is_invisible_until_commit(dp: DataPlane, files: dict[str, bytes]) -> None:
    dp.ingest_events(streaming_job(target={"type": "table", "tableName": "t"}), [line(NOW, 1)])
    files["f.json"] = b'{"ts":"2024-06-01T10:00:00Z","v":2}\n{"ts":"2024-06-01T11:00:00Z","v":3}\n'
    job = batch_job(
        {
            "type": "uploaded",
            "fileList": ["f.json"],
            "inputSchema": ndjson_schema(("ts", "string"), ("v", "long")),
        },
        "t",
        [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "value", "expression": '"v"'},
        ],
    )
    result = dp.prepare_ingestion(job, read_file=files.get, table=None)
    assert len(dp.table_rows("t")) == 1
    result.commit()
    assert [r["value"] for r in dp.table_rows("t")] == [2, 3, 1]


def test_a_streaming_plan_is_compiled_once_per_spec(
    dp: DataPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    real = events.compile_stream

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr("airflow_provider_polaris.testing.dataplane.plane.compile_stream", counting)
    job = streaming_job()
    for _ in range(3):
        dp.ingest_events(job, [line(NOW, 1)])
    assert len(calls) == 1
    job["filterExpression"] = '"value" > 5'  # edited in place: the content key notices
    assert dp.ingest_events(job, [line(NOW, 1)]).rows_skipped_by_filter == 1
    dp.ingest_events(job, [line(NOW, 9)], plan_key="job-1")
    dp.ingest_events(job, [line(NOW, 9)], plan_key="job-1")
    assert len(calls) == 3


def test_events_store_time_as_plain_ints(dp: DataPlane) -> None:
    dp.ingest_events(streaming_job(), [line(NOW, 1)])
    (row,) = dp._store.rows("gateway")  # the stored form is the point here
    assert type(row["__time"]) is int  # an int subclass would keep every row in the GC


@pytest.mark.parametrize(
    ("expression", "row", "expected"),
    [
        ('"a" + 1 > 2 AND "s" LIKE \'x%\'', {"a": 2, "s": "xy"}, True),
        ('"a" / 0 IS NULL OR "missing" = 1', {"a": 1}, True),
        ('CASE WHEN "a" IN (1, 2) THEN UPPER("s") ELSE \'no\' END', {"a": 2, "s": "q"}, "Q"),
        ("CAST(\"a\" AS VARCHAR) || '!'", {"a": 7}, "7!"),
        ('"a" BETWEEN 1 AND 3 AND NOT "b"', {"a": 2, "b": False}, True),
        (
            "COALESCE(\"missing\", TIME_FORMAT(TIME_PARSE('2024-01-01T00:00:00Z')))",
            {},
            "2024-01-01T00:00:00.000Z",
        ),
    ],
)
def test_expressions_answer_on_duckdb(expression: str, row: dict[str, Any], expected: Any) -> None:
    columns = ", ".join(f'{_sql(value)} AS "{name}"' for name, value in row.items())
    columns = ", ".join(filter(None, [columns, 'NULL AS "missing"']))
    plane = DataPlane(clock=lambda: 1_700_000_000.0)
    result = plane.query(f"SELECT {expression} FROM (SELECT {columns})")
    assert result.rows == [[expected]]


def _sql(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return f"'{value}'" if isinstance(value, str) else repr(value)


def test_output_columns_of_a_table_to_table_job(dp: DataPlane, files: dict[str, bytes]) -> None:
    files["s.json"] = json.dumps({"ts": "2024-06-01T10:00:00Z", "amount": 5}).encode()
    seed = batch_job(
        {
            "type": "uploaded",
            "fileList": ["s.json"],
            "inputSchema": ndjson_schema(("ts", "string"), ("amount", "long")),
        },
        "events",
        [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "amount", "expression": '"amount"'},
        ],
    )
    run(dp, seed, files)
    rollup = batch_job(
        {"type": "table", "tableName": "events"},
        "hourly",
        [{"columnName": "revenue", "expression": 'SUM("amount")', "isAggregation": True}],
    )
    # No declared schema for "events": the stored values say amount is a long.
    columns = {c.name: (c.data_type, c.aggregate) for c in dp.output_columns(rollup)}
    assert columns == {"__time": ("timestamp", False), "revenue": ("long", True)}


def test_table_stats_are_cached_until_the_table_changes(dp: DataPlane) -> None:
    dp.ensure_table("gateway", ["value", "tag"])
    assert dp.table_stats("gateway").rows == 0
    dp.ingest_events(streaming_job(), [line(NOW, 1), line("2024-06-02T01:00:00Z", 2)])
    stats = dp.table_stats("gateway")
    assert (stats.rows, stats.segments) == (2, 2) and stats.size_bytes > 0
    assert stats.columns[:3] == ("__time", "value", "tag")
    assert dp.table_stats("gateway") is stats
    dp.ingest_events(streaming_job(), [line(NOW, 3)])
    assert dp.table_stats("gateway").rows == 3


def test_a_batch_maps_like_one_event_at_a_time(dp: DataPlane) -> None:
    """The mappings a generated per-event function used to run, now one DuckDB batch."""
    spec = streaming_job(filterExpression="\"tag\" <> 'drop'")
    spec["source"]["inputSchema"].append({"name": "n", "dataType": "long"})
    spec["mappings"] += [
        {"columnName": "tag", "expression": 'UPPER("tag")'},
        {"columnName": "n2", "expression": '"n" * 2'},
        {"columnName": "total", "expression": 'SUM("value")', "isAggregation": True},
        {"columnName": "gone", "expression": '"not_declared"'},
    ]
    table = {"schema": [{"name": "n2", "dataType": "double"}]}
    records: list[dict[str, Any]] = [
        {"time": NOW, "value": 1, "tag": "a", "n": "3", "not_declared": 1},
        {"time": NOW, "value": None, "tag": None, "n": None},  # NULL <> 'drop' is not TRUE
        {"time": NOW, "value": 2.5, "tag": "drop", "n": 1},
        {"time": NOW, "value": "x", "tag": "b", "n": 1},
    ]
    result = dp.ingest_events(spec, [json.dumps(r).encode() for r in records], table=table)
    assert result.parsed.errors == 1  # known at once, before any batch
    assert "field 'value'" in result.parsed.messages[0]
    assert (result.rows_processed, result.rows_skipped_by_filter) == (1, 2)
    assert dp.table_rows("gateway") == [
        {
            "__time": 1717243200000,
            "value": 1.0,
            "tag": "A",
            "n2": 6.0,
            "total": 1.0,
            "gone": None,
        }
    ]
