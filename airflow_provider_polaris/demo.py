"""``make demo``: the hourly table-to-table rollup DAG, run by Airflow against the local emulator.

What it does, all on this machine and offline:

1. starts the Polaris emulator on a free 127.0.0.1 port;
2. seeds a raw ``events`` table: uploads an NDJSON file and ingests it with a batch job;
3. runs ``airflow dags test polaris_hourly_rollup`` for two hours, and once more for the first
   hour (a rerun: replace mode overwrites, it does not duplicate); the rollup task defers and
   Airflow runs its trigger inline;
4. prints the job timeline (ids, statuses, when each job was created, how long it queued and
   ran) and the rolled-up rows read back with SQL.

Run it from a checkout: ``python -m airflow_provider_polaris.demo`` (``make demo`` does that in
its own virtualenv).
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow_provider_polaris.client import PolarisClient, PolarisConfig
from airflow_provider_polaris.testing import PolarisEmulator

DAG_ID = "polaris_hourly_rollup"
DAG_FILE = Path(__file__).resolve().parent.parent / "example_dags" / f"{DAG_ID}.py"
FIRST_HOUR = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
# (logical date, why) — a logical date is the END of the hour the run rolls up.
RUNS: Sequence[tuple[datetime, str]] = (
    (FIRST_HOUR + timedelta(hours=1), "roll up 10:00-11:00"),
    (FIRST_HOUR + timedelta(hours=2), "roll up 11:00-12:00"),
    (FIRST_HOUR + timedelta(hours=1), "rerun 10:00-11:00 (replace: no duplicates)"),
)
COUNTRIES = ("DE", "FR", "JP", "US")


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _sample_events(count: int = 3000, seed: int = 7) -> bytes:
    """Raw events spread over three hours from FIRST_HOUR, as NDJSON."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        ts = FIRST_HOUR + timedelta(seconds=rng.randrange(3 * 3600))
        event = {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "country": rng.choice(COUNTRIES),
            "amount": rng.randrange(1, 100),
        }
        lines.append(json.dumps(event))
    return ("\n".join(lines) + "\n").encode()


def _wait_for_job(client: PolarisClient, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.jobs.get(job_id)
        if job.get("executionStatus") in ("completed", "failed", "canceled"):
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"seed job {job_id} did not finish in {timeout} s")
        time.sleep(0.05)


def seed_source_table(client: PolarisClient) -> int:
    """Upload raw events and ingest them into the ``events`` table; return the row count."""
    payload = _sample_events()
    client.files.upload("events.json", io.BytesIO(payload))
    job = client.jobs.create(
        {
            "type": "batch",
            "target": {"type": "table", "tableName": "events"},
            "createTableIfNotExists": True,
            "source": {
                "type": "uploaded",
                "fileList": ["events.json"],
                "inputSchema": [
                    {"name": "ts", "dataType": "string"},
                    {"name": "country", "dataType": "string"},
                    {"name": "amount", "dataType": "long"},
                ],
                "formatSettings": {"format": "nd-json"},
            },
            "mappings": [
                {"columnName": "__time", "expression": 'TIME_PARSE("ts")'},
                {"columnName": "country", "expression": '"country"'},
                {"columnName": "amount", "expression": '"amount"'},
            ],
        }
    )
    done = _wait_for_job(client, job["id"])
    if done["executionStatus"] != "completed":
        raise RuntimeError(f"seed job failed: {json.dumps(done.get('health'))}")
    return payload.count(b"\n")


def _airflow_env(home: Path, emulator: PolarisEmulator) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_POLARIS_DEFAULT": emulator.airflow_connection(),
            "POLARIS_EXAMPLE_POLL_INTERVAL": "0.5",
        }
    )
    return env


