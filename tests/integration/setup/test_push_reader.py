"""The push operator checks, with one list call, that a streaming job reads the connection:
Polaris accepts events nobody reads and stores none of them. The emulator's request log proves
"one list call" and "nothing pushed" (with ``require_reader=True``); its dropped-event counter
shows what the warning is about."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import pytest

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.client.sync import PolarisClient
from airflow_provider_polaris.operators.events import PolarisPushEventsOperator

ISO = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
FAST = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05}
EVENTS = [{"__time": ISO, "i": i} for i in range(1, 11)]
WARNING = (
    "Polaris accepts events pushed to connection 'push' but no running streaming job reads it, "
    "so they are not stored: start a streaming job on it (PolarisStreamingJobOperator) or set "
    "require_reader=True to fail instead"
)


def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """The task log: Airflow 3's structlog prints it, 2.11's logging is captured."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


def op(**kwargs: Any) -> PolarisPushEventsOperator:
    return PolarisPushEventsOperator(
        task_id="push", connection_name="push", events=EVENTS, push_options=FAST, **kwargs
    )


def _query(entry: dict[str, Any]) -> dict[str, list[str]]:
    query = entry["query"]
    return parse_qs(query.decode() if isinstance(query, bytes) else query)


def job_lists(emu: Any) -> list[dict[str, list[str]]]:
    return [
        _query(e) for e in emu.request_log() if e["method"] == "GET" and e["path"].endswith("/jobs")
    ]


@pytest.fixture
def unread(client: PolarisClient, polaris_emulator: Any) -> Any:
    """A push connection that no streaming job reads."""
    client.connections.create({"type": "push_streaming", "name": "push"})
    polaris_emulator.clear_request_log()
    return polaris_emulator


def test_no_reader_warns_naming_the_connection_and_still_pushes(
    unread: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.INFO):
        result = op().execute(context={})
    assert WARNING in logs(caplog, capsys)
    assert result["accepted"] == 10  # Polaris answers 200 ...
    assert unread.count_requests("POST", r"/events/push") == 1  # ... to the push it stores nowhere
    assert unread.dropped_events("push") == 10
    (query,) = job_lists(unread)  # exactly one list call, filtered as documented
    assert query["type"] == ["streaming"]
    assert query["connectionName"] == ["push"]
    assert set(query["executionStatus"]) == {"pending", "running", "idle", "suspended"}


def test_require_reader_fails_before_any_push(unread: Any) -> None:
    with pytest.raises(AirflowFailException) as info:
        op(require_reader=True).execute(context={})
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith(
        "no running streaming job reads push connection 'push' (require_reader=True)"
    )
    assert "PolarisStreamingJobOperator" in first_line
    assert [e["method"] for e in unread.request_log()] == ["GET"]  # the list call only
    assert unread.dropped_events("push") == 0


def test_a_running_reader_means_no_warning(
    polaris_emulator: Any,
    push_table: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    polaris_emulator.clear_request_log()
    with caplog.at_level(logging.INFO):
        result = op(require_reader=True).execute(context={})
    assert result["accepted"] == 10
    text = logs(caplog, capsys)
    assert "no running streaming job" not in text
    assert "is read by streaming job(s)" in text
    assert len(job_lists(polaris_emulator)) == 1
    assert sorted(r["i"] for r in polaris_emulator.table_rows(push_table)) == list(range(1, 11))
    assert polaris_emulator.dropped_events("push") == 0


def test_a_suspended_reader_does_not_count_and_is_named(
    client: PolarisClient, polaris_emulator: Any, push_table: str
) -> None:
    (job,) = client.jobs.list(type=["streaming"])["values"]
    client.jobs.suspend(job["id"])
    with pytest.raises(AirflowFailException, match=rf"not reading: {job['id']} \(suspended\)"):
        op(require_reader=True).execute(context={})
    assert polaris_emulator.count_requests("POST", r"/events/push") == 0
