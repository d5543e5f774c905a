"""Unit tests of the event pusher with an in-process fake sender (no HTTP)."""

from __future__ import annotations

import asyncio
import io
import json
import random
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_polaris.client import (
    PolarisBadRequestError,
    PolarisRateLimitError,
    PolarisServerError,
    PolarisTransportError,
)
from airflow_provider_polaris.events import (
    EventPusher,
    EventsDeliveryError,
    PushControl,
    PushOptions,
    make_options,
)
from airflow_provider_polaris.events._pacing import POLL_SECONDS, Pacer
from airflow_provider_polaris.events._report import format_ranges, line_ranges

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ISO_NOW = NOW.isoformat().replace("+00:00", "Z")


def ev(i: int, **extra: Any) -> dict[str, Any]:
    return {"__time": ISO_NOW, "i": i, **extra}


class FakeSender:
    """Records delivered events; ``script`` maps a call index to an exception to raise."""

    def __init__(
        self, script: dict[int, Exception] | None = None, fail_all: Exception | None = None
    ):
        self.script = script or {}
        self.fail_all = fail_all
        self.lock = threading.Lock()
        self.calls = 0
        self.payloads: list[bytes] = []
        self.delivered: list[int] = []

    def __call__(self, payload: bytes) -> Any:
        with self.lock:
            n = self.calls
            self.calls += 1
        if self.fail_all is not None:
            raise self.fail_all
        if n in self.script:
            raise self.script[n]
        with self.lock:
            self.payloads.append(payload)
            self.delivered.extend(json.loads(line)["i"] for line in payload.split(b"\n"))
        return SimpleNamespace(
            status_code=200, rate_limit=SimpleNamespace(remaining=10_000, reset_seconds=30.0)
        )


def fast(**kw: Any) -> PushOptions:
    base: dict[str, Any] = {"backoff_base_seconds": 0.001, "backoff_max_seconds": 0.01}
    base.update(kw)
    return make_options(**base)


def rate_limited(retry_after: float | None = 0.01) -> PolarisRateLimitError:
    return PolarisRateLimitError(429, None, "API rate limit exceeded", retry_after=retry_after)


def server_error() -> PolarisServerError:
    return PolarisServerError(503, None, "unavailable")


def test_batches_by_count_and_delivers_everything_once() -> None:
    sender = FakeSender()
    report = EventPusher(sender, "push", fast(max_concurrent_requests=4)).push(
        [ev(i) for i in range(1, 1001)]
    )
    assert report.accepted == 1000 and report.rejected == 0 and report.complete
    assert sorted(sender.delivered) == list(range(1, 1001))
    assert report.requests == sender.calls == 17  # ceil(1000 / 60)
    assert max(p.count(b"\n") + 1 for p in sender.payloads) == 60


def test_batches_by_payload_bytes() -> None:
    sender = FakeSender()
    big = "x" * 300_000
    opts = fast(max_concurrent_requests=2)
    report = EventPusher(sender, "push", opts).push([ev(i, pad=big) for i in range(1, 8)])
    assert report.accepted == 7
    assert all(len(p) <= opts.max_payload_bytes for p in sender.payloads)
    assert sender.calls == 3  # 3 + 3 + 1 events of ~300 kB


def test_rejections_with_line_numbers_and_reasons() -> None:
    old = (NOW - timedelta(days=40)).isoformat()
    future = (NOW + timedelta(days=2500)).isoformat()
    lines = [
        json.dumps(ev(1)),
        "not json",
        json.dumps({"i": 3}),  # no __time
        "",  # blank lines are skipped but still counted as lines
        json.dumps(ev(5) | {"__time": old}),
        json.dumps(ev(6) | {"__time": future}),
        json.dumps(ev(7) | {"__time": "yesterday-ish"}),
        "[1, 2]",
        json.dumps(ev(9, pad="y" * 1_100_000)),
        json.dumps(ev(10) | {"__time": NOW.timestamp() * 1000}),  # epoch millis are fine
    ]
    data = io.BytesIO("\n".join(lines).encode())
    sender = FakeSender()
    report = EventPusher(sender, "push", fast()).push(data)
    assert sorted(sender.delivered) == [1, 10]
    assert report.events_read == 9 and report.accepted == 2 and report.rejected == 7
    assert {(r.line, r.reason) for r in report.rejections} == {
        (2, "invalid_json"),
        (3, "missing_time"),
        (5, "too_late"),
        (6, "too_early"),
        (7, "bad_time"),
        (8, "not_an_object"),
        (9, "too_large"),
    }
    assert report.rejected_by_reason["too_large"] == 1
    assert "1,000,000-byte" in next(r.detail for r in report.rejections if r.line == 9)


def test_objects_not_serialisable_are_rejected() -> None:
    sender = FakeSender()
    report = EventPusher(sender, "push", fast()).push([ev(1), ev(2, bad=object()), "str-event"])
    assert report.accepted == 1
    assert [(r.line, r.reason) for r in report.rejections] == [
        (2, "not_serialisable"),
        (3, "invalid_json"),
    ]


def test_nan_and_infinity_are_refused_in_lines_as_in_objects() -> None:
    sender = FakeSender()
    lines = [f'{{"__time": "{ISO_NOW}", "i": 1, "v": {bad}}}' for bad in ("NaN", "Infinity")]
    lines.append(f'{{"__time": "{ISO_NOW}", "i": 3, "v": -Infinity}}')
    items = [*lines, ev(4, v=float("nan")), ev(5, v=float("inf")), ev(6, v=1.5)]
    report = EventPusher(sender, "push", fast()).push(items)
    assert sender.delivered == [6]
    assert [(r.line, r.reason) for r in report.rejections] == [
        (1, "invalid_json"),
        (2, "invalid_json"),
        (3, "invalid_json"),
        (4, "not_serialisable"),
        (5, "not_serialisable"),
    ]
    assert "NaN is not allowed" in report.rejections[0].detail


