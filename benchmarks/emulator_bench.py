"""Throughput of the Polaris emulator: is it fast enough never to be the bottleneck of a benchmark?

Starts ``python -m airflow_provider_polaris.testing serve`` in a subprocess (pinned to one core when
the machine has two or more, the client takes another), then drives it with a minimal keep-alive
HTTP/1.1 client on raw asyncio streams over several connections — httpx would cost the client more
CPU per request than the server spends. Prints: endpoint, requests, seconds, req/s, events/s,
and the server's own CPU time per request with the rate that CPU allows on one core
(``req/s/core``), which stays meaningful when other work shares the machine.

Each server stack is measured: ``plain`` is pure-Python uvicorn (h11 + asyncio), what runs where
httptools or uvloop cannot be installed; ``fast`` is httptools + uvloop, which the ``emulator``
extra installs (uvloop not on Windows). A row with a target is judged on BOTH its
wall-clock rate (req/s: catches latency stalls, such as a delayed-ACK wait, that cost no CPU) and
its CPU rate (req/s/core: what one core allows when others share the machine).

The streaming row pushes a fixed number of requests (``--stream-pushes``, default 20,000 x 60
events = 1.2 M rows into one table) instead of stopping after ``--seconds``, and prints a line
per quarter, so a cost that grows with the table shows up as falling rates.

    python benchmarks/emulator_bench.py [--requests 20000] [--seconds 10] [--connections 8]
                                        [--stream-pushes 20000] [--stream-seconds 900]
                                        [--stacks plain,fast]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

API_KEY = "pok_bench"
PROJECT = "00000000-0000-4000-8000-000000000001"
EVENTS_PER_PUSH = 60
STREAM_ROW = "POST /events (60 events, 1 streaming job)"
REQUIRED = {
    "GET /jobs/{id}": 2000.0,
    "POST /events/{conn} (no job)": 1500.0,
    STREAM_ROW: 1500.0,
}
STREAM_PARTS = 4
ONE_CONNECTION_ROW = "GET /jobs/{id} (1 connection)"


STACKS = {
    "plain": ("--http", "h11", "--loop", "asyncio"),
    "fast": ("--http", "httptools", "--loop", "uvloop"),
}
HEADER = (
    f"{'endpoint':<42} {'stack':<6} {'requests':>9} {'seconds':>8} {'req/s':>10} {'events/s':>12}"
    f" {'srv ms/req':>11} {'req/s/core':>11}  verdict"
)


@dataclass
class Row:
    """One line of the result table."""

    endpoint: str
    requests: int
    seconds: float
    events: int = 0
    server_cpu: float = 0.0
    stack: str = ""
    verdict: str = ""

    def print(self) -> None:
        """Print the row aligned with the header."""
        events = f"{self.events / self.seconds:12,.0f}" if self.events else f"{'-':>12}"
        cpu_ms = self.server_cpu * 1000 / self.requests if self.requests else 0.0
        print(
            f"{self.endpoint:<42} {self.stack:<6} {self.requests:>9,} {self.seconds:>8.2f}"
            f" {self.rate:>10,.0f} {events} {cpu_ms:>11.3f} {self.per_core:>11,.0f}"
            f"  {self.verdict}".rstrip(),
            flush=True,
        )

    @property
    def rate(self) -> float:
        """Requests per second of wall-clock time."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_core(self) -> float:
        """Requests per second of server CPU."""
        return self.requests / self.server_cpu if self.server_cpu else 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_server(stack: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        "-m",
        "airflow_provider_polaris.testing",
        "serve",
        "--port",
        "0",
        "--api-key",
        API_KEY,
        "--project-id",
        PROJECT,
        "--time-scale",
        "0.001",
        "--events-budget",
        "100000000",
        *STACKS[stack],
    ]
    pin: Callable[[], None] | None = None
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cores[1:])
        pin = lambda: os.sched_setaffinity(0, {cores[0]})  # noqa: E731 - one-liner for preexec_fn
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=pin)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"emulator did not start: {line!r}")
    base = match.group(1)
    deadline = time.monotonic() + 15
    while True:
        try:
            urllib.request.urlopen(f"{base}/_emulator/health", timeout=1).read()
            return proc, base
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)


