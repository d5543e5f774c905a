"""The fault matrix of docs/reliability.md, rows that a single ``dag.test()`` run can show.

Each row runs ``test_faults_load_{sync,deferrable}`` (tests/dags/test_faults_matrix.py: a batch
load, ``retries=2``, no retry delay) against the emulator with a fault injected, and asserts
three things: the task outcome (state and number of tries), the request log (exactly one job
created, every injected fault consumed, the waits' polls) and that no credential reached the
captured logs. Deferrable runs have their trigger run by Airflow's ``dag.test()``.

The process-kill rows live in test_fault_kills.py, the user-action rows in
test_fault_user_actions.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from fault_helpers import (
    OAUTH_SECRET,
    assert_no_secret,
    connect,
    creates,
    job_ids,
    logs,
    run_load,
    tries,
)

pytestmark = pytest.mark.dagtest

__all__ = ["logs"]  # the fixture, imported for pytest

MODES = ["sync", "deferrable"]
JOB_READS = r"/jobs(/[^/]+)?"  # a job's status (sync) or the job list / a job (the triggerer)
RETRY_AFTER = 0.25
# The request log stamps answers to the millisecond: allow for that rounding only.
SPACING = RETRY_AFTER - 0.002


def _gaps_after_429(emu: Any, method: str, path: str) -> list[float]:
    """Seconds from each 429 answer to the next request with the same method and path."""
    same = [e for e in emu.request_log() if e["method"] == method and e["path"] == path]
    when = [datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in same]
    return [
        (when[i + 1] - when[i]).total_seconds()
        for i, e in enumerate(same[:-1])
        if e["status"] == 429
    ]


@pytest.mark.parametrize("mode", MODES)
def test_429_storm_honours_retry_after(
    emu: Any, dag_runner: Any, logs: Callable[[], str], mode: str
) -> None:
    emu.inject_fault("POST", r"/jobs", status=429, count=3, retry_after=RETRY_AFTER)
    emu.inject_fault("GET", JOB_READS, status=429, count=2, retry_after=RETRY_AFTER)
    run = run_load(dag_runner, mode)
    assert tries(run) == {"load": ("success", 1)}  # the client absorbed the storm
    assert creates(emu) == [429, 429, 429, 201]  # a 429 is refused before acting: re-sent
    assert len(job_ids(emu)) == 1
    (create_path,) = {e["path"] for e in emu.request_log() if e["method"] == "POST"}
    post_gaps = _gaps_after_429(emu, "POST", create_path)
    assert len(post_gaps) == 3 and min(post_gaps) >= SPACING, post_gaps
    reads = [e for e in emu.request_log() if e["method"] == "GET" and e["status"] == 429]
    assert len(reads) == 2  # the polls' storm was met and waited out too
    read_gaps = [g for p in {e["path"] for e in reads} for g in _gaps_after_429(emu, "GET", p)]
    assert len(read_gaps) == 2 and min(read_gaps) >= SPACING, read_gaps
    assert_no_secret(emu, logs())


@pytest.mark.parametrize("mode", MODES)
def test_5xx_bursts_on_the_create_and_the_polls(
    emu: Any, dag_runner: Any, logs: Callable[[], str], mode: str
) -> None:
    emu.inject_fault("POST", r"/jobs", status=503, count=1)
    emu.inject_fault("GET", r"/jobs/[^/]+", status=502, count=2)
    emu.inject_fault("GET", r"/jobs", status=500, count=2)
    run = run_load(dag_runner, mode)
    # A 5xx on the create may hide a created job: not re-sent by the client; Airflow's retry
    # then looks for this try's job, finds none, and submits once.
    assert tries(run) == {"load": ("success", 2)}
    assert creates(emu) == [503, 201]
    assert len(job_ids(emu)) == 1
    served = [e["status"] for e in emu.request_log() if e["method"] == "GET"]
    assert served.count(500) == 2  # the job-list burst (the retry's scan or the trigger's walk)
    if mode == "sync":
        assert served.count(502) == 2  # the status-read burst, absorbed by the client
    logged = logs()
    assert "503" in logged
    assert_no_secret(emu, logged)


@pytest.mark.parametrize("mode", MODES)
def test_read_timeout_on_the_create_is_not_resent_and_the_retry_reattaches(
    emu: Any, dag_runner: Any, logs: Callable[[], str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    connect(emu, monkeypatch, timeout=0.4)
    # Polaris creates the job, then its answer is held past the client's read timeout.
    emu.inject_fault("POST", r"/jobs", kind="delay", delay_seconds=1.2)
    run = run_load(dag_runner, mode)
    assert tries(run) == {"load": ("success", 2)}
    assert creates(emu) == [201]  # sent once: try 1 never re-sent it, try 2 reattached
    assert len(job_ids(emu)) == 1
    logged = logs()
    assert "timed out after 0.4s reading the response" in logged
    assert "not re-sent, since Polaris may already have acted on it" in logged
    assert_no_secret(emu, logged)


@pytest.mark.parametrize("mode", MODES)
def test_dropped_connections_on_the_create_and_the_polls(
    emu: Any, dag_runner: Any, logs: Callable[[], str], mode: str
) -> None:
    emu.inject_fault("POST", r"/jobs", kind="drop", count=1)
    emu.inject_fault("GET", JOB_READS, kind="drop", count=2)
    run = run_load(dag_runner, mode)
    # A dropped create may or may not have reached Polaris: not re-sent; the retry looks for
    # the job (the emulator dropped it before acting, so there is none) and submits once.
    assert tries(run) == {"load": ("success", 2)}
    assert creates(emu) == [0, 201]
    assert len(job_ids(emu)) == 1
    dropped = [e for e in emu.request_log() if e["method"] == "GET" and e["status"] == 0]
    assert len(dropped) == 2  # both dropped reads happened and were retried
    logged = logs()
    assert "RemoteProtocolError" in logged
    assert "not re-sent, since Polaris may already have acted on it" in logged
    assert_no_secret(emu, logged)


@pytest.fixture
def oauth(emu: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``polaris_default`` as an OAuth client (login / secret, the emulator's token URL)."""
    emu.register_oauth_client("fault-matrix-client", OAUTH_SECRET)
    connection = {
        "conn_type": "imply_polaris",
        "host": emu.base_url,
        "login": "fault-matrix-client",
        "password": OAUTH_SECRET,
        "extra": {"project_id": emu.project_id, "token_url": emu.token_url},
    }
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_DEFAULT", json.dumps(connection))
    return emu


