"""Injected faults: error statuses, 429 with headers, slow responses, dropped connections."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, upload


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_status_fault_hits_count_requests_then_clears(
    api: httpx.Client, emu: PolarisEmulator, code: int
) -> None:
    emu.inject_fault("GET", r"/jobs", status=code, count=2)
    assert [api.get("/jobs").status_code for _ in range(3)] == [code, code, 200]
    assert api.get("/tables").status_code == 200
    assert [e["status"] for e in emu.request_log()] == [code, code, 200, 200]


def test_429_fault_carries_retry_after_and_rate_headers(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.inject_fault("POST", r"/jobs", status=429, retry_after=7)
    response = api.post("/jobs", json=batch_spec())
    assert response.status_code == 429
    assert response.json() == {"message": "API rate limit exceeded"}
    assert response.headers["Retry-After"] == "7" and response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Limit-Minute"] == "83334"
    assert emu.count_requests("POST", "/jobs") == 1
    assert api.get("/jobs").json()["values"] == []  # refused without acting


def test_fault_on_a_job_path_regex_and_any_method(api: httpx.Client, emu: PolarisEmulator) -> None:
    upload(api)
    job = create_job(api, batch_spec())
    emu.inject_fault("*", r"/jobs/[^/]+/status", status=503, retry_after=0.5)
    response = api.get(f"/jobs/{job['id']}/status")
    assert response.status_code == 503 and response.headers["Retry-After"] == "0.5"
    assert response.json()["code"] == "ServiceUnavailable"
    assert api.get(f"/jobs/{job['id']}").status_code == 200


def test_delay_fault_outlasts_the_client_timeout_but_the_job_exists(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    emu.inject_fault("POST", r"/jobs", kind="delay", delay_seconds=2.0)
    with pytest.raises(httpx.ReadTimeout):
        api.post("/jobs", json=batch_spec(), timeout=0.2)
    assert len(api.get("/jobs").json()["values"]) == 1  # processed, only the answer was late


def test_drop_fault_closes_the_connection_without_response(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    emu.inject_fault("GET", r"/jobs", kind="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/jobs")
    assert api.get("/jobs").status_code == 200
    assert emu.request_log()[0]["status"] == 0


def test_bad_fault_arguments(emu: PolarisEmulator) -> None:
    with pytest.raises(ValueError):
        emu.inject_fault(kind="explode")
    with pytest.raises(ValueError):
        emu.inject_fault(status=200)
    emu.inject_fault(count=3)
    emu.clear_faults()
    assert httpx.get(f"{emu.base_url}/_emulator/faults").json() == {"faults": []}
