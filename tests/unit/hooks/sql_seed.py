"""Real rows in the emulator for the SQL hook tests: a batch job with inline data."""

from __future__ import annotations

import json
from typing import Any

SALES = [
    {"ts": "2024-01-01T10:05:00Z", "country": "US", "amount": 3},
    {"ts": "2024-01-01T10:35:00Z", "country": "US", "amount": 4},
    {"ts": "2024-01-01T11:45:00Z", "country": "FR", "amount": 5},
    {"ts": "2024-01-08T10:15:00Z", "country": "FR", "amount": 7},
    {"ts": "2024-01-08T12:15:00Z", "country": "US", "amount": 6},
]


def load_table(emu: Any, table: str, rows: list[dict[str, Any]] = SALES) -> None:
    """Create ``table`` holding ``rows`` (``ts`` -> ``__time``, ``country``, ``amount``)."""
    from airflow_provider_polaris.client import PolarisClient, PolarisConfig

    spec = {
        "type": "batch",
        "source": {
            "type": "inline",
            "data": "".join(json.dumps(row) + "\n" for row in rows),
            "inputSchema": [
                {"name": "ts", "dataType": "string"},
                {"name": "country", "dataType": "string"},
                {"name": "amount", "dataType": "long"},
            ],
            "formatSettings": {"format": "nd-json"},
        },
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "amount", "expression": '"amount"'},
        ],
    }
    config = PolarisConfig(project_id=emu.project_id, base_url=emu.base_url, api_key=emu.api_key)
    with PolarisClient(config) as client:
        job = client.jobs.create(spec)
    emu.advance(3600)  # the emulator's clock: the job completes without real waiting
    while emu.get_job(job["id"])["executionStatus"] != "completed":
        emu.advance(60)
    emu.clear_request_log()
