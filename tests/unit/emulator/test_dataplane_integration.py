"""How the server drives its data plane: auto-created column types, aggregate streaming targets,
empty tables, the emulator clock for event rejection, and warnings in job health."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, status, streaming_spec, upload

SALES = b"".join(
    json.dumps(row).encode() + b"\n"
    for row in (
        {"ts": "2024-01-01T10:05:00Z", "country": "de", "amount": 12000, "price": 1.5},
        {"ts": "2024-01-01T10:45:00Z", "country": "de", "amount": 460, "price": 2.5},
        {"ts": "2024-01-01T11:10:00Z", "country": "fr", "amount": 7, "price": 0.25},
    )
)


def _finish(emu: PolarisEmulator, api: httpx.Client, job_id: str) -> dict[str, Any]:
    emu.advance(2)  # pending -> running
    emu.advance(5)  # running -> completed
    job = api.get(f"/jobs/{job_id}").json()
    assert job["executionStatus"] in ("completed", "failed"), job
    return job


def _seed_events(emu: PolarisEmulator, api: httpx.Client) -> None:
    """An ``events`` table like demo.seed_source_table makes: amount long, price double."""
    upload(api, "sales.json", SALES)
    spec = batch_spec("events")
    spec["source"]["fileList"] = ["sales.json"]
    spec["source"]["inputSchema"] = [
        {"name": "ts", "dataType": "string"},
        {"name": "country", "dataType": "string"},
        {"name": "amount", "dataType": "long"},
        {"name": "price", "dataType": "double"},
    ]
    spec["mappings"] = [
        {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
        {"columnName": "country", "expression": '"country"'},
        {"columnName": "amount", "expression": '"amount"'},
        {"columnName": "price", "expression": '"price"'},
    ]
    assert _finish(emu, api, create_job(api, spec)["id"])["executionStatus"] == "completed"


def _emulator_now(emu: PolarisEmulator) -> datetime:
    now = httpx.get(f"{emu.base_url}/_emulator/info", timeout=10).json()["now"]
    return datetime.fromtimestamp(now, timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _push(api: httpx.Client, *events: dict[str, Any]) -> None:
    body = b"".join(json.dumps(event).encode() + b"\n" for event in events)
    response = api.post("/events/push", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def test_rollup_into_a_new_table_keeps_numeric_measure_types(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    _seed_events(emu, api)
    rollup = {
        "type": "batch",
        "ingestionMode": "replace",
        "source": {"type": "table", "tableName": "events"},
        "target": {
            "type": "table",
            "tableName": "events_hourly",
            "intervals": ["2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"],
        },
        "createTableIfNotExists": True,
        "mappings": [
            {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
            {"columnName": "country", "expression": 'UPPER("country")'},
            {"columnName": "revenue", "expression": 'SUM("amount")', "isAggregation": True},
            {"columnName": "biggest", "expression": 'MAX("amount")', "isAggregation": True},
            {"columnName": "turnover", "expression": 'SUM("price")', "isAggregation": True},
            {"columnName": "mean", "expression": 'AVG("amount")', "isAggregation": True},
            {"columnName": "orders", "expression": "COUNT(*)", "isAggregation": True},
            {"columnName": "first_seen", "expression": 'MIN("__time")', "isAggregation": True},
        ],
    }
    job = create_job(api, rollup)
    table = api.get("/tables/events_hourly").json()
    types = {column["name"]: column["dataType"] for column in table["schema"]}
    assert types == {
        "country": "string",
        "revenue": "long",
        "biggest": "long",
        "turnover": "double",
        "mean": "double",
        "orders": "long",
        "first_seen": "timestamp",
    }
    assert table["type"] == "aggregate"
    assert _finish(emu, api, job["id"])["executionStatus"] == "completed"

    rows = emu.table_rows("events_hourly")
    assert [(r["country"], r["revenue"], r["biggest"], r["orders"]) for r in rows] == [
        ("DE", 12460, 12000, 2),
        ("FR", 7, 7, 1),
    ]
    first = rows[0]
    assert type(first["revenue"]) is int and type(first["biggest"]) is int
    assert first["turnover"] == 4.0 and type(first["turnover"]) is float
    assert first["mean"] == 6230.0
    assert first["first_seen"] == first["__time"] + 5 * 60_000 and type(first["first_seen"]) is int
    result = api.post(
        "/query/sql",
        json={"query": 'SELECT SUM("revenue") AS r FROM "events_hourly"', "resultFormat": "array"},
    ).json()
    assert result == [[12467]]


def test_streaming_into_an_aggregate_table_rolls_up(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    table = {
        "name": "agg",
        "type": "aggregate",
        "timeResolution": "hour",
        "schema": [
            {"type": "dimension", "name": "country", "dataType": "string"},
            {"type": "measure", "name": "total", "dataType": "double"},
        ],
    }
    assert api.post("/tables", json=table).status_code == 201
    spec = streaming_spec("agg", createTableIfNotExists=False)
    spec["source"]["inputSchema"].append({"name": "country", "dataType": "string"})
    spec["mappings"] = [
        {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
        {"columnName": "country", "expression": '"country"'},
        {"columnName": "total", "expression": 'SUM("n")', "isAggregation": True},
    ]
    create_job(api, spec)
    emu.advance(2)
    now = _emulator_now(emu).replace(minute=42, second=7, microsecond=0)
    _push(api, {"ts": _iso(now), "n": 4, "country": "NO"})
    rows = emu.table_rows("agg")
    hour = int(now.replace(minute=0, second=0).timestamp() * 1000)
    assert rows == [{"__time": hour, "country": "NO", "total": 4.0, "__count": 1}]


def test_an_empty_table_answers_queries_with_zero_rows(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    table = {"name": "empty", "type": "detail", "schema": [{"name": "city", "dataType": "string"}]}
    assert api.post("/tables", json=table).status_code == 201
    response = api.post(
        "/query/sql", json={"query": 'SELECT "city" FROM "empty"', "resultFormat": "array"}
    )
    assert (response.status_code, response.json()) == (200, [])
    create_job(api, batch_spec("fresh"))  # pending: the table exists, the rows don't yet
    response = api.post("/query/sql", json={"query": 'SELECT COUNT(*) AS n FROM "fresh"'})
    assert (response.status_code, response.json()) == (200, [{"n": 0}])


def test_late_and_early_events_follow_the_emulator_clock(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job = create_job(api, streaming_spec("s"))
    emu.advance(40 * 86_400)  # the emulator is 40 days ahead of the wall clock now
    now = _emulator_now(emu)
    _push(
        api,
        {"ts": _iso(now), "n": 1},
        {"ts": _iso(now - timedelta(days=35)), "n": 2},  # late for the emulator's P30D
        {"ts": _iso(now - timedelta(days=20)), "n": 3},
    )
    assert sorted(row["n"] for row in emu.table_rows("s")) == [1, 3]
    totals = api.get(f"/jobs/{job['id']}/metrics").json()["totals"]
    assert (totals["numRowsProcessed"], totals["numRowsSkippedByFilter"]) == (2, 1)


def test_no_rows_written_completes_with_a_no_rows_found_warning(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    # Every row lies outside the replaced interval: rows are read, none is written.
    spec = batch_spec(
        "t",
        ingestionMode="replace",
        target={"type": "table", "tableName": "t", "intervals": ["2023-01-01/2023-01-02"]},
    )
    job = _finish(emu, api, create_job(api, spec)["id"])
    assert job["executionStatus"] == "completed"
    health = job["health"]
    assert (health["status"], health["code"]) == ("warn", "no_rows_found")
    assert health["log"]["code"] == "no_rows_found" and health["log"]["healthStatus"] == "warn"
    totals = api.get(f"/jobs/{job['id']}/metrics").json()["totals"]
    assert (totals["numRowsProcessed"], totals["numRowsPersisted"]) == (2, 0)
    assert status(api, job["id"]) == "completed"
    assert emu.table_rows("t") == []
