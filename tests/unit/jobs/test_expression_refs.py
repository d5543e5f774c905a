"""The fields a job's expressions name (models/_references.py) and the check before the create."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.models._references import (
    SourceFields,
    expression_references,
    input_schema_fields,
    quoted_identifiers,
    table_fields,
    unknown_reference,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from job_helpers import make_context, posts


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"city"', ["city"]),
        ("TIME_FLOOR(\"__time\", 'PT1H')", ["__time"]),
        ('SUM("amount") + "amount" * "tax"', ["amount", "tax"]),
        ("COUNT(*)", []),
        # identifiers inside string literals are text, not fields
        ('"country" = \'say "hi"\'', ["country"]),
        # '' is a quote inside a literal: the literal goes on past it
        ("'it''s \"not\" a field' || \"name\"", ["name"]),
        # "" is a quote inside an identifier
        ('"say ""hi""" || "x"', ['say "hi"', "x"]),
        ('"a" -- "comment"\n + "b" /* "c" */', ["a", "b"]),
        ("LOWER(city)", []),  # unquoted names are not checked
        ('"unterminated', ["unterminated"]),
        ('\'unterminated "x"', []),
    ],
)
def test_quoted_identifiers(expression: str, expected: list[str]) -> None:
    assert quoted_identifiers(expression) == expected


def test_expression_references_lists_paths_and_leaves_time_out() -> None:
    body = {
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "t", "expression": '"__time"'},
            {"columnName": "c", "expression": 'UPPER("city") || \'x"y\''},
        ],
        "filterExpression": "\"country\" = 'US'",
    }
    assert expression_references(body) == [
        ("mappings[0].expression", "ts"),
        ("mappings[2].expression", "city"),
        ("filterExpression", "country"),
    ]


def test_unknown_field_names_path_declared_fields_and_closest() -> None:
    source = {
        "type": "inline",
        "inputSchema": [
            {"name": "ts", "dataType": "string"},
            {"name": "city", "dataType": "string"},
            {"name": "country", "dataType": "string"},
        ],
    }
    body = {
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "city", "expression": '"cty"'},
        ]
    }
    fields = input_schema_fields(source)
    assert fields is not None
    assert unknown_reference(body, fields) == (
        'mappings[2].expression: "cty" is not a field of the source (inputSchema declares: '
        'ts, city, country); did you mean "city"?'
    )


def test_no_close_match_says_how_to_fix() -> None:
    fields = SourceFields(("a", "b"), "inputSchema declares")
    message = unknown_reference({"filterExpression": '"zzzz" > 1'}, fields)
    assert message is not None
    assert message.startswith('filterExpression: "zzzz" is not a field of the source')
    assert message.endswith("check the spelling, or declare the field in source.inputSchema")


def test_kafka_and_kinesis_columns_and_flatten_fields_are_fields() -> None:
    kafka = input_schema_fields(
        {
            "inputSchema": [{"name": "v", "dataType": "long"}],
            "formatSettings": {
                "format": "kafka",
                "timestampColumnName": "ts",
                "valueFormat": {
                    "format": "nd-json",
                    "flattenSpec": {"fields": [{"name": "nested_x", "type": "path"}]},
                },
            },
        }
    )
    assert kafka is not None
    for name in ("v", "ts", "kafka.key", "kafka.header.trace", "nested_x"):
        assert name in kafka
    assert "kafka.timestamp" not in kafka  # renamed to "ts"
    kinesis = input_schema_fields(
        {
            "inputSchema": [{"name": "v", "dataType": "long"}],
            "formatSettings": {"format": "kinesis"},
        }
    )
    assert kinesis is not None
    assert "kinesis.partitionKey" in kinesis and "kinesis.timestamp" in kinesis


def test_source_without_input_schema_has_no_declared_fields() -> None:
    assert input_schema_fields({"type": "connection", "connectionName": "c"}) is None


