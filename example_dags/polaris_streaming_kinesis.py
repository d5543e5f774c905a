"""Stream from Amazon Kinesis: a kinesis connection, a streaming job, wait until it runs.

Polaris reads a Kinesis stream through a ``kinesis`` connection, assuming an IAM role you grant
Imply's AWS account (``GET /connectionsMeta`` gives the ``externalId`` and ``implyArn`` for the
role's trust policy; Kinesis needs an AWS-hosted Polaris project). The connection takes no
secrets. This DAG sets everything up idempotently, so it can run on every deploy:

1. ``PolarisCreateConnectionOperator`` creates the ``clickstream_kinesis`` connection
   (``stream``, ``awsEndpoint``, ``awsAssumedRoleArn``; ``if_exists="ignore"`` keeps an existing
   one and logs any difference).
2. ``PolarisStreamingJobOperator`` starts a streaming job from that connection into the
   ``clickstream`` table (``createTableIfNotExists``) and succeeds once the job is ``running`` or
   ``idle``. ``if_running="keep"`` (the default) makes later runs keep the table's live job when it
   reads the same connection: no restart, no duplicate. Roll out a changed spec with
   ``if_running="replace"``.

The records are JSON objects; the ``kinesis`` format reads them as ``valueFormat`` and can add the
partition key and the Kinesis arrival time as columns. Set ``POLARIS_KINESIS_ROLE_ARN``,
``POLARIS_KINESIS_STREAM`` and ``POLARIS_KINESIS_ENDPOINT`` (or edit the constants).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.connections import PolarisCreateConnectionOperator
from airflow_provider_polaris.operators.streaming import PolarisStreamingJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

CONNECTION = "clickstream_kinesis"
TABLE = "clickstream"
STREAM = os.environ.get("POLARIS_KINESIS_STREAM", "clickstream")
AWS_ENDPOINT = os.environ.get("POLARIS_KINESIS_ENDPOINT", "kinesis.us-east-1.amazonaws.com")
ROLE_ARN = os.environ.get(
    "POLARIS_KINESIS_ROLE_ARN", "arn:aws:iam::123456789012:role/polaris-kinesis-reader"
)
POLL_INTERVAL = float(os.environ.get("POLARIS_EXAMPLE_POLL_INTERVAL", "30"))

with DAG(
    dag_id="polaris_streaming_kinesis",
    schedule=None,  # a set-up DAG: run it on deploy (a scheduled run keeps the live job)
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["polaris", "example", "streaming"],
    doc_md=__doc__,
) as dag:
    connection = PolarisCreateConnectionOperator(
        task_id="create_kinesis_connection",
        connection={
            "type": "kinesis",
            "name": CONNECTION,
            "description": "clickstream events from Amazon Kinesis",
            "stream": STREAM,
            "awsEndpoint": AWS_ENDPOINT,
            "awsAssumedRoleArn": ROLE_ARN,
        },
        if_exists="ignore",
    )

    streaming_job = PolarisStreamingJobOperator(
        task_id="start_streaming_job",
        job_spec={
            "type": "streaming",
            "source": {
                "type": "connection",
                "connectionName": CONNECTION,
                "inputSchema": [
                    {"name": "timestamp", "dataType": "string"},
                    {"name": "user_id", "dataType": "string"},
                    {"name": "page", "dataType": "string"},
                    {"name": "latency_ms", "dataType": "long"},
                    {"name": "partition_key", "dataType": "string"},
                ],
                "formatSettings": {
                    "format": "kinesis",
                    "valueFormat": {"format": "nd-json"},
                    "partitionKeyColumnName": "partition_key",
                },
            },
            "target": {"type": "table", "tableName": TABLE},
            "createTableIfNotExists": True,
            "readFromPoint": "earliest",  # a new table starts from the oldest retained record
            "mappings": [
                {"columnName": "__time", "expression": 'TIME_PARSE("timestamp")'},
                {"columnName": "user_id", "expression": '"user_id"'},
                {"columnName": "page", "expression": '"page"'},
                {"columnName": "latency_ms", "expression": '"latency_ms"'},
                {"columnName": "partition_key", "expression": '"partition_key"'},
            ],
        },
        if_running="keep",
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(minutes=15),
    )

    connection >> streaming_job
