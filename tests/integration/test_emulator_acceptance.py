"""The emulator accepts what Polaris accepts and rejects what Polaris rejects (issue 9 item 7).

Every case is replayed with plain HTTP (httpx) against a running ``PolarisEmulator`` on a manual
clock, so a job moves only when a test advances time.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

ROWS = (
    b'{"ts":"2024-01-01T00:00:00Z","country":"DE","n":1}\n'
    b'{"ts":"2024-01-01T01:00:00Z","country":"FR","n":"not a number"}\n'
    b'{"ts":"2024-01-01T02:00:00Z","country":"US","n":3}\n'
    b'{"ts":"2024-01-01T03:00:00Z","country":"DE","n":4}\n'
)
INPUT_SCHEMA = [
    {"name": "ts", "dataType": "string"},
    {"name": "country", "dataType": "string"},
    {"name": "n", "dataType": "long"},
]
SOURCE_JSON = json.dumps(
    {
        "type": "uploaded",
        "fileList": ["rows.json"],
        "inputSchema": INPUT_SCHEMA,
        "formatSettings": {"format": "nd-json"},
    }
)
SQL_SOURCE = "TABLE(POLARIS_SOURCE('" + SOURCE_JSON + "'))"


@pytest.fixture
def emu(polaris_emulator: PolarisEmulator) -> PolarisEmulator:
    polaris_emulator.configure(manual_clock=True, time_scale=1.0)
    return polaris_emulator


@pytest.fixture
def api(emu: PolarisEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{emu.base_url}/v1/projects/{emu.project_id}", auth=(emu.api_key, ""), timeout=10
    ) as client:
        assert client.post("/files", files={"file": ("rows.json", ROWS)}).status_code == 200
        yield client


def batch(table: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "batch",
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "source": {
            "type": "uploaded",
            "fileList": ["rows.json"],
            "inputSchema": INPUT_SCHEMA,
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


def streaming(table: str, connection: str, **overrides: Any) -> dict[str, Any]:
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


def run(api: httpx.Client, emu: PolarisEmulator, spec: dict[str, Any]) -> dict[str, Any]:
    """Create a job (expecting 201), let it finish, and return it with metrics and logs."""
    created = api.post("/jobs", json=spec)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    emu.advance(10)
    job = api.get(f"/jobs/{job_id}").json()
    job["_totals"] = api.get(f"/jobs/{job_id}/metrics").json()["totals"]
    job["_logs"] = api.get(f"/jobs/{job_id}/logs").json()["logs"]
    return job


def now_event(n: Any) -> bytes:
    """An event stamped now, inside the late/early rejection windows of a streaming job."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"ts": stamp, "n": n}).encode()


# --- 1a. SQL ingestion text with comments -------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        "-- nightly load\nINSERT INTO",
        "/* nightly load */ INSERT INTO",
        "INSERT /* hint */ INTO",
        "-- a\n/* b\n c */\n  insert -- c\n into",
    ],
)
def test_sql_job_with_comments_is_accepted_and_runs(
    api: httpx.Client, emu: PolarisEmulator, head: str
) -> None:
    query = (
        f'{head} "commented" SELECT TIME_PARSE("ts") AS "__time", "country" '
        f"FROM {SQL_SOURCE} PARTITIONED BY DAY"
    )
    job = run(api, emu, {"type": "sql", "query": query, "createTableIfNotExists": True})
    assert job["executionStatus"] == "completed"
    assert job["target"]["tableName"] == "commented"
    assert len(emu.table_rows("commented")) == 3  # the row whose n is not a long is skipped


def test_sql_job_whose_only_partitioned_by_is_commented_out_is_rejected(
    api: httpx.Client,
) -> None:
    query = f'INSERT INTO "t" SELECT TIME_PARSE("ts") AS "__time" FROM {SQL_SOURCE}'
    query += " -- PARTITIONED BY DAY"
    response = api.post("/jobs", json={"type": "sql", "query": query})
    assert response.status_code == 400
    assert "PARTITIONED BY" in response.json()["message"]


