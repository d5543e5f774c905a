"""Thousands of coroutines sharing one AsyncPolarisClient against a slow server.

Starts the emulator in a subprocess (pinned to the other core when there are two) and makes
every ``GET /tables`` answer after ``--delay`` seconds (an emulator ``delay`` fault). Then N
coroutines of one asyncio loop each call ``client.tables.list()`` once, all at the same time,
through a pool of 100 connections:

- ``AsyncPolarisClient``: the provider's client (requests beyond the pool wait on its
  semaphore; waiting for a turn is not a timeout);
- ``httpx + Semaphore(100)``: a bare shared ``httpx.AsyncClient`` gated the same way, the floor;
- ``httpx, ungated`` (only with ``--ungated``; takes minutes): a bare shared client whose pool
  queues everything, with the pool wait bounded by the 10 s connect timeout. This is what the
  provider's client did before it gated its sends: every freed connection wakes every queued
  request, so CPU grows with the square of the queue, and requests end in ``PoolTimeout``.

Prints: client, calls, wall seconds, CPU seconds of this process, successes, failures, retries.
The ideal wall time is ``calls / 100 * delay``.
Usage: ``python benchmarks/client_concurrency_bench.py [--calls 1500 3000] [--delay 0.5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from _emulator_process import start_emulator

from airflow_provider_polaris.client import AsyncPolarisClient, PolarisConfig

API_KEY = "pok_bench"
PROJECT = "00000000-0000-4000-8000-0000000000c1"
POOL = 100


def delay_every_table_listing(base: str, calls: int, delay: float) -> None:
    """Make the next ``calls`` ``GET /tables`` answer after ``delay`` seconds."""
    urllib.request.urlopen(
        urllib.request.Request(f"{base}/_emulator/faults", method="DELETE"), timeout=10
    ).read()
    body = {"method": "GET", "path": "/tables", "kind": "delay", "count": calls}
    body["delay_seconds"] = delay
    request = urllib.request.Request(
        f"{base}/_emulator/faults", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).read()


Call = Callable[[], Awaitable[Any]]


async def measure(calls: int, call: Call) -> tuple[float, float, int, int]:
    """Run ``calls`` concurrent calls; wall s, CPU s, successes, failures."""
    wall, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(call() for _ in range(calls)), return_exceptions=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    failures = sum(isinstance(r, BaseException) for r in results)
    return wall, cpu, calls - failures, failures


async def provider_client(base: str, calls: int) -> tuple[float, float, int, int, int]:
    retries = 0

    async def counting_sleep(seconds: float) -> None:
        nonlocal retries
        retries += 1
        await asyncio.sleep(seconds)

    config = PolarisConfig(project_id=PROJECT, base_url=base, api_key=API_KEY, max_connections=POOL)
    async with AsyncPolarisClient(config, sleep=counting_sleep) as client:
        return (*await measure(calls, client.tables.list), retries)


async def bare_httpx(base: str, calls: int, gated: bool) -> tuple[float, float, int, int, int]:
    url = f"{base}/v1/projects/{PROJECT}/tables"
    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=20)  # as the client
    timeout = httpx.Timeout(60.0, connect=10.0, pool=None if gated else 10.0)
    gate = asyncio.Semaphore(POOL)
    async with httpx.AsyncClient(auth=(API_KEY, ""), limits=limits, timeout=timeout) as client:

        async def call() -> Any:
            if not gated:
                return (await client.get(url)).raise_for_status()
            async with gate:
                return (await client.get(url)).raise_for_status()

        return (*await measure(calls, call), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1500, 3000])
    parser.add_argument("--delay", type=float, default=0.5, help="server answer delay (s)")
    parser.add_argument(
        "--ungated", type=int, default=0, help="also run N calls on an ungated httpx client"
    )
    args = parser.parse_args()
    proc, base = start_emulator(API_KEY, PROJECT)
    rows: list[tuple[str, int, float, float, int, int, int]] = []
    try:
        runs: list[tuple[str, int, Callable[[], Awaitable[tuple[Any, ...]]]]] = []
        for calls in args.calls:
            runs.append(("AsyncPolarisClient", calls, lambda c=calls: provider_client(base, c)))
        top = max(args.calls)
        runs.append(("httpx + Semaphore(100)", top, lambda: bare_httpx(base, top, True)))
        if args.ungated:
            n = args.ungated
            runs.append(("httpx, ungated", n, lambda: bare_httpx(base, n, False)))
        for name, calls, run in runs:
            delay_every_table_listing(base, calls, args.delay)
            wall, cpu, ok, failed, retries = asyncio.run(run())
            rows.append((name, calls, wall, cpu, ok, failed, retries))
            print(f"  {name} x{calls}: {wall:.1f} s", file=sys.stderr, flush=True)
    finally:
        proc.terminate()
        proc.wait(10)

    print(f"\nserver answers after {args.delay} s; pool of {POOL} connections; one event loop")
    print(f"{'client':<24}{'calls':>7}{'wall s':>9}{'ideal s':>9}{'CPU s':>8}", end="")
    print(f"{'ok':>7}{'failed':>8}{'retries':>9}")
    for name, calls, wall, cpu, ok, failed, retries in rows:
        ideal = calls / POOL * args.delay
        print(f"{name:<24}{calls:>7}{wall:>9.1f}{ideal:>9.1f}{cpu:>8.2f}", end="")
        print(f"{ok:>7}{failed:>8}{retries:>9}")


if __name__ == "__main__":
    main()
