"""The server itself: control API over HTTP, the plugin fixture, a plain script, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import httpx

from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import batch_spec, create_job, status, upload


def test_fixture_sets_airflow_connection(polaris_emulator: PolarisEmulator) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_POLARIS_DEFAULT"])
    assert conn == {
        "conn_type": "imply_polaris",
        "host": polaris_emulator.base_url,
        "password": polaris_emulator.api_key,
        "extra": {"project_id": polaris_emulator.project_id},
    }
    assert polaris_emulator.api_key.startswith("pok_") and polaris_emulator.org == "emulator"
    extra = json.loads(polaris_emulator.airflow_connection({"region": "us-east-1"}))["extra"]
    assert extra == {"project_id": polaris_emulator.project_id, "region": "us-east-1"}


def test_fixture_state_is_reset_between_tests_part_one(api: httpx.Client) -> None:
    assert api.post("/tables", json={"name": "leftover", "type": "detail"}).status_code == 201


def test_fixture_state_is_reset_between_tests_part_two(api: httpx.Client) -> None:
    assert api.get("/tables/leftover").status_code == 404


def test_control_api_over_http(api: httpx.Client, emu: PolarisEmulator) -> None:
    control = httpx.Client(base_url=f"{emu.base_url}/_emulator")
    info = control.get("/info").json()
    assert info["project_id"] == emu.project_id and info["manual_clock"] is True
    upload(api)
    assert (
        control.post(
            "/scripts",
            json={"outcome": "failed", "after_polls": 0, "health_code": "internal_error"},
        ).status_code
        == 201
    )
    job = create_job(api, batch_spec())
    assert status(api, job["id"]) == "failed"
    assert control.get(f"/jobs/{job['id']}").json()["_emulator"]["polls"] == 1
    assert (
        control.post(
            "/faults", json={"method": "GET", "path": "/tables", "status": 502}
        ).status_code
        == 201
    )
    assert api.get("/tables").status_code == 502
    assert control.get(
        "/requests/count", params={"method": "GET", "path_regex": "/tables"}
    ).json() == {"count": 1}
    assert len(control.get("/requests").json()["requests"]) == 4
    assert control.delete("/requests").status_code == 200 and emu.request_log() == []
    assert (
        control.post("/oauth-clients", json={"client_id": "a", "client_secret": "b"}).status_code
        == 201
    )
    token = httpx.post(
        emu.token_url,
        data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
    )
    assert token.status_code == 200
    before = control.get("/info").json()["now"]
    assert control.post("/advance", json={"seconds": 30}).json()["now"] == before + 30
    assert control.post("/events-budget", json={"per_minute": 5}).status_code == 200
    assert control.get("/tables/none/rows").json() == {"rows": []}
    assert control.get("/jobs/none").status_code == 404
    assert control.post("/scripts", json={"outcome": "exploded"}).status_code == 400
    assert control.post("/configure", json={"time_scale": 0.5}).status_code == 200
    assert control.post("/reset").status_code == 200
    assert api.get("/jobs").json()["values"] == []


def test_plain_script_runs_a_job_to_completion() -> None:
    script = textwrap.dedent(
        """
        import httpx
        from airflow_provider_polaris.testing import PolarisEmulator
        with PolarisEmulator(time_scale=0.001) as emu:
            url = f"{emu.base_url}/v1/projects/{emu.project_id}"
            api = httpx.Client(base_url=url, auth=(emu.api_key, ""))
            drop = {"type": "drop_table", "target": {"type": "table", "tableName": "x"}}
            assert api.post("/jobs", json=drop).status_code == 404
            api.post("/tables", json={"name": "x", "type": "detail"})
            job = api.post("/jobs", json=drop).json()
            emu.advance(5)
            print(api.get(f"/jobs/{job['id']}/status").json()["executionStatus"])
        print("stopped", emu.running)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["completed", "stopped", "False"]


def test_cli_prints_banner_serves_and_stops_on_ctrl_c() -> None:
    cmd = [
        sys.executable,
        "-m",
        "airflow_provider_polaris.testing",
        "serve",
        "--port",
        "0",
        "--api-key",
        "pok_cli",
        "--project-id",
        "p1",
        "--time-scale",
        "0.01",
        "--job-duration",
        "batch=7",
        "--job-duration",
        "pending=0.5",
        "--http",
        "h11",
        "--loop",
        "asyncio",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline()]
        while not banner[-1].startswith("Press Ctrl-C") and banner[-1]:
            banner.append(proc.stdout.readline())
        base = re.search(r"(http://\S+)", banner[0]).group(1)  # type: ignore[union-attr]
        assert (
            "p1" in banner[1] and "pok_cli" in banner[2] and "curl -u pok_cli:" in "".join(banner)
        )
        response = httpx.get(f"{base}/v1/projects/p1/jobs", auth=("pok_cli", ""), timeout=10)
        assert response.status_code == 200 and response.json() == {
            "values": [],
            "moreResultsAvailable": False,
        }
        durations = httpx.get(f"{base}/_emulator/info", timeout=10).json()["job_durations"]
        assert (durations["batch"], durations["pending"], durations["sql"]) == (7, 0.5, 3)
        durations_line = next(line for line in banner if "durations" in line)
        assert "batch=7" in durations_line and "pending=0.5" in durations_line
        assert any(line.partition(":")[2].strip() == "uvicorn, h11 + asyncio" for line in banner)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_start_stop_methods_and_restart_on_new_port() -> None:
    emu = PolarisEmulator(project_id="p2", manual_clock=True)
    emu.start()
    try:
        assert emu.running and httpx.get(f"{emu.base_url}/_emulator/health").status_code == 200
    finally:
        emu.stop()
    assert not emu.running


async def test_accepted_connections_have_tcp_nodelay_on_plain_asyncio() -> None:
    """Without uvloop, asyncio sets TCP_NODELAY only for sockets created with IPPROTO_TCP.

    Lacking it, every keep-alive response with a body stalled ~40 ms on the client's delayed ACK
    (178 GET/s instead of thousands on a plain ``[emulator]`` install).
    """
    import asyncio
    import socket

    from airflow_provider_polaris.testing.server import bind_socket

    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    listener = bind_socket("127.0.0.1", 0)
    server = await asyncio.start_server(on_connect, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        assert await asyncio.wait_for(accepted, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