def test_time_checks_are_configurable() -> None:
    sender = FakeSender()
    opts = fast(time_field="ts", late_rejection_period=None, early_rejection_period=None)
    report = EventPusher(sender, "push", opts).push([{"ts": "1990-01-01T00:00:00Z", "i": 1}])
    assert report.accepted == 1


def test_rejections_list_is_capped_but_counts_are_exact() -> None:
    report = EventPusher(FakeSender(), "push", fast(max_rejections_listed=5)).push(
        ["{"] * 50 + [json.dumps(ev(51))]
    )
    assert report.rejected == 50 and len(report.rejections) == 5 and report.accepted == 1


def test_429_pauses_and_retries_without_loss_or_duplicates() -> None:
    sender = FakeSender(script={i: rate_limited() for i in range(0, 30, 2)})
    report = EventPusher(sender, "push", fast(max_concurrent_requests=8)).push(
        [ev(i) for i in range(1, 1201)]
    )
    assert sorted(sender.delivered) == list(range(1, 1201))
    assert report.rate_limited == 15 and report.accepted == 1200


def test_5xx_is_retried_then_delivered() -> None:
    sender = FakeSender(script={0: server_error(), 1: PolarisTransportError("reset")})
    report = EventPusher(sender, "push", fast(max_concurrent_requests=1)).push(
        [ev(i) for i in range(1, 121)]
    )
    assert sorted(sender.delivered) == list(range(1, 121))
    assert report.retries == 2


def test_final_failure_names_undelivered_lines() -> None:
    sender = FakeSender(fail_all=server_error())
    opts = fast(max_concurrent_requests=1, max_retries=2)
    with pytest.raises(EventsDeliveryError) as info:
        EventPusher(sender, "push", opts).push([ev(i) for i in range(1, 1001)])
    report = info.value.report
    assert report.accepted == 0
    assert report.first_undelivered_line == 1
    assert "first undelivered line: 1" in str(info.value)
    assert "PolarisServerError" in str(info.value)
    # every event is either undelivered (sent and failed, or queued) or unread
    assert report.undelivered_ranges[0][0] == 1
    unread = report.unread_from_line
    covered = report.undelivered + (1001 - unread if unread else 0)
    assert covered == 1000


def test_partial_failure_reports_exact_lines() -> None:
    # the 3rd request (lines 121-180) fails with a 400: not retried, push stops
    sender = FakeSender(script={2: PolarisBadRequestError(400, None, "bad")})
    with pytest.raises(EventsDeliveryError) as info:
        EventPusher(sender, "push", fast(max_concurrent_requests=1)).push(
            [ev(i) for i in range(1, 601)]
        )
    report = info.value.report
    assert report.accepted == 120 and sorted(sender.delivered) == list(range(1, 121))
    assert report.first_undelivered_line == 121
    assert "first undelivered line: 121" in str(info.value)
    delivered = set(sender.delivered)
    undelivered = {n for a, b in report.undelivered_ranges for n in range(a, b + 1)}
    unread = set(range(report.unread_from_line or 601, 601))
    assert delivered | undelivered | unread == set(range(1, 601))
    assert not delivered & (undelivered | unread)


def test_flush_window_sends_partial_batches_of_a_slow_stream() -> None:
    sender = FakeSender()
    seen_before_end: list[int] = []

    def slow() -> Any:
        yield ev(1)
        yield ev(2)
        time.sleep(0.4)
        seen_before_end.append(sender.calls)
        yield ev(3)

    report = EventPusher(sender, "push", fast(flush_window_seconds=0.1)).push(slow())
    assert report.accepted == 3 and seen_before_end == [1]


def test_a_batch_sent_by_the_flush_window_is_never_left_behind() -> None:
    """The audit's repro: a partial batch goes stale while the only sender is busy and the batch
    queue is full, and the input ends at that moment. Every event must still be sent."""
    window = 0.005
    first_send = threading.Event()
    ended = threading.Event()
    state: dict[str, Any] = {}
    delivered: list[int] = []

    async def send(payload: bytes) -> Any:
        if "gate" not in state:  # the first request waits until released
            state["loop"] = asyncio.get_running_loop()
            state["gate"] = state["loop"].create_future()
            first_send.set()
            await state["gate"]
        delivered.extend(json.loads(line)["i"] for line in payload.split(b"\n"))
        return SimpleNamespace(rate_limit=None)

    def release_after_the_input_ended() -> None:
        # Runs in the pusher's loop and holds it while the reader finishes, so the queue slot
        # the sender frees and the end of the input are seen in the same loop iteration.
        assert ended.wait(5)
        time.sleep(0.05)  # the reader thread marks the feed ended (a few bytecodes)
        state["gate"].set_result(None)

    def source() -> Any:
        yield ev(1)
        assert first_send.wait(5)  # event 1 was flushed alone and its sender is blocked
        for i in (2, 3, 4):  # each flushed alone: 2 and 3 fill the queue, 4 waits for a slot
            yield ev(i)
            time.sleep(window * 8)  # a gap in the stream, longer than the flush window
        state["loop"].call_soon_threadsafe(release_after_the_input_ended)
        ended.set()

    opts = fast(max_concurrent_requests=1, flush_window_seconds=window, max_events_per_request=100)
    report = EventPusher(send, "push", opts).push(source())
    assert sorted(delivered) == [1, 2, 3, 4]
    assert report.events_read == report.accepted == 4 and report.complete


