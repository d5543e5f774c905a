"""Avro and Protobuf from Confluent Cloud: a schema registry, an inline Avro schema, an inline
Protobuf descriptor set.

Three DAGs in this file, one per way Polaris learns the schema of binary records
(``source.formatSettings.parseSchemaProvider``):

- ``polaris_schema_registry``: records produced with Confluent Schema Registry (schema id +
  payload). Creates a ``confluent`` connection to the topic and a ``confluent_schema_registry``
  connection, then an ``avro_stream`` job with
  ``parseSchemaProvider: {"type": "connection", "connectionName": <the registry connection>}``.
- ``polaris_inline_avro``: plain Avro records (no schema id); the Avro record schema is in the
  job spec (``{"type": "inline-avro", "schema": {...}}``).
- ``polaris_inline_protobuf``: Protobuf records; the job spec carries a base64 descriptor set
  (``{"type": "inline-protobuf", "descriptor": ..., "protoMessageType": ...}``), read at run time
  from ``data/orders.desc.b64`` (built from ``data/orders.proto`` with ``protoc
  --include_imports --descriptor_set_out``).

Records produced with Schema Registry cannot be read with an inline schema, so each DAG reads
its own topic. No credential is in this file: the Confluent API key and secret come from the
Airflow connection ``confluent_cloud`` (login = API key, password = secret: a ``sasl_plain``
secret) and the registry's from ``confluent_schema_registry`` (login/password: ``basic``), read
at run time and masked in logs (``secrets_conn_id``). Each streaming task succeeds once its job
is ``running`` or ``idle``; later runs keep the live job (``if_running="keep"``).
"""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow_provider_polaris.operators.connections import PolarisCreateConnectionOperator
from airflow_provider_polaris.operators.streaming import PolarisStreamingJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]
    from airflow.decorators import task  # type: ignore[no-redef]

BOOTSTRAP = os.environ.get(
    "POLARIS_CONFLUENT_BOOTSTRAP", "pkc-abc12.us-east-1.aws.confluent.cloud:9092"
)
REGISTRY_URL = os.environ.get(
    "POLARIS_SCHEMA_REGISTRY_URL", "https://psrc-abc12.us-east-1.aws.confluent.cloud"
)
POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))
DATA_DIR = Path(os.environ.get("POLARIS_EXAMPLE_DATA_DIR", Path(__file__).parent / "data"))
REGISTRY = "confluent_registry"  # the Polaris schema registry connection

# The fields of an order record, as Polaris reads them, and how they map to columns.
INPUT_SCHEMA = [
    {"name": "timestamp", "dataType": "string"},
    {"name": "order_id", "dataType": "string"},
    {"name": "country", "dataType": "string"},
    {"name": "amount", "dataType": "double"},
]
MAPPINGS = [
    {"columnName": "__time", "expression": 'TIME_PARSE("timestamp")'},
    {"columnName": "order_id", "expression": '"order_id"'},
    {"columnName": "country", "expression": '"country"'},
    {"columnName": "amount", "expression": '"amount"'},
]
AVRO_SCHEMA = {
    "type": "record",
    "name": "Order",
    "namespace": "example.polaris",
    "fields": [
        {"name": "timestamp", "type": "string"},
        {"name": "order_id", "type": "string"},
        {"name": "country", "type": "string"},
        {"name": "amount", "type": "double"},
    ],
}


def confluent_connection(task_id: str, name: str, topic: str) -> PolarisCreateConnectionOperator:
    """A ``confluent`` connection to ``topic``; its secret from the ``confluent_cloud`` Airflow
    connection (login = API key, password = API secret)."""
    return PolarisCreateConnectionOperator(
        task_id=task_id,
        connection={
            "type": "confluent",
            "name": name,
            "bootstrapServers": BOOTSTRAP,
            "topicName": topic,
        },
        secrets_conn_id="confluent_cloud",
        if_exists="ignore",
    )


def streaming_job(
    connection: str, table: str, format_settings: dict[str, Any] | Any
) -> dict[str, Any]:
    """A streaming job spec from ``connection`` into ``table`` with these format settings."""
    return {
        "type": "streaming",
        "source": {
            "type": "connection",
            "connectionName": connection,
            "inputSchema": INPUT_SCHEMA,
            "formatSettings": format_settings,
        },
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "readFromPoint": "earliest",
        "mappings": MAPPINGS,
    }


DAG_ARGS: dict[str, Any] = {
    "schedule": None,  # set-up DAGs: run them on deploy
    "start_date": datetime(2026, 1, 1, tzinfo=timezone.utc),
    "catchup": False,
    "tags": ["polaris", "example", "streaming"],
    "doc_md": __doc__,
}
WAIT_ARGS: dict[str, Any] = {
    "if_running": "keep",
    "poll_interval": POLL_INTERVAL,
    "timeout": timedelta(minutes=15),
}

with DAG(dag_id="polaris_schema_registry", **DAG_ARGS) as registry_dag:
    topic = confluent_connection("create_confluent_connection", "orders_avro_sr", "orders-avro-sr")
    registry = PolarisCreateConnectionOperator(
        task_id="create_schema_registry_connection",
        connection={
            "type": "confluent_schema_registry",
            "name": REGISTRY,
            "description": "Confluent Cloud Schema Registry",
            "urls": [REGISTRY_URL],
        },
        secrets_conn_id="confluent_schema_registry",  # login/password: a basic secret
        if_exists="ignore",
    )
    job = PolarisStreamingJobOperator(
        task_id="start_avro_stream_job",
        job_spec=streaming_job(
            "orders_avro_sr",
            "orders_avro_sr",
            {
                "format": "avro_stream",
                "parseSchemaProvider": {"type": "connection", "connectionName": REGISTRY},
            },
        ),
        **WAIT_ARGS,
    )
    [topic, registry] >> job

with DAG(dag_id="polaris_inline_avro", **DAG_ARGS) as inline_avro_dag:
    topic = confluent_connection("create_confluent_connection", "orders_avro", "orders-avro")
    job = PolarisStreamingJobOperator(
        task_id="start_avro_stream_job",
        job_spec=streaming_job(
            "orders_avro",
            "orders_avro",
            {
                "format": "avro_stream",
                "parseSchemaProvider": {"type": "inline-avro", "schema": AVRO_SCHEMA},
            },
        ),
        **WAIT_ARGS,
    )
    topic >> job

with DAG(dag_id="polaris_inline_protobuf", **DAG_ARGS) as inline_protobuf_dag:

    @task
    def protobuf_job_spec() -> dict[str, Any]:
        """The job spec with the base64 descriptor set (read at run time, not at parse time)."""
        descriptor = (DATA_DIR / "orders.desc.b64").read_text().strip()
        base64.b64decode(descriptor, validate=True)  # a damaged file fails here, clearly
        provider = {
            "type": "inline-protobuf",
            "descriptor": descriptor,
            "protoMessageType": "example.polaris.Order",
        }
        settings = {"format": "protobuf", "parseSchemaProvider": provider}
        return streaming_job("orders_protobuf", "orders_protobuf", settings)

    topic = confluent_connection(
        "create_confluent_connection", "orders_protobuf", "orders-protobuf"
    )
    job = PolarisStreamingJobOperator(
        task_id="start_protobuf_job", job_spec=protobuf_job_spec(), **WAIT_ARGS
    )
    topic >> job
