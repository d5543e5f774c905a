"""Push events (limits, rate budget, fan-out) and SQL queries in every result format."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import httpx
import pytest

from airflow_provider_polaris.testing._sql import render_result
from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, streaming_spec, upload

RATE_HEADERS = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit-Minute",
    "X-RateLimit-Remaining-Minute",
)


def _events(count: int = 3) -> bytes:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return b"".join(json.dumps({"ts": now, "n": i}).encode() + b"\n" for i in range(count))


def test_push_fans_out_to_every_streaming_job(api: httpx.Client, emu: PolarisEmulator) -> None:
    emu.configure(manual_clock=False)
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    first = create_job(api, streaming_spec("s1"))
    second = create_job(api, streaming_spec("s2"))
    emu.advance(1)
    response = api.post(
        "/events/push", content=_events(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200 and response.content == b""
    assert all(name in response.headers for name in RATE_HEADERS)
    gz = api.post(
        "/events/push", content=gzip.compress(_events(2)), headers={"Content-Encoding": "gzip"}
    )
    assert gz.status_code == 200
    for job in (first, second):
        assert api.get(f"/jobs/{job['id']}/metrics").json()["totals"]["numRowsProcessed"] == 5


def test_one_push_fans_out_into_two_tables_each_with_its_own_mappings(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.configure(manual_clock=False)
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    create_job(api, streaming_spec("plain"))
    doubled = streaming_spec("doubled", filterExpression='"n" > 0')
    doubled["mappings"][1] = {"columnName": "n", "expression": '"n" * 2'}
    create_job(api, doubled)
    emu.advance(1)
    assert api.post("/events/push", content=_events(3)).status_code == 200
    # No read in between: each table gets the push mapped by its own job.
    for table, expected in (("plain", [[0], [1], [2]]), ("doubled", [[2], [4]])):
        query = {"query": f'SELECT "n" FROM "{table}" ORDER BY "n"', "resultFormat": "array"}
        assert api.post("/query/sql", json=query).json() == expected


def test_counts_show_in_metrics_right_after_a_push(api: httpx.Client, emu: PolarisEmulator) -> None:
    emu.configure(manual_clock=False)
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job = create_job(api, streaming_spec(filterExpression='"n" <> 1'))
    emu.advance(1)
    lines = _events(3) + b'{"ts": null, "n": 5}\nnot json\n'
    assert api.post("/events/push", content=lines).status_code == 200
    totals = api.get(f"/jobs/{job['id']}/metrics").json()["totals"]
    assert (
        totals["numRowsProcessed"],
        totals["numRowsSkippedByFilter"],
        totals["numRowsSkippedByError"],  # the bad line at once, the NULL time in the batch
    ) == (2, 1, 2)
    assert api.get(f"/jobs/{job['id']}").json()["health"]["status"] == "warn"


def test_events_buffer_while_pending(api: httpx.Client, emu: PolarisEmulator) -> None:
    emu.configure(manual_clock=False)
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job = create_job(api, streaming_spec())
    assert api.post("/events/push", content=_events(4)).status_code == 200
    assert emu.get_job(job["id"])["_emulator"]["bufferedEvents"] == 4
    emu.advance(1)
    assert api.get(f"/jobs/{job['id']}/metrics").json()["totals"]["numRowsProcessed"] == 4


def test_events_errors(api: httpx.Client) -> None:
    assert api.post("/events/none", content=_events()).status_code == 404
    api.post(
        "/connections",
        json={
            "type": "kinesis",
            "name": "kin",
            "stream": "s",
            "awsEndpoint": "e",
            "awsAssumedRoleArn": "arn",
        },
    )
    not_push = api.post("/events/kin", content=_events())
    assert not_push.status_code == 400 and "RateLimit-Limit" in not_push.headers
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    assert api.post("/events/push", content=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert (
        api.post("/events/push", content=b"{}", headers={"Content-Type": "text/csv"}).status_code
        == 415
    )
    assert (
        api.post("/events/push", content=b"{}", headers={"Content-Encoding": "br"}).status_code
        == 415
    )
    assert (
        api.post("/events/push", content=b"{}", headers={"Content-Encoding": "gzip"}).status_code
        == 400
    )
    assert (
        api.post("/events/push", content=_events()).status_code == 200
    )  # no job reads it: accepted


def test_events_budget_429_and_window_reset(api: httpx.Client, emu: PolarisEmulator) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    emu.set_events_budget(2)
    assert [api.post("/events/push", content=b"{}").status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    limited = api.post("/events/push", content=b"{}")
    assert limited.json() == {"message": "API rate limit exceeded"}
    assert (
        int(limited.headers["Retry-After"]) >= 1 and limited.headers["RateLimit-Remaining"] == "0"
    )
    assert limited.headers["X-RateLimit-Limit-Minute"] == "2"
    emu.advance(60)
    assert api.post("/events/push", content=b"{}").status_code == 200


def test_query_formats_and_errors(api: httpx.Client, emu: PolarisEmulator) -> None:
    response = api.post("/query/sql", json={"query": "SELEC nonsense"})
    assert response.status_code == 400
    error = response.json()
    assert {"error", "errorCode", "persona", "category", "errorMessage"} <= set(error)
    assert (
        api.post("/query/sql", json={"query": "SELECT 1", "resultFormat": "xml"}).status_code == 400
    )
    assert api.post("/query/sql", json={"nothing": 1}).status_code == 400
    assert (
        api.post(
            "/query/sql", content=b"SELECT 1", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    upload(api)
    create_job(api, batch_spec("q"))
    emu.advance(10)
    query = {
        "query": 'SELECT COUNT(*) AS "n" FROM "q" WHERE "country" = ?',
        "parameters": [{"type": "VARCHAR", "value": "DE"}],
    }
    ok = api.post("/query/sql", json={**query, "resultFormat": "array", "header": True})
    assert ok.status_code == 200 and ok.headers["X-Druid-SQL-Header-Included"] == "yes"
    assert ok.json() == [["n"], [1]]
    assert api.post("/query/sql", json=query).json() == [{"n": 1}]


@pytest.mark.parametrize(
    ("fmt", "expected", "media"),
    [
        (
            "object",
            '[{"c":{"type":"STRING","sqlType":"VARCHAR"},"n":{"type":"LONG","sqlType":"BIGINT"}},{"c":"a","n":1}]',
            "application/json",
        ),
        ("array", '[["c","n"],["STRING","LONG"],["VARCHAR","BIGINT"],["a",1]]', "application/json"),
        (
            "objectLines",
            '{"c":{"type":"STRING","sqlType":"VARCHAR"},"n":{"type":"LONG","sqlType":"BIGINT"}}\n{"c":"a","n":1}\n\n',
            "text/plain",
        ),
        (
            "arrayLines",
            '["c","n"]\n["STRING","LONG"]\n["VARCHAR","BIGINT"]\n["a",1]\n\n',
            "text/plain",
        ),
        ("csv", "c,n\nSTRING,LONG\nVARCHAR,BIGINT\na,1\n\n", "text/csv"),
    ],
)
def test_render_result_formats(fmt: str, expected: str, media: str) -> None:
    body, media_type = render_result(
        ["c", "n"],
        ["VARCHAR", "BIGINT"],
        [["a", 1]],
        fmt=fmt,
        header=True,
        types_header=True,
        sql_types_header=True,
    )
    assert body.decode() == expected and media_type == media


def test_render_without_header() -> None:
    body, _ = render_result(
        ["c"],
        ["VARCHAR"],
        [["a"]],
        fmt="object",
        header=False,
        types_header=True,
        sql_types_header=False,
    )
    assert json.loads(body) == [{"c": "a"}]
