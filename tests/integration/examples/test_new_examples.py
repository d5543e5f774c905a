"""The Kinesis, schema-registry, reset and maintenance example DAGs, run by real Airflow
(``dag.test()``) against the emulator on both lines: each run succeeds and makes exactly the
Polaris requests and changes its guide page promises."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisClient, PolarisConfig

pytestmark = pytest.mark.dagtest

DATA_DIR = Path(__file__).resolve().parents[3] / "example_dags" / "data"


def _client(emulator: Any) -> PolarisClient:
    return PolarisClient(
        PolarisConfig(
            project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
        )
    )


def _succeeded(run: Any) -> bool:
    return str(run.state) in ("success", "DagRunState.SUCCESS")


def _failed(run: Any) -> bool:
    return str(run.state) in ("failed", "DagRunState.FAILED")


def _streaming_jobs(emulator: Any) -> list[dict[str, Any]]:
    with _client(emulator) as client:
        page = client.jobs.list(type=["streaming"])["values"]
        return [client.jobs.get(j["id"]) for j in page]


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARIS_EXAMPLE_POLL_INTERVAL", "0.05")


def test_kinesis_creates_the_connection_and_a_running_job_once(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    dag = dag_runner.load("polaris_streaming_kinesis.py", "polaris_streaming_kinesis")
    run = dag_runner.run(dag, datetime.now(timezone.utc).replace(microsecond=0))
    assert _succeeded(run), run.state

    assert polaris_emulator.count_requests("POST", r"/connections$") == 1
    assert polaris_emulator.count_requests("POST", r"/jobs$") == 1
    with _client(polaris_emulator) as client:
        conn = client.connections.get("clickstream_kinesis")
    assert conn["type"] == "kinesis"
    assert conn["stream"] == "clickstream"
    assert conn["awsEndpoint"] == "kinesis.us-east-1.amazonaws.com"
    assert conn["awsAssumedRoleArn"].startswith("arn:aws:iam::")
    (job,) = _streaming_jobs(polaris_emulator)
    assert job["executionStatus"] in ("running", "idle")
    assert job["target"]["tableName"] == "clickstream"
    assert job["createTableIfNotExists"] is True
    assert job["source"]["formatSettings"]["format"] == "kinesis"
    with _client(polaris_emulator) as client:
        assert client.tables.get("clickstream")["name"] == "clickstream"

    # A second run keeps the connection and the live job: no new job.
    polaris_emulator.clear_request_log()
    second = dag_runner.run(dag, datetime.now(timezone.utc).replace(microsecond=0))
    assert _succeeded(second), second.state
    assert polaris_emulator.count_requests("POST", r"/jobs$") == 0
    assert [j["id"] for j in _streaming_jobs(polaris_emulator)] == [job["id"]]


@pytest.fixture
def confluent_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The two Airflow connections the schema-registry examples read their secrets from."""
    creds = {
        "api_key": "CONFLUENTKEY123",
        "api_secret": "confluent-secret-value-0123456789",
        "registry_key": "REGISTRYKEY456",
        "registry_secret": "registry-secret-value-9876543210",
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONFLUENT_CLOUD",
        json.dumps(
            {"conn_type": "generic", "login": creds["api_key"], "password": creds["api_secret"]}
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_CONFLUENT_SCHEMA_REGISTRY",
        json.dumps(
            {
                "conn_type": "generic",
                "login": creds["registry_key"],
                "password": creds["registry_secret"],
            }
        ),
    )
    return creds


def test_schema_registry_connections_secrets_and_avro_stream_job(
    polaris_emulator: Any,
    dag_runner: Any,
    confluent_credentials: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dag = dag_runner.load("polaris_schema_registry.py", "polaris_schema_registry")
    run = dag_runner.run(dag, datetime.now(timezone.utc).replace(microsecond=0))
    assert _succeeded(run), run.state

    assert polaris_emulator.count_requests("POST", r"/connections$") == 2
    assert polaris_emulator.count_requests("POST", r"/jobs$") == 1
    with _client(polaris_emulator) as client:
        topic = client.connections.get("orders_avro_sr")
        registry = client.connections.get("confluent_registry")
    assert topic["type"] == "confluent" and topic["topicName"] == "orders-avro-sr"
    assert topic["secrets"]["type"] == "sasl_plain"
    assert registry["type"] == "confluent_schema_registry"
    assert registry["secrets"]["type"] == "basic"
    # The credentials reached Polaris from the Airflow connections, and nowhere else.
    stored = polaris_emulator.state.connections
    assert stored["orders_avro_sr"]["_secrets"] == {
        "type": "sasl_plain",
        "username": confluent_credentials["api_key"],
        "password": confluent_credentials["api_secret"],
    }
    assert stored["confluent_registry"]["_secrets"] == {
        "type": "basic",
        "username": confluent_credentials["registry_key"],
        "password": confluent_credentials["registry_secret"],
    }
    for secret in ("api_secret", "registry_secret"):
        assert confluent_credentials[secret] not in caplog.text

    (job,) = _streaming_jobs(polaris_emulator)
    assert job["executionStatus"] in ("running", "idle")
    settings = job["source"]["formatSettings"]
    assert settings["format"] == "avro_stream"
    assert settings["parseSchemaProvider"] == {
        "type": "connection",
        "connectionName": "confluent_registry",
    }


@pytest.mark.parametrize(
    ("dag_id", "fmt", "provider_type"),
    [
        ("polaris_inline_avro", "avro_stream", "inline-avro"),
        ("polaris_inline_protobuf", "protobuf", "inline-protobuf"),
    ],
)
def test_inline_schema_variants_start_their_jobs(
    polaris_emulator: Any,
    dag_runner: Any,
    confluent_credentials: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    dag_id: str,
    fmt: str,
    provider_type: str,
) -> None:
    monkeypatch.setenv("POLARIS_EXAMPLE_DATA_DIR", str(DATA_DIR))
    dag = dag_runner.load("polaris_schema_registry.py", dag_id)
    run = dag_runner.run(dag, datetime.now(timezone.utc).replace(microsecond=0))
    assert _succeeded(run), run.state

    assert polaris_emulator.count_requests("POST", r"/connections$") == 1
    (job,) = _streaming_jobs(polaris_emulator)
    assert job["executionStatus"] in ("running", "idle")
    settings = job["source"]["formatSettings"]
    assert settings["format"] == fmt
    provider = settings["parseSchemaProvider"]
    assert provider["type"] == provider_type
    if provider_type == "inline-avro":
        assert [f["name"] for f in provider["schema"]["fields"]] == [
            "timestamp",
            "order_id",
            "country",
            "amount",
        ]
    else:
        from google.protobuf import descriptor_pb2, descriptor_pool

        shipped = (DATA_DIR / "orders.desc.b64").read_text().strip()
        assert provider["descriptor"] == shipped
        assert provider["protoMessageType"] == "example.polaris.Order"
        pool = descriptor_pool.DescriptorPool()
        for file in descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(shipped)).file:
            pool.Add(file)
        order = pool.FindMessageTypeByName("example.polaris.Order")
        assert list(order.fields_by_name) == ["timestamp", "order_id", "country", "amount"]


def _start_streaming_job(emulator: Any, table: str) -> str:
    """A push connection and a live streaming job into ``table``; its id."""
    with _client(emulator) as client:
        client.connections.create({"type": "push_streaming", "name": f"{table}_push"})
        job = client.jobs.create(
            {
                "type": "streaming",
                "source": {
                    "type": "connection",
                    "connectionName": f"{table}_push",
                    "inputSchema": [{"name": "timestamp", "dataType": "string"}],
                    "formatSettings": {"format": "nd-json"},
                },
                "target": {"type": "table", "tableName": table},
                "createTableIfNotExists": True,
                "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("timestamp")'}],
            }
        )
    return str(job["id"])


def test_reset_streaming_by_table_and_by_job_id(polaris_emulator: Any, dag_runner: Any) -> None:
    orders = _start_streaming_job(polaris_emulator, "orders")
    other = _start_streaming_job(polaris_emulator, "clicks")
    dag = dag_runner.load("polaris_reset_streaming.py", "polaris_reset_streaming")

    polaris_emulator.clear_request_log()
    run = dag_runner.run(dag, None, run_conf={"table": "orders"})
    assert _succeeded(run), run.state
    assert polaris_emulator.count_requests("POST", rf"/jobs/{orders}/reset$") == 1
    assert polaris_emulator.count_requests("POST", r"/jobs/[^/]+/reset$") == 1  # not the other
    with _client(polaris_emulator) as client:
        assert client.jobs.get(orders)["executionStatus"] in ("running", "idle")

    polaris_emulator.clear_request_log()
    run = dag_runner.run(dag, None, run_conf={"job_id": other})
    assert _succeeded(run), run.state
    assert polaris_emulator.count_requests("POST", rf"/jobs/{other}/reset$") == 1
    assert polaris_emulator.count_requests("POST", r"/jobs/[^/]+/reset$") == 1


def test_reset_streaming_without_params_fails_before_any_request(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    _start_streaming_job(polaris_emulator, "orders")
    dag = dag_runner.load("polaris_reset_streaming.py", "polaris_reset_streaming")
    polaris_emulator.clear_request_log()
    run = dag_runner.run(dag, None)
    assert _failed(run), run.state
    assert polaris_emulator.request_log() == []


def test_maintenance_deletes_before_the_cutoff_and_drops_the_scratch_table(
    polaris_emulator: Any, dag_runner: Any
) -> None:
    from airflow_provider_polaris.demo import seed_source_table

    with _client(polaris_emulator) as client:
        seeded = seed_source_table(client)  # 2026-01-01 10:00-13:00
        client.tables.create({"name": "events_scratch", "type": "detail", "schemaMode": "flexible"})
    dag = dag_runner.load("polaris_maintenance.py", "polaris_maintenance")
    run_date = datetime(2026, 1, 4, 3, tzinfo=timezone.utc)

    # Cutoff 2026-01-01T00:00Z (3 days): the seeded day is inside the window and stays.
    polaris_emulator.clear_request_log()
    run = dag_runner.run(dag, run_date, run_conf={"retention_days": 3})
    assert _succeeded(run), run.state
    assert len(polaris_emulator.table_rows("events")) == seeded
    with _client(polaris_emulator) as client:
        jobs = [client.jobs.get(j["id"]) for j in client.jobs.iter_all()]
        tables = {t["name"] for t in client.tables.list()}
    delete = next(j for j in jobs if j["type"] == "delete_data")
    assert delete["target"]["tableName"] == "events"
    assert delete["target"]["intervals"] == ["1970-01-01T00:00:00Z/2026-01-01T00:00:00Z"]
    assert delete["executionStatus"] == "completed"
    drop = next(j for j in jobs if j["type"] == "drop_table")
    assert drop["target"]["tableName"] == "events_scratch"
    assert "events_scratch" not in tables and "events" in tables

    # Cutoff 2026-01-02T00:00Z (2 days): the seeded day is older and goes; the scratch table is
    # gone already, so the drop is skipped without a job.
    polaris_emulator.clear_request_log()
    run = dag_runner.run(dag, run_date + timedelta(hours=1), run_conf={"retention_days": 2})
    assert _succeeded(run), run.state
    assert polaris_emulator.table_rows("events") == []
    assert polaris_emulator.count_requests("POST", r"/jobs$") == 1
    assert polaris_emulator.count_requests("GET", r"/tables/events_scratch$") == 1
