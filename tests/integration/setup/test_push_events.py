"""Event pushes against the emulator over real HTTP: batching, faults, rejections, accounting."""

from __future__ import annotations

import asyncio
import gzip
import heapq
import io
import json
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_polaris.events import EventsDeliveryError, PushReport
from airflow_provider_polaris.hooks.polaris import PolarisHook
from airflow_provider_polaris.operators.events import PolarisPushEventsOperator

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ISO = NOW.isoformat().replace("+00:00", "Z")
FAST = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05}


def events(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [{"__time": ISO, "i": i} for i in range(start, start + n)]


def stored(emulator: Any, table: str = "ev") -> Counter[int]:
    return Counter(row["i"] for row in emulator.table_rows(table))


def push(n_or_events: Any, **options: Any) -> PushReport:
    data = events(n_or_events) if isinstance(n_or_events, int) else n_or_events
    return PolarisHook().push_events("push", data, **{**FAST, **options})


def test_push_delivers_every_event_once(polaris_emulator: Any, push_table: str) -> None:
    report = push(1000, max_concurrent_requests=8)
    assert report.accepted == 1000 and report.complete
    assert report.requests == 17
    assert stored(polaris_emulator) == Counter(range(1, 1001))
    assert polaris_emulator.count_requests("POST", r"/events/push") == 17


def test_gzip_and_larger_batches(polaris_emulator: Any, push_table: str) -> None:
    report = push(500, gzip=True, max_events_per_request=250)
    assert report.requests == 2 and report.accepted == 500
    assert stored(polaris_emulator) == Counter(range(1, 501))


def test_429_storm_no_loss_no_duplicates(polaris_emulator: Any, push_table: str) -> None:
    polaris_emulator.inject_fault("POST", "/events/push", status=429, count=25, retry_after=0.05)
    report = push(1200, max_concurrent_requests=8)
    assert report.rate_limited == 25 and report.accepted == 1200
    assert stored(polaris_emulator) == Counter(range(1, 1201))


def test_5xx_burst_is_retried_without_loss(polaris_emulator: Any, push_table: str) -> None:
    polaris_emulator.inject_fault("POST", "/events/push", status=503, count=6)
    report = push(600, max_concurrent_requests=4, max_retries=8)
    assert report.retries == 6 and report.accepted == 600
    # the emulator's 5xx faults do not ingest, so no event is stored twice
    assert stored(polaris_emulator) == Counter(range(1, 601))


def test_dropped_connections_are_retried(polaris_emulator: Any, push_table: str) -> None:
    polaris_emulator.inject_fault("POST", "/events/push", kind="drop", count=3)
    report = push(300, max_concurrent_requests=2)
    assert report.accepted == 300 and report.retries == 3
    assert stored(polaris_emulator) == Counter(range(1, 301))


def test_undelivered_lines_are_named(polaris_emulator: Any, push_table: str) -> None:
    polaris_emulator.inject_fault("POST", "/events/push", status=500, count=1000)
    with pytest.raises(EventsDeliveryError) as info:
        push(300, max_concurrent_requests=1, max_retries=2)
    report = info.value.report
    assert report.accepted == 0 and report.first_undelivered_line == 1
    assert "first undelivered line: 1" in str(info.value)
    assert not polaris_emulator.table_rows("ev")


def test_partial_failure_reports_exact_lines_and_resumes(
    polaris_emulator: Any, push_table: str
) -> None:
    # The first two requests succeed, then the connection disappears (404 is not retried).
    data = events(300)
    hook = PolarisHook()
    first = hook.push_events("push", data[:120], **FAST)
    assert first.accepted == 120
    polaris_emulator.inject_fault("POST", "/events/push", status=404, count=1)
    with pytest.raises(EventsDeliveryError) as info:
        hook.push_events("push", data, start_line=121, max_concurrent_requests=1, **FAST)
    report = info.value.report
    assert report.first_undelivered_line == 121
    assert "first undelivered line: 121" in str(info.value)
    again = hook.push_events("push", data, start_line=report.first_undelivered_line, **FAST)
    assert again.accepted == 180
    assert stored(polaris_emulator) == Counter(range(1, 301))


def test_bad_lines_are_rejected_with_line_numbers(
    polaris_emulator: Any, push_table: str, tmp_path: Path
) -> None:
    old = (NOW - timedelta(days=45)).isoformat()
    lines = [
        json.dumps({"__time": ISO, "i": 1}),
        "{broken",
        json.dumps({"i": 3}),
        json.dumps({"__time": old, "i": 4}),
        json.dumps({"__time": ISO, "i": 5, "blob": "z" * 1_100_000}),
        json.dumps({"__time": ISO, "i": 6}),
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with path.open("rb") as handle:
        report = PolarisHook().push_events("push", handle, **FAST)
    assert report.accepted == 2 and report.rejected == 4
    assert [(r.line, r.reason) for r in report.rejections] == [
        (2, "invalid_json"),
        (3, "missing_time"),
        (4, "too_late"),
        (5, "too_large"),
    ]
    assert stored(polaris_emulator) == Counter([1, 6])


def test_operator_streams_ndjson_from_file_url(
    polaris_emulator: Any,
    push_table: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "events.ndjson.gz"
    with gzip.open(path, "wt") as handle:
        for event in events(250):
            handle.write(json.dumps(event) + "\n")
        handle.write("not json\n")
    op = PolarisPushEventsOperator(
        task_id="push", connection_name="push", events=f"file://{path}", push_options=FAST
    )
    with caplog.at_level(logging.INFO):
        result = op.execute(context={})
    assert result["accepted"] == 250 and result["rejected"] == 1
    assert result["rejections"][0]["line"] == 251
    json.dumps(result)  # XCom-safe
    assert stored(polaris_emulator) == Counter(range(1, 251))
    # Airflow 3 task loggers write through structlog to stdout; Airflow 2 through logging.
    assert "rejected line 251" in caplog.text + capsys.readouterr().out


def test_operator_accepts_rendered_xcom_text_and_fails_on_too_many_rejections(
    polaris_emulator: Any, push_table: str
) -> None:
    from airflow_provider_polaris._compat import AirflowFailException

    text = json.dumps([*events(3), {"i": 99}])
    op = PolarisPushEventsOperator(
        task_id="push", connection_name="push", events=text, max_rejected=0, push_options=FAST
    )
    with pytest.raises(AirflowFailException, match="1 events were rejected"):
        op.execute(context={})
    assert stored(polaris_emulator) == Counter([1, 2, 3])


def test_streaming_file_object_is_not_read_whole(polaris_emulator: Any, push_table: str) -> None:
    class NoReadAll(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and size >= 0, "the whole input must never be read at once"
            return super().read(size)

    body = "\n".join(json.dumps(e) for e in events(100)).encode()
    report = PolarisHook().push_events("push", NoReadAll(body), **FAST)
    assert report.accepted == 100


# -- pacing against the emulator's per-minute budget, on a clock the test drives ---------------


class SimulatedTime:
    """One simulated clock for the emulator (its budget windows) and the pusher (its pacing and
    sleeps). Time moves only while no request is in flight, to the end of the earliest sleep:
    answers take no simulated time, and nothing sleeps for real."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the start of an emulator budget window (a whole minute)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = 0
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self._driver: asyncio.Task[None] | None = None

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, self._order, woken))
        self._order += 1
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await woken

    def sending(self, send: Any) -> Any:
        """``send`` counted as in flight while it runs."""
        simulated = self

        class Counted:
            async def __call__(self, payload: bytes) -> Any:
                simulated._in_flight += 1
                try:
                    return await send(payload)
                finally:
                    simulated._in_flight -= 1
                    if not simulated._in_flight and simulated._idle is not None:
                        simulated._idle.set()

            async def aclose(self) -> None:
                await send.aclose()

        return Counted()

    async def _drive(self) -> None:
        self._idle = asyncio.Event()
        while self._sleepers:
            for _ in range(10):  # let woken tasks reach their next send or sleep
                await asyncio.sleep(0)
            if self._in_flight:
                self._idle.clear()
                await self._idle.wait()
                continue
            until, _, woken = heapq.heappop(self._sleepers)
            self.now = max(self.now, until)
            if not woken.done():
                woken.set_result(None)


@pytest.mark.parametrize("concurrency", [8, None], ids=["8-in-flight", "default"])
def test_pacing_stays_within_a_small_budget_without_a_429(concurrency: int | None) -> None:
    """40 calls per minute for 60 calls' worth of events: the push must wait for the next window
    instead of tripping the limit (it used to get 5 429s at 8 in flight)."""
    from airflow_provider_polaris.client import PolarisConfig
    from airflow_provider_polaris.client.events import push_endpoint
    from airflow_provider_polaris.client.sync import PolarisClient
    from airflow_provider_polaris.events import EventPusher, make_options
    from airflow_provider_polaris.events._transport import PushTransport
    from airflow_provider_polaris.testing import PolarisEmulator

    clock = SimulatedTime()
    options = make_options(**({"max_concurrent_requests": concurrency} if concurrency else {}))
    with PolarisEmulator(clock=clock.time, events_budget=40) as emulator:
        config = PolarisConfig(
            project_id=emulator.project_id, base_url=emulator.base_url, api_key=emulator.api_key
        )
        with PolarisClient(config) as client:
            client.connections.create({"type": "push_streaming", "name": "paced"})
            pusher = EventPusher(
                clock.sending(PushTransport(push_endpoint(config, "paced"))),
                "paced",
                options,
                clock=clock.time,
                sleep=clock.sleep,
            )
            report = pusher.push(events(3600))
        pushes = [e for e in emulator.request_log() if e["path"].endswith("/events/paced")]
    assert report.accepted == 3600 and report.rate_limited == 0 and report.requests == 60
    assert [e["status"] for e in pushes] == [200] * 60
    per_minute = Counter(
        int(datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp() // 60)
        for e in pushes
    )
    assert len(per_minute) >= 2 and max(per_minute.values()) <= 40


# -- proxies: pushes go where the rest of the provider's traffic goes --------------------------

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _dead_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once closed


def test_an_environment_proxy_is_honoured(
    polaris_emulator: Any,
    push_table: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    proxy = f"http://127.0.0.1:{_dead_port()}"
    monkeypatch.setenv("HTTP_PROXY", proxy)
    caplog.set_level(logging.INFO, logger="airflow_provider_polaris.events")
    with pytest.raises(EventsDeliveryError) as info:
        push(10, max_retries=0)
    assert f"through the proxy {proxy}" in str(info.value)  # it went to (and died at) the proxy
    assert polaris_emulator.count_requests("POST", r"/events/push") == 0
    assert f"through the proxy {proxy} (httpx" in caplog.text

    caplog.clear()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert push(10).accepted == 10
    assert "directly (asyncio streams)" in caplog.text
    assert stored(polaris_emulator) == Counter(range(1, 11))


def test_the_httpx_transport_pushes_and_reads_rate_limits(
    polaris_emulator: Any, push_table: str, client: Any
) -> None:
    from airflow_provider_polaris.client.events import push_endpoint
    from airflow_provider_polaris.events import EventPusher, make_options
    from airflow_provider_polaris.events._proxied import HttpxPushTransport, proxy_for

    assert proxy_for(polaris_emulator.base_url) is None  # no proxy here: httpx goes direct
    sent = []

    class Recording(HttpxPushTransport):
        async def __call__(self, payload: bytes) -> Any:
            result = await super().__call__(payload)
            sent.append(result)
            return result

    endpoint = push_endpoint(client.config, "push", gzip=True)
    transport = Recording(endpoint, "http://proxy.example:3128", max_connections=3)
    report = EventPusher(transport, "push", make_options(**FAST)).push(events(130))
    assert report.accepted == 130 and report.requests == 3
    assert transport._client is None  # closed at the end of the push
    assert stored(polaris_emulator) == Counter(range(1, 131))
    assert sent[0].status_code == 200 and sent[0].rate_limit.remaining is not None


def test_on_kill_stops_a_running_push_and_the_log_says_where_to_resume(
    polaris_emulator: Any, push_table: str, caplog: Any, capsys: Any
) -> None:
    """on_kill (called by Airflow's SIGTERM handling) aborts the push: nothing read after it
    is sent, and the task log names the line to resume from."""
    caplog.set_level(logging.INFO)

    def source() -> Any:
        yield from events(600)
        op.on_kill()  # as Airflow would, while the push runs
        yield from events(600, start=601)

    op = PolarisPushEventsOperator(
        task_id="push", connection_name="push", events=source(), push_options=FAST
    )
    with pytest.raises(EventsDeliveryError) as info:
        op.execute(context={})
    report = info.value.report
    assert report.last_error == "the task was killed (on_kill)"
    delivered = set(stored(polaris_emulator))
    assert len(delivered) == report.accepted and delivered <= set(range(1, 601))
    first = report.first_undelivered_line
    assert first is not None and first <= 601 and first not in delivered
    log_text = caplog.text + capsys.readouterr().out
    assert f'resume from line {first} with push_options={{"start_line": {first}}}' in log_text


def test_an_input_error_is_logged_with_the_line_to_resume_from(
    polaris_emulator: Any, push_table: str, caplog: Any, capsys: Any
) -> None:
    caplog.set_level(logging.INFO)

    def source() -> Any:
        yield from events(300)
        raise OSError("S3 read failed")

    op = PolarisPushEventsOperator(
        task_id="push", connection_name="push", events=source(), push_options=FAST
    )
    with pytest.raises(OSError, match="S3 read failed") as info:
        op.execute(context={})
    report = info.value.report  # type: ignore[attr-defined]
    assert report.accepted == len(stored(polaris_emulator))
    log_text = caplog.text + capsys.readouterr().out
    assert f"{report.accepted} events accepted; resume from line" in log_text


class _StateStore:
    """Airflow 3.3's task state store accessor API (get/set/delete) over a dict, shared by
    "tries" as the real one is (the real one, in a real process kill, is exercised by
    tests/reliability/test_push_resume.py)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sets = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.data[key] = json.loads(json.dumps(value))
        self.sets += 1

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_a_failed_push_records_what_is_left_and_the_retry_sends_only_that(
    polaris_emulator: Any, push_table: str
) -> None:
    store = _StateStore()
    context = {"task_state_store": store}
    data = events(600)

    def op() -> PolarisPushEventsOperator:
        return PolarisPushEventsOperator(
            task_id="push",
            connection_name="push",
            events=data,
            max_concurrent_requests=1,
            push_options={**FAST, "max_retries": 0},
        )

    # Requests 1-3 are accepted, the 4th fails for good (a 503, and max_retries=0; a 400 would
    # fail the task without Airflow retries, see test_push_fail_fast.py).
    for fault in ({"kind": "delay", "delay_seconds": 0, "count": 3}, {"status": 503}):
        polaris_emulator.inject_fault("POST", "/events/push", **fault)
    with pytest.raises(EventsDeliveryError):
        op().execute(context)
    record = store.data["polaris_push"]
    assert record["resume_from_line"] == 181
    assert record["not_delivered"] == [[181, None]]  # the push stopped reading there
    assert record["input"] == "600 events" and record["connection"] == "push"

    polaris_emulator.clear_request_log()
    result = op().execute(context)  # the retry
    assert result["accepted"] == 420 and result["events_read"] == 420
    assert polaris_emulator.count_requests("POST", r"/events/push") == 7
    assert stored(polaris_emulator) == Counter(range(1, 601))  # each exactly once
    assert "polaris_push" not in store.data  # cleared on success

    again = op().execute(context)  # a clear-and-rerun after success pushes everything
    assert again["accepted"] == 600


def test_a_record_for_another_input_is_ignored(polaris_emulator: Any, push_table: str) -> None:
    store = _StateStore()
    store.data["polaris_push"] = {
        "connection": "push",
        "input": "999 events",
        "resume_from_line": 5,
        "not_delivered": [[5, None]],
    }
    op = PolarisPushEventsOperator(
        task_id="push", connection_name="push", events=events(10), push_options=FAST
    )
    assert op.execute({"task_state_store": store})["accepted"] == 10
    assert stored(polaris_emulator) == Counter(range(1, 11))
