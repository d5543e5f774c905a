"""Shared helpers for the set-up operator tests: a client and a push connection with a reader."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_polaris.client import PolarisConfig
from airflow_provider_polaris.client.sync import PolarisClient


@pytest.fixture
def client(polaris_emulator: Any) -> Iterator[PolarisClient]:
    config = PolarisConfig(
        project_id=polaris_emulator.project_id,
        base_url=polaris_emulator.base_url,
        api_key=polaris_emulator.api_key,
    )
    with PolarisClient(config) as c:
        yield c


@pytest.fixture
def push_table(client: PolarisClient) -> str:
    """A push_streaming connection ``push`` read by a running streaming job into table ``ev``."""
    client.connections.create({"type": "push_streaming", "name": "push"})
    job = client.jobs.create(
        {
            "type": "streaming",
            "source": {
                "type": "connection",
                "connectionName": "push",
                "inputSchema": [
                    {"name": "__time", "dataType": "string"},
                    {"name": "i", "dataType": "long"},
                ],
                "formatSettings": {"format": "nd-json"},
            },
            "target": {"type": "table", "tableName": "ev"},
            "createTableIfNotExists": True,
            "mappings": [
                {"columnName": "__time", "expression": 'TIME_PARSE("__time")'},
                {"columnName": "i", "expression": '"i"'},
            ],
        }
    )
    deadline = time.monotonic() + 10
    while client.jobs.get(job["id"])["executionStatus"] != "running":
        assert time.monotonic() < deadline, "streaming job did not start"
        time.sleep(0.02)
    return "ev"
