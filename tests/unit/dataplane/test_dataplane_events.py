"""Streaming events: mapping, filters, late/early rejection, bad lines, schema discovery."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_polaris.testing.dataplane import DataPlane

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
