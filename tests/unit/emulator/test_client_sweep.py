"""Every method of the project's own client against a running emulator, checking the documented
results: return shapes, status codes (from the emulator's request log) and error classes.

``test_the_sweep_calls_every_client_method`` keeps this module honest: a client method that no
test here calls fails it, unless it is listed in ``NOT_YET_SWEPT``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from airflow_provider_polaris.client import (
    AsyncPolarisClient,
    PolarisBadRequestError,
    PolarisClient,
    PolarisConfig,
    PolarisConflictError,
    PolarisNotFoundError,
    RetryPolicy,
)
from airflow_provider_polaris.client._resource import Resource, endpoint, paged
from airflow_provider_polaris.client.errors import PolarisApiError
from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import ROWS, batch_spec, streaming_spec

# The methods each test below calls, by namespace.
SWEPT: dict[str, set[str]] = {
    "projects": {"list", "get", "create", "update", "delete"},
    "connections": {"create", "get", "list", "update", "delete", "test", "get_meta"},
    "tables": {"create", "get", "list", "update", "list_unused_segments"},
    "files": {"upload", "list", "iter_all", "get", "delete"},
    "jobs": {
        "create",
        "get",
        "list",
        "iter_all",
        "get_status",
        "set_status",
        "cancel",
        "suspend",
        "resume",
        "get_progress",
        "get_metrics",
        "get_logs",
        "reset",
        "update",
    },
    "events": {"push"},
    "query": {
        "sql",
        "submit_statement",
        "get_statement",
        "get_statement_results",
        "iter_statement_results",
        "cancel_statement",
    },
}
# Client methods deliberately left out of the sweep (none).
NOT_YET_SWEPT: dict[str, set[str]] = {}


def _config(emu: PolarisEmulator) -> PolarisConfig:
    # One attempt: an error status must surface as the error the client maps it to.
    return PolarisConfig(
        project_id=emu.project_id,
        base_url=emu.base_url,
        api_key=emu.api_key,
        retry=RetryPolicy(max_attempts=1),
    )


@pytest.fixture
def emu(polaris_emulator: PolarisEmulator) -> PolarisEmulator:
    """The session emulator on a manual clock: jobs move only when a test advances time."""
    polaris_emulator.configure(manual_clock=True, time_scale=1.0)
    return polaris_emulator


@pytest.fixture
def client(emu: PolarisEmulator) -> Iterator[PolarisClient]:
    with PolarisClient(_config(emu)) as polaris:
        yield polaris


def _statuses(emu: PolarisEmulator) -> list[tuple[str, str, int]]:
    """(method, project-relative path, status) of every request so far, then forget them."""
    prefix = f"/v1/projects/{emu.project_id}"
    out = [(e["method"], e["path"].removeprefix(prefix), e["status"]) for e in emu.request_log()]
    emu.clear_request_log()
    return out


def _client_methods() -> dict[str, set[str]]:
    with PolarisClient(PolarisConfig(project_id="p", base_url="http://x", api_key="k")) as c:
        found: dict[str, set[str]] = {}
        for name, value in vars(c).items():
            if isinstance(value, Resource):
                found[name] = {
                    attr
                    for cls in type(value).__mro__
                    for attr, member in vars(cls).items()
                    if isinstance(member, (endpoint, paged))
                }
        return found


def test_the_sweep_calls_every_client_method() -> None:
    methods = _client_methods()
    missing = {
        namespace: names - SWEPT.get(namespace, set()) - NOT_YET_SWEPT.get(namespace, set())
        for namespace, names in methods.items()
    }
    assert {ns: names for ns, names in missing.items() if names} == {}
    stale = {ns: names - methods.get(ns, set()) for ns, names in SWEPT.items()}
    assert {ns: names for ns, names in stale.items() if names} == {}


def test_projects(client: PolarisClient, emu: PolarisEmulator) -> None:
    projects = client.projects.list()
    assert [p["metadata"]["uid"] for p in projects] == [emu.project_id]
    project = client.projects.get()
    assert project["metadata"]["uid"] == emu.project_id
    assert project["spec"]["desiredState"] == "running" and project["status"]["state"] == "running"
    with pytest.raises(PolarisNotFoundError):
        client.projects.get("another-project")
    created = client.projects.create(
        {"metadata": {"name": "Staging"}, "spec": {"plan": "a.01", "region": "eu-west-1"}}
    )
    other = created["metadata"]["uid"]
    assert created["spec"]["desiredState"] == "running" and created["status"]["state"] == "running"
    assert sorted(p["metadata"]["name"] for p in client.projects.list()) == [
        "Emulator project",
        "Staging",
    ]
    paused = client.projects.update(other, {"spec": {"desiredState": "paused"}})
    assert paused["status"]["state"] == "paused" and paused["metadata"]["name"] == "Staging"
    with pytest.raises(PolarisBadRequestError) as bad_region:
        client.projects.create({"metadata": {"name": "x"}, "spec": {"plan": "a", "region": "mars"}})
    assert bad_region.value.target == "spec.region"
    assert client.projects.delete(other) is None
    with pytest.raises(PolarisNotFoundError):
        client.projects.get(other)
    with pytest.raises(PolarisBadRequestError):
        client.projects.delete(emu.project_id)  # the served project stays
    # create, update and delete answer 202 as Polaris' spec does; the client takes any 2xx.
    assert [s for _, _, s in _statuses(emu)] == [200, 200, 404, 202, 200, 202, 400, 202, 404, 400]


def test_connections(client: PolarisClient, emu: PolarisEmulator) -> None:
    push = client.connections.create({"type": "push_streaming", "name": "push"})
    assert push["endpointUrl"].endswith("/events/push") and "secrets" not in push
    kafka_body = {
        "type": "kafka",
        "name": "kafka.in",
        "bootstrapServers": "b1:9092",
        "topicName": "events",
        "secrets": {"type": "sasl_plain", "username": "u", "password": "p4ss"},
    }
    kafka = client.connections.create(kafka_body)
    assert kafka["secrets"] == {"type": "sasl_plain"} and "p4ss" not in json.dumps(kafka)
    with pytest.raises(PolarisConflictError) as duplicate:
        client.connections.create(kafka_body)
    assert duplicate.value.code == "AlreadyExists"
    with pytest.raises(PolarisBadRequestError) as invalid:
        client.connections.create({"type": "kafka", "name": "x", "topicName": "t"})
    assert invalid.value.target == "bootstrapServers"
    assert client.connections.get("kafka.in")["topicName"] == "events"
    assert sorted(c["name"] for c in client.connections.list()) == ["kafka.in", "push"]
    updated = client.connections.update("kafka.in", {"type": "kafka", "topicName": "other"})
    assert updated["topicName"] == "other" and updated["secrets"] == {"type": "sasl_plain"}
    assert client.connections.test("kafka.in")["status"] == "ok"
    meta = client.connections.get_meta()
    assert meta["externalId"] and meta["implyArn"].startswith("arn:aws:iam::")
    assert client.connections.delete("kafka.in") is None
    with pytest.raises(PolarisNotFoundError):
        client.connections.get("kafka.in")
    assert _statuses(emu) == [
        ("POST", "/connections", 201),
        ("POST", "/connections", 201),
        ("POST", "/connections", 409),
        ("POST", "/connections", 400),
        ("GET", "/connections/kafka.in", 200),
        ("GET", "/connections", 200),
        ("PATCH", "/connections/kafka.in", 200),
        ("POST", "/connections/kafka.in/test", 200),
        ("GET", "/connectionsMeta", 200),
        ("DELETE", "/connections/kafka.in", 200),
        ("GET", "/connections/kafka.in", 404),
    ]


def test_tables(client: PolarisClient, emu: PolarisEmulator) -> None:
    body = {
        "name": "Koalas Rollup",
        "type": "detail",
        "partitioningGranularity": "hour",
        "schema": [{"name": "city", "dataType": "string"}],
    }
    created = client.tables.create(body)
    assert created["version"] == 0 and created["availability"] == "available"
    with pytest.raises(PolarisConflictError):
        client.tables.create(body)
    assert client.tables.get("Koalas Rollup")["queryableSchema"][0]["name"] == "__time"
    assert [t["name"] for t in client.tables.list()] == ["Koalas Rollup"]
    assert client.tables.list(partitioning_granularity="day") == []
    assert [t["name"] for t in client.tables.list(segment_count=0)] == ["Koalas Rollup"]
    updated = client.tables.update("Koalas Rollup", {**body, "version": 0, "description": "d"})
    assert updated["version"] == 1 and updated["description"] == "d"
    with pytest.raises(PolarisConflictError) as stale:
        client.tables.update("Koalas Rollup", {**body, "version": 0})
    assert stale.value.target == "version"
    page = client.tables.list_unused_segments("Koalas Rollup", limit=10, sort_order="DESC")
    assert page == {"values": []}
    with pytest.raises(PolarisNotFoundError):
        client.tables.list_unused_segments("none")
    assert [s for _, _, s in _statuses(emu)] == [201, 409, 200, 200, 200, 200, 200, 409, 200, 404]


def test_files(client: PolarisClient, emu: PolarisEmulator) -> None:
    content = b'{"a": 1}\n'
    meta = client.files.upload("dir/my events.json", io.BytesIO(content))
    assert meta["name"] == "dir/my events.json" and meta["sizeBytes"] == len(content)
    assert meta["digest"] == {"algo": "md5", "hash": hashlib.md5(content).hexdigest()}
    assert meta["dataFormat"] == "nd-json" and meta["compressionFormat"] == "none"
    with pytest.raises(PolarisConflictError):
        client.files.upload("dir/my events.json", io.BytesIO(content))
    for name in ("b.csv.gz", "c.parquet"):
        client.files.upload(name, io.BytesIO(b"x"), data_format=None)
    page = client.files.list(limit=2, sort_column="name", sort_order="ASC")
    assert [f["name"] for f in page["files"]] == ["b.csv.gz", "c.parquet"]
    assert page["totalCount"] == 3 and page["links"]["@nextLink"]
    assert page["space"]["usedBytes"] == len(content) + 2
    everything = [f["name"] for f in client.files.iter_all(page_size=1)]
    assert sorted(everything) == ["b.csv.gz", "c.parquet", "dir/my events.json"]
    assert client.files.get("b.csv.gz")["compressionFormat"] == "gz"
    assert client.files.delete("dir/my events.json") is None
    with pytest.raises(PolarisNotFoundError):
        client.files.get("dir/my events.json")
    statuses = _statuses(emu)
    assert [s for m, _, s in statuses if m == "POST"] == [200, 409, 200, 200]
    assert ("DELETE", "/files/dir/my events.json", 204) in statuses
    assert statuses[-1] == ("GET", "/files/dir/my events.json", 404)


def test_batch_job(client: PolarisClient, emu: PolarisEmulator) -> None:
    client.files.upload("events.json", io.BytesIO(ROWS))
    job = client.jobs.create(batch_spec())
    job_id = job["id"]
    assert job["executionStatus"] == "pending" and job["spec"]["type"] == "batch"
    assert client.jobs.get(job_id)["target"]["tableName"] == "t"
    assert client.jobs.get_status(job_id) == {"executionStatus": "pending"}
    emu.advance(1)
    assert client.jobs.get_progress(job_id)["overallProgress"] == 0.0
    emu.advance(2)
    assert 0 < client.jobs.get_progress(job_id)["overallProgress"] < 1
    page = client.jobs.list(type="batch", execution_status=["pending", "running"], limit=1)
    assert [j["id"] for j in page["values"]] == [job_id] and page["moreResultsAvailable"] is False
    assert "spec" not in page["values"][0]
    emu.advance(1)
    assert client.jobs.get_status(job_id) == {"executionStatus": "completed"}
    totals = client.jobs.get_metrics(job_id)["totals"]
    assert totals["numRowsProcessed"] == totals["numRowsPersisted"] == 2
    logs = client.jobs.get_logs(job_id)["logs"]
    assert [entry["message"] for entry in logs] == ["Job created", "Job started", "Job completed"]
    second = client.jobs.create(batch_spec())
    assert [j["id"] for j in client.jobs.iter_all(page_size=1)] == [second["id"], job_id]
    assert client.jobs.set_status(second["id"], "running") == {"executionStatus": "pending"}
    assert client.jobs.cancel(second["id"]) == {"executionStatus": "pending"}
    emu.advance(0.5)
    assert client.jobs.get(second["id"])["health"]["code"] == "canceled"
    third = client.jobs.create(batch_spec())
    updated = client.jobs.update(third["id"], "canceled")  # the older PUT /jobs/{id}
    assert updated["id"] == third["id"] and updated["desiredExecutionStatus"] == "canceled"
    assert updated["spec"]["type"] == "batch"
    with pytest.raises(PolarisBadRequestError) as not_streaming:
        client.jobs.reset(job_id)
    assert not_streaming.value.target == "jobId"
    with pytest.raises(PolarisNotFoundError):
        client.jobs.get("no-such-job")
    statuses = [(m, s) for m, _, s in _statuses(emu)]
    assert statuses.count(("POST", 201)) == 3  # the upload answers 200, each job create 201
    assert ("PUT", 200) in statuses
    assert statuses[-2:] == [("POST", 400), ("GET", 404)]


def test_streaming_job_suspend_resume_reset_and_events(
    client: PolarisClient, emu: PolarisEmulator
) -> None:
    client.connections.create({"type": "push_streaming", "name": "push"})
    job_id = client.jobs.create(streaming_spec())["id"]
    emu.advance(1)
    assert client.jobs.get_status(job_id) == {"executionStatus": "running"}
    now = datetime.fromtimestamp(emu.state.clock.now(), timezone.utc).isoformat()
    events = f'{{"ts":"{now}","n":1}}\n{{"ts":"{now}","n":2}}\n'.encode()
    pushed = client.events.push("push", events)
    assert pushed.status_code == 200
    assert pushed.rate_limit.limit == 83334 and pushed.rate_limit.remaining == 83333
    assert pushed.rate_limit.reset_seconds is not None and pushed.rate_limit.reset_seconds > 0
    assert client.events.push("push", events, gzip=True).status_code == 200
    assert client.jobs.suspend(job_id) == {"executionStatus": "running"}
    emu.advance(0.5)
    assert client.jobs.get_status(job_id) == {"executionStatus": "suspended"}
    assert client.jobs.resume(job_id) == {"executionStatus": "suspended"}
    emu.advance(0.5)
    assert client.jobs.get_status(job_id) == {"executionStatus": "running"}
    assert client.jobs.reset(job_id) is None
    assert client.jobs.get_metrics(job_id)["totals"]["numRowsProcessed"] == 4
    with pytest.raises(PolarisNotFoundError):
        client.events.push("nope", events)
    with pytest.raises(PolarisApiError) as too_large:
        client.events.push("push", b"x" * (1024 * 1024 + 1))
    assert too_large.value.status_code == 413
    statuses = _statuses(emu)
    assert ("POST", f"/jobs/{job_id}/reset", 200) in statuses
    assert [s for _, p, s in statuses if p == "/events/push"] == [200, 200, 413]


def test_query_sql(client: PolarisClient, emu: PolarisEmulator) -> None:
    client.files.upload("events.json", io.BytesIO(ROWS))
    client.jobs.create(batch_spec())
    emu.advance(5)
    sql = 'SELECT "country", "n" FROM "t" WHERE "n" > ? ORDER BY "n"'
    params = [{"type": "BIGINT", "value": 0}]
    assert client.query.sql(sql, parameters=params) == [
        {"country": "DE", "n": 1},
        {"country": "FR", "n": 2},
    ]
    assert client.query.sql(sql, parameters=params, result_format="array", header=True) == [
        ["country", "n"],
        ["DE", 1],
        ["FR", 2],
    ]
    assert client.query.sql(sql, parameters=params, result_format="csv") == "DE,1\nFR,2\n\n"
    lines = client.query.sql(sql, parameters=params, result_format="objectLines")
    assert lines == '{"country":"DE","n":1}\n{"country":"FR","n":2}\n\n'
    typed = client.query.sql(
        sql, parameters=params, header=True, types_header=True, sql_types_header=True
    )
    assert typed[0] == {
        "country": {"type": "STRING", "sqlType": "VARCHAR"},
        "n": {"type": "LONG", "sqlType": "BIGINT"},
    }
    with pytest.raises(PolarisBadRequestError) as missing:
        client.query.sql('SELECT * FROM "missing"')
    assert "missing" in missing.value.message
    assert [s for _, _, s in _statuses(emu)][-6:] == [200, 200, 200, 200, 200, 400]


def test_async_query_statements(client: PolarisClient, emu: PolarisEmulator) -> None:
    client.files.upload("events.json", io.BytesIO(ROWS))
    client.jobs.create(batch_spec())
    emu.advance(5)
    sql = 'SELECT "country", "n" FROM "t" WHERE "n" > ? ORDER BY "n"'
    submitted = client.query.submit_statement(
        sql, parameters=[{"type": "BIGINT", "value": 0}], context={"rowsPerPage": 1}
    )
    query_id = submitted["queryId"]
    assert submitted["state"] == "RUNNING" and [c["name"] for c in submitted["schema"]] == [
        "country",
        "n",
    ]
    with pytest.raises(PolarisBadRequestError):  # not finished yet
        client.query.get_statement_results(query_id)
    emu.advance(1)
    done = client.query.get_statement(query_id)
    assert done["state"] == "SUCCESS" and done["result"]["numTotalRows"] == 2
    assert [p["id"] for p in done["result"]["pages"]] == [0, 1]
    assert "stages" in client.query.get_statement(query_id, detail=True)
    assert client.query.get_statement_results(query_id, page=1) == [{"country": "FR", "n": 2}]
    assert client.query.get_statement_results(query_id, result_format="csv") == "DE,1\nFR,2\n\n"
    rows = list(client.query.iter_statement_results(done, result_format="array"))
    assert rows == [["DE", 1], ["FR", 2]]
    assert client.query.cancel_statement(query_id) is None  # already done: 200
    running = client.query.submit_statement('SELECT COUNT(*) AS "c" FROM "t"')["queryId"]
    assert client.query.cancel_statement(running) is None  # 202
    assert client.query.get_statement(running)["errorDetails"]["category"] == "CANCELED"
    with pytest.raises(PolarisBadRequestError) as failed:
        client.query.submit_statement('SELECT * FROM "missing"')
    assert "missing" in failed.value.message
    with pytest.raises(PolarisNotFoundError):
        client.query.get_statement("no-such-query")
    statements = [(m, s) for m, p, s in _statuses(emu) if p.startswith("/query/sql/statements")]
    assert ("DELETE", 200) in statements and ("DELETE", 202) in statements
    assert statements[-2:] == [("POST", 400), ("GET", 404)]


async def test_async_client_through_the_same_endpoints(emu: PolarisEmulator) -> None:
    async with AsyncPolarisClient(_config(emu)) as client:
        assert (await client.projects.get())["metadata"]["uid"] == emu.project_id
        await client.files.upload("events.json", io.BytesIO(ROWS))
        await client.connections.create({"type": "push_streaming", "name": "push"})
        job = await client.jobs.create(batch_spec())
        assert (await client.jobs.get_status(job["id"])) == {"executionStatus": "pending"}
        emu.advance(5)
        assert [t["name"] for t in await client.tables.list()] == ["t"]
        assert [j["id"] async for j in client.jobs.iter_all(type="batch")] == [job["id"]]
        assert [f["name"] async for f in client.files.iter_all()] == ["events.json"]
        pushed = await client.events.push("push", ROWS, gzip=True)
        assert pushed.status_code == 200
        rows = await client.query.sql('SELECT COUNT(*) AS "c" FROM "t"')
        assert rows == [{"c": 2}]
        statement = await client.query.submit_statement('SELECT COUNT(*) AS "c" FROM "t"')
        emu.advance(1)
        status = await client.query.get_statement(statement["queryId"])
        assert [row async for row in client.query.iter_statement_results(status)] == [{"c": 2}]
        with pytest.raises(PolarisNotFoundError):
            await client.tables.get("none")
    statuses = [s for _, _, s in _statuses(emu)]
    assert statuses == [200, 200, 201, 201] + [200] * 9 + [404]
