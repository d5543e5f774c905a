"""Shared status poller vs per-trigger polling: requests per interval and client CPU per poll.

Starts the emulator in a subprocess (pinned to the other core when there are two), submits N jobs
that keep running, then runs N ``PolarisJobTrigger`` instances concurrently in one asyncio loop
(as a triggerer would) for a few poll intervals, in each mode:

- ``per-trigger``: every trigger polls ``GET /jobs/{id}`` on its own client;
- ``shared``: one ``GET /jobs?executionStatus=pending&executionStatus=running`` page walk per
  interval for all of them.

Prints: waiters, mode, requests per interval, CPU ms per interval (this process) and CPU ms per
waiter-poll. Usage: ``python benchmarks/trigger_poller_bench.py [--waiters 20 200 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import urllib.request
from typing import Any

from _emulator_process import start_emulator

API_KEY = "pok_bench"
PROJECT = "00000000-0000-4000-8000-0000000000b1"


def control(base: str, path: str, body: bytes | None = None, method: str = "GET") -> Any:
    import json

    request = urllib.request.Request(f"{base}/_emulator/{path}", data=body, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def create_jobs(base: str, n: int) -> list[str]:
    from airflow_provider_polaris.client import PolarisClient, PolarisConfig

    spec = {
        "type": "batch",
        "target": {"type": "table", "tableName": "bench"},
        "createTableIfNotExists": True,
        "source": {
            "type": "inline",
            "data": '{"ts":"2024-01-01T00:00:00Z"}\n',
            "inputSchema": [{"name": "ts", "dataType": "string"}],
            "formatSettings": {"format": "nd-json"},
        },
        "mappings": [{"columnName": "__time", "expression": 'TIME_PARSE("ts")'}],
    }
    ids = []
    with PolarisClient(PolarisConfig(project_id=PROJECT, base_url=base, api_key=API_KEY)) as client:
        for _ in range(n):
            control(base, "scripts", b'{"outcome": "running"}', "POST")
            ids.append(client.jobs.create(spec)["id"])
    return ids


async def measure(
    ids: list[str], shared: bool, interval: float, intervals: int, base: str
) -> dict[str, float]:
    from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger

    triggers = [PolarisJobTrigger(j, poll_interval=interval, shared_poller=shared) for j in ids]

    async def first(trigger: PolarisJobTrigger) -> None:
        async for _ in trigger.run():
            return

    tasks = [asyncio.create_task(first(t)) for t in triggers]
    await asyncio.sleep(interval * 1.5)  # warm-up: connections, first polls
    control(base, "requests", method="DELETE")
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(interval * intervals)
    cpu = time.process_time() - cpu0
    elapsed = time.monotonic() - wall0
    count = control(base, "requests/count?method=GET")["count"]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    done = elapsed / interval
    return {
        "requests_per_interval": count / done,
        "cpu_ms_per_interval": cpu * 1000 / done,
        "cpu_ms_per_waiter_poll": cpu * 1000 / done / len(ids),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--intervals", type=int, default=5)
    args = parser.parse_args()

    import logging

    # Status-change lines from hundreds of triggers would drown the table. Airflow 3 logs
    # through structlog, which follows Airflow's level setting rather than the stdlib logger's.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    logging.getLogger("airflow_provider_polaris").setLevel(logging.WARNING)
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    proc, base = start_emulator(API_KEY, PROJECT, "--time-scale", "1")
    os.environ["AIRFLOW_CONN_POLARIS_DEFAULT"] = (
        f'{{"conn_type":"imply_polaris","host":"{base}","password":"{API_KEY}",'
        f'"extra":{{"project_id":"{PROJECT}"}}}}'
    )
    try:
        rows = []
        for n in args.waiters:
            control(base, "reset", b"{}", "POST")
            ids = create_jobs(base, n)
            for shared in (False, True):
                result = asyncio.run(measure(ids, shared, args.interval, args.intervals, base))
                rows.append((n, "shared" if shared else "per-trigger", result))
        print(f"\npoll interval {args.interval}s, {args.intervals} intervals measured per row\n")
        print("| waiters | mode | requests / interval | CPU ms / interval | CPU ms / waiter-poll |")
        print("|---:|---|---:|---:|---:|")
        for n, mode, r in rows:
            print(
                f"| {n} | {mode} | {r['requests_per_interval']:.1f} | "
                f"{r['cpu_ms_per_interval']:.1f} | {r['cpu_ms_per_waiter_poll']:.3f} |"
            )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