def _bearer_reads(emu: Any, status: int) -> list[dict[str, Any]]:
    return [
        e
        for e in emu.request_log()
        if e["method"] == "GET" and e["auth_kind"] == "bearer" and e["status"] == status
    ]


def _expire_token_mid_wait(emu: Any, failures: list[BaseException]) -> None:
    """Once the wait has read the job with its token, move the emulator's clock past the
    token's lifetime (300 s); once the next read was refused (401) and a later one served,
    let the job complete. Never sleeps for a state: it watches the request log."""
    deadline = time.monotonic() + 60
    try:
        while not _bearer_reads(emu, 200):
            assert time.monotonic() < deadline, "the wait never read the job"
            time.sleep(0.002)
        emu.advance(301)
        while True:
            log = emu.request_log()
            refused = [i for i, e in enumerate(log) if e["status"] == 401]
            if refused and any(
                e["auth_kind"] == "bearer" and e["status"] == 200 for e in log[refused[0] :]
            ):
                break
            assert time.monotonic() < deadline, f"no refresh seen: {log[-6:]}"
            time.sleep(0.002)
    except BaseException as exc:  # reported by the test, not lost in the thread
        failures.append(exc)
    finally:  # let the wait end whatever happened, even if the job came late (a loaded machine)
        _release_jobs(emu)


def _release_jobs(emu: Any) -> None:
    """Complete the load's job, waiting (bounded) for it to exist: a sync wait has no timeout."""
    patience = time.monotonic() + 120
    while not job_ids(emu) and time.monotonic() < patience:
        time.sleep(0.2)  # job_ids is a request of its own: don't flood the request log
    for job_id in job_ids(emu):
        emu.script_job(job_id, outcome="completed", after_polls=1)


