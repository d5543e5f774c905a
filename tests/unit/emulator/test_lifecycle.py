"""Job lifecycles: configurable durations, desired-status requests, timestamps on transitions."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

import httpx
import pytest

from airflow_provider_polaris.testing._state import EmulatorState
from airflow_provider_polaris.testing.server import PolarisEmulator

from ._helpers import ROWS, batch_spec, create_job, status, streaming_spec, upload

USER = {"username": "tester", "userId": "u1"}


def test_job_durations_from_the_constructor_and_configure() -> None:
    with (
        PolarisEmulator(manual_clock=True, job_durations={"batch": 10, "pending": 2}) as emu,
        httpx.Client(
            base_url=f"{emu.base_url}/v1/projects/{emu.project_id}", auth=(emu.api_key, "")
        ) as api,
    ):
        upload(api)
        job = create_job(api, batch_spec())
        emu.advance(1.9)
        assert status(api, job["id"]) == "pending"
        emu.advance(0.1)
        assert status(api, job["id"]) == "running"
        emu.advance(9.9)
        assert status(api, job["id"]) == "running"
        emu.advance(0.1)
        assert status(api, job["id"]) == "completed"

        emu.configure(job_durations={"pending": 0, "drop_table": 5}, time_scale=0.5)
        assert emu.state.job_durations["batch"] == 10  # merged, not replaced
        api.post("/tables", json={"name": "gone", "type": "detail"})
        drop_spec = {"type": "drop_table", "target": {"type": "table", "tableName": "gone"}}
        drop = create_job(api, drop_spec)
        assert status(api, drop["id"]) == "running"  # pending 0 s
        emu.advance(2.4)  # 5 s x 0.5
        assert status(api, drop["id"]) == "running"
        emu.advance(0.1)
        assert status(api, drop["id"]) == "completed"

        emu.reset()  # back to the constructor's durations
        durations = emu.state.job_durations
        assert (durations["pending"], durations["drop_table"]) == (2, 1)


def test_job_durations_over_the_control_api_and_bad_values(emu: PolarisEmulator) -> None:
    with httpx.Client(base_url=f"{emu.base_url}/_emulator") as control:
        _configure_over_http(control)
    with pytest.raises(ValueError, match="'idle'"):
        emu.configure(job_durations={"idle": "soon"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="unknown job duration 'running'"):
        PolarisEmulator(job_durations={"running": 3})


def _configure_over_http(control: httpx.Client) -> None:
    assert control.post("/configure", json={"job_durations": {"sql": 42}}).status_code == 200
    assert control.get("/info").json()["job_durations"]["sql"] == 42
    bad = control.post("/configure", json={"job_durations": {"bach": 1}})
    assert bad.status_code == 400 and "'bach'" in bad.json()["message"]
    assert control.post("/configure", json={"job_durations": {"sql": -1}}).status_code == 400
    assert control.post("/configure", json={"job_durations": [1]}).status_code == 400


def test_transition_and_idle_durations(api: httpx.Client, emu: PolarisEmulator) -> None:
    emu.configure(job_durations={"transition": 4, "idle": 2})
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job = create_job(api, streaming_spec())
    emu.advance(1)
    assert status(api, job["id"]) == "running"
    emu.advance(2)
    assert status(api, job["id"]) == "idle"
    api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "canceled"})
    emu.advance(3.9)
    assert status(api, job["id"]) == "idle"
    emu.advance(0.1)
    assert status(api, job["id"]) == "canceled"


def test_streaming_job_suspended_while_pending_starts_when_resumed(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    api.post("/connections", json={"type": "push_streaming", "name": "push"})
    job = create_job(api, streaming_spec())
    api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "suspended"})
    emu.advance(0.5)
    suspended = api.get(f"/jobs/{job['id']}").json()
    assert suspended["executionStatus"] == "suspended"
    assert suspended["startedTimestamp"] is None
    emu.advance(5)  # past the pending time: a suspended job stays suspended
    assert status(api, job["id"]) == "suspended"
    api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "running"})
    emu.advance(0.5)
    resumed = api.get(f"/jobs/{job['id']}").json()
    assert resumed["executionStatus"] == "running"
    assert resumed["startedTimestamp"] == resumed["lastUpdatedTimestamp"]
    assert resumed["startedTimestamp"] > suspended["lastUpdatedTimestamp"]


def test_desired_status_equal_to_the_current_one_is_a_no_op(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    job = create_job(api, batch_spec())
    emu.advance(1)
    before = api.get(f"/jobs/{job['id']}").json()
    assert before["executionStatus"] == "running"
    same = api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "running"})
    assert same.status_code == 200 and same.json() == {"executionStatus": "running"}
    put = api.put(f"/jobs/{job['id']}", json={"desiredExecutionStatus": "running"})
    assert put.status_code == 200
    assert put.json()["lastUpdatedTimestamp"] == before["lastUpdatedTimestamp"]
    suspend = api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "suspended"})
    assert suspend.status_code == 400 and suspend.json()["target"] == "desiredExecutionStatus"
    emu.advance(3)
    assert status(api, job["id"]) == "completed"
    done = api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "running"})
    assert done.status_code == 200 and done.json() == {"executionStatus": "completed"}
    late_cancel = api.post(f"/jobs/{job['id']}/status", json={"desiredExecutionStatus": "canceled"})
    assert late_cancel.status_code == 400


def test_sql_job_lifecycle_pending_running_completed_with_metrics(
    api: httpx.Client, emu: PolarisEmulator
) -> None:
    upload(api)
    source = {
        "type": "uploaded",
        "fileList": ["events.json"],
        "inputSchema": [
            {"name": "ts", "dataType": "string"},
            {"name": "country", "dataType": "string"},
            {"name": "n", "dataType": "long"},
        ],
        "formatSettings": {"format": "nd-json"},
    }
    query = (
        'INSERT INTO "by_country" SELECT TIME_PARSE("ts") AS "__time", "country", '
        f"\"n\" FROM TABLE(POLARIS_SOURCE('{json.dumps(source)}')) PARTITIONED BY DAY"
    )
    job = create_job(api, {"type": "sql", "query": query, "createTableIfNotExists": True})
    assert job["executionStatus"] == "pending" and job["query"] == query
    assert job["startedTimestamp"] is None and job["completedTimestamp"] is None
    emu.advance(1)
    running = api.get(f"/jobs/{job['id']}").json()
    assert running["executionStatus"] == "running"
    assert running["startedTimestamp"] is not None and running["completedTimestamp"] is None
    assert api.get(f"/jobs/{job['id']}/metrics").json()["totals"]["numRowsPersisted"] == 0
    emu.advance(3)
    done = api.get(f"/jobs/{job['id']}").json()
    assert done["executionStatus"] == "completed" and done["health"] == {"status": "ok"}
    assert done["completedTimestamp"] > done["startedTimestamp"] == running["startedTimestamp"]
    totals = api.get(f"/jobs/{job['id']}/metrics").json()["totals"]
    assert totals["numRowsProcessed"] == 2 and totals["numRowsPersisted"] == 2
    assert totals["numBytesProcessed"] == len(ROWS)
    assert totals["numRowsSkippedByError"] == totals["numRowsSkippedByFilter"] == 0
    rows = api.post("/query/sql", json={"query": 'SELECT COUNT(*) AS "c" FROM "by_country"'})
    assert rows.json() == [{"c": 2}]
    messages = [e["message"] for e in api.get(f"/jobs/{job['id']}/logs").json()["logs"]]
    assert messages == ["Job created", "Job started", "Job completed"]


# --- timestamps on every transition (property-style, over seeded random walks) ---------------

_ALLOWED = {
    "batch": {
        "pending": {"running", "canceled"},
        "running": {"completed", "failed", "canceled"},
    },
    "streaming": {
        "pending": {"running", "suspended", "canceled"},
        "running": {"idle", "suspended", "canceled"},
        "idle": {"running", "suspended", "canceled"},
        "suspended": {"running", "canceled"},
    },
}
_ALLOWED["sql"] = _ALLOWED["drop_table"] = _ALLOWED["batch"]


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _check_timestamps(job: dict[str, Any]) -> None:
    status_ = job["executionStatus"]
    created, updated = _at(job["createdTimestamp"]), _at(job["lastUpdatedTimestamp"])
    started, completed = _at(job["startedTimestamp"]), _at(job["completedTimestamp"])
    assert created is not None and updated is not None and created <= updated
    if status_ == "pending":
        assert started is None and completed is None
    if status_ in ("running", "idle", "completed", "failed"):
        assert started is not None and created <= started <= updated
    if status_ in ("completed", "failed", "canceled"):
        assert completed is not None and completed == updated
        assert started is None or started <= completed
    else:
        assert completed is None
    if status_ == "suspended" and started is not None:
        assert started <= updated


def _walk(seed: int) -> None:
    rng = random.Random(seed)
    state = EmulatorState(manual_clock=True, time_scale=rng.choice([0.5, 1.0, 2.0]))
    state.upload_file("events.json", ROWS, USER, None, None)
    state.create_connection({"type": "push_streaming", "name": "push"}, USER, "http://x")
    state.create_table({"name": "gone", "type": "detail"}, USER)
    specs = {
        "batch": batch_spec(),
        "streaming": streaming_spec(),
        "sql": {
            "type": "sql",
            "query": 'INSERT INTO "copy" SELECT * FROM "gone" PARTITIONED BY DAY',
            "createTableIfNotExists": True,
        },
        "drop_table": {"type": "drop_table", "target": {"type": "table", "tableName": "gone"}},
    }
    ids = {kind: state.create_job(spec, USER)["id"] for kind, spec in specs.items()}
    seen = {kind: "pending" for kind in ids}
    stamps: dict[str, tuple[str | None, str | None]] = {kind: (None, None) for kind in ids}
    for _ in range(60):
        kind = rng.choice(list(ids))
        action = rng.choice(["advance", "advance", "cancel", "suspend", "resume", "push", "reset"])
        job_id = ids[kind]
        try:
            if action == "advance":
                state.advance(rng.uniform(0, 0.4))
            elif action == "push":
                state.push_events("push", [b'{"ts":"2024-01-01T00:00:00Z","n":1}'])
            elif action == "reset":
                state.reset_job(job_id)
            else:
                desired = {"cancel": "canceled", "suspend": "suspended", "resume": "running"}
                state.set_desired(job_id, {"desiredExecutionStatus": desired[action]})
        except Exception as exc:  # refusals are part of the walk; they must be 400s
            assert getattr(exc, "status", None) == 400, exc
        for each, job_id in ids.items():
            job = state.get_job(job_id)
            _check_timestamps(job)
            before, now = seen[each], job["executionStatus"]
            if now != before:
                assert now in _ALLOWED[each].get(before, set()), (seed, each, before, now)
                seen[each] = now
            # A start or an end, once stamped, never moves.
            current = (job["startedTimestamp"], job["completedTimestamp"])
            for old, new in zip(stamps[each], current, strict=True):
                assert old is None or old == new, (seed, each)
            stamps[each] = current


@pytest.mark.parametrize("seed", range(150))
def test_timestamps_hold_on_every_transition(seed: int) -> None:
    _walk(seed)
