"""Unknown fields are errors at every level; ``allow_unknown_fields`` sends newer fields as given.

Also: NaN/Infinity rejected with their path, a missing root ``type`` reported as ``type``, and
secrets never in an error text.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.models import (
    PolarisSpecError,
    parse_connection_secrets,
    parse_connection_spec,
    parse_job_spec,
    parse_table_spec,
    validate_secrets_for,
)

FIXTURES = Path(__file__).parent / "fixtures"
JOBS: dict[str, dict[str, Any]] = json.loads((FIXTURES / "jobs.json").read_text())
TABLES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "tables.json").read_text())
CONNECTIONS: dict[str, dict[str, Any]] = json.loads((FIXTURES / "connections.json").read_text())
SECRET = "s3cr3t-VALUE-never-shown"


def job(name: str) -> dict[str, Any]:
    return copy.deepcopy(JOBS[name])


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0]


@pytest.mark.parametrize(
    ("name", "edit", "line"),
    [
        (
            "push_streaming",
            lambda j: j.update(readFromPont="earliest"),
            "`readFromPont`: unknown field of a streaming job; did you mean `readFromPoint`?",
        ),
        (
            "uploaded_nd_json",
            lambda j: j.update(createTableIfNotExist=True),
            "`createTableIfNotExist`: unknown field of a batch job; "
            "did you mean `createTableIfNotExists`?",
        ),
        (
            "uploaded_nd_json",
            lambda j: j.update(mapings=j.pop("mappings")),
            "`mapings`: unknown field of a batch job; did you mean `mappings`?",
        ),
        (
            "s3_uris",
            lambda j: j["source"].update(connectionNmae="x"),
            "`source.connectionNmae`: unknown field of an s3 source; "
            "did you mean `connectionName`?",
        ),
        (
            "uploaded_nd_json",
            lambda j: j["source"]["formatSettings"].update(flatenSpec={}),
            "`source.formatSettings.flatenSpec`: unknown field of nd-json formatSettings; "
            "did you mean `flattenSpec`?",
        ),
        (
            "inline_avro",
            lambda j: j["source"]["formatSettings"]["parseSchemaProvider"].update(schemas={}),
            "`source.formatSettings.parseSchemaProvider.schemas`: unknown field of an "
            "inline-avro parseSchemaProvider; did you mean `schema`?",
        ),
        (
            "uploaded_nd_json",
            lambda j: j["target"].update(tablename="t"),
            "`target.tablename`: unknown field of a job target; did you mean `tableName`?",
        ),
        (
            "uploaded_nd_json",
            lambda j: j["mappings"][0].update(isAggregate=True),
            "`mappings[0].isAggregate`: unknown field of a mapping; did you mean `isAggregation`?",
        ),
        (
            "uploaded_nd_json",
            lambda j: j["source"]["inputSchema"][0].update(datatype="string"),
            "`source.inputSchema[0].datatype`: unknown field of an inputSchema field; "
            "did you mean `dataType`?",
        ),
        (
            "sql_insert",
            lambda j: j.update(contxt={}),
            "`contxt`: unknown field of a sql job; did you mean `context`?",
        ),
    ],
)
def test_typos_name_path_and_closest_field(name: str, edit: Any, line: str) -> None:
    spec = job(name)
    edit(spec)
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(spec)
    assert line in first_line(info.value)
    assert info.value.unknown_fields == [info.value.paths[0]]
    assert "allow_unknown_fields=[" in str(info.value)  # the escape hatch is named


def test_snake_case_spellings_of_known_fields_are_fine() -> None:
    spec = parse_job_spec(
        {
            "type": "streaming",
            "read_from_point": "earliest",
            "create_table_if_not_exists": True,
            "target": {"table_name": "t"},
            "source": {
                "type": "connection",
                "connection_name": "c",
                "input_schema": [{"name": "ts", "data_type": "long"}],
                "format_settings": {"format": "nd-json", "flatten_spec": {}},
            },
            "mappings": [{"column_name": "__time", "expression": 'MILLIS_TO_TIMESTAMP("ts")'}],
        }
    )
    assert spec.to_api()["readFromPoint"] == "earliest"


def test_unknown_field_without_close_match_lists_known_fields() -> None:
    spec = job("drop_table")
    spec["zzz"] = 1
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(spec)
    assert "known fields: `softDelete`, `target`, `type`" in first_line(info.value)


@pytest.mark.parametrize(
    ("table", "path", "words"),
    [
        ({"name": "t", "type": "detail", "partitioningGranularty": "day"}, "partitioningGranularty",
         "did you mean `partitioningGranularity`?"),
        ({"name": "t", "type": "detail", "schema": [{"name": "a", "dataType": "string",
          "nullable": True}]}, "schema[0].nullable", "unknown field of a table schema column"),
        ({"name": "t", "type": "detail", "storagePolicy": {"retian": {"type": "period"}}},
         "storagePolicy.retian", "did you mean `retain`?"),
        ({"name": "t", "type": "aggregate", "queryGranularity": {"type": "simple",
          "granularty": "hour"}}, "queryGranularity.granularty", "did you mean `granularity`?"),
    ],
)  # fmt: skip
def test_table_typos(table: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(PolarisSpecError) as info:
        parse_table_spec(table)
    assert info.value.paths == [path]
    assert words in first_line(info.value)


def test_connection_and_secrets_typos_never_show_secret_values() -> None:
    body = copy.deepcopy(CONNECTIONS["kafka_sasl_plain"])
    body["topicNme"] = "t"
    body["secrets"] = {"type": "sasl_plain", "username": "u", "password": SECRET, "pasword": SECRET}
    with pytest.raises(PolarisSpecError) as info:
        parse_connection_spec(body)
    assert set(info.value.paths) == {"topicNme"}  # the connection level is checked first
    del body["topicNme"]
    with pytest.raises(PolarisSpecError) as info:
        parse_connection_spec(body)
    assert info.value.paths == ["secrets.pasword"]
    assert "did you mean `password`?" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.errors)


def test_allow_unknown_fields_by_path_sends_them_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = job("s3_uris")
    spec["source"]["someNewField"] = {"x": 1}
    spec["mappings"][0]["comment"] = "n"
    spec["newTopLevel"] = [1]
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(spec, allow_unknown_fields=["source.someNewField"])
    assert set(info.value.paths) == {"newTopLevel"}
    allow = ["source.someNewField", "mappings.comment", "newTopLevel"]
    with caplog.at_level(logging.WARNING, logger="airflow_provider_polaris.models._strict"):
        body = parse_job_spec(spec, allow_unknown_fields=allow).to_api()
    assert body == spec
    warned = sorted(r.getMessage() for r in caplog.records)
    assert warned == [
        "sending unknown field `mappings[0].comment` as given (allow_unknown_fields)",
        "sending unknown field `newTopLevel` as given (allow_unknown_fields)",
        "sending unknown field `source.someNewField` as given (allow_unknown_fields)",
    ]
    # The allowed field survives a round trip through the model.
    again = parse_job_spec(body, allow_unknown_fields=True).to_api()
    assert again == spec


def test_allow_all_unknown_fields_in_secrets_never_logs_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = {"type": "basic", "username": "u", "password": SECRET, "newToken": SECRET}
    with caplog.at_level(logging.DEBUG):
        secrets = parse_connection_secrets(raw, allow_unknown_fields=True)
    assert secrets.to_api() == raw
    assert "newToken" in caplog.text and SECRET not in caplog.text
    assert SECRET not in repr(secrets)
    registry = parse_connection_spec(CONNECTIONS["schema_registry"])
    with pytest.raises(PolarisSpecError) as info:
        validate_secrets_for(registry, raw)
    assert info.value.paths == ["secrets.newToken"]
    parsed = validate_secrets_for(registry, raw, allow_unknown_fields=["secrets.newToken"])
    assert parsed is not None and parsed.to_api() == raw


def test_allow_unknown_fields_on_tables_and_connections() -> None:
    table = {"name": "t", "type": "detail", "storagePolicy": {"retain": {"type": "period",
             "period": "P1D", "tier": "hot"}}}  # fmt: skip
    assert parse_table_spec(table, allow_unknown_fields=["storagePolicy.retain.tier"]).to_api() == (
        table
    )
    conn = copy.deepcopy(CONNECTIONS["kinesis"]) | {"region": "x"}
    assert parse_connection_spec(conn, allow_unknown_fields=["region"]).to_api() == conn


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_rejected_with_their_path(bad: float) -> None:
    spec = job("sql_insert")
    spec["context"] = {"maxNumTasks": bad}
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(spec)
    assert info.value.paths == ["context.maxNumTasks"]
    assert "NaN and Infinity are not valid JSON numbers" in str(info.value)
    spec = job("inline_avro")
    spec["source"]["formatSettings"]["parseSchemaProvider"]["schema"]["default"] = bad
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(spec)
    assert info.value.paths == ["source.formatSettings.parseSchemaProvider.schema.default"]
    with pytest.raises(PolarisSpecError) as info:
        parse_connection_secrets({"type": "basic", "username": "u", "password": bad})
    assert info.value.paths == ["password"]


def test_nan_in_a_model_is_rejected_before_it_turns_into_null() -> None:
    spec = parse_job_spec(job("sql_insert"))
    spec.context = {"x": [1.0, math.nan]}  # assignment is not validated
    with pytest.raises(PolarisSpecError) as info:
        parse_job_spec(spec)
    assert info.value.paths == ["context.x[1]"]


def test_missing_root_type_is_reported_as_type() -> None:
    for parse in (parse_job_spec, parse_connection_spec, parse_connection_secrets):
        with pytest.raises(PolarisSpecError) as info:
            parse({"name": "x"})  # type: ignore[operator]
        assert info.value.paths == ["type"], parse


@pytest.mark.parametrize(
    "secrets",
    [
        {"type": {"password": SECRET}},
        {"type": [SECRET]},
        {"type": SECRET},
        {"type": "basic", "username": {"v": SECRET}, "password": SECRET},
        {"type": "basic", "username": "u", "password": [SECRET]},
        {"type": "sasl_scram", "mechanism": SECRET, "username": "u", "password": SECRET},
        {"type": "sas_token", "sasToken": SECRET},
        {"type": "basic", "username": "u", "password": SECRET, SECRET[:5]: 1},
    ],
)
def test_malformed_secrets_never_echo_the_secret(secrets: dict[str, Any]) -> None:
    for parse in (
        lambda: parse_connection_secrets(secrets),
        lambda: parse_connection_spec(CONNECTIONS["schema_registry"] | {"secrets": secrets}),
    ):
        with pytest.raises(PolarisSpecError) as info:
            parse()
        text = str(info.value) + repr(info.value.errors)
        assert SECRET not in text
        assert info.value.__context__ is None and info.value.__cause__ is None
        assert all(path for path in info.value.paths)


@pytest.mark.parametrize(
    ("table", "path", "words"),
    [
        ({"name": "t", "type": "detail", "schema": [{"name": "a", "dataType": "strng"}]},
         "schema[0].dataType", "did you mean 'string'?"),
        ({"name": "t", "type": "detail", "partitioningGranularity": "week"},
         "partitioningGranularity", "deprecated"),
        ({"name": "t", "type": "detail", "partitioningGranularity": "dya"},
         "partitioningGranularity", "did you mean 'day'?"),
        ({"name": "t", "type": "aggregate", "timeResolution": "hourly"},
         "timeResolution", "did you mean 'hour'?"),
        ({"name": "t", "type": "detail", "timeResolution": "hour"},
         "timeResolution", "only aggregate tables have timeResolution"),
        ({"name": "t", "type": "detail", "queryGranularity": {"type": "simple",
          "granularity": "hour"}}, "queryGranularity", "only aggregate tables"),
        ({"name": "t", "type": "aggregate", "queryGranularity": {"type": "simple",
          "granularity": "hours"}}, "queryGranularity.granularity", "did you mean 'hour'?"),
        ({"name": "t", "type": "detail", "schema": [{"name": "a", "dataType": "string",
          "type": "dimension"}]}, "schema[0].type", "detail table columns have no"),
        ({"name": "t", "type": "aggregate", "schema": [{"name": "a", "dataType": "string"}]},
         "schema[0].type", '"dimension" or "measure"'),
        ({"name": "t", "type": "detail", "schema": [{"name": "a", "dataType": "string"},
          {"name": "a", "dataType": "long"}]}, "schema[1].name", "listed twice"),
        ({"name": "t", "type": "detail", "storagePolicy": {"retain": {"type": "forever"}}},
         "storagePolicy.retain.type", "'period' or 'intervals'"),
        ({"name": "a/b", "type": "detail"}, "name", "'/'"),
        ({"name": "t", "type": "details"}, "type", "did you mean 'detail'?"),
    ],
)  # fmt: skip
def test_table_rules(table: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(PolarisSpecError) as info:
        parse_table_spec(table)
    assert info.value.paths == [path]
    assert words in str(info.value)


def test_aggregate_time_column_needs_no_type() -> None:
    table = {
        "name": "t",
        "type": "aggregate",
        "schema": [
            {"name": "__time", "dataType": "timestamp"},
            {"name": "n", "dataType": "long", "type": "measure"},
        ],
    }
    assert parse_table_spec(table).to_api() == table