def _push_with_random_timing_and_faults(rng: random.Random) -> None:
    n = rng.randint(1, 70)
    bad = {i for i in range(1, n + 1) if rng.random() < 0.05}
    gaps = [rng.choice([0.0, 0.0, 0.0, 0.0005, 0.002]) for _ in range(n)]
    fates = iter(rng.choice(["ok"] * 12 + ["429", "503"]) for _ in range(10_000))
    delivered: list[int] = []

    async def send(payload: bytes) -> Any:
        fate = next(fates)
        await asyncio.sleep(rng.choice([0, 0, 0.0005, 0.001]))
        if fate == "429":
            raise rate_limited(0.001)
        if fate == "503":
            raise server_error()  # refused before ingesting: no duplicate on retry
        delivered.extend(json.loads(line)["i"] for line in payload.split(b"\n"))
        return SimpleNamespace(rate_limit=None)

    def source() -> Any:
        for i in range(1, n + 1):
            yield "{broken" if i in bad else ev(i)
            if gaps[i - 1]:
                time.sleep(gaps[i - 1])  # a slow stream: the flush window sends partial batches

    opts = fast(
        max_concurrent_requests=rng.randint(1, 4),
        flush_window_seconds=rng.choice([0.0005, 0.001, 0.003]),
        max_events_per_request=rng.randint(1, 25),
        max_retries=rng.choice([0, 1, 3]),
    )
    try:
        report = EventPusher(send, "push", opts).push(source())
    except EventsDeliveryError as exc:
        report = exc.report
    undelivered = {line for a, b in report.undelivered_ranges for line in range(a, b + 1)}
    unread = set(range(report.unread_from_line or n + 1, n + 1))
    rejected = {r.line for r in report.rejections}
    assert len(delivered) == len(set(delivered)) == report.accepted
    assert report.accepted + report.rejected + report.undelivered == report.events_read
    assert set(delivered) | undelivered | rejected | unread == set(range(1, n + 1))
    assert not set(delivered) & (undelivered | rejected)
    assert report.complete == (not undelivered and not unread)


def test_every_event_is_accounted_for_under_random_timing_and_faults() -> None:
    """Seeded stress: slow streams, flush windows, few senders, 429s, 5xx, bad lines. Every read
    event is delivered once, rejected or reported undelivered, and the counts add up."""
    master = random.Random(20260511)
    for _ in range(40):
        _push_with_random_timing_and_faults(random.Random(master.random()))


def test_a_sender_that_dies_stops_the_push_with_a_report() -> None:
    """A BaseException from the send function (here on the first request, with one sender and
    with many) ends that sender; the push stops at once and names the undelivered lines."""

    class SenderCrashed(BaseException):
        pass

    for n in (1, 8):
        calls = 0

        async def send(payload: bytes) -> Any:
            nonlocal calls
            calls += 1
            raise SenderCrashed("boom")

        pusher = EventPusher(send, "push", fast(max_concurrent_requests=n))
        with pytest.raises(EventsDeliveryError) as info:
            pusher.push([ev(i) for i in range(1, 601)])
        report = info.value.report
        assert calls == 1 and report.accepted == 0 and report.first_undelivered_line == 1
        assert report.accepted + report.rejected + report.undelivered == report.events_read
        unread = set(range(report.unread_from_line or 601, 601))
        undelivered = {line for a, b in report.undelivered_ranges for line in range(a, b + 1)}
        assert undelivered | unread == set(range(1, 601))
        assert "a sender stopped: SenderCrashed: boom" in (report.last_error or "")
        assert pusher._pacer.in_flight == 0


def test_a_cancelled_error_from_the_transport_does_not_hang_the_push() -> None:
    """The review's repro: CancelledError escaping an async send used to leave push() waiting
    forever (pacer slot held, queue full)."""
    calls = 0

    async def send(payload: bytes) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError()
        return SimpleNamespace(rate_limit=None)

    pusher = EventPusher(send, "push", fast(max_concurrent_requests=4))
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            pusher.push([ev(i) for i in range(1, 6001)])
        except EventsDeliveryError as exc:
            done["report"] = exc.report

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "push() hung after a sender died"
    report = done["report"]
    assert report.first_undelivered_line == 1 and pusher._pacer.in_flight == 0
    assert "CancelledError" in (report.last_error or "")


def test_an_exception_after_the_send_does_not_hang_the_push() -> None:
    """An exception outside the send's error handling (a malformed rate-limit answer breaking
    the pacer) stops the push with a report."""

    async def send(payload: bytes) -> Any:
        return SimpleNamespace(rate_limit=SimpleNamespace(remaining=5, reset_seconds="soon"))

    with pytest.raises(EventsDeliveryError) as info:
        EventPusher(send, "push", fast(max_concurrent_requests=4)).push(
            [ev(i) for i in range(1, 601)]
        )
    report = info.value.report
    assert report.first_undelivered_line == 1 and report.accepted == 0
    assert "TypeError" in (report.last_error or "")


