"""Ingestion answers found wrong by an audit of the emulator against polaris-api.md and Druid's
rules, each driven through the HTTP API as a user's DAG would. Expected values are written out
from the rule they follow, not computed by the emulator."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, streaming_spec, upload

TIME = {"columnName": "__time", "expression": 'TIME_PARSE("ts")'}


def _rows(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _query(api: httpx.Client, sql: str) -> Any:
    response = api.post("/query/sql", json={"query": sql, "resultFormat": "array"})
    assert response.status_code == 200, response.text
    return response.json()


def _batch(api: httpx.Client, emu: PolarisEmulator, table: str, fields: dict[str, str]) -> None:
    schema = [{"name": "ts", "dataType": "string"}] + [
        {"name": name, "dataType": kind} for name, kind in fields.items()
    ]
    mappings = [TIME] + [{"columnName": name, "expression": f'"{name}"'} for name in fields]
    source = {**batch_spec()["source"], "inputSchema": schema}
    job = create_job(api, batch_spec(table, source=source, mappings=mappings))
    emu.advance(10)
    assert api.get(f"/jobs/{job['id']}").json()["executionStatus"] == "completed"


def test_times_keep_whole_milliseconds(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(
        api,
        content=_rows(
            {"ts": "2024-01-01T10:00:00.123456Z", "k": "a"},
            {"ts": "2024-01-01T10:00:00.123999Z", "k": "a"},  # the same millisecond
            {"ts": "2024-01-01T10:59:59.9999Z", "k": "b"},  # not rounded up into 11:00
        ),
    )
    _batch(api, emu, "micros", {"k": "string"})
    assert _query(api, 'SELECT __time, COUNT(*) FROM "micros" GROUP BY 1') == [
        ["2024-01-01T10:00:00.123Z", 2],
        ["2024-01-01T10:59:59.999Z", 1],
    ]


def test_longs_beyond_two_to_the_53_stay_exact(api: httpx.Client, emu: PolarisEmulator) -> None:
    big = [2**53 + 1, 1234567890123456789]
    upload(api, content=_rows(*({"ts": "2024-01-01T00:00:00Z", "id": n} for n in big)))
    _batch(api, emu, "ids", {"id": "long"})
    assert _query(api, 'SELECT id FROM "ids" ORDER BY id') == [[n] for n in big]


def test_text_into_declared_numbers_is_converted(api: httpx.Client, emu: PolarisEmulator) -> None:
    schema = [{"name": "x", "dataType": "double"}, {"name": "n", "dataType": "long"}]
    table = {"name": "declared", "type": "detail", "schemaMode": "strict", "schema": schema}
    assert api.post("/tables", json=table).status_code in (200, 201)
    upload(
        api, content=_rows(*({"ts": "2024-01-01T00:00:00Z", "x": v, "n": v} for v in ("12", "3")))
    )
    _batch(api, emu, "declared", {"x": "string", "n": "string"})
    assert _query(api, 'SELECT x, n FROM "declared" ORDER BY x') == [[3.0, 3], [12.0, 12]]
    assert _query(api, 'SELECT SUM(x), SUM(n) FROM "declared"') == [[15.0, 15]]


def test_a_streaming_table_gets_the_types_of_its_mappings(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "typed"})
    source = {**streaming_spec()["source"], "connectionName": "typed"}
    source["inputSchema"] = [
        {"name": "ts", "dataType": "string"},
        {"name": "s", "dataType": "string"},
    ]
    mappings = [TIME, {"columnName": "n", "expression": 'CAST("s" AS BIGINT)'}]
    mappings.append({"columnName": "size", "expression": 'LENGTH("s")'})
    create_job(api, streaming_spec("typed", source=source, mappings=mappings))
    emu.advance(10)
    types = {c["name"]: c["dataType"] for c in api.get("/tables/typed").json()["schema"]}
    assert (types["n"], types["size"]) == ("long", "long")


def test_a_measure_mapped_without_an_aggregation_is_refused(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    schema = [
        {"name": "city", "dataType": "string", "type": "dimension"},
        {"name": "total", "dataType": "long", "type": "measure"},
    ]
    table = {"name": "agg", "type": "aggregate", "timeResolution": "day", "schema": schema}
    assert api.post("/tables", json=table).status_code in (200, 201)
    mappings = [TIME, {"columnName": "country", "expression": '"country"'}]
    mappings.append({"columnName": "total", "expression": '"n"'})
    response = api.post("/jobs", json=batch_spec("agg", mappings=mappings))
    assert response.status_code == 400
    assert "total" in response.text and 'SUM(\\"n\\")' in response.text


@pytest.mark.parametrize("granularity", ["day", "hour"])
def test_a_delete_covers_the_whole_partitions_it_touches(
    api: httpx.Client, emu: PolarisEmulator, granularity: str
) -> None:
    table = {"name": f"del_{granularity}", "type": "detail", "partitioningGranularity": granularity}
    assert api.post("/tables", json={**table, "schema": []}).status_code in (200, 201)
    hours = range(1, 6)
    upload(api, content=_rows(*({"ts": f"2024-01-01T0{h}:00:00Z", "k": str(h)} for h in hours)))
    _batch(api, emu, table["name"], {"k": "string"})
    interval = "2024-01-01T02:30:00Z/2024-01-01T03:30:00Z"
    target = {"type": "table", "tableName": table["name"], "intervals": [interval]}
    create_job(api, {"type": "delete_data", "target": target})
    emu.advance(10)
    # A day partition: the whole day goes. Hour partitions: the 02:00 and 03:00 hours go.
    left = [] if granularity == "day" else [["1"], ["4"], ["5"]]
    assert _query(api, f'SELECT k FROM "{table["name"]}" ORDER BY k') == left


def test_an_overwrite_with_one_bound_is_checked_not_a_server_error(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    _batch(api, emu, "open", {"country": "string", "n": "long"})
    query = (
        "REPLACE INTO \"open\" OVERWRITE WHERE __time >= TIMESTAMP '2024-01-01 01:00:00' "
        "SELECT __time, country, n FROM \"open\" WHERE __time >= TIMESTAMP '2024-01-01 01:00:00' "
        "PARTITIONED BY DAY"
    )
    response = api.post("/jobs", json={"type": "sql", "query": query})
    assert response.status_code == 400  # a bound inside a day partition, not a server error
    assert "DAY" in response.text.upper() and "Emulator error" not in response.text
    aligned = query.replace("01:00:00", "00:00:00")
    assert api.post("/jobs", json={"type": "sql", "query": aligned}).status_code == 201


def test_csv_keeps_a_quoted_newline_and_ignores_extra_values(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    content = b'ts,s\n2024-01-01T00:00:00Z,"multi\nline"\n2024-01-01T01:00:00Z,a,extra\n'
    upload(api, "rows.csv", content)
    source = {
        "type": "uploaded",
        "fileList": ["rows.csv"],
        "formatSettings": {"format": "csv"},
        "inputSchema": [{"name": "ts", "dataType": "string"}, {"name": "s", "dataType": "string"}],
    }
    mappings = [TIME, {"columnName": "s", "expression": '"s"'}]
    job = create_job(api, batch_spec("csv_rows", source=source, mappings=mappings))
    emu.advance(10)
    assert api.get(f"/jobs/{job['id']}").json()["executionStatus"] == "completed"
    assert _query(api, 'SELECT s FROM "csv_rows" ORDER BY __time') == [["multi\nline"], ["a"]]


def test_a_sketch_rollup_into_a_table_the_job_creates_keeps_the_sketch(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    users = ["a", "b", "a", "c", "b", "d"]
    upload(
        api,
        content=_rows(*({"ts": f"2024-01-01T10:0{i}:00Z", "u": u} for i, u in enumerate(users))),
    )
    _batch(api, emu, "visits", {"u": "string"})
    mappings = [
        {"columnName": "__time", "expression": "TIME_FLOOR(\"__time\", 'PT1H')"},
        {"columnName": "users", "expression": 'DS_HLL("u")'},
    ]
    source = {"type": "table", "tableName": "visits"}
    job = create_job(api, batch_spec("visits_hourly", source=source, mappings=mappings))
    emu.advance(10)
    assert api.get(f"/jobs/{job['id']}").json()["executionStatus"] == "completed"
    schema = {c["name"]: c["dataType"] for c in api.get("/tables/visits_hourly").json()["schema"]}
    assert schema["users"] == "HLLSketch"
    assert _query(api, 'SELECT APPROX_COUNT_DISTINCT_DS_HLL(users) FROM "visits_hourly"') == [
        [len(set(users))]
    ]


def test_a_discovered_column_null_at_first_takes_its_first_type(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.configure(manual_clock=False)
    api.post("/connections", json={"type": "push_streaming", "name": "found"})
    source = {
        "type": "connection",
        "connectionName": "found",
        "formatSettings": {"format": "nd-json"},
    }
    spec = streaming_spec("found", source=source, mappings=[TIME], useSchemaDiscovery=True)
    create_job(api, spec)
    emu.advance(10)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # inside the push window
    for value in (None, 7):
        pushed = api.post("/events/found", content=_rows({"ts": now, "g": value}))
        assert pushed.status_code == 200, pushed.text
        _query(api, 'SELECT COUNT(*) FROM "found"')  # each push written before the next
    assert _query(api, 'SELECT SUM(g) FROM "found"') == [[7]]
    found = {c["name"]: c["dataType"] for c in api.get("/tables/found").json()["queryableSchema"]}
    assert found["g"] == "long"