# --- 1b. schema registry connection without secrets ---------------------------------------------


def test_schema_registry_created_without_secrets_then_patched(api: httpx.Client) -> None:
    created = api.post(
        "/connections",
        json={"type": "confluent_schema_registry", "name": "sr", "urls": ["https://sr.example"]},
    )
    assert created.status_code == 201, created.text
    assert "secrets" not in created.json()
    patched = api.patch(
        "/connections/sr",
        json={
            "type": "confluent_schema_registry",
            "secrets": {"type": "basic", "username": "key", "password": "s3cret"},
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["secrets"] == {"type": "basic"}
    assert "s3cret" not in patched.text
    assert api.get("/connections/sr").json()["urls"] == ["https://sr.example"]


def test_schema_registry_secrets_with_the_older_put_route(api: httpx.Client) -> None:
    api.post(
        "/connections",
        json={"type": "confluent_schema_registry", "name": "sr2", "urls": ["https://sr.example"]},
    )
    body = {"type": "basic", "username": "key", "password": "s3cret"}
    put = api.put("/connections/sr2/secrets", json=body)
    assert (put.status_code, put.content) == (200, b"")
    assert api.get("/connections/sr2").json()["secrets"] == {"type": "basic"}
    wrong = api.put("/connections/sr2/secrets", json={"type": "basic", "username": "key"})
    assert wrong.status_code == 400 and wrong.json()["target"] == "secrets.password"
    assert api.put("/connections/none/secrets", json=body).status_code == 404


def test_kafka_connection_still_needs_secrets(api: httpx.Client) -> None:
    response = api.post(
        "/connections",
        json={"type": "kafka", "name": "k", "bootstrapServers": "b:9092", "topicName": "t"},
    )
    assert response.status_code == 400 and response.json()["target"] == "secrets"


# --- 1c. events as application/octet-stream -----------------------------------------------------


def test_events_pushed_as_octet_stream_are_ingested(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job_id = api.post("/jobs", json=streaming("octets", "push")).json()["id"]
    emu.advance(2)
    body = now_event(1) + b"\n" + now_event(2)
    octets = {"Content-Type": "application/octet-stream"}
    assert api.post("/events/push", content=body, headers=octets).status_code == 200
    zipped = {**octets, "Content-Encoding": "gzip"}
    assert (
        api.post("/events/push", content=gzip.compress(now_event(3)), headers=zipped).status_code
        == 200
    )
    assert sorted(r["n"] for r in emu.table_rows("octets")) == [1, 2, 3]
    assert api.get(f"/jobs/{job_id}/metrics").json()["totals"]["numRowsProcessed"] == 3
    csv = api.post("/events/push", content=b"a,b", headers={"Content-Type": "text/csv"})
    assert csv.status_code == 415  # still refused


# --- 1d. projects answer 202 --------------------------------------------------------------------


def test_project_create_update_delete_answer_202(emu: PolarisEmulator) -> None:
    with httpx.Client(base_url=f"{emu.base_url}/v1", auth=(emu.api_key, "")) as regional:
        created = regional.post(
            "/projects",
            json={"metadata": {"name": "Staging"}, "spec": {"plan": "a.01", "region": "us-east-1"}},
        )
        assert created.status_code == 202
        uid = created.json()["metadata"]["uid"]
        updated = regional.patch(
            f"/projects/{uid}",
            json={"spec": {"desiredState": "paused"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert updated.status_code == 202 and updated.json()["spec"]["desiredState"] == "paused"
        assert regional.delete(f"/projects/{uid}").status_code == 202
        assert regional.get(f"/projects/{uid}").status_code == 404


# --- 2. replace intervals and partitioning ------------------------------------------------------


def replace_batch(table: str, interval: str, **overrides: Any) -> dict[str, Any]:
    target = {"type": "table", "tableName": table, "intervals": [interval]}
    return batch(table, ingestionMode="replace", target=target, **overrides)


HOUR = "2024-01-01T01:00:00Z/2024-01-01T02:00:00Z"
DAY = "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"


def test_auto_created_table_gets_day_partitioning(api: httpx.Client, emu: PolarisEmulator) -> None:
    run(api, emu, batch("auto"))
    assert api.get("/tables/auto").json()["partitioningGranularity"] == "day"


def test_hour_replace_into_a_new_table_is_refused_as_not_day_aligned(api: httpx.Client) -> None:
    response = api.post("/jobs", json=replace_batch("fresh", HOUR))
    assert response.status_code == 400
    body = response.json()
    assert body["target"] == "target.intervals[0]"
    assert "not aligned with PARTITIONED BY granularity [day]" in body["message"]
    assert "default partitioning" in body["message"]
    assert api.get("/tables/fresh").status_code == 404  # refused before the table was created


def test_hour_replace_is_accepted_with_an_hour_partitioned_by(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    job = run(api, emu, replace_batch("hourly", HOUR, partitionedBy="hour"))
    assert job["executionStatus"] == "completed"
    assert api.get("/tables/hourly").json()["partitioningGranularity"] == "hour"
    assert api.post("/jobs", json=replace_batch("hourly", HOUR)).status_code == 201  # table's hour


def test_replace_checks_an_existing_tables_partitioning(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    run(api, emu, batch("daily"))
    refused = api.post("/jobs", json=replace_batch("daily", HOUR))
    assert refused.status_code == 400 and "table daily" in refused.json()["message"]
    assert api.post("/jobs", json=replace_batch("daily", DAY)).status_code == 201


@pytest.mark.parametrize(
    ("interval", "status"),
    [
        ("2024-01-01/P1D", 201),
        ("P1D/2024-01-02", 201),
        ("2024-01-01T01:00:00Z/PT1H", 400),  # an hour of a day-partitioned table
        ("2024-01-01/P", 400),
        ("P1D", 400),
    ],
)
def test_replace_intervals_with_iso_durations(
    api: httpx.Client, interval: str, status: int
) -> None:
    # Druid reads start/PERIOD and PERIOD/end intervals; the provider's models accept them too.
    response = api.post("/jobs", json=replace_batch("durations", interval))
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("partitioned_by", "status"),
    [("DAY", 400), ("HOUR", 201), ("'PT1H'", 201), ("TIME_FLOOR(__time, 'P1D')", 400)],
)
def test_sql_overwrite_must_align_with_partitioned_by(
    api: httpx.Client, partitioned_by: str, status: int
) -> None:
    query = (
        'REPLACE INTO "sqlr" OVERWRITE WHERE "__time" >= TIMESTAMP \'2024-01-01 01:00:00\' '
        "AND \"__time\" < TIMESTAMP '2024-01-01 02:00:00' "
        f'SELECT TIME_PARSE("ts") AS "__time" FROM {SQL_SOURCE} PARTITIONED BY {partitioned_by}'
    )
    response = api.post(
        "/jobs", json={"type": "sql", "query": query, "createTableIfNotExists": True}
    )
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["target"] == "query"
        assert "[2024-01-01T01:00:00.000Z/2024-01-01T02:00:00.000Z]" in response.json()["message"]


# --- 2. parse errors, maxParseExceptions and real counts ----------------------------------------


def test_bad_rows_are_skipped_counted_and_logged(api: httpx.Client, emu: PolarisEmulator) -> None:
    job = run(api, emu, batch("counted", filterExpression="\"country\" <> 'US'"))
    assert job["executionStatus"] == "completed"
    assert job["_totals"] == {
        "numBytesProcessed": len(ROWS),
        "numRowsPersisted": 2,
        "numRowsProcessed": 2,
        "numRowsProcessedWithWarning": 0,
        "numRowsSkippedByError": 1,
        "numRowsSkippedByFilter": 1,
    }
    assert job["health"]["status"] == "warn" and job["health"]["code"] == "invalid_rows_found"
    assert job["health"]["message"].startswith("1 row could not be parsed and were skipped")
    assert "'n'" in job["health"]["message"]  # names the field that failed to convert
    assert job["_logs"][-1]["code"] == "invalid_rows_found"


def test_rollup_persists_fewer_rows_than_processed(api: httpx.Client, emu: PolarisEmulator) -> None:
    mappings = [
        {"columnName": "__time", "expression": "TIME_FLOOR(TIME_PARSE(\"ts\"), 'P1D')"},
        {"columnName": "country", "expression": '"country"'},
        {"columnName": "total", "expression": 'SUM("n")', "isAggregation": True},
    ]
    job = run(api, emu, batch("rolled", mappings=mappings))
    assert job["_totals"]["numRowsProcessed"] == 3
    assert job["_totals"]["numRowsPersisted"] == 2  # DE twice, US once


@pytest.mark.parametrize(
    ("limit", "outcome"), [(0, "failed"), (1, "completed"), (None, "completed")]
)
def test_max_parse_exceptions_is_enforced(
    api: httpx.Client, emu: PolarisEmulator, limit: int | None, outcome: str
) -> None:
    extra = {} if limit is None else {"maxParseExceptions": limit}
    job = run(api, emu, batch(f"limit{limit}", **extra))
    assert job["executionStatus"] == outcome
    assert job["_totals"]["numRowsSkippedByError"] == 1
    if outcome == "failed":
        assert job["health"]["code"] == "cannot_parse_source"
        assert job["health"]["message"].startswith(
            "Too many warnings of type CannotParseExternalData generated (max = 0)"
        )
        assert job["_logs"][-1]["healthStatus"] == "error"
        assert emu.table_rows(f"limit{limit}") == []  # a failed job writes nothing


def test_streaming_parse_errors_warn_then_fail_past_the_limit(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job_id = api.post("/jobs", json=streaming("st", "push", maxParseExceptions=1)).json()["id"]
    emu.advance(2)
    api.post("/events/push", content=now_event(1) + b"\n" + now_event("x"))
    job = api.get(f"/jobs/{job_id}").json()
    assert job["executionStatus"] == "running"
    assert job["health"]["status"] == "warn" and job["health"]["code"] == "invalid_rows_found"
    logs = api.get(f"/jobs/{job_id}/logs").json()["logs"]
    assert [e["message"].startswith("Unparseable event") for e in logs].count(True) == 1
    api.post("/events/push", content=now_event("y"))
    job = api.get(f"/jobs/{job_id}").json()
    assert job["executionStatus"] == "failed"
    assert job["health"]["code"] == "cannot_parse_source"
    assert job["health"]["message"].startswith("Max parse exceptions [1] exceeded")
    totals = api.get(f"/jobs/{job_id}/metrics").json()["totals"]
    assert (totals["numRowsProcessed"], totals["numRowsSkippedByError"]) == (1, 2)


# --- 4. events nobody reads ---------------------------------------------------------------------


def test_events_without_a_reader_are_accepted_and_counted_as_dropped(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "lonely"})
    pushed = api.post("/events/lonely", content=now_event(1) + b"\n" + now_event(2))
    assert (pushed.status_code, pushed.content) == (200, b"")
    assert emu.dropped_events("lonely") == 2 and emu.dropped_events() == 2
    control = httpx.get(f"{emu.base_url}/_emulator/events/dropped").json()
    assert control == {"total": 2, "byConnection": {"lonely": 2}}
    # A pending job holds events for later, a running one ingests them: neither is a drop.
    api.post("/jobs", json=streaming("read", "lonely"))
    api.post("/events/lonely", content=now_event(3))
    emu.advance(2)
    api.post("/events/lonely", content=now_event(4))
    assert emu.dropped_events("lonely") == 2
    assert sorted(r["n"] for r in emu.table_rows("read")) == [3, 4]
    emu.reset()
    assert emu.dropped_events() == 0