def test_options_validation() -> None:
    with pytest.raises(TypeError, match="unknown push option"):
        make_options(max_events=5)
    with pytest.raises(ValueError):
        make_options(max_payload_bytes=5_000_000)
    assert make_options(late_rejection_period=7).late_rejection_period == timedelta(days=7)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def learned_pacer(clock: FakeClock, low_water: int, **headers: Any) -> Pacer:
    """A pacer that has had its first answer (``headers``: remaining, reset_seconds, limit)."""
    pacer = Pacer(low_water=low_water, clock=clock, max_wait=3600)
    assert pacer.reserve() == 0
    pacer.observe(**headers)
    return pacer


def test_pacer_sends_one_request_until_the_first_answer() -> None:
    pacer = Pacer(low_water=4, clock=FakeClock())
    assert pacer.reserve() == 0
    assert pacer.reserve() == POLL_SECONDS  # no blind burst into an unknown budget
    pacer.observe(remaining=1000, reset_seconds=10, limit=1000)
    assert [pacer.reserve() for _ in range(3)] == [0, 0, 0]
    assert pacer.in_flight == 3


def test_pacer_counts_requests_in_flight_against_the_budget() -> None:
    clock = FakeClock()
    pacer = learned_pacer(clock, 1, remaining=3, reset_seconds=10, limit=5)
    assert [pacer.reserve() for _ in range(3)] == [0, 0, 0]  # may spend the 3 left
    assert pacer.reserve() == pytest.approx(10.0)  # nothing left until the window resets
    clock.now = 4.0
    pacer.observe(remaining=2, reset_seconds=6)  # 2 left and 2 still in flight
    assert pacer.reserve() == pytest.approx(6.0)
    pacer.observe(remaining=5, reset_seconds=6)  # answered out of order: the budget stays 2
    assert pacer.in_flight == 1 and pacer.reserve() == pytest.approx(6.0)  # 1 left, spaced
    clock.now = 10.0  # a new window: its limit, minus the request still in flight
    assert [pacer.reserve() for _ in range(4)] == [0, 0, 0, 0]
    assert pacer.reserve() == POLL_SECONDS


def test_pacer_spreads_the_last_of_the_budget_until_the_reset() -> None:
    clock = FakeClock()
    pacer = learned_pacer(clock, 4, remaining=4, reset_seconds=8, limit=100)
    assert pacer.reserve() == 0  # 4 calls left for 8 s: one every 2 s
    pacer.observe(remaining=3, reset_seconds=8)
    assert pacer.reserve() == pytest.approx(2.0)
    clock.now = 2.0
    assert pacer.reserve() == 0


def test_pacer_rechecks_after_waiting_for_a_slot() -> None:
    """A sender waiting for its spaced slot must not send once the budget turned out spent
    (the cause of the 429s at a 40 calls/min budget)."""
    clock = FakeClock()
    pacer = learned_pacer(clock, 4, remaining=4, reset_seconds=8, limit=40)
    assert pacer.reserve() == 0
    wait = pacer.reserve()  # the next sender waits for its slot...
    assert wait == pytest.approx(2.0)
    pacer.observe(remaining=0, reset_seconds=8)  # ...while an answer says nothing is left
    clock.now += wait
    assert pacer.reserve() == pytest.approx(6.0)  # so it waits for the reset, not sends


def test_pacer_pauses_everyone_on_429() -> None:
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    def acquire() -> float:
        waited = 0.0
        while (wait := pacer.reserve()) > 0:
            sleep(wait)
            waited += wait
        return waited

    pacer = Pacer(low_water=4, clock=clock)
    assert acquire() == 0
    assert pacer.rate_limited(3.0) == 3.0 and pacer.in_flight == 0
    waited = acquire()  # the pause plus up to 0.1 s of jitter, asked for 1 s at a time
    assert 3.0 <= waited < 3.2 and slept[:3] == [1.0, 1.0, 1.0] and len(slept) == 4


def test_pacer_waits_are_capped_and_a_pause_longer_than_max_pause_is_nobodys() -> None:
    clock = FakeClock()
    pacer = Pacer(low_water=4, clock=clock, max_pause=2.0)
    assert pacer.reserve() == 0
    pacer.observe(remaining=0, reset_seconds=86_400, limit=100)  # a bogus day-long window
    assert pacer.reserve_or_wait() == (1.0, True)  # asked again every second, a rate-limit wait
    clock.now = 86_400.0
    assert pacer.reserve() == 0
    assert pacer.rate_limited(20.0) == 20.0  # beyond max_pause: its sender gives up...
    assert pacer.reserve() == 0  # ...and nobody else is paused for it
    assert pacer.rate_limited(1.5) == 1.5
    assert 0 < pacer.reserve() <= 1.0


def test_pacer_ignores_a_rate_limit_of_zero() -> None:
    clock = FakeClock()
    pacer = Pacer(low_water=4, clock=clock)
    assert pacer.reserve() == 0
    pacer.observe(remaining=0, reset_seconds=5, limit=0)
    clock.now = 6.0  # the window has passed: a limit of 0 would mean "never again"
    assert pacer.reserve() == 0


def test_the_first_answer_wait_is_not_a_rate_limit_wait() -> None:
    pacer = Pacer(low_water=4, clock=FakeClock())
    assert pacer.reserve() == 0
    assert pacer.reserve_or_wait() == (POLL_SECONDS, False)


def test_ranges_helpers() -> None:
    assert line_ranges([5, 1, 2, 3, 9]) == [(1, 3), (5, 5), (9, 9)]
    assert format_ranges([(1, 3), (5, 5)]) == "1-3, 5"


