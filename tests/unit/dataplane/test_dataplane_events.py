"""Streaming events: mapping, filters, late/early rejection, bad lines, schema discovery."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_polaris.testing.dataplane import DataPlane
from airflow_provider_polaris.testing.dataplane.timeutil import parse_timestamp

NOW = "2024-06-01T12:00:00Z"  # the conftest clock


def streaming_job(**extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "type": "streaming",
        "target": {"type": "table", "tableName": "gateway"},
        "source": {
            "type": "connection",
            "connectionName": "gateway",
            "inputSchema": [
                {"name": "time", "dataType": "string"},
                {"name": "value", "dataType": "double"},
                {"name": "tag", "dataType": "string"},
            ],
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("time")'},
            {"columnName": "value", "expression": '"value"'},
        ],
    }
    job.update(extra)
    return job


def line(time: str, value: Any = 1, **fields: Any) -> bytes:
    return json.dumps({"time": time, "value": value, **fields}).encode()


def test_events_are_mapped_and_appended(dp: DataPlane) -> None:
    result = dp.ingest_events(streaming_job(), [line(NOW, 2), line("2024-06-01T11:00:00Z", "3.5")])
    assert (result.rows_processed, result.rows_skipped_by_error) == (2, 0)
    assert dp.table_rows("gateway") == [
        {"__time": 1717239600000, "value": 3.5},
        {"__time": 1717243200000, "value": 2.0},
    ]
    dp.ingest_events(streaming_job(), [line(NOW, 1)])
    assert len(dp.table_rows("gateway")) == 3
    assert dp.query('SELECT COUNT(*) FROM "gateway"', None).rows == [[3]]


def test_late_and_early_events_are_filtered(dp: DataPlane) -> None:
    lines = [
        line("2024-04-01T00:00:00Z"),  # 61 days old: older than P30D
        line("2024-05-15T00:00:00Z"),  # fine
        line("2035-01-01T00:00:00Z"),  # further ahead than P2000D (about 5.5 years)
    ]
    result = dp.ingest_events(streaming_job(), lines)
    assert (result.rows_processed, result.rows_skipped_by_filter) == (1, 2)
    custom = streaming_job(lateMessageRejectionPeriod="P90D", earlyMessageRejectionPeriod="PT1H")
    result = dp.ingest_events(custom, [*lines, line("2024-06-01T12:30:00Z")])
    assert (result.rows_processed, result.rows_skipped_by_filter) == (3, 1)


def test_bad_lines_and_null_times_are_errors(dp: DataPlane) -> None:
    result = dp.ingest_events(
        streaming_job(),
        [b"not json", line("no time"), line(NOW, "NaN-ish"), line(NOW), b""],
    )
    assert (result.rows_processed, result.rows_skipped_by_error) == (1, 3)
    assert result.messages


def test_filter_expression(dp: DataPlane) -> None:
    job = streaming_job(filterExpression="\"tag\" = 'keep'")
    result = dp.ingest_events(job, [line(NOW, tag="keep"), line(NOW, tag="drop"), line(NOW)])
    assert (result.rows_processed, result.rows_skipped_by_filter) == (1, 2)


def test_schema_discovery_keeps_fields_except_exclusions(dp: DataPlane) -> None:
    job = streaming_job(useSchemaDiscovery=True, dimensionExclusions=["secret"])
    job["source"].pop("inputSchema")
    job["mappings"] = [{"columnName": "__time", "expression": 'TIME_PARSE("time")'}]
    dp.ingest_events(job, [line(NOW, 5, secret="x", country="NO")])
    assert dp.table_rows("gateway") == [{"__time": 1717243200000, "value": 5, "country": "NO"}]


def test_aggregate_target_gets_count(dp: DataPlane) -> None:
    job = streaming_job()
    job["mappings"].append({"columnName": "total", "expression": 'SUM("value")'})
    table = {"type": "aggregate", "timeResolution": "hour"}
    dp.ingest_events(job, [line("2024-06-01T11:42:00Z", 4)], table=table)
    assert dp.table_rows("gateway") == [
        {"__time": 1717239600000, "value": 4.0, "total": 4.0, "__count": 1}
    ]


def test_invalid_spec_counts_every_line_as_error(dp: DataPlane) -> None:
    job = streaming_job(filterExpression="SUM(")
    result = dp.ingest_events(job, [line(NOW), line(NOW)])
    assert result.rows_skipped_by_error == 2
    assert not dp.has_table_data("gateway")


def test_reset_and_drop(dp: DataPlane) -> None:
    dp.ingest_events(streaming_job(), [line(NOW)])
    dp.drop_table("gateway")
    assert not dp.has_table_data("gateway")
    dp.ingest_events(streaming_job(), [line(NOW)])
    dp.reset()
    assert dp.table_rows("gateway") == []


def test_each_push_is_judged_against_its_own_time_within_one_batch() -> None:
    now = [parse_timestamp(NOW) / 1000]
    dp = DataPlane(clock=lambda: now[0])
    job = streaming_job(lateMessageRejectionPeriod="PT1H", earlyMessageRejectionPeriod="PT1H")
    first = dp.ingest_events(job, [line("2024-06-01T11:30:00Z", 1)])  # 30 min old: accepted
    now[0] += 2 * 3600  # two hours later, the same event is too late; a 13:30 event is fine
    second = dp.ingest_events(
        job, [line("2024-06-01T11:30:00Z", 2), line("2024-06-01T13:30:00Z", 3)]
    )
    third = dp.ingest_events(job, [line("2024-06-01T16:00:00Z", 4)])  # 2 h ahead: too early
    # Nothing has read the table: all three pushes are mapped in one batch now.
    assert [r["value"] for r in dp.table_rows("gateway")] == [1.0, 3.0]
    assert (first.rows_processed, first.rows_skipped_by_filter) == (1, 0)
    assert (second.rows_processed, second.rows_skipped_by_filter) == (1, 1)
    assert (third.rows_processed, third.rows_skipped_by_filter) == (0, 1)


def test_an_aggregate_target_gets_count_one_per_event_and_bucketed_times(dp: DataPlane) -> None:
    job = streaming_job()
    job["mappings"] += [
        {"columnName": "total", "expression": 'SUM("value")'},
        {"columnName": "events", "expression": "COUNT(*)"},
        {"columnName": "top", "expression": 'MAX("value") * 10'},
    ]
    table = {"type": "aggregate", "timeResolution": "hour"}
    stamps = ["2024-06-01T10:05:00Z", "2024-06-01T10:55:00Z", "2024-06-01T11:00:00Z"]
    dp.ingest_events(job, [line(t, i + 1) for i, t in enumerate(stamps)], table=table)
    rows = dp.table_rows("gateway")
    hour = 3_600_000
    assert [r["__time"] % hour for r in rows] == [0, 0, 0]  # floored to the hour
    assert [(r["total"], r["events"], r["top"], r["__count"]) for r in rows] == [
        (1.0, 1, 10.0, 1),
        (2.0, 1, 20.0, 1),
        (3.0, 1, 30.0, 1),
    ]
    total = dp.query('SELECT SUM("__count"), COUNT(DISTINCT "__time") FROM "gateway"', None)
    assert total.rows == [[3, 2]]


def test_a_query_right_after_a_push_sees_its_rows(dp: DataPlane) -> None:
    dp.ingest_events(streaming_job(), [line(NOW, 7)])
    assert dp.query('SELECT SUM("value") FROM "gateway"', None).rows == [[7.0]]
    dp.ingest_events(streaming_job(), [line(NOW, 8)])
    assert dp.table_stats("gateway").rows == 2


def test_batches_start_at_the_bound_and_the_callback_gets_the_counts(dp: DataPlane) -> None:
    dp._events.bound = 5  # the batcher's setting; the default is 20,000 events
    got: list[tuple[int, int, int]] = []

    def counted(counts: Any) -> None:
        got.append((counts.processed, counts.errors, counts.filtered))

    job = streaming_job(filterExpression='"value" < 100')
    for value in (1, 2, 200):
        dp.ingest_events(job, [line(NOW, value), line("no time", value)], on_batch=counted)
    # 6 staged events passed the bound of 5: one batch of the three pushes, without a read.
    assert got == [(2, 2, 2)]  # both events of value 200 fail the filter before any time check
    assert dp._store.rows("gateway")  # already written


def test_an_event_failing_at_run_time_is_one_error_and_the_rest_are_written(dp: DataPlane) -> None:
    job = streaming_job()
    job["source"]["inputSchema"].append({"name": "n", "dataType": "long"})
    job["mappings"].append({"columnName": "big", "expression": '"n" * 4611686018427387904'})
    lines = [line(NOW, i, n=1) for i in range(6)] + [line(NOW, 9, n=4)]  # 4 * 2^62 overflows
    result = dp.ingest_events(job, lines)
    assert (result.rows_processed, result.rows_skipped_by_error) == (6, 1)
    assert "Overflow" in result.messages[0]
    assert sorted(r["value"] for r in dp.table_rows("gateway")) == [0, 1, 2, 3, 4, 5]


def test_a_spec_that_cannot_bind_makes_every_event_an_error(dp: DataPlane) -> None:
    job = streaming_job()
    job["mappings"].append({"columnName": "x", "expression": 'NO_SUCH_FUNCTION("value")'})
    result = dp.ingest_events(job, [line(NOW), line(NOW)])
    assert result.rows_skipped_by_error == 2
    assert result.messages[0].startswith("invalid streaming job spec: ")
    assert not dp.has_table_data("gateway")


def test_raw_and_typed_lines_of_one_push_keep_their_order_and_types(dp: DataPlane) -> None:
    job = streaming_job()
    job["mappings"].append({"columnName": "tag", "expression": '"tag"'})
    lines = [
        line(NOW, 1.5, tag="a", extra={"x": 1}),  # already typed: staged as the line itself
        line(NOW, "2", tag={"k": [1]}),  # typed in Python: "2" -> 2.0, the object -> its JSON
        line(NOW, 3.5, tag=None),
        b'{"time": "2024-06-01T12:00:00Z", "value": 4.5, "tag": "d", "tag": "e"}',
    ]
    assert dp.ingest_events(job, lines).rows_processed == 4
    assert [(r["value"], r["tag"]) for r in dp.table_rows("gateway")] == [
        (1.5, "a"),
        (2.0, '{"k":[1]}'),
        (3.5, None),
        (4.5, "e"),  # a repeated key: the last one wins, as in Python's json
    ]