def _run_airflow(args: list[str], env: dict[str, str], log: Path) -> tuple[int, float]:
    airflow = str(Path(sys.executable).parent / "airflow")
    started = time.monotonic()
    with log.open("ab") as out:
        out.write(f"\n$ airflow {' '.join(args)}\n".encode())
        out.flush()
        code = subprocess.call([airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    return code, time.monotonic() - started


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _seconds(later: datetime | None, earlier: datetime | None) -> str:
    return f"{(later - earlier).total_seconds():.2f} s" if later and earlier else "-"


def print_timeline(jobs: list[dict[str, Any]]) -> None:
    """One line per job, oldest first: id, type, target, status, health, when it was created
    (seconds after the first job), how long it waited to start and how long it ran."""
    jobs = sorted(jobs, key=lambda j: str(j.get("createdTimestamp")))
    first = _parse_ts(jobs[0].get("createdTimestamp")) if jobs else None
    print(
        f"\n{'job id':<38} {'type':<6} {'target':<14} {'status':<10} {'health':<7} "
        f"{'created':>9} {'queued':>8} {'ran':>8}"
    )
    for job in jobs:
        created = _parse_ts(job.get("createdTimestamp"))
        started = _parse_ts(job.get("startedTimestamp"))
        finished = _parse_ts(job.get("completedTimestamp"))
        target = (job.get("target") or {}).get("tableName", "-")
        health = (job.get("health") or {}).get("status", "-")
        offset = f"+{(created - first).total_seconds():.1f} s" if created and first else "-"
        print(
            f"{job.get('id', '-'):<38} {job.get('type', '-'):<6} {target:<14} "
            f"{job.get('executionStatus', '-'):<10} {health:<7} {offset:>9} "
            f"{_seconds(started, created):>8} {_seconds(finished, started):>8}"
        )


def print_rollup(client: PolarisClient) -> bool:
    """Print the rolled-up table next to the raw counts it came from; True when they agree."""
    rollup = client.query.sql(
        'SELECT "__time", "country", "events", "revenue" FROM "events_hourly" ORDER BY 1, 2'
    )
    raw = client.query.sql(
        'SELECT TIME_FLOOR("__time", \'PT1H\') AS "hour", COUNT(*) AS "events" '
        'FROM "events" GROUP BY 1 ORDER BY 1'
    )
    print(f"\n{'hour':<26} {'country':<8} {'events':>7} {'revenue':>8}")
    rolled_up: dict[str, int] = {}
    for row in rollup:
        print(f"{row['__time']:<26} {row['country']:<8} {row['events']:>7} {row['revenue']:>8}")
        rolled_up[row["__time"]] = rolled_up.get(row["__time"], 0) + int(row["events"])
    print("\nraw events per hour (source table) vs rolled up:")
    agree = True
    for row in raw:
        hour, count = row["hour"], int(row["events"])
        mark = "-" if hour not in rolled_up else ("ok" if rolled_up[hour] == count else "MISMATCH")
        agree = agree and mark != "MISMATCH"
        print(f"  {hour}: {count:>5} raw, {rolled_up.get(hour, 0):>5} rolled up  {mark}")
    return agree and len(rolled_up) == len(RUNS) - 1


def main() -> int:
    """Run the demo; return the process exit code."""
    if not DAG_FILE.exists():
        _say(f"{DAG_FILE} not found: run the demo from a checkout of airflow-provider-polaris")
        return 2
    home = Path(tempfile.mkdtemp(prefix="polaris-demo-"))
    log = home / "airflow.log"
    succeeded = False
    try:
        (home / "dags").mkdir()
        shutil.copy(DAG_FILE, home / "dags" / DAG_FILE.name)
        with PolarisEmulator(time_scale=0.2) as emulator:
            _say(f"Polaris emulator at {emulator.base_url} (project {emulator.project_id})")
            config = PolarisConfig(
                project_id=emulator.project_id,
                base_url=emulator.base_url,
                api_key=emulator.api_key,
            )
            with PolarisClient(config) as client:
                rows = seed_source_table(client)
                _say(f"seeded table 'events' with {rows} raw events over 3 hours")
                env = _airflow_env(home, emulator)
                code, took = _run_airflow(["db", "migrate"], env, log)
                if code:
                    _say(f"'airflow db migrate' failed; see {log}")
                    return code
                _say(f"Airflow metadata DB ready ({took:.1f} s)")
                for logical_date, why in RUNS:
                    code, took = _run_airflow(
                        ["dags", "test", DAG_ID, logical_date.isoformat()], env, log
                    )
                    outcome = "success" if code == 0 else f"FAILED (exit {code})"
                    _say(f"dags test {logical_date:%H:%M} - {why}: {outcome} ({took:.1f} s)")
                    if code:
                        _say(f"Airflow output is in {log}; last lines:")
                        print("\n".join(log.read_text().splitlines()[-40:]))
                        return code
                # The full documents: a list summary may leave out the timestamps.
                jobs = [client.jobs.get(j["id"]) for j in client.jobs.iter_all()]
                print_timeline(jobs)
                rollup_jobs = [j for j in jobs if j.get("target", {}).get("tableName") != "events"]
                rows_agree = print_rollup(client)
        if len(rollup_jobs) != len(RUNS) or not rows_agree:
            _say(f"UNEXPECTED: {len(rollup_jobs)} rollup jobs for {len(RUNS)} runs; see above")
            return 1
        _say(
            f"done: {len(RUNS)} runs, exactly one Polaris job each; the rerun replaced its hour "
            "(rolled-up counts equal the raw counts)"
        )
        succeeded = True
        return 0
    finally:
        if succeeded:
            shutil.rmtree(home, ignore_errors=True)
        else:
            _say(f"kept {home} (Airflow home and log) for inspection")


if __name__ == "__main__":
    sys.exit(main())