def test_async_sender_runs_in_the_loop_with_many_requests_in_flight() -> None:
    in_flight = [0, 0]  # now, peak

    class AsyncSender(FakeSender):
        async def __call__(self, payload: bytes) -> Any:  # type: ignore[override]
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            await asyncio.sleep(0.01)
            in_flight[0] -= 1
            return FakeSender.__call__(self, payload)

    sender = AsyncSender(script={3: server_error()})
    report = EventPusher(sender, "push", fast(max_concurrent_requests=16)).push(
        ev(i) for i in range(1, 3001)
    )
    assert sorted(sender.delivered) == list(range(1, 3001)) and report.retries == 1
    assert in_flight[1] == 16


def test_memory_stays_bounded_while_senders_are_slow() -> None:
    """The reader never runs far ahead of the senders (bounded feed and batch queue)."""
    read = [0]
    sent_when_read: list[tuple[int, int]] = []

    def source() -> Any:
        for i in range(1, 20_001):
            read[0] = i
            yield ev(i)

    class Slow(FakeSender):
        async def __call__(self, payload: bytes) -> Any:  # type: ignore[override]
            await asyncio.sleep(0.002)
            result = FakeSender.__call__(self, payload)
            sent_when_read.append((len(self.delivered), read[0]))
            return result

    report = EventPusher(Slow(), "push", fast(max_concurrent_requests=2)).push(source())
    assert report.accepted == 20_000
    assert max(r - s for s, r in sent_when_read) < 12_000  # feed bound + queued batches


def test_checker_caches_the_last_timestamp_but_checks_every_event() -> None:
    from airflow_provider_polaris.events import EventChecker

    checker = EventChecker()
    old = (NOW - timedelta(days=40)).isoformat()
    assert isinstance(checker.check_object(ev(1)), bytes)
    assert isinstance(checker.check_object(ev(2)), bytes)  # same timestamp: cached parse
    assert checker.check_object({"__time": old, "i": 3})[0] == "too_late"  # type: ignore[index]
    assert checker.check_object({"__time": old, "i": 4})[0] == "too_late"  # type: ignore[index]
    assert checker.check_object({"__time": "nope", "i": 5})[0] == "bad_time"  # type: ignore[index]
    # time is checked before encoding: a bad-time event is never serialised
    assert checker.check_object({"i": 6, "x": object()})[0] == "missing_time"  # type: ignore[index]


# -- the transport: minimal HTTP/1.1 over asyncio streams, against a scripted local server ------

OK_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nRateLimit-Limit: 100\r\n"
    b"RateLimit-Remaining: 42\r\nRateLimit-Reset: 7\r\n\r\n"
)


class ScriptedServer:
    """Answers each request with the next scripted action: raw response bytes, ``"drop"``
    (close without answering) or ``"hang"`` (never answer)."""

    def __init__(self, *actions: bytes | str) -> None:
        self.actions = list(actions)
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append((head, await reader.readexactly(length)))
                action = self.actions.pop(0) if self.actions else OK_RESPONSE
                if action == "drop":
                    return
                if action == "hang":
                    await asyncio.sleep(30)
                    return
                assert isinstance(action, bytes)
                writer.write(action)
                await writer.drain()
                if b"connection: close" in action.lower():
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return  # the client went away, or the test is over
        finally:
            writer.close()

    async def start(self, ssl_context: Any = None) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=ssl_context)
        return int(self.server.sockets[0].getsockname()[1])


def transport_for(port: int, scheme: str = "http", gzip: bool = False, **config: Any) -> Any:
    from airflow_provider_polaris.client import PolarisConfig
    from airflow_provider_polaris.client.events import push_endpoint
    from airflow_provider_polaris.client.sync import PolarisClient
    from airflow_provider_polaris.events._transport import PushTransport

    host = "localhost" if scheme == "https" else "127.0.0.1"
    values: dict[str, Any] = {"project_id": "p1", "base_url": f"{scheme}://{host}:{port}"}
    values.update(config)
    if "client_id" not in values:
        values["api_key"] = "pok_key"
    token_transport = config.pop("token_transport", None)
    values.pop("token_transport", None)
    client = PolarisClient(PolarisConfig(**values), transport=token_transport)
    endpoint = push_endpoint(
        client.config, "clicks", gzip=gzip, authorization=client.authorization_header
    )
    return PushTransport(endpoint)


def run_with_server(server: ScriptedServer, scenario: Any, **transport: Any) -> Any:
    async def main() -> Any:
        port = await server.start(transport.pop("server_ssl", None))
        push = transport_for(port, **transport)
        try:
            return await scenario(push)
        finally:
            await push.aclose()
            assert server.server is not None
            server.server.close()

    return asyncio.run(main())


def test_transport_sends_one_keep_alive_connection_and_reads_rate_limits() -> None:
    server = ScriptedServer()

    async def scenario(push: Any) -> Any:
        return [await push(b'{"a":1}\n{"a":2}'), await push(b'{"a":3}')]

    first, _ = run_with_server(server, scenario)
    assert first.status_code == 200 and first.rate_limit.remaining == 42
    assert first.rate_limit.limit == 100 and first.rate_limit.reset_seconds == 7.0
    assert server.connections == 1 and len(server.requests) == 2
    head, body = server.requests[0]
    assert head.startswith(b"POST /v1/projects/p1/events/clicks HTTP/1.1\r\n")
    for header in (b"Content-Type: application/json", b"Content-Length: 15", b"Accept: "):
        assert header in head
    assert b"Authorization: Basic " in head and b"User-Agent: airflow-provider-polaris/" in head
    assert body == b'{"a":1}\n{"a":2}'