def _call(
    base: str, method: str, path: str, body: dict[str, object] | None = None
) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}/v1/projects/{PROJECT}{path}", data=data, method=method
    )
    request.add_header("Authorization", f"Basic {API_KEY}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


async def _worker(host: str, port: int, request: bytes, budget: list[int], deadline: float) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            if length:
                await reader.readexactly(length)
            done += 1
    finally:
        writer.close()
    return done


async def _drive(
    base: str, request: bytes, requests: int, seconds: float, connections: int
) -> tuple[int, float]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    budget = [requests]
    start = time.perf_counter()
    deadline = start + seconds
    counts = await asyncio.gather(
        *(_worker(host, int(port), request, budget, deadline) for _ in range(connections))
    )
    return sum(counts), time.perf_counter() - start


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    auth = base64.b64encode(f"{API_KEY}:".encode()).decode()
    head = (
        f"{method} /v1/projects/{PROJECT}{path} HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _streaming_job(connection: str, table: str) -> dict[str, object]:
    return {
        "type": "streaming",
        "target": {"type": "table", "tableName": table},
        "createTableIfNotExists": True,
        "source": {
            "type": "connection",
            "connectionName": connection,
            "inputSchema": [
                {"name": "ts", "dataType": "string"},
                {"name": "n", "dataType": "long"},
                {"name": "country", "dataType": "string"},
            ],
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": [
            {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
            {"columnName": "n", "expression": '"n"'},
            {"columnName": "country", "expression": 'UPPER("country")'},
        ],
    }


def _measure(
    proc: subprocess.Popen[str],
    base: str,
    name: str,
    request: bytes,
    per_request: int,
    requests: int,
    seconds: float,
    connections: int,
) -> Row:
    cpu_before = _cpu_seconds(proc.pid)
    done, elapsed = asyncio.run(_drive(base, request, requests, seconds, connections))
    return Row(name, done, elapsed, done * per_request, _cpu_seconds(proc.pid) - cpu_before)


def _judge(row: Row) -> int:
    """1 when the row misses its required rate on the wall clock or on server CPU (it says
    which in the verdict column); 0 otherwise, or when the row has no target."""
    required = REQUIRED.get(row.endpoint)
    if required is None:
        return 0
    missed = [
        name
        for name, rate in (("wall", row.rate), ("cpu", row.per_core or row.rate))
        if rate < required
    ]
    row.verdict = (
        f"MISS {'+'.join(missed)} < {required:,.0f}" if missed else f"ok >= {required:,.0f}"
    )
    return 1 if missed else 0


def _installed(stack: str) -> bool:
    if stack == "plain":
        return True
    return all(importlib.util.find_spec(m) is not None for m in ("httptools", "uvloop"))


def main() -> int:
    """Run the benchmark on each stack; exit 1 when a required rate is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=20000, help="requests per endpoint (upper bound)"
    )
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="time per endpoint (upper bound)"
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--stream-pushes", type=int, default=20000, help="pushes of the streaming row (exact)"
    )
    parser.add_argument(
        "--stream-seconds", type=float, default=900.0, help="safety cap of the streaming row"
    )
    parser.add_argument(
        "--stacks",
        default="plain,fast",
        help="server stacks to measure: plain (h11 + asyncio), fast (httptools + uvloop)",
    )
    args = parser.parse_args()
    stacks = [name.strip() for name in args.stacks.split(",") if name.strip()]
    unknown = sorted(set(stacks) - set(STACKS))
    if unknown:
        parser.error(f"--stacks: unknown {', '.join(unknown)}; use plain and/or fast")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(HEADER)
    rows: list[Row] = []
    for stack in stacks:
        if not _installed(stack):
            print(f"({stack}: httptools/uvloop are not installed; skipped)")
            continue
        rows += _run_stack(stack, args)
    judged = [row for row in rows if row.verdict]
    print("\nJudged rows (targets from the issue; wall = req/s, cpu = req/s/core):")
    print(HEADER)
    for row in judged:
        row.print()
    return 1 if any(row.verdict.startswith("MISS") for row in judged) else 0


def _run_stack(stack: str, args: argparse.Namespace) -> list[Row]:
    """Every row on one server stack; the server is stopped even on failure."""
    proc, base = _start_server(stack)
    rows: list[Row] = []
    try:
        _call(base, "POST", "/connections", {"type": "push_streaming", "name": "idle"})
        _call(base, "POST", "/connections", {"type": "push_streaming", "name": "fed"})
        job = _call(base, "POST", "/jobs", _streaming_job("fed", "bench"))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        events = b"".join(
            json.dumps({"ts": now, "n": i, "country": "fr"}).encode() + b"\n"
            for i in range(EVENTS_PER_PUSH)
        )
        cases = [
            ("GET /jobs/{id}", _request("GET", f"/jobs/{job['id']}"), 0, args.connections),
            (ONE_CONNECTION_ROW, _request("GET", f"/jobs/{job['id']}"), 0, 1),
            (
                "GET /jobs/{id}/status",
                _request("GET", f"/jobs/{job['id']}/status"),
                0,
                args.connections,
            ),
            (
                "GET /jobs?executionStatus=running",
                _request("GET", "/jobs?executionStatus=running"),
                0,
                args.connections,
            ),
            (
                "POST /events/{conn} (no job)",
                _request("POST", "/events/idle", events),
                EVENTS_PER_PUSH,
                args.connections,
            ),
        ]
        for name, request, per_request, connections in cases:
            row = _measure(
                proc, base, name, request, per_request, args.requests, args.seconds, connections
            )
            row.stack = stack
            _judge(row)
            row.print()
            rows.append(row)
        rows.append(_stream_row(proc, base, events, args, stack))
        return rows
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stream_row(
    proc: subprocess.Popen[str], base: str, events: bytes, args: argparse.Namespace, stack: str
) -> Row:
    """Push into a fresh table in quarters, so cost that grows with the table is visible."""
    _call(base, "POST", "/connections", {"type": "push_streaming", "name": "stream"})
    job = _call(base, "POST", "/jobs", _streaming_job("stream", "stream_table"))
    while _call(base, "GET", f"/jobs/{job['id']}/status")["executionStatus"] == "pending":
        time.sleep(0.01)  # a benchmark against a real clock; time_scale makes this ~1 ms
    request = _request("POST", "/events/stream", events)
    parts: list[Row] = []
    deadline = time.monotonic() + args.stream_seconds
    per_part = max(args.stream_pushes // STREAM_PARTS, 1)
    for part in range(STREAM_PARTS):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        rows_before = part * per_part * EVENTS_PER_PUSH
        label = f"  table rows {rows_before / 1e6:.2f} M +"
        row = _measure(
            proc, base, label, request, EVENTS_PER_PUSH, per_part, left, args.connections
        )
        row.stack = stack
        row.print()
        parts.append(row)
    total = Row(
        STREAM_ROW,
        sum(r.requests for r in parts),
        sum(r.seconds for r in parts),
        sum(r.events for r in parts),
        sum(r.server_cpu for r in parts),
        stack=stack,
    )
    _judge(total)
    if total.requests < args.stream_pushes:
        total.verdict = (
            f"MISS only {total.requests:,} of {args.stream_pushes:,} pushes"
            f" within {args.stream_seconds:.0f} s"
        )
    total.print()
    stored = _call(base, "GET", "/tables/stream_table").get("totalRows")
    print(f"  rows stored in stream_table: {stored:,}")
    return total


if __name__ == "__main__":
    sys.exit(main())
