"""The events route's raw-ASGI fast path answers exactly like the routed path (used while faults
are waiting), logs like every other route, and finds readers through the connection index."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import create_job, streaming_spec

# Values that change from one call to the next; the names must still be there.
_MOVING = {"ratelimit-remaining", "x-ratelimit-remaining-minute", "ratelimit-reset", "retry-after"}


def _events(count: int = 3) -> bytes:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return b"".join(json.dumps({"ts": now, "n": i}).encode() + b"\n" for i in range(count))


def _shape(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [
        (name, "*" if name in _MOVING else value)
        for name, value in response.headers.multi_items()
        if name not in ("date", "server")
    ]
    return response.status_code, headers, response.content


def _cases() -> list[dict[str, Any]]:
    events = _events()
    return [
        {"url": "/events/push", "content": events},
        {"url": "/events/push", "content": events, "headers": {"Content-Type": "text/plain"}},
        {
            "url": "/events/push",
            "content": gzip.compress(events),
            "headers": {"Content-Encoding": "GZIP"},
        },
        {"url": "/events/push", "content": b"{}", "headers": {"Content-Encoding": "gzip"}},
        {"url": "/events/push", "content": b"{}", "headers": {"Content-Encoding": "br"}},
        {"url": "/events/push", "content": b"{}", "headers": {"Content-Type": "text/csv"}},
        {
            "url": "/events/push",
            "content": b"{}",
            "headers": {"Content-Type": "Application/JSON; charset=utf-8"},
        },
        {"url": "/events/push", "content": b"x" * (1024 * 1024 + 1)},
        {"url": "/events/none", "content": events},
        {"url": "/events/batchconn", "content": events},
        {"url": "/events/push", "content": b""},
    ]


@pytest.fixture
def pushing(api: httpx.Client, emu: PolarisEmulator) -> httpx.Client:
    emu.configure(manual_clock=False)
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    api.post(
        "/connections",
        json={
            "type": "kinesis",
            "name": "batchconn",
            "stream": "s",
            "awsEndpoint": "e",
            "awsAssumedRoleArn": "arn",
        },
    )
    return api


def test_fast_path_answers_like_the_routed_path(
    pushing: httpx.Client, emu: PolarisEmulator
) -> None:
    fast = [_shape(pushing.post(**case)) for case in _cases()]
    # A fault that never matches still sends every request through the router.
    emu.inject_fault("DELETE", "/never")
    routed = [_shape(pushing.post(**case)) for case in _cases()]
    assert fast == routed
    assert [status for status, _, _ in fast] == [
        200,
        200,
        200,
        400,
        415,
        415,
        200,
        413,
        404,
        400,
        200,
    ]
    for _, headers, _ in fast:
        names = [name for name, _ in headers]
        assert names[:5] == [
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "x-ratelimit-limit-minute",
            "x-ratelimit-remaining-minute",
        ]


def test_fast_path_429_matches_routed(pushing: httpx.Client, emu: PolarisEmulator) -> None:
    emu.set_events_budget(1)
    assert pushing.post("/events/push", content=b"{}").status_code == 200
    fast = pushing.post("/events/push", content=b"{}")
    emu.inject_fault("DELETE", "/never")
    routed = pushing.post("/events/push", content=b"{}")
    assert _shape(fast) == _shape(routed)
    assert fast.status_code == 429 and int(fast.headers["Retry-After"]) >= 1


def test_events_log_auth_and_faults(pushing: httpx.Client, emu: PolarisEmulator) -> None:
    emu.clear_request_log()
    assert pushing.post("/events/push?x=1", content=_events()).status_code == 200
    bad = httpx.post(
        f"{emu.base_url}/v1/projects/{emu.project_id}/events/push",
        content=b"{}",
        auth=("wrong", ""),
    )
    assert bad.status_code == 401
    anonymous = httpx.post(
        f"{emu.base_url}/v1/projects/{emu.project_id}/events/push", content=b"{}"
    )
    assert anonymous.status_code == 401
    wrong_method = pushing.get("/events/push")
    assert wrong_method.status_code == 405
    emu.inject_fault("POST", "/events/push", status=503)
    injected = pushing.post("/events/push", content=b"{}")
    assert injected.status_code == 503
    # Every events answer carries the rate-limit headers; a refused call spends no budget.
    for response in (bad, anonymous, wrong_method, injected):
        assert response.headers["RateLimit-Limit"] == "83334", response
        assert response.headers["X-RateLimit-Limit-Minute"] == "83334", response
        assert response.headers["RateLimit-Remaining"] == "83333", response
        assert response.headers["X-RateLimit-Remaining-Minute"] == "83333", response
        assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60, response
    log = emu.request_log()
    assert [(e["method"], e["query"], e["status"], e["auth_kind"]) for e in log] == [
        ("POST", "x=1", 200, "basic"),
        ("POST", "", 401, "invalid"),
        ("POST", "", 401, "none"),
        ("GET", "", 405, "basic"),
        ("POST", "", 503, "basic"),  # the fault answered, the credentials were still sent
    ]
    assert log[0]["path"] == f"/v1/projects/{emu.project_id}/events/push"
    assert emu.count_requests("post", "/events/push") == 4


def test_401_on_events_fast_and_routed_paths_alike(
    pushing: httpx.Client, emu: PolarisEmulator
) -> None:
    url = f"{emu.base_url}/v1/projects/{emu.project_id}/events/push"
    fast = httpx.post(url, content=b"{}", auth=("wrong", ""))
    emu.inject_fault("DELETE", "/never")
    routed = httpx.post(url, content=b"{}", auth=("wrong", ""))
    assert fast.status_code == routed.status_code == 401
    assert _shape(fast) == _shape(routed)


def test_429_fault_on_events_keeps_its_exhausted_rate_headers(
    pushing: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.inject_fault("POST", "/events/push", status=429, retry_after=3)
    response = pushing.post("/events/push", content=b"{}")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.headers.get_list("RateLimit-Remaining") == ["0"]


def test_readers_index_follows_jobs(pushing: httpx.Client, emu: PolarisEmulator) -> None:
    pushing.post("/connections", json={"type": "push_streaming", "name": "other"})
    first = create_job(pushing, streaming_spec("s1"))
    create_job(pushing, streaming_spec("s2", connection="other"))
    emu.advance(1)
    assert [job.id for job in emu.state.check_events_connection("push")] == [first["id"]]
    pushing.put(f"/jobs/{first['id']}", json={"desiredExecutionStatus": "canceled"})
    emu.advance(60)
    assert pushing.get(f"/jobs/{first['id']}").json()["executionStatus"] == "canceled"
    assert emu.state.check_events_connection("push") == []
    second = create_job(pushing, streaming_spec("s1"))
    emu.advance(1)
    assert pushing.post("/events/push", content=_events(2)).status_code == 200
    totals = pushing.get(f"/jobs/{second['id']}/metrics").json()["totals"]
    assert totals["numRowsProcessed"] == 2
    emu.reset()
    pushing.post("/connections", json={"type": "push_streaming", "name": "push"})
    assert emu.state.check_events_connection("push") == []