def test_transport_gzip_body() -> None:
    import gzip

    server = ScriptedServer()
    run_with_server(server, lambda push: push(b'{"a":1}'), gzip=True)
    head, body = server.requests[0]
    assert b"Content-Encoding: gzip" in head and gzip.decompress(body) == b'{"a":1}'


def test_transport_maps_errors_from_chunked_bodies_and_retry_after() -> None:
    from airflow_provider_polaris.client import PolarisBadRequestError, PolarisRateLimitError

    body = b'{"code":"BadRequest","message":"bad event"}'
    chunked = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n" % (10, body[:10])
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - 10, body[10:])
    )
    message = b'{"message":"API rate limit exceeded"}'
    limited = (
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: %d\r\n\r\n%s"
        % (
            len(message),
            message,
        )
    )
    server = ScriptedServer(chunked, limited)
    errors: list[Exception] = []

    async def scenario(push: Any) -> None:
        for _ in range(2):
            try:
                await push(b"{}")
            except Exception as exc:
                errors.append(exc)

    run_with_server(server, scenario)
    assert isinstance(errors[0], PolarisBadRequestError) and "bad event" in str(errors[0])
    assert isinstance(errors[1], PolarisRateLimitError) and errors[1].retry_after == 3.0
    assert server.connections == 1  # error responses keep the connection


def test_transport_reconnects_after_connection_close_and_idle_close() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server = ScriptedServer(closing, OK_RESPONSE)

    async def scenario(push: Any) -> None:
        await push(b"{}")  # the server closes after answering
        await push(b"{}")  # so this one opens a new connection
        await asyncio.sleep(0.05)
        await push(b"{}")

    run_with_server(server, scenario)
    assert server.connections == 2 and len(server.requests) == 3


def test_transport_reports_drops_and_timeouts_as_transport_errors() -> None:
    from airflow_provider_polaris.client import PolarisTransportError

    server = ScriptedServer("drop", "hang")
    errors: list[Exception] = []

    async def scenario(push: Any) -> None:
        for _ in range(3):
            try:
                await push(b"{}")
            except PolarisTransportError as exc:
                errors.append(exc)

    run_with_server(server, scenario, read_timeout=0.2)
    assert len(errors) == 2 and len(server.requests) == 3  # dropped, timed out, then ok
    assert "IncompleteReadError" in str(errors[0]) and "/events/clicks" in str(errors[0])
    assert "read_timeout=0.2s" in str(errors[1])


def test_transport_connect_failure_is_a_transport_error() -> None:
    import socket

    from airflow_provider_polaris.client import PolarisTransportError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed

    async def main() -> None:
        push = transport_for(port)
        with pytest.raises(PolarisTransportError):
            await push(b"{}")
        await push.aclose()

    asyncio.run(main())


def test_transport_refreshes_an_oauth_token_once_on_401() -> None:
    import httpx

    from airflow_provider_polaris.client import PolarisAuthError

    issued = [0]

    def token(request: httpx.Request) -> httpx.Response:
        issued[0] += 1
        return httpx.Response(200, json={"access_token": f"tok-{issued[0]}", "expires_in": 300})

    refused = b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 18\r\n\r\n{"message":"exp"}\n'
    server = ScriptedServer(refused, OK_RESPONSE, refused, refused)
    oauth = {
        "client_id": "c",
        "client_secret": "s",
        "token_url": "https://id.example/token",
        "token_transport": httpx.MockTransport(token),
    }

    async def scenario(push: Any) -> Exception:
        await push(b"{}")  # 401 -> new token -> 200
        with pytest.raises(PolarisAuthError) as info:
            await push(b"{}")  # 401 twice: not retried a second time
        return info.value

    error = run_with_server(server, scenario, **oauth)
    tokens = [h.split(b"Authorization: ")[1].split(b"\r\n")[0] for h, _ in server.requests]
    assert tokens == [b"Bearer tok-1", b"Bearer tok-2", b"Bearer tok-2", b"Bearer tok-3"]
    assert error.status_code == 401  # type: ignore[attr-defined]


def test_transport_tls_with_a_ca_bundle(tmp_path: Any) -> None:
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    server = ScriptedServer()
    result = run_with_server(
        server, lambda push: push(b"{}"), scheme="https", verify=str(cert), server_ssl=server_ssl
    )
    assert result.status_code == 200 and len(server.requests) == 1


# -- which transport: the environment's proxy settings ---------------------------------------