@pytest.fixture
def token_expiry(oauth: Any) -> Iterator[list[BaseException]]:
    emu = oauth
    emu.script_job(outcome="running")  # finishes only once the refresh has been seen
    failures: list[BaseException] = []
    watcher = threading.Thread(target=_expire_token_mid_wait, args=(emu, failures), daemon=True)
    watcher.start()
    yield failures
    watcher.join(150)


@pytest.mark.parametrize("mode", MODES)
def test_oauth_token_expiring_mid_wait_is_refreshed(
    oauth: Any,
    token_expiry: list[BaseException],
    dag_runner: Any,
    logs: Callable[[], str],
    mode: str,
) -> None:
    emu = oauth
    run = run_load(dag_runner, mode)
    assert not token_expiry, token_expiry
    assert tries(run) == {"load": ("success", 1)}  # one try: one event, one outcome
    assert creates(emu) == [201]
    log = emu.request_log()
    refused = [i for i, e in enumerate(log) if e["status"] == 401]
    assert len(refused) == 1  # the wait's one read with the expired token
    after = log[refused[0] + 1 :]
    token_posts = [e for e in after if str(e["path"]).endswith("/openid-connect/token")]
    assert token_posts and token_posts[0]["status"] == 200  # a new token ...
    assert any(e["auth_kind"] == "bearer" and e["status"] == 200 for e in after)  # ... used
    logged = logs()
    assert "fetching a new OAuth token" in logged
    assert_no_secret(emu, logged)


@pytest.mark.parametrize("mode", MODES)
def test_a_job_canceled_in_polaris_fails_the_task_without_retry(
    emu: Any, dag_runner: Any, logs: Callable[[], str], mode: str
) -> None:
    emu.script_job(outcome="canceled", after_polls=2)
    run = run_load(dag_runner, mode)
    assert tries(run) == {"load": ("failed", 1)}  # retries=2, yet one try
    assert creates(emu) == [201]
    (job_id,) = job_ids(emu)
    assert emu.get_job(job_id)["executionStatus"] == "canceled"
    # Nobody asked Polaris to cancel it but the person: the task sent no cancel.
    assert emu.count_requests("POST", r"/jobs/[^/]+/status") == 0
    logged = logs()
    assert "canceled" in logged
    assert_no_secret(emu, logged)


@pytest.mark.parametrize("mode", MODES)
def test_unknown_status_while_waiting_is_bounded(
    emu: Any, dag_runner: Any, logs: Callable[[], str], mode: str
) -> None:
    emu.script_job(outcome="unknown")
    started = time.monotonic()
    run = run_load(dag_runner, mode)
    assert time.monotonic() - started < 30
    state, try_number = tries(run)["load"]
    # Each try gives up (retryable: the job may still be fine); every retry reattaches.
    assert (state, try_number) == ("failed", 3)
    creates_seen = creates(emu)
    # Each try gives up after max_unknown_polls=3 unknown reads; a retry reattaches to the
    # same job (it is this task's) rather than submitting another.
    assert creates_seen == [201]
    assert len(job_ids(emu)) == 1
    reads = emu.count_requests("GET", JOB_READS)
    # Bounded: per try, at most a list walk and a fetch per unknown read (plus the first ones).
    assert reads <= try_number * 2 * (3 + 1) + 2, reads
    logged = logs()
    assert "unknown" in logged
    assert_no_secret(emu, logged)


@pytest.mark.parametrize("mode", MODES)
def test_a_job_vanishing_while_waiting_fails_at_once(
    emu: Any, dag_runner: Any, logs: Callable[[], str], mode: str
) -> None:
    # The job leaves the active jobs' list (the triggerer's walk) after two reads, and from the
    # first read on Polaris answers 404 for it: what a wait sees of a job deleted under it.
    emu.script_job(outcome="completed", after_polls=2)
    emu.inject_fault("GET", r"/jobs/[^/]+", status=404, count=1000)
    run = run_load(dag_runner, mode)
    assert tries(run) == {"load": ("failed", 1)}  # a 404 is permanent: no retry
    assert creates(emu) == [201]
    assert emu.count_requests("GET", r"/jobs/[^/]+") <= 2
    logged = logs()
    assert "does not exist (404 Not Found)" in logged
    assert_no_secret(emu, logged)
