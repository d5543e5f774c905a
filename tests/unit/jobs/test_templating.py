"""Template rendering of the job operators, through Airflow's own ``render_template_fields``.

``template_ext=(".json",)`` must let ``job_spec="spec.json"`` name a template file, but never make
Airflow look up a *nested* string that happens to end in ``.json`` (an S3 URI, an uploaded file
name, a pattern) as a file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from job_helpers import MAPPINGS, make_context

from airflow_provider_polaris.models import parse_job_spec
from airflow_provider_polaris.operators.jobs import (
    PolarisBatchIngestionOperator,
    PolarisCreateJobOperator,
    PolarisSqlIngestionOperator,
    PolarisTableToTableOperator,
)
from airflow_provider_polaris.operators.streaming import PolarisStreamingJobOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[no-redef,attr-defined]

SCHEMA = [{"name": "ts", "dataType": "string"}]
CONTEXT = {"ds": "2024-01-01", "ds_nodash": "20240101"}


def s3_spec() -> dict[str, Any]:
    return {
        "type": "batch",
        "target": {"type": "table", "tableName": "t_{{ ds_nodash }}"},
        "source": {
            "type": "s3",
            "connectionName": "lake",
            "uris": ["s3://bucket/{{ ds }}/events.json"],
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": MAPPINGS[:1],
    }


@pytest.fixture
def dag(tmp_path: Path) -> Any:
    (tmp_path / "spec.json").write_text(
        json.dumps(
            {
                "type": "batch",
                "target": {"type": "table", "tableName": "t_{{ ds_nodash }}"},
                "source": {
                    "type": "uploaded",
                    "fileList": ["events.json", "{{ ds }}.json"],
                    "inputSchema": SCHEMA,
                    "formatSettings": {"format": "nd-json"},
                },
                "mappings": MAPPINGS[:1],
            }
        )
    )
    with DAG(
        "templating",
        schedule=None,
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        template_searchpath=[str(tmp_path)],
    ) as dag:
        yield dag


def test_nested_json_strings_render_as_plain_templates(dag: Any) -> None:
    azure = {
        **s3_spec(),
        "source": {
            "type": "azure",
            "connectionName": "blob",
            "pattern": "*.json",
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
        },
    }
    s3 = PolarisCreateJobOperator(task_id="s3", job_spec=s3_spec())
    pattern = PolarisCreateJobOperator(task_id="azure", job_spec=azure)
    for op in (s3, pattern):
        op.render_template_fields(dict(CONTEXT))
    assert s3.job_spec["source"]["uris"] == ["s3://bucket/2024-01-01/events.json"]
    assert s3.job_spec["target"]["tableName"] == "t_20240101"
    assert pattern.job_spec["source"]["pattern"] == "*.json"


@pytest.mark.parametrize("resolve_files_first", [True, False])
def test_top_level_json_file_is_loaded_and_rendered(dag: Any, resolve_files_first: bool) -> None:
    op = PolarisCreateJobOperator(task_id="file", job_spec="spec.json")
    if resolve_files_first:  # what Airflow does when it parses the DAG
        op.resolve_template_files()
    op.render_template_fields(dict(CONTEXT))
    body = op.render_job_request(make_context())
    assert body["target"]["tableName"] == "t_20240101"
    assert body["source"]["fileList"] == ["events.json", "2024-01-01.json"]


def test_streaming_operator_nested_json_string(dag: Any) -> None:
    spec = {
        "type": "streaming",
        "target": {"type": "table", "tableName": "s"},
        "source": {
            "type": "connection",
            "connectionName": "feed_{{ ds_nodash }}.json",
            "inputSchema": SCHEMA,
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": MAPPINGS[:1],
    }
    op = PolarisStreamingJobOperator(task_id="stream", job_spec=spec)
    op.render_template_fields(dict(CONTEXT))
    assert op.job_spec["source"]["connectionName"] == "feed_20240101.json"


def test_batch_files_extra_spec_and_sql_context_are_templated(dag: Any) -> None:
    batch = PolarisBatchIngestionOperator(
        task_id="batch",
        target_table="t",
        files=["events.json"],
        input_schema=SCHEMA,
        format_settings={"format": "nd-json"},
        mappings=MAPPINGS[:1],
        extra_spec={"filterExpression": "\"day\" = '{{ ds }}'"},
    )
    rollup = PolarisTableToTableOperator(
        task_id="t2t",
        source_table="raw",
        target_table="rollup",
        mappings=MAPPINGS[:1],
        extra_spec={"maxParseExceptions": "{{ 1 + 2 }}"},
    )
    sql = PolarisSqlIngestionOperator(
        task_id="sql",
        sql="INSERT INTO t SELECT * FROM raw WHERE x = ?",
        parameters=[{"type": "VARCHAR", "value": "reports/{{ ds }}.sql"}],
        context={"sqlQueryId": "load-{{ ds_nodash }}"},
    )
    for op in (batch, rollup, sql):
        op.render_template_fields(dict(CONTEXT))
    assert batch.files == ["events.json"]
    assert batch.extra_spec == {"filterExpression": "\"day\" = '2024-01-01'"}
    assert rollup.extra_spec == {"maxParseExceptions": "3"}
    assert sql.parameters == [{"type": "VARCHAR", "value": "reports/2024-01-01.sql"}]
    assert sql.render_job_request(make_context())["context"] == {"sqlQueryId": "load-20240101"}


def test_job_spec_model_is_accepted_and_revalidated(emu: Any) -> None:
    from airflow_provider_polaris._compat import AirflowFailException
    from airflow_provider_polaris.models import BatchJobSpec

    model = parse_job_spec(s3_spec())
    op = PolarisCreateJobOperator(task_id="model", job_spec=model)
    assert op.render_job_request(make_context()) == model.to_api()
    broken = BatchJobSpec.model_construct(type="batch")  # skipped validation
    with pytest.raises(AirflowFailException, match="target: required field is missing"):
        PolarisCreateJobOperator(task_id="bad", job_spec=broken).execute(make_context())
    assert emu.count_requests() == 0
