"""Helpers for job tests: a task context without a metadata DB, specs, request counting."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

UTC = timezone.utc
HOUR = datetime(2024, 1, 1, 10, tzinfo=UTC)


class FakeTI:
    """The bits of a task instance the operators use: ``xcom_push`` and ``try_number``."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-serialisable
        self.xcom[key] = value


class DictStateStore:
    """Airflow 3.3's ``task_state_store`` accessor API (get/set/delete) over a dict.

    Shared between "tries" exactly like the real store, which is scoped to dag run + task.
    """

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        assert value is not None
        self.data[key] = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def make_context(
    *,
    try_number: int = 1,
    store: DictStateStore | None = None,
    start: datetime = HOUR,
    end: datetime = HOUR + timedelta(hours=1),
    run_started: datetime | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "ti": FakeTI(try_number),
        "data_interval_start": start,
        "data_interval_end": end,
        "logical_date": start,
        "dag_run": SimpleNamespace(
            start_date=run_started or datetime.now(UTC) - timedelta(minutes=5), queued_at=None
        ),
        "dag": SimpleNamespace(timetable=None),
    }
    if store is not None:
        context["task_state_store"] = store
    return context


def posts(emu: Any) -> int:
    """How many jobs were submitted."""
    return int(emu.count_requests("POST", r".*/jobs"))


ROWS = [
    {"ts": "2024-01-01T10:05:00Z", "country": "US", "amount": 3},
    {"ts": "2024-01-01T10:35:00Z", "country": "US", "amount": 4},
    {"ts": "2024-01-01T10:45:00Z", "country": "FR", "amount": 5},
    {"ts": "2024-01-01T11:15:00Z", "country": "FR", "amount": 7},
]
INLINE_SOURCE: dict[str, Any] = {
    "type": "inline",
    "data": "\n".join(json.dumps(r) for r in ROWS) + "\n",
    "inputSchema": [
        {"name": "ts", "dataType": "string"},
        {"name": "country", "dataType": "string"},
        {"name": "amount", "dataType": "long"},
    ],
    "formatSettings": {"format": "nd-json"},
}
MAPPINGS = [
    {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
    {"columnName": "country", "expression": '"country"'},
    {"columnName": "amount", "expression": '"amount"'},
]
ROLLUP_MAPPINGS = [
    {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
    {"columnName": "country", "expression": '"country"'},
    {"columnName": "events", "expression": "COUNT(*)", "isAggregation": True},
    {"columnName": "revenue", "expression": 'SUM("amount")', "isAggregation": True},
]


def batch_spec(table: str = "events") -> dict[str, Any]:
    return {
        "type": "batch",
        "source": INLINE_SOURCE,
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "mappings": MAPPINGS,
    }
