"""Test DAGs: misspelled keys and bad table values fail before any request; the escape hatch
sends a newer field as given.

Copied into the test DAGs folder by ``test_strict_specs.py``. Each DAG has one task; the failing
ones run with ``retries=2`` to show that a spec error is not retried.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_polaris.operators.connections import PolarisCreateConnectionOperator
from airflow_provider_polaris.operators.jobs import PolarisCreateJobOperator
from airflow_provider_polaris.operators.tables import PolarisCreateTableOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=5)}

with DAG(
    dag_id="strict_bad_datatype", schedule=None, start_date=START, default_args=RETRIES
) as bad_datatype:
    PolarisCreateTableOperator(
        task_id="create_table",
        table={"name": "t", "type": "detail", "schema": [{"name": "a", "dataType": "strng"}]},
    )

with DAG(
    dag_id="strict_table_typo", schedule=None, start_date=START, default_args=RETRIES
) as table_typo:
    PolarisCreateTableOperator(
        task_id="create_table",
        table={"name": "t", "type": "detail", "partitioningGranularty": "hour"},
    )

with DAG(
    dag_id="strict_connection_typo", schedule=None, start_date=START, default_args=RETRIES
) as connection_typo:
    PolarisCreateConnectionOperator(
        task_id="create_connection",
        connection={"type": "push_streaming", "name": "p", "descripton": "typo"},
    )

with DAG(
    dag_id="strict_job_typo", schedule=None, start_date=START, default_args=RETRIES
) as job_typo:
    PolarisCreateJobOperator(
        task_id="create_job",
        job_spec={
            "type": "streaming",
            "readFromPont": "earliest",
            "createTableIfNotExists": True,
            "target": {"tableName": "ev"},
            "source": {
                "type": "connection",
                "connectionName": "p",
                "inputSchema": [{"name": "ts", "dataType": "long"}],
                "formatSettings": {"format": "nd-json"},
            },
            "mappings": [{"columnName": "__time", "expression": 'MILLIS_TO_TIMESTAMP("ts")'}],
        },
    )

with DAG(dag_id="strict_escape_hatch", schedule=None, start_date=START) as escape_hatch:
    PolarisCreateTableOperator(
        task_id="create_table",
        table={"name": "t", "type": "detail", "someNewField": {"on": True}},
        allow_unknown_fields=["someNewField"],
    )
    PolarisCreateConnectionOperator(
        task_id="create_connection",
        connection={"type": "push_streaming", "name": "p", "someNewProperty": 1},
        allow_unknown_fields=True,
    )
