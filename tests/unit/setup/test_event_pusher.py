"""Unit tests of the event pusher with an in-process fake sender (no HTTP)."""

from __future__ import annotations

import io
import json
import threading
import time
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
    PushOptions,
    make_options,
)
from airflow_provider_polaris.events._pacing import Pacer
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


def test_input_that_fails_to_read_is_accounted_for() -> None:
    def broken() -> Any:
        yield ev(1)
        raise OSError("disk gone")

    sender = FakeSender()
    with pytest.raises(OSError):
        EventPusher(sender, "push", fast()).push(broken())


def test_options_validation() -> None:
    with pytest.raises(TypeError, match="unknown push option"):
        make_options(max_events=5)
    with pytest.raises(ValueError):
        make_options(max_payload_bytes=5_000_000)
    assert make_options(late_rejection_period=7).late_rejection_period == timedelta(days=7)


def test_pacer_spreads_the_remaining_budget_and_pauses_everyone_on_429() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer(low_water=4, clock=lambda: now[0], sleep=sleep)
    pacer.observe(remaining=1000, reset_seconds=10)
    assert pacer.acquire() == 0 and pacer.acquire() == 0
    pacer.observe(remaining=2, reset_seconds=10)  # 2 calls left for 10 s: one every 5 s
    pacer.acquire()
    assert pacer.acquire() == pytest.approx(5.0)
    pacer.observe(remaining=500, reset_seconds=10)
    wait = pacer.rate_limited(3.0)
    assert 3.0 <= wait < 3.2
    assert pacer.acquire() == pytest.approx(wait)


def test_ranges_helpers() -> None:
    assert line_ranges([5, 1, 2, 3, 9]) == [(1, 3), (5, 5), (9, 9)]
    assert format_ranges([(1, 3), (5, 5)]) == "1-3, 5"
