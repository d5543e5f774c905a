"""Helpers for the data-plane tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_polaris.testing.dataplane import DataPlane
from airflow_provider_polaris.testing.dataplane.timeutil import parse_timestamp

NOW = parse_timestamp("2024-06-01T12:00:00Z") / 1000


@pytest.fixture
def dp() -> DataPlane:
    """A data plane whose clock is fixed at 2024-06-01T12:00:00Z."""
    return DataPlane(clock=lambda: NOW)


@pytest.fixture
def files() -> dict[str, bytes]:
    """Uploaded files by name (tests add to it)."""
    return {}


def ndjson_schema(*fields: tuple[str, str]) -> list[dict[str, str]]:
    """An inputSchema from (name, dataType) pairs."""
    return [{"name": name, "dataType": data_type} for name, data_type in fields]


def batch_job(
    source: dict[str, Any], target: str, mappings: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A batch create-job body."""
    body: dict[str, Any] = {
        "type": "batch",
        "source": source,
        "target": {"type": "table", "tableName": target},
        "mappings": mappings,
    }
    intervals = extra.pop("intervals", None)
    if intervals is not None:
        body["target"]["intervals"] = intervals
    body.update(extra)
    return body


def run(dp: DataPlane, job: dict[str, Any], files: dict[str, bytes], table: Any = None) -> Any:
    """prepare + commit (when the job succeeded), returning the result."""
    reader: Callable[[str], bytes | None] = files.get
    result = dp.prepare_ingestion(job, read_file=reader, table=table)
    if result.error_code is None:
        result.commit()
    return result


def load_rows(
    dp: DataPlane, table: str, rows: list[dict[str, Any]], fields: dict[str, str]
) -> None:
    """Ingest ``rows`` into ``table`` with an inline batch job: ``__time`` from the ISO string in
    each row's ``t``, and every field of ``fields`` (name → inputSchema dataType) as is."""
    job = batch_job(
        {
            "type": "inline",
            "data": "\n".join(json.dumps(r) for r in rows),
            "inputSchema": ndjson_schema(("t", "string"), *fields.items()),
            "formatSettings": {"format": "nd-json"},
        },
        table,
        [{"columnName": "__time", "expression": 'TIME_PARSE("t")'}]
        + [{"columnName": name, "expression": f'"{name}"'} for name in fields],
    )
    assert run(dp, job, {}).error_code is None
