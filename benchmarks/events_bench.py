"""Event push throughput and client cost against the emulator in its own process.

    python benchmarks/events_bench.py [EVENTS] [--latency 0.05] [--concurrency N]

Starts ``python -m airflow_provider_polaris.testing serve`` in a subprocess (so the server gets
the other core) with Polaris' events budget (83,334 calls per minute), creates a push_streaming
connection, injects LATENCY seconds of delay into every events request, and pushes EVENTS small
events (default 1,000,000) through the provider's pusher with its **default options**
(``airflow_provider_polaris.events.push_events``: per-event checks, 60-event batches,
``DEFAULT_MAX_CONCURRENT_REQUESTS`` requests in flight on one asyncio event loop, paced from the
rate-limit headers); ``--concurrency`` overrides the requests in flight for experiments. The
events connection has no streaming job reading it, so the emulator only accepts the pushes
(cheap) and the client is what is measured. Prints events, calls, seconds, calls/s, events/s,
429s, client CPU µs/event (process CPU time of this process), RSS (start, peak during the push:
"memory flat"), and the share of a core used by this process and by the emulator.

Targets (issue 5): >= 1,250 calls/s at 60 events/call with 50 ms latency (90% of Polaris'
83,334 calls/min), <= 12 µs of client CPU per event, flat memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from airflow_provider_polaris.client import PolarisConfig
from airflow_provider_polaris.events import DEFAULT_MAX_CONCURRENT_REQUESTS, push_events


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc; else peak RSS)."""
    try:
        with open(f"/proc/{os.getpid()}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU seconds used so far by another process (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def start_emulator(events_budget: int) -> tuple[subprocess.Popen[str], str, str, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_polaris.testing",
            "serve",
            "--port",
            "0",
            "--events-budget",
            str(events_budget),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    base_url = project_id = api_key = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (base_url and project_id and api_key):
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the emulator exited before it was ready")
        if m := re.search(r"listening on (\S+)", line):
            base_url = m.group(1)
        elif m := re.search(r"project id\s*:\s*(\S+)", line):
            project_id = m.group(1)
        elif m := re.search(r"API key\s*:\s*(\S+)", line):
            api_key = m.group(1)
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    return proc, base_url, project_id, api_key


def control(base_url: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{base_url}/_emulator/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).read()


def make_events(n: int) -> Iterator[dict[str, Any]]:
    now = datetime.now(timezone.utc).isoformat()
    for i in range(n):
        yield {"__time": now, "user": f"user-{i % 1000}", "page": "/home", "latency_ms": i % 500}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.05, help="server delay per request (s)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"requests in flight (default: the pusher's, {DEFAULT_MAX_CONCURRENT_REQUESTS})",
    )
    parser.add_argument("--batch", type=int, default=60, help="events per request")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()

    proc, base_url, project_id, api_key = start_emulator(events_budget=83_334)
    try:
        config = PolarisConfig(project_id=project_id, base_url=base_url, api_key=api_key)
        from airflow_provider_polaris.client.sync import PolarisClient

        with PolarisClient(config) as client:
            client.connections.create({"type": "push_streaming", "name": "bench"})
        if args.latency > 0:
            control(
                base_url,
                "faults",
                {
                    "method": "POST",
                    "path": "/events/bench",
                    "kind": "delay",
                    "delay_seconds": args.latency,
                    "count": 10**9,
                },
            )
        rss_start = rss_mb()
        peak = [rss_start]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.25):
                peak[0] = max(peak[0], rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        server0 = cpu_seconds_of(proc.pid)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        overrides = {"max_concurrent_requests": args.concurrency} if args.concurrency else {}
        report = push_events(
            config,
            "bench",
            make_events(args.events),
            max_events_per_request=args.batch,
            gzip=args.gzip,
            **overrides,
        )
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        server1 = cpu_seconds_of(proc.pid)
        done.set()
        sampler.join()
    finally:
        proc.terminate()
        proc.wait(10)

    calls = report.requests
    in_flight = args.concurrency or DEFAULT_MAX_CONCURRENT_REQUESTS
    print(
        f"latency {args.latency * 1000:.0f} ms/request, {in_flight} in flight"
        f"{'' if args.concurrency else ' (default)'}, {args.batch} events/request"
        f"{', gzip' if args.gzip else ''}, budget 83,334 calls/min"
    )
    header = (
        f"{'events':>10} {'calls':>8} {'seconds':>8} {'calls/s':>8} {'events/s':>10} "
        f"{'429s':>5} {'CPU µs/event':>12} {'RSS start MB':>12} {'RSS peak MB':>11}"
    )
    print(header)
    print("-" * len(header))
    print(
        f"{report.accepted:>10,} {calls:>8,} {wall:>8.2f} {calls / wall:>8.0f} "
        f"{report.accepted / wall:>10,.0f} {report.rate_limited:>5} "
        f"{cpu / max(report.accepted, 1) * 1e6:>12.2f} {rss_start:>12.0f} {peak[0]:>11.0f}"
    )
    print(
        f"targets: calls/s >= 1,250 -> {'met' if calls / wall >= 1250 else 'NOT met'}; "
        f"CPU <= 12 µs/event -> "
        f"{'met' if cpu / max(report.accepted, 1) * 1e6 <= 12 else 'NOT met'}"
    )
    print(f"client process: {cpu / wall:.0%} of a core (one event loop thread + the reader)")
    if server0 is not None and server1 is not None:
        busy = (server1 - server0) / wall
        print(
            f"emulator process: {(server1 - server0) / max(calls, 1) * 1e3:.2f} ms CPU per call, "
            f"{busy:.0%} of a core (at ~100% the server, not the client, limits calls/s)"
        )
    if not report.complete or report.rejected:
        print(report.summary())
        sys.exit(1)


if __name__ == "__main__":
    main()
