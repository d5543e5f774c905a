"""HTTP-level behaviour around the handlers: Location headers, 405s, faults, client disconnects."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, upload


def test_location_headers_percent_encode_names(api: httpx.Client, emu: PolarisEmulator) -> None:
    project = f"{emu.base_url}/v1/projects/{emu.project_id}"
    table = api.post("/tables", json={"name": "Koalas Rollup", "type": "detail"})
    assert table.status_code == 201
    assert table.headers["location"] == f"{project}/tables/Koalas%20Rollup"
    assert api.get(table.headers["location"]).json()["name"] == "Koalas Rollup"

    conn = api.post("/connections", json={"type": "push_streaming", "name": "a.b_c-d"})
    assert conn.headers["location"] == f"{project}/connections/a.b_c-d"

    uploaded = upload(api, "dir/my events.json")
    assert uploaded.headers["location"] == f"{project}/files/dir%2Fmy%20events.json"
    assert api.get(uploaded.headers["location"]).json()["name"] == "dir/my events.json"

    job = api.post("/jobs", json=batch_spec("Koalas Rollup"))
    assert job.headers["location"] == f"{project}/jobs/{job.json()['id']}"


def test_unsupported_method_is_405_json(api: httpx.Client) -> None:
    api.post("/tables", json={"name": "x", "type": "detail"})
    response = api.delete("/tables/x")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == "MethodNotAllowed" and "DELETE" in body["message"]
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT"}


def test_fault_answers_are_logged_with_the_real_auth_kind(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.inject_fault("GET", "/tables", status=502, count=2)
    assert api.get("/tables").status_code == 502
    assert api.get("/tables", auth=("pok_wrong", "")).status_code == 502
    assert [e["auth_kind"] for e in emu.request_log()] == ["basic", "invalid"]


@pytest.fixture
def error_records() -> Iterator[list[logging.LogRecord]]:
    """Error records of the server's loggers (uvicorn's do not reach pytest's caplog)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.ERROR)
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "airflow_provider_polaris")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _hang_up_mid_body(emu: PolarisEmulator, path: str) -> None:
    """Send headers announcing 1,000 bytes, send 10, then close the connection."""
    with socket.create_connection((emu.host, emu.port), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {emu.api_key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"ts": 1}\n'
        )


def _wait_for_entries(emu: PolarisEmulator, count: int) -> list[dict[str, object]]:
    # The server notices the hang-up on its own loop; poll its log with a deadline.
    deadline = time.monotonic() + 5
    while len(emu.request_log()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return emu.request_log()


@pytest.mark.parametrize("routed", [False, True], ids=["fast-path", "routed"])
def test_client_hanging_up_mid_push_is_quiet(
    api: httpx.Client,
    emu: PolarisEmulator,
    error_records: list[logging.LogRecord],
    routed: bool,
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    if routed:
        emu.inject_fault("DELETE", "/never")  # sends events through the router
    emu.clear_request_log()
    _hang_up_mid_body(emu, f"/v1/projects/{emu.project_id}/events/push")
    _hang_up_mid_body(emu, f"/v1/projects/{emu.project_id}/jobs")
    log = _wait_for_entries(emu, 2)
    assert sorted((e["method"], e["status"]) for e in log) == [("POST", 0), ("POST", 0)]
    assert {e["auth_kind"] for e in log} == {"basic_raw"}
    assert error_records == []
    assert api.get("/jobs").json()["values"] == []  # nothing half-created
