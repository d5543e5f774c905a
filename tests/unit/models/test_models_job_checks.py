"""Each job-spec check names the wire field path and says the fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_polaris.models import PolarisSpecError, parse_job_spec

TIME = {"columnName": "__time", "expression": 'TIME_PARSE("ts")'}
SCHEMA = [{"name": "ts", "dataType": "string"}]


def batch(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "batch",
        "source": {
            "type": "uploaded",
            "fileList": ["a.json"],
            "inputSchema": copy.deepcopy(SCHEMA),
            "formatSettings": {"format": "nd-json"},
        },
        "target": {"type": "table", "tableName": "t"},
        "mappings": [dict(TIME)],
    }
    spec.update(overrides)
    return spec


def streaming(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "streaming",
        "source": {
            "type": "connection",
            "connectionName": "k1",
            "inputSchema": copy.deepcopy(SCHEMA),
            "formatSettings": {"format": "nd-json"},
        },
        "target": {"type": "table", "tableName": "t"},
        "mappings": [dict(TIME)],
    }
    spec.update(overrides)
    return spec


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(data)
    return dict(info.value.errors)


def test_error_reads_like_the_contract() -> None:
    source = batch()["source"]
    source["formatSettings"] = {"format": "avro_stream"}
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(batch(source=source))
    assert str(info.value) == (
        "Invalid Polaris job spec: source.formatSettings.parseSchemaProvider: avro_stream needs a "
        'parseSchemaProvider — add {"type": "inline-avro", "schema": {...}} or '
        '{"type": "connection", "connectionName": ...} (a schema registry connection)'
    )
    assert isinstance(info.value, ValueError)
    assert info.value.paths == ["source.formatSettings.parseSchemaProvider"]


def test_several_problems_are_listed_together() -> None:
    spec = batch(mappings=[{"columnName": "a", "expression": ""}], partitionedBy="daily")
    spec["source"]["inputSchema"][0]["dataType"] = "text"
    found = problems(spec)
    assert set(found) == {
        "mappings[0].expression",
        "partitionedBy",
        "source.inputSchema[0].dataType",
    }
    assert "(3 problems)" in str(PolarisSpecError(list(found.items())))


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        (batch(mappings=[{"columnName": "x", "expression": '"x"'}]), "mappings", '"__time"'),
        (batch(mappings=None), "mappings", "__time"),
        (streaming(mappings=[{"columnName": "__TIME", "expression": "x"}]), "mappings", "__time"),
        (
            streaming(useSchemaDiscovery=True, mappings=[]),
            "mappings",
            "TIME_PARSE",
        ),
    ],
)
def test_time_must_be_mapped(spec: dict[str, Any], path: str, words: str) -> None:
    assert words in problems(spec)[path]


def test_table_to_table_may_skip_time_mapping() -> None:
    spec = batch(source={"type": "table", "tableName": "src"}, mappings=None)
    assert parse_job_spec(spec).to_api()["source"] == {"type": "table", "tableName": "src"}


def test_table_into_itself_is_allowed() -> None:
    parse_job_spec(batch(source={"type": "table", "tableName": "t"}))


def test_enum_errors_list_allowed_values() -> None:
    message = problems(batch(ingestionMode="upsert"))["ingestionMode"]
    assert "'append' or 'replace'" in message and "'upsert'" in message
    message = problems(streaming(readFromPoint="start"))["readFromPoint"]
    assert "'earliest' or 'latest'" in message
    spec = batch()
    spec["source"]["inputSchema"][0]["dataType"] = "text"
    message = problems(spec)["source.inputSchema[0].dataType"]
    assert "'string'" in message and "'thetaSketch'" in message and "'text'" in message


def test_partitioned_by_week_is_rejected_with_advice() -> None:
    assert 'use "day" or "month"' in problems(batch(partitionedBy="week"))["partitionedBy"]
    assert "'five_minute'" in problems(batch(partitionedBy="weekly"))["partitionedBy"]


@pytest.mark.parametrize(
    ("field", "value", "path", "words"),
    [
        ("type", "bulk", "type", "one of batch, streaming, sql, delete_data"),
        ("source", {"type": "file"}, "source.type", "one of uploaded, table, s3, azure, inline"),
        ("source", {"fileList": ["a"]}, "source.type", '"type" is required'),
    ],
)
def test_unknown_or_missing_tags(field: str, value: Any, path: str, words: str) -> None:
    assert words in problems(batch(**{field: value}))[path]


def test_unknown_format_lists_formats() -> None:
    spec = batch()
    spec["source"]["formatSettings"] = {"format": "json"}
    message = problems(spec)["source.formatSettings.format"]
    assert "'json' is not a known format" in message and "nd-json" in message


def test_missing_required_field_named() -> None:
    spec = batch()
    del spec["source"]["fileList"]
    assert problems(spec) == {"source.fileList": "required field is missing"}
    assert "target" in problems({"type": "drop_table"})


class TestIntervals:
    def test_append_with_intervals(self) -> None:
        spec = batch(target={"tableName": "t", "intervals": ["2022-06-01/2022-06-09"]})
        assert "ingestionMode" in problems(spec)["target.intervals"]

    def test_empty_intervals_list_is_like_none(self) -> None:
        parse_job_spec(batch(target={"tableName": "t", "intervals": []}))

    def test_replace_needs_intervals_or_replace_all(self) -> None:
        assert "replaceAll" in problems(batch(ingestionMode="replace"))["target.intervals"]

    def test_replace_all_with_intervals(self) -> None:
        spec = batch(
            ingestionMode="replace",
            replaceAll=True,
            target={"tableName": "t", "intervals": ["2022-06-01/2022-06-09"]},
        )
        assert "can't be combined" in problems(spec)["replaceAll"]

    def test_replace_all_needs_replace(self) -> None:
        assert '"replace"' in problems(batch(replaceAll=True))["replaceAll"]

    def test_streaming_takes_no_intervals(self) -> None:
        spec = streaming(target={"tableName": "t", "intervals": ["2022-06-01/2022-06-09"]})
        assert "remove target.intervals" in problems(spec)["target.intervals"]

    @pytest.mark.parametrize(
        "interval",
        ["2022-06-09/2022-06-01", "2022-06-01/2022-06-01", "2022-06-01", "2022-13-01/2022-14-01"],
    )
    def test_bad_target_interval(self, interval: str) -> None:
        spec = batch(ingestionMode="replace", target={"tableName": "t", "intervals": [interval]})
        assert repr(interval) in problems(spec)["target.intervals[0]"]

    def test_bad_source_interval(self) -> None:
        spec = batch(source={"type": "table", "tableName": "s", "interval": "2022-06-02/P0D"})
        assert "empty" in problems(spec)["source.interval"]


class TestSources:
    def test_streaming_reads_a_connection(self) -> None:
        spec = streaming(source={"type": "s3", "connectionName": "x"})
        assert problems(spec) == {
            "source.type": 'streaming jobs read from a Polaris connection; use {"type": '
            '"connection", "connectionName": ...} (got \'s3\')'
        }

    @pytest.mark.parametrize(
        "selectors",
        [{}, {"uris": ["s3://b/a"], "prefixes": ["p/"]}, {"pattern": "*.json", "objects": ["a"]}],
    )
    @pytest.mark.parametrize("store", ["s3", "azure"])
    def test_exactly_one_object_selector(self, store: str, selectors: dict[str, Any]) -> None:
        source = {
            "type": store,
            "connectionName": "c",
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
            **selectors,
        }
        assert (
            "exactly one of uris, prefixes, objects or pattern"
            in problems(batch(source=source))["source"]
        )

    def test_input_schema_needed_without_schema_discovery(self) -> None:
        spec = streaming()
        del spec["source"]["inputSchema"]
        assert "useSchemaDiscovery" in problems(spec)["source.inputSchema"]
        parse_job_spec({**spec, "useSchemaDiscovery": True})

    def test_streaming_csv_needs_columns_and_no_header_rows(self) -> None:
        spec = streaming()
        spec["source"]["formatSettings"] = {
            "format": "kafka",
            "valueFormat": {"format": "csv", "skipHeaderRows": 1},
        }
        found = problems(spec)
        assert set(found) == {
            "source.formatSettings.valueFormat.columns",
            "source.formatSettings.valueFormat.skipHeaderRows",
        }

    def test_kafka_format_needs_value_format(self) -> None:
        spec = streaming()
        spec["source"]["formatSettings"] = {"format": "kafka"}
        assert problems(spec) == {"source.formatSettings.valueFormat": "required field is missing"}

    def test_protobuf_needs_provider_and_base64(self) -> None:
        spec = streaming()
        spec["source"]["formatSettings"] = {"format": "protobuf"}
        assert "inline-protobuf" in problems(spec)["source.formatSettings.parseSchemaProvider"]
        spec["source"]["formatSettings"]["parseSchemaProvider"] = {
            "type": "inline-protobuf",
            "descriptor": "not base64!",
        }
        message = problems(spec)["source.formatSettings.parseSchemaProvider.descriptor"]
        assert "base64" in message

    def test_bad_connection_name(self) -> None:
        spec = streaming()
        spec["source"]["connectionName"] = "my connection"
        assert "1-64 characters" in problems(spec)["source.connectionName"]

    def test_bad_table_name(self) -> None:
        assert "'/'" in problems(batch(target={"tableName": "a/b"}))["target.tableName"]


class TestStreamingFields:
    def test_rejection_periods_are_durations(self) -> None:
        found = problems(streaming(lateMessageRejectionPeriod="30 days"))
        assert "ISO-8601 duration" in found["lateMessageRejectionPeriod"]

    def test_max_parse_exceptions_not_negative(self) -> None:
        assert "maxParseExceptions" in problems(streaming(maxParseExceptions=-1))


class TestSql:
    @pytest.mark.parametrize(
        "query",
        ["SELECT 1", "  -- INSERT INTO x\nSELECT 1", "/* REPLACE */ WITH a AS (SELECT 1) SELECT 1"],
    )
    def test_query_must_insert_or_replace(self, query: str) -> None:
        assert "INSERT INTO or REPLACE INTO" in problems({"type": "sql", "query": query})["query"]

    def test_empty_query(self) -> None:
        assert "must not be empty" in problems({"type": "sql", "query": " -- nothing\n"})["query"]

    def test_lower_case_after_comments_is_fine(self) -> None:
        parse_job_spec({"type": "sql", "query": "/* a */\n-- b\n  insert into t select 1"})


class TestDataManagement:
    def test_delete_needs_intervals_or_delete_all(self) -> None:
        spec = {"type": "delete_data", "target": {"tableName": "t"}}
        assert "deleteAll" in problems(spec)["target.intervals"]

    def test_delete_not_both(self) -> None:
        spec = {
            "type": "delete_data",
            "deleteAll": True,
            "target": {"tableName": "t", "intervals": ["2022-01-01/2022-02-01"]},
        }
        assert "remove one of them" in problems(spec)["deleteAll"]

    def test_drop_and_restore_take_no_target_intervals(self) -> None:
        target = {"tableName": "t", "intervals": ["2022-01-01/2022-02-01"]}
        assert "target.intervals" in problems({"type": "drop_table", "target": target})
        restore = problems({"type": "restore_data", "target": target})
        assert '"interval"' in restore["target.intervals"]

    def test_restore_interval_checked(self) -> None:
        spec = {"type": "restore_data", "target": {"tableName": "t"}, "interval": "yesterday"}
        assert "ISO-8601 interval" in problems(spec)["interval"]


def test_not_a_mapping() -> None:
    with pytest.raises(PolarisSpecError, match="expected a JSON object"):
        parse_job_spec("batch")  # type: ignore[arg-type]
