"""The one retry rule, exercised through both clients."""

from __future__ import annotations

import email.utils
import logging
import time

import httpx
import pytest
from polaris_client_harness import API_KEY, FakeServer, Harness, make_config

from airflow_provider_polaris.client import (
    PolarisBadRequestError,
    PolarisConflictError,
    PolarisNotFoundError,
    PolarisRateLimitError,
    PolarisServerError,
    PolarisTransportError,
    RetryPolicy,
)
from airflow_provider_polaris.client.retry import parse_retry_after, server_delay

JOB = {"type": "batch", "target": {"type": "table", "tableName": "t"}}


def ok(body: object = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"id": "j1"})


def test_retry_after_seconds_is_honoured(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(503, headers={"Retry-After": "7"}), ok())
    assert harness.call(lambda c: c.jobs.get("j1")) == {"id": "j1"}
    assert harness.clock.sleeps == [7.0]
    assert len(server.requests) == 2


def test_ratelimit_reset_is_honoured(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(429, headers={"RateLimit-Reset": "3"}), ok())
    harness.call(lambda c: c.jobs.get("j1"))
    assert harness.clock.sleeps == [3.0]


@pytest.mark.parametrize("reset", ["42", "0", "3600"])
def test_ratelimit_reset_is_not_the_wait_after_a_5xx(
    harness: Harness, server: FakeServer, reset: str
) -> None:
    """Polaris sends RateLimit-Reset on every response: it says nothing about a 503."""
    headers = {"RateLimit-Limit": "100", "RateLimit-Remaining": "97", "RateLimit-Reset": reset}
    server.queue(httpx.Response(503, headers=headers), ok())
    assert harness.call(lambda c: c.jobs.get("j1")) == {"id": "j1"}
    assert harness.clock.sleeps == [0.5]  # the computed backoff


def test_ratelimit_reset_counts_when_the_window_is_spent(
    harness: Harness, server: FakeServer
) -> None:
    headers = {"RateLimit-Remaining": "0", "RateLimit-Reset": "3"}
    server.queue(httpx.Response(503, headers=headers), ok())
    harness.call(lambda c: c.jobs.get("j1"))
    assert harness.clock.sleeps == [3.0]


def test_a_5xx_never_waits_less_than_the_backoff(harness: Harness, server: FakeServer) -> None:
    server.queue(
        httpx.Response(502, headers={"Retry-After": "0"}),
        httpx.Response(503, headers={"Retry-After": "0.1"}),
        ok(),
    )
    harness.call(lambda c: c.jobs.get("j1"))
    assert harness.clock.sleeps == [0.5, 1.0]


def test_retry_after_zero_on_429_is_honoured(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(429, headers={"Retry-After": "0"}), ok())
    harness.call(lambda c: c.jobs.get("j1"))
    assert harness.clock.sleeps == [0.0]


def test_server_delay_by_status() -> None:
    reset = httpx.Headers({"RateLimit-Remaining": "5", "RateLimit-Reset": "42"})
    assert server_delay(reset, 0.0, 429) == 42.0
    assert server_delay(reset, 0.0, 503) is None
    assert server_delay(reset, 0.0) == 42.0  # callers that only ask after a 429
    spent = httpx.Headers({"RateLimit-Remaining": "0", "RateLimit-Reset": "42"})
    assert server_delay(spent, 0.0, 503) == 42.0
    both = httpx.Headers({"Retry-After": "7", "RateLimit-Reset": "42"})
    assert server_delay(both, 0.0, 503) == 7.0


def test_retry_after_http_date() -> None:
    now = time.time()
    value = email.utils.formatdate(now + 30, usegmt=True)
    delay = parse_retry_after(value, now)
    assert delay is not None and 28 <= delay <= 30
    assert parse_retry_after("garbage", now) is None
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0


def test_exponential_backoff_without_server_hint(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(502), httpx.Response(504), httpx.Response(500), ok())
    harness.call(lambda c: c.jobs.get("j1"))
    assert harness.clock.sleeps == [0.5, 1.0, 2.0]