def test_table_fields_from_schema_and_queryable_schema() -> None:
    fields = table_fields(
        {
            "name": "events",
            "schema": [{"name": "country", "dataType": "string"}],
            "queryableSchema": [{"name": "discovered", "dataType": "string"}],
        }
    )
    assert set(fields.names) == {"__time", "country", "discovered"}
    message = unknown_reference({"mappings": [{"expression": '"contry"'}]}, fields)
    assert message == (
        'mappings[0].expression: "contry" is not a field of the source (source table "events" '
        'has columns: country, discovered); did you mean "country"?'
    )


# -- before the create: dag-free operator runs against the emulator ------------------------------
INLINE = {
    "type": "inline",
    "data": '{"ts": "2024-01-01T10:05:00Z", "city": "Paris"}\n',
    "inputSchema": [{"name": "ts", "dataType": "string"}, {"name": "city", "dataType": "string"}],
    "formatSettings": {"format": "nd-json"},
}


def _run(operator: Any) -> Any:
    return operator.execute(make_context())


def test_inline_source_typo_fails_before_any_request(emu: Any) -> None:
    from airflow_provider_polaris._compat import AirflowFailException
    from airflow_provider_polaris.operators.jobs import PolarisBatchIngestionOperator

    emu.clear_request_log()
    operator = PolarisBatchIngestionOperator(
        task_id="load",
        target_table="cities",
        source=INLINE,
        mappings=[
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "city", "expression": '"cty"'},
        ],
        create_table_if_not_exists=True,
        poll_interval=0.05,
    )
    with pytest.raises(AirflowFailException) as info:
        _run(operator)
    assert str(info.value).splitlines()[0] == (
        'mappings[1].expression: "cty" is not a field of the source (inputSchema declares: '
        'ts, city); did you mean "city"?'
    )
    assert emu.request_log() == []  # an inline schema needs no request at all


def test_literal_that_looks_like_a_field_is_left_alone(emu: Any) -> None:
    from airflow_provider_polaris.operators.jobs import PolarisBatchIngestionOperator

    operator = PolarisBatchIngestionOperator(
        task_id="load",
        target_table="cities",
        source=INLINE,
        mappings=[
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "label", "expression": '\'"cty" is \' || "city"'},
        ],
        create_table_if_not_exists=True,
        poll_interval=0.05,
    )
    job = _run(operator)
    assert job["executionStatus"] == "completed"
    assert posts(emu) == 1


def test_missing_source_table_fails_before_the_create(emu: Any) -> None:
    from airflow_provider_polaris._compat import AirflowFailException
    from airflow_provider_polaris.operators.jobs import PolarisTableToTableOperator

    emu.clear_request_log()
    operator = PolarisTableToTableOperator(
        task_id="rollup",
        source_table="evnets",
        target_table="rollup",
        mappings=[{"columnName": "country", "expression": '"country"'}],
        create_table_if_not_exists=True,
        poll_interval=0.05,
    )
    with pytest.raises(AirflowFailException) as info:
        _run(operator)
    assert str(info.value).splitlines()[0] == (
        'source.tableName: source table "evnets" does not exist (Polaris answered 404); check '
        "the name, or create and load the table before this job runs"
    )
    assert posts(emu) == 0 and emu.count_requests() == 1


def test_schema_discovery_and_sql_are_not_checked(emu: Any) -> None:
    import logging

    from airflow_provider_polaris.client import PolarisClient, PolarisConfig
    from airflow_provider_polaris.operators._intervals import check_against_tables

    streaming = {
        "type": "streaming",
        "useSchemaDiscovery": True,
        "source": {"type": "connection", "connectionName": "c", "formatSettings": {}},
        "target": {"type": "table", "tableName": "t"},
        "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("anything")'}],
    }
    sql = {"type": "sql", "query": 'INSERT INTO "t" SELECT "nope" FROM "missing"'}
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    emu.clear_request_log()
    with PolarisClient(config) as client:
        for body in (streaming, sql):
            out = check_against_tables(
                client, body, log=logging.getLogger("t"), pin_partitioning=True
            )
            assert out == body
    assert emu.request_log() == []
