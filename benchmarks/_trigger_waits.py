"""One measured run of N deferred job waits on one asyncio loop (a child of trigger_poller_bench).

Run in a fresh process per (mode, N) so that RSS and the garbage collector start clean:

    python benchmarks/_trigger_waits.py MODE BASE_URL IDS_FILE INTERVAL WARMUP WINDOW CANCELED

Modes: ``shared`` (the provider's ``PolarisJobTrigger`` and its shared poller), ``httpx-shared``
(each wait polls ``GET /jobs/{id}`` through one shared ``httpx.AsyncClient``), ``httpx-new``
(each poll opens a new ``httpx.AsyncClient``, as other providers' triggers do).

Protocol on stdout: after warm-up and the measured window it prints ``WINDOW <json>``; the
parent then cancels the first CANCELED jobs and the child prints ``DONE <json>`` with the
completion-to-event latencies (event time minus the job's ``lastUpdatedTimestamp``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

API_KEY = "pok_bench"
PROJECT = "00000000-0000-4000-8000-0000000000b1"
_ENDED = {"completed", "failed", "canceled"}


def rss_kb() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def control(base: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"{base}/_emulator/{path}", method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def stamp(job: Any) -> float:
    return datetime.fromisoformat(
        str(job["lastUpdatedTimestamp"]).replace("Z", "+00:00")
    ).timestamp()


class Probe:
    """Loop-lag probe: sleeps 10 ms at a time and records the longest overshoot (a stall)."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            self.longest = max(self.longest, time.monotonic() - before - 0.01)


async def provider_wait(job_id: str, interval: float, latencies: list[float]) -> None:
    from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger

    trigger = PolarisJobTrigger(job_id, poll_interval=interval, progress_interval=None)
    async for event in trigger.run():
        job = event.payload.get("job")
        if job:
            latencies.append(time.time() - stamp(job))
        return


async def httpx_wait(
    job_id: str, interval: float, base: str, client: Any, latencies: list[float]
) -> None:
    import httpx

    from airflow_provider_polaris.client.auth import basic_authorization

    url = f"{base}/v1/projects/{PROJECT}/jobs/{job_id}"
    headers = {"Authorization": basic_authorization(API_KEY)}
    await asyncio.sleep(random.uniform(0, interval))  # triggers start at different times
    while True:
        try:
            if client is None:
                async with httpx.AsyncClient(timeout=60) as own:
                    job = (await own.get(url, headers=headers)).json()
            else:
                job = (await client.get(url, headers=headers)).json()
        except httpx.HTTPError:
            job = {}
        if job.get("executionStatus") in _ENDED:
            latencies.append(time.time() - stamp(job))
            return
        await asyncio.sleep(interval)


async def main(argv: list[str]) -> None:
    mode, base, ids_file = argv[0], argv[1], argv[2]
    interval, warmup, window = float(argv[3]), float(argv[4]), float(argv[5])
    canceled = int(argv[6])
    ids = json.loads(Path(ids_file).read_text())  # noqa: ASYNC240 - before any wait starts
    import httpx

    # Imported before the baseline RSS: module code is paid once per triggerer, not per wait.
    from airflow_provider_polaris.hooks.polaris import PolarisHook  # noqa: F401
    from airflow_provider_polaris.triggers.jobs import PolarisJobTrigger  # noqa: F401

    gc.collect()
    rss0 = rss_kb()
    latencies: list[float] = []
    shared = httpx.AsyncClient(timeout=60) if mode == "httpx-shared" else None
    if mode == "shared":
        waits = [provider_wait(j, interval, latencies) for j in ids]
    else:
        waits = [httpx_wait(j, interval, base, shared, latencies) for j in ids]
    tasks = [asyncio.ensure_future(w) for w in waits]
    probe = Probe()
    probe_task = asyncio.ensure_future(probe.run())
    await asyncio.sleep(warmup)
    await asyncio.to_thread(control, base, "requests", "DELETE")
    probe.longest = 0.0
    rss1, cpu0, wall0 = rss_kb(), time.process_time(), time.monotonic()
    await asyncio.sleep(window)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    rss2 = rss_kb()
    count = (await asyncio.to_thread(control, base, "requests/count?method=GET"))["count"]
    intervals = wall / interval
    result = {
        "mode": mode,
        "waits": len(ids),
        "requests_per_interval": count / intervals,
        "cpu_ms_per_wait_interval": cpu * 1000 / intervals / len(ids),
        "cpu_ms_per_interval": cpu * 1000 / intervals,
        "polls_per_wait_interval": count / intervals / len(ids),
        "rss_kb_per_wait": (rss1 - rss0) / len(ids),
        "rss_growth_kb_in_window": rss2 - rss1,
        "longest_stall_ms": probe.longest * 1000,
    }
    print("WINDOW " + json.dumps(result), flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the parent cancels `canceled` jobs now
    deadline = time.monotonic() + interval * 4 + 8
    while len(latencies) < canceled and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    result["latencies"] = sorted(latencies)
    result["longest_stall_ms_with_events"] = probe.longest * 1000
    print("DONE " + json.dumps(result), flush=True)
    # No teardown: thousands of in-flight requests would only slow the exit down.
    print(
        f"({len(tasks)} waits, probe {'done' if probe_task.done() else 'running'})", file=sys.stderr
    )
    os._exit(0)


if __name__ == "__main__":
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    asyncio.run(main(sys.argv[1:]))