def test_full_jitter_stays_within_the_ceiling() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_max=5)
    delays = [policy.backoff(n) for n in range(1, 8) for _ in range(20)]
    assert all(0 <= d <= 5 for d in delays)
    assert len(set(delays)) > 10


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, PolarisBadRequestError), (404, PolarisNotFoundError), (409, PolarisConflictError)],
)
def test_client_errors_are_not_retried(
    harness: Harness, server: FakeServer, status: int, error: type[Exception]
) -> None:
    server.queue(httpx.Response(status, json={"code": "X", "message": "no"}))
    with pytest.raises(error):
        harness.call(lambda c: c.jobs.get("j1"))
    assert len(server.requests) == 1
    assert harness.clock.sleeps == []


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_job_create_not_resent_after_it_may_have_arrived(
    harness: Harness, server: FakeServer, failure: type[httpx.RequestError]
) -> None:
    server.queue(failure)
    with pytest.raises(PolarisTransportError) as info:
        harness.call(lambda c: c.jobs.create(JOB))
    assert len(server.requests) == 1
    assert info.value.method == "POST" and info.value.url.endswith("/jobs")


def test_job_create_not_resent_after_500(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(500, json={"message": "boom"}))
    with pytest.raises(PolarisServerError):
        harness.call(lambda c: c.jobs.create(JOB))
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "refusal", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, "429"]
)
def test_job_create_retried_when_server_did_not_act(
    harness: Harness, server: FakeServer, refusal: object
) -> None:
    first = httpx.Response(429, headers={"Retry-After": "1"}) if refusal == "429" else refusal
    server.queue(first, ok(status=201))  # type: ignore[arg-type]
    assert harness.call(lambda c: c.jobs.create(JOB)) == {"id": "j1"}
    assert len(server.requests) == 2
    assert all(r.method == "POST" for r in server.requests)


def test_idempotent_status_post_retried_on_503(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(503), httpx.ReadTimeout, ok({"executionStatus": "running"}))
    assert harness.call(lambda c: c.jobs.cancel("j1")) == {"executionStatus": "running"}
    assert len(server.requests) == 3
    assert all(r.content == b'{"desiredExecutionStatus":"canceled"}' for r in server.requests)


def test_get_retried_on_read_timeout(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.ReadTimeout, ok())
    harness.call(lambda c: c.jobs.get("j1"))
    assert len(server.requests) == 2


def test_attempts_are_bounded(harness: Harness, server: FakeServer) -> None:
    config = make_config(retry=RetryPolicy(max_attempts=3, jitter=False))
    server.default = lambda r: httpx.Response(503, json={"message": "down"})
    with pytest.raises(PolarisServerError) as info:
        harness.call(lambda c: c.jobs.get("j1"), config)
    assert len(server.requests) == 3
    assert info.value.status_code == 503


def test_elapsed_time_is_bounded(harness: Harness, server: FakeServer) -> None:
    config = make_config(retry=RetryPolicy(max_attempts=100, max_elapsed=20, jitter=False))
    server.default = lambda r: httpx.Response(429, headers={"Retry-After": "8"})
    with pytest.raises(PolarisRateLimitError) as info:
        harness.call(lambda c: c.jobs.get("j1"), config)
    assert harness.clock.sleeps == [8.0, 8.0]  # a third wait would end past 20 s
    assert info.value.retry_after == 8.0


def test_server_delay_beyond_the_cap_gives_up(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(PolarisRateLimitError) as info:
        harness.call(lambda c: c.jobs.get("j1"))
    assert info.value.retry_after == 3600
    assert harness.clock.sleeps == []


def test_transport_errors_exhausted(harness: Harness, server: FakeServer) -> None:
    config = make_config(retry=RetryPolicy(max_attempts=2, jitter=False))
    server.default = lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r))
    with pytest.raises(PolarisTransportError, match=r"GET /v1/projects/.*/jobs/j1: ConnectError"):
        harness.call(lambda c: c.jobs.get("j1"), config)
    assert len(server.requests) == 2


def test_retries_are_logged_without_secrets(
    harness: Harness, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.queue(httpx.Response(503), ok())
    harness.call(lambda c: c.jobs.get("j1"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "GET" in message and "/jobs/j1" in message and "503" in message
    assert "attempt 1" in message and "0.50s" in message
    assert API_KEY not in caplog.text and "Basic" not in caplog.text


def test_no_retries_policy(harness: Harness, server: FakeServer) -> None:
    config = make_config(retry=RetryPolicy.no_retries())
    server.queue(httpx.Response(503))
    with pytest.raises(PolarisServerError):
        harness.call(lambda c: c.jobs.get("j1"), config)
    assert len(server.requests) == 1
