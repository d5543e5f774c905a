"""Request bodies and small HTTP helpers shared by the emulator tests."""

from __future__ import annotations

from typing import Any

import httpx

BATCH_FILE = "events.json"
ROWS = (
    b'{"ts":"2024-01-01T00:00:00Z","country":"DE","n":1}\n'
    b'{"ts":"2024-01-01T01:00:00Z","country":"FR","n":2}\n'
)


def batch_spec(table: str = "t", **overrides: Any) -> dict[str, Any]:
    """A valid batch job from an uploaded file, creating its table."""
    spec: dict[str, Any] = {
        "type": "batch",
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "source": {
            "type": "uploaded",
            "fileList": [BATCH_FILE],
            "inputSchema": [
                {"name": "ts", "dataType": "string"},
                {"name": "country", "dataType": "string"},
                {"name": "n", "dataType": "long"},
            ],
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "country", "expression": '"country"'},
            {"columnName": "n", "expression": '"n"'},
        ],
    }
    spec.update(overrides)
    return spec


def streaming_spec(table: str = "s", connection: str = "push", **overrides: Any) -> dict[str, Any]:
    """A streaming job reading a push connection."""
    spec: dict[str, Any] = {
        "type": "streaming",
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "source": {
            "type": "connection",
            "connectionName": connection,
            "inputSchema": [
                {"name": "ts", "dataType": "string"},
                {"name": "n", "dataType": "long"},
            ],
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "n", "expression": '"n"'},
        ],
    }
    spec.update(overrides)
    return spec


def upload(api: httpx.Client, name: str = BATCH_FILE, content: bytes = ROWS) -> httpx.Response:
    """Upload a file (multipart field ``file``)."""
    return api.post("/files", files={"file": (name, content)})


def create_job(api: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    """POST /jobs expecting 201."""
    response = api.post("/jobs", json=spec)
    assert response.status_code == 201, response.text
    return response.json()


def status(api: httpx.Client, job_id: str) -> str:
    """GET /jobs/{id}/status."""
    response = api.get(f"/jobs/{job_id}/status")
    assert response.status_code == 200, response.text
    return response.json()["executionStatus"]
