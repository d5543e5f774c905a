"""What Polaris (the emulator) answers parses under the strict models and can be sent back.

GET job (the whole response and its ``spec``), GET table and GET connection echo read-only
fields and normalised defaults (``flattenSpec``, ``readFromPoint``, ``__count`` mappings, ...):
the models accept them, and resubmitting the parsed body works.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisConfig
from airflow_provider_polaris.client.sync import PolarisClient
from airflow_provider_polaris.models import (
    parse_connection_spec,
    parse_job_spec,
    parse_table_spec,
)

FIXTURES = Path(__file__).parent / "fixtures"
JOBS: dict[str, dict[str, Any]] = json.loads((FIXTURES / "jobs.json").read_text())
TABLES: dict[str, dict[str, Any]] = json.loads((FIXTURES / "tables.json").read_text())


@pytest.fixture
def client(polaris_emulator: Any) -> Iterator[PolarisClient]:
    config = PolarisConfig(
        project_id=polaris_emulator.project_id,
        base_url=polaris_emulator.base_url,
        api_key=polaris_emulator.api_key,
    )
    with PolarisClient(config) as c:
        yield c


def _resubmit_job(client: PolarisClient, job_id: str, table: str) -> None:
    response = client.jobs.get(job_id)
    for raw in (response, response["spec"]):
        spec = parse_job_spec(raw)  # strict: no allow_unknown_fields
        body = spec.to_api()
        assert parse_job_spec(body).to_api() == body  # stable
    body = parse_job_spec(response["spec"]).to_api()
    body["target"]["tableName"] = table
    again = client.jobs.create(body)
    assert parse_job_spec(client.jobs.get(again["id"])["spec"]).target_table == table


def test_batch_and_sql_job_responses_round_trip(client: PolarisClient) -> None:
    inline = copy.deepcopy(JOBS["inline_data"])
    inline["createTableIfNotExists"] = True
    created = client.jobs.create(parse_job_spec(inline).to_api())
    _resubmit_job(client, created["id"], "t_again")
    sql = client.jobs.create(parse_job_spec(JOBS["sql_insert"]).to_api())
    response = client.jobs.get(sql["id"])
    assert parse_job_spec(response).to_api()["query"] == JOBS["sql_insert"]["query"]
    client.jobs.create(parse_job_spec(response["spec"]).to_api())


def test_aggregate_target_echo_with_count_mapping_round_trips(client: PolarisClient) -> None:
    client.tables.create(parse_table_spec(TABLES["aggregate"]).to_api())
    job = copy.deepcopy(JOBS["inline_data"])
    job["target"]["tableName"] = "Koalas Rollup"
    job["mappings"].append({"columnName": "count", "expression": "COUNT(*)"})
    created = client.jobs.create(parse_job_spec(job).to_api())
    _resubmit_job(client, created["id"], "Koalas Rollup")


def test_streaming_job_response_with_defaults_round_trips(client: PolarisClient) -> None:
    client.connections.create({"type": "push_streaming", "name": "gateway"})
    created = client.jobs.create(parse_job_spec(JOBS["push_streaming"]).to_api())
    response = client.jobs.get(created["id"])
    assert response["spec"]["readFromPoint"] == "latest"  # a default Polaris fills in
    spec = parse_job_spec(response["spec"])
    body = spec.to_api()
    assert body["source"]["formatSettings"] == response["spec"]["source"]["formatSettings"]
    assert parse_job_spec(body).to_api() == body
    parse_job_spec(response)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_responses_round_trip(name: str, client: PolarisClient) -> None:
    table = TABLES[name]
    if table.get("partitioningGranularity") == "week":
        pytest.skip("week can't be used for new tables")
    client.tables.create(parse_table_spec(table).to_api())
    response = client.tables.get(table["name"])
    assert {"id", "availability", "segmentCount", "queryableSchema"} <= set(response)
    parsed = parse_table_spec(response)
    assert parse_table_spec(parsed.to_api()).to_api() == parsed.to_api()
    # A GET body goes back in a PUT (version included) and Polaris accepts it.
    updated = client.tables.update(table["name"], parsed.to_api())
    assert updated["version"] == response["version"] + 1


def test_connection_responses_round_trip(client: PolarisClient) -> None:
    for body in (
        {"type": "push_streaming", "name": "push"},
        {
            "type": "kafka",
            "name": "k",
            "bootstrapServers": "b:9092",
            "topicName": "t",
            "secrets": {"type": "sasl_plain", "username": "u", "password": "p"},
        },
        {"type": "confluent_schema_registry", "name": "reg", "urls": ["https://r"]},
    ):
        client.connections.create(parse_connection_spec(body).to_api())
        response = client.connections.get(body["name"])
        parsed = parse_connection_spec(response)
        again = dict(parsed.to_api(), name=f"{body['name']}2")
        if "secrets" in body:
            again["secrets"] = body["secrets"]  # Polaris never returns stored credentials
        client.connections.create(parse_connection_spec(again).to_api())
