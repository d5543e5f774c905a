"""Every documented example body parses and renders back to the same wire JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.models import (
    BatchJobSpec,
    ConnectionSecrets,
    ConnectionSpec,
    JobSpec,
    PolarisSpecError,
    TableSpec,
    parse_connection_secrets,
    parse_connection_spec,
    parse_job_spec,
    parse_table_spec,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name: str) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((FIXTURES / name).read_text())
    return data


JOBS = _load("jobs.json")
CONNECTIONS = _load("connections.json")
SECRETS = _load("secrets.json")
TABLES = _load("tables.json")


@pytest.mark.parametrize("name", sorted(JOBS))
def test_job_examples_round_trip(name: str) -> None:
    spec = parse_job_spec(JOBS[name])
    assert isinstance(spec, JobSpec)
    assert spec.job_type == JOBS[name]["type"]
    assert spec.to_api() == JOBS[name]
    # Parsing the rendered body again is stable.
    assert parse_job_spec(spec.to_api()).to_api() == JOBS[name]


@pytest.mark.parametrize("name", sorted(CONNECTIONS))
def test_connection_examples_round_trip(name: str) -> None:
    spec = parse_connection_spec(CONNECTIONS[name])
    assert isinstance(spec, ConnectionSpec)
    assert spec.to_api() == CONNECTIONS[name]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secrets_examples_round_trip(name: str) -> None:
    secrets = parse_connection_secrets(SECRETS[name])
    assert isinstance(secrets, ConnectionSecrets)
    assert secrets.to_api() == SECRETS[name]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_examples_round_trip(name: str) -> None:
    spec = parse_table_spec(TABLES[name])
    assert isinstance(spec, TableSpec)
    assert spec.to_api() == TABLES[name]


def test_target_table_helpers() -> None:
    assert parse_job_spec(JOBS["table_to_table_rollup"]).target_table == "Koalas Rollup"
    assert parse_job_spec(JOBS["drop_table"]).target_table == "t"
    assert parse_job_spec(JOBS["sql_insert"]).target_table == "t"
    sql = {
        "type": "sql",
        "query": "/* nightly */ -- x\n replace into my_table OVERWRITE ALL SELECT 1",
    }
    assert parse_job_spec(sql).target_table == "my_table"


def test_job_response_can_be_resubmitted() -> None:
    # "Recreate" resubmits a GET-job body: read-only and null fields must not block it.
    response = {
        "id": "efb35e3e-406e-4127-ad2e-280fede4f431",
        "type": "batch",
        "target": {"type": "table", "tableName": "Koalas Subset", "intervals": []},
        "source": JOBS["uploaded_nd_json"]["source"],
        "ingestionMode": "append",
        "mappings": JOBS["uploaded_nd_json"]["mappings"],
        "filterExpression": None,
        "maxParseExceptions": 2147483647,
        "query": "INSERT INTO ...",
        "desiredExecutionStatus": "running",
        "executionStatus": "pending",
        "health": {"status": "ok"},
        "createdBy": {"username": "svc", "userId": "u1"},
        "completedTimestamp": None,
    }
    body = parse_job_spec(response).to_api()
    assert "filterExpression" not in body  # a declared field left None is not sent
    assert body["completedTimestamp"] is None  # unknown fields are sent verbatim
    assert body["health"] == {"status": "ok"}


def test_snake_case_input_renders_camel_case() -> None:
    spec = parse_job_spec(
        {
            "type": "batch",
            "ingestion_mode": "replace",
            "replace_all": True,
            "create_table_if_not_exists": False,
            "source": {
                "type": "uploaded",
                "file_list": ["a.json"],
                "input_schema": [{"name": "ts", "data_type": "string"}],
                "format_settings": {"format": "nd-json"},
            },
            "target": {"table_name": "t"},
            "mappings": [{"column_name": "__time", "expression": 'TIME_PARSE("ts")'}],
        }
    )
    assert spec.to_api() == {
        "type": "batch",
        "ingestionMode": "replace",
        "replaceAll": True,
        "createTableIfNotExists": False,  # an explicitly set default is sent
        "source": {
            "type": "uploaded",
            "fileList": ["a.json"],
            "inputSchema": [{"name": "ts", "dataType": "string"}],
            "formatSettings": {"format": "nd-json"},
        },
        "target": {"type": "table", "tableName": "t"},  # target.type filled in
        "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("ts")'}],
    }


def test_models_built_in_python() -> None:
    spec = BatchJobSpec(
        type="batch",
        source={  # type: ignore[arg-type]
            "type": "table",
            "table_name": "src",
        },
        target={"table_name": "dst"},  # type: ignore[arg-type]
    )
    # A model is validated again from its wire form (it may have skipped validation).
    assert parse_job_spec(spec).to_api() == spec.to_api()
    assert spec.to_api() == {
        "type": "batch",
        "source": {"type": "table", "tableName": "src"},
        "target": {"type": "table", "tableName": "dst"},
    }


def test_a_model_that_skipped_validation_is_checked_again() -> None:
    unchecked = BatchJobSpec.model_construct(type="batch", source=None)
    with pytest.raises(PolarisSpecError) as err:
        parse_job_spec(unchecked)
    assert set(err.value.paths) >= {"target", "source"}
    changed = parse_job_spec(JOBS["uploaded_nd_json"])
    changed.mappings = []  # no __time mapping any more: assignment is not validated
    with pytest.raises(PolarisSpecError, match="__time"):
        parse_job_spec(changed)


def test_unset_defaults_are_not_sent() -> None:
    body = parse_job_spec(JOBS["push_streaming"]).to_api()
    for key in ("readFromPoint", "replaceRunning", "useSchemaDiscovery", "ingestionMode"):
        assert key not in body


def test_allowed_unknown_fields_kept_everywhere() -> None:
    raw = json.loads(json.dumps(JOBS["uploaded_nd_json"]))
    raw["newTopLevelFeature"] = {"x": 1}
    raw["source"]["newSourceOption"] = [1, 2]
    raw["source"]["formatSettings"]["futureFlag"] = True
    raw["source"]["inputSchema"][0]["nullable"] = False
    raw["mappings"][0]["comment"] = None
    raw["target"]["tableId"] = "abc"
    assert parse_job_spec(raw, allow_unknown_fields=True).to_api() == raw