@pytest.mark.parametrize(
    ("environment", "url", "expected"),
    [
        ({}, "https://api.imply.io/v1/x", None),
        ({"HTTPS_PROXY": "http://p:3128"}, "https://api.imply.io/v1/x", "http://p:3128"),
        ({"https_proxy": "http://p:3128"}, "http://127.0.0.1:8080/v1/x", None),
        ({"HTTP_PROXY": "http://p:3128"}, "http://127.0.0.1:8080/v1/x", "http://p:3128"),
        ({"ALL_PROXY": "http://p:3128"}, "https://api.imply.io/v1/x", "http://p:3128"),
        (
            {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".imply.io"},
            "https://org.api.imply.io/v1/x",
            None,
        ),
        ({"HTTP_PROXY": "http://p:3128", "no_proxy": "127.0.0.1"}, "http://127.0.0.1:9/x", None),
        ({"HTTP_PROXY": "http://p:3128", "NO_PROXY": "*"}, "http://a.example/x", None),
    ],
)
def test_proxy_for_reads_the_environment_like_httpx(
    environment: dict[str, str], url: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_polaris.events._proxied import proxy_for

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert proxy_for(url) == expected


def test_proxy_credentials_are_not_logged() -> None:
    from airflow_provider_polaris.events._proxied import describe_proxy

    assert describe_proxy("http://user:pw-secret@proxy.corp:3128") == "http://proxy.corp:3128"
    assert describe_proxy("proxy.corp:3128") == "http://proxy.corp:3128"


# -- stopping a push: rate-limit waits, aborts, interrupts, input errors ----------------------


def fake_sleep(clock: FakeClock, slept: list[float], hang_from: float | None = None) -> Any:
    """An async sleep on ``clock``; waits of ``hang_from`` seconds or more never end by
    themselves (only an abort can end them)."""

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if hang_from is not None and seconds >= hang_from:
            await asyncio.Event().wait()
        clock.now += seconds
        await asyncio.sleep(0)

    return sleep


def assert_accounted(report: Any, n: int, delivered: set[int]) -> None:
    """Every line is delivered xor reported undelivered/unread, and resuming is exact."""
    undelivered = {line for a, b in report.undelivered_ranges for line in range(a, b + 1)}
    unread = set(range(report.unread_from_line or n + 1, n + 1))
    assert delivered | undelivered | unread == set(range(1, n + 1))
    assert not delivered & (undelivered | unread)
    assert report.accepted == len(delivered)
    missing = sorted(undelivered | unread)
    assert report.first_undelivered_line == (missing[0] if missing else None)


def test_a_retry_after_beyond_the_limit_stops_the_push_at_once() -> None:
    """The review's repro: one 429 with Retry-After 20 s and max_rate_limit_wait_seconds=2.
    The push used to fail, yet the other senders slept 20 s and then sent anyway."""
    clock, slept = FakeClock(), []
    sender = FakeSender(script={0: rate_limited(20)})
    opts = fast(max_concurrent_requests=8, max_rate_limit_wait_seconds=2)
    pusher = EventPusher(sender, "push", opts, clock=clock, sleep=fake_sleep(clock, slept))
    with pytest.raises(EventsDeliveryError) as info:
        pusher.push([ev(i) for i in range(1, 601)])
    report = info.value.report
    assert sender.calls == 1 and report.accepted == 0  # nothing sent after the failure
    assert_accounted(report, 600, set())
    assert report.first_undelivered_line == 1
    assert max(slept, default=0) < 2  # nobody waited out the 20 s
    assert "asks to wait 20.0s" in str(report.last_error)
    assert "max_rate_limit_wait_seconds=2" in str(report.last_error)


def test_waiting_for_a_spent_budget_counts_toward_the_rate_limit_wait() -> None:
    clock, slept = FakeClock(), []

    async def send(payload: bytes) -> Any:  # the budget is spent for the next 1,000 s
        sent.extend(json.loads(line)["i"] for line in payload.split(b"\n"))
        return SimpleNamespace(rate_limit=SimpleNamespace(remaining=0, reset_seconds=1000.0))

    sent: list[int] = []
    opts = fast(max_concurrent_requests=4, max_rate_limit_wait_seconds=2)
    pusher = EventPusher(send, "push", opts, clock=clock, sleep=fake_sleep(clock, slept))
    with pytest.raises(EventsDeliveryError) as info:
        pusher.push([ev(i) for i in range(1, 601)])
    report = info.value.report
    assert sent == list(range(1, 61))  # the first request only
    assert_accounted(report, 600, set(sent))
    assert "waited 2.0s for the rate limit" in str(report.last_error)
    assert max(slept) <= 1.0  # every pacer wait is capped


def test_an_abort_wakes_senders_paused_by_a_429() -> None:
    """Senders paused by a long Retry-After (within the limit) stop at once on an abort, and
    nothing is sent afterwards (the sleep here never ends by itself)."""
    clock, slept = FakeClock(), []
    sender = FakeSender(script={0: rate_limited(300)})
    control = PushControl()
    paused = threading.Event()

    async def sleep(seconds: float) -> None:
        if sender.calls:
            paused.set()
        await fake_sleep(clock, slept, hang_from=0.5)(seconds)

    pusher = EventPusher(
        sender, "push", fast(max_concurrent_requests=4), sleep=sleep, clock=clock, control=control
    )
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            pusher.push([ev(i) for i in range(1, 601)])
        except EventsDeliveryError as exc:
            result["report"] = exc.report

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert paused.wait(5)
    control.abort("the task was killed")
    thread.join(5)
    assert not thread.is_alive(), "an abort did not wake the paused senders"
    report = result["report"]
    assert sender.calls == 1 and report.last_error == "the task was killed"
    assert_accounted(report, 600, set())


def test_an_exception_in_the_callers_thread_stops_the_loop() -> None:
    """A SIGTERM handler (or Ctrl-C) raising while push() waits: push() re-raises with the
    report, and its loop thread has stopped sending."""
    import signal

    class Terminated(Exception):
        pass

    def handler(*_: Any) -> None:
        raise Terminated("SIGTERM")

    main = threading.main_thread().ident
    delivered: list[int] = []
    calls = 0

    async def send(payload: bytes) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            signal.pthread_kill(main, signal.SIGUSR1)  # type: ignore[arg-type]
        await asyncio.sleep(0.001)
        delivered.extend(json.loads(line)["i"] for line in payload.split(b"\n"))
        return SimpleNamespace(rate_limit=None)

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with pytest.raises(Terminated) as info:
            EventPusher(send, "push", fast(max_concurrent_requests=2)).push(
                [ev(i) for i in range(1, 1201)]
            )
    finally:
        signal.signal(signal.SIGUSR1, previous)
    calls_at_return = calls
    for thread in threading.enumerate():
        if thread.name == "polaris-push":
            thread.join(5)
    report = info.value.report  # type: ignore[attr-defined]
    assert_accounted(report, 1200, set(delivered))  # the loop had settled before push() raised
    assert calls == calls_at_return and calls <= 4  # and sent nothing afterwards
    assert report.last_error == "the push was stopped: Terminated: SIGTERM"


def test_an_input_error_carries_the_report() -> None:
    def broken() -> Any:
        yield from (ev(i) for i in range(1, 301))
        raise OSError("S3 read failed")

    sender = FakeSender()
    with pytest.raises(OSError, match="S3 read failed") as info:
        EventPusher(sender, "push", fast(max_concurrent_requests=2)).push(broken())
    report = info.value.report  # type: ignore[attr-defined]
    assert_accounted(report, 300, set(sender.delivered))
    resume = report.first_undelivered_line
    assert resume is not None and report.events_read <= 300
    assert any(f"resume from line {resume}" in note for note in info.value.__notes__)


def test_one_unreadable_event_is_rejected_not_fatal() -> None:
    """Out-of-range times and lone surrogates used to crash the whole push."""

    class BrokenMapping(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("broken mapping")

        def __iter__(self) -> Any:
            raise RuntimeError("broken mapping")

        def __len__(self) -> int:
            return 2

    huge = '{"__time": 1' + "0" * 400 + "}"
    items = [
        ev(1),
        {"__time": 10**400},
        huge,
        f'{{"__time": "{ISO_NOW}", "x": "\udc80"}}',
        BrokenMapping(),
        {"__time": "9999-12-31T23:59:59-12:00"},
        ev(7),
    ]
    sender = FakeSender()
    report = EventPusher(sender, "push", fast()).push(items)
    assert sorted(sender.delivered) == [1, 7]
    assert [(r.line, r.reason) for r in report.rejections] == [
        (2, "bad_time"),
        (3, "bad_time"),
        (4, "invalid_json"),
        (5, "check_error"),
        (6, "too_early"),
    ]
    assert "broken mapping" in report.rejections[3].detail


# -- resumable pushes: the not-delivered lines (events/_watermark.py) ----------------------------


def test_range_arithmetic_for_resuming() -> None:
    from airflow_provider_polaris.events._watermark import intersect, normalise

    assert normalise([(5, 9), (1, 3), (4, 4), (20, None), (25, 30)]) == [(1, 9), (20, None)]
    # what neither try delivered: try 1 left 1-10 and 30-, try 2 (resuming) left 5-6 and 40-
    assert intersect([(1, 10), (30, None)], [(5, 6), (40, None)]) == [(5, 6), (40, None)]
    assert intersect([(1, None)], [(3, 4), (8, None)]) == [(3, 4), (8, None)]
    assert intersect([(1, 2)], [(3, None)]) == []


def test_skip_delivered_blanks_delivered_lines_and_keeps_numbering() -> None:
    from airflow_provider_polaris.events._watermark import skip_delivered

    lines = [ev(i) for i in range(1, 9)]
    out = skip_delivered(lines, [(3, 4), (7, None)])
    assert isinstance(out, list)
    assert [e["i"] if e else None for e in out] == [None, None, 3, 4, None, None, 7, 8]
    handle = io.BytesIO(b"".join(json.dumps(ev(i)).encode() + b"\n" for i in range(1, 5)))
    sender = FakeSender()
    report = EventPusher(sender, "c", fast()).push(skip_delivered(handle, [(2, 2), (4, None)]))
    assert sorted(sender.delivered) == [2, 4] and report.events_read == 2


def test_resume_control_names_the_hole_a_slow_request_leaves() -> None:
    """Ten requests of ten events, four in flight; the second is held while the others are
    acknowledged: lines 11-20 and nothing else remain, though the watermark is only 10."""
    from airflow_provider_polaris.events._watermark import ResumeControl

    release = threading.Event()

    class Holding(FakeSender):
        def __call__(self, payload: bytes) -> Any:
            if json.loads(payload.split(b"\n")[0])["i"] == 11:
                assert release.wait(10)
            return super().__call__(payload)

    sender, control = Holding(), ResumeControl()
    pusher = EventPusher(
        sender, "c", fast(max_events_per_request=10, max_concurrent_requests=4), control=control
    )
    assert control.not_delivered() is None  # not running yet
    reports: list[Any] = []
    thread = threading.Thread(
        target=lambda: reports.append(pusher.push([ev(i) for i in range(1, 101)]))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while len(sender.delivered) < 90:
        assert time.monotonic() < deadline, "the other requests were not acknowledged"
        time.sleep(0.005)
    assert control.not_delivered() == [(11, 20), (101, None)]
    release.set()
    thread.join(10)
    assert reports and reports[0].accepted == 100
    assert control.not_delivered() is None  # the push is over


def test_checkpointer_records_what_neither_try_delivered() -> None:
    from airflow_provider_polaris.events._watermark import Checkpointer, ResumeControl

    writes: list[Any] = []
    report = SimpleNamespace(undelivered_ranges=[(12, 15)], unread_from_line=40)
    with Checkpointer(
        ResumeControl(), writes.append, interval=60, base=[(10, 20), (30, None)]
    ) as cp:
        pass
    assert cp.final(report) == [(12, 15), (40, None)]  # type: ignore[arg-type]
    assert writes == [[(12, 15), (40, None)]]
    cp.final(report)  # type: ignore[arg-type]
    assert len(writes) == 1  # unchanged: not written again
