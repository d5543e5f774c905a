"""Network failures explain themselves: which call, which phase, after how long, and the fix.

asyncio's timeouts carry no message (``str(exc) == ""``), which used to surface as
"ReadTimeout: no details". The scripted transport raises exactly that; one test per client uses a
real slow local server.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from polaris_client_harness import PROJECT, FakeServer, Harness, make_config
from slow_http_server import SlowHttpServer

from airflow_provider_polaris.client import (
    PolarisClient,
    PolarisTimeoutError,
    PolarisTransportError,
    RetryPolicy,
)

JOB_PATH = f"/v1/projects/{PROJECT}/jobs/j1"
HOST = "acme.us-east-1.aws.api.imply.io"
TWO_TRIES = make_config(retry=RetryPolicy(max_attempts=2, jitter=False))


def silent(kind: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    """Raise ``kind`` with an empty message, as asyncio's network errors do."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise kind("", request=request)

    return fail


@pytest.mark.parametrize(
    ("kind", "phase", "limit", "text"),
    [
        (
            httpx.ReadTimeout,
            "read",
            60.0,
            "timed out after 60s reading the response (read_timeout=60s; raise extra.timeout in "
            "the Airflow connection if this call needs longer; gave up after 2 attempts)",
        ),
        (
            httpx.ConnectTimeout,
            "connect",
            10.0,
            f"timed out after 10s connecting to {HOST} (connect_timeout=10s; raise "
            "extra.connect_timeout in the Airflow connection if this call needs longer; gave up "
            "after 2 attempts)",
        ),
        (
            httpx.WriteTimeout,
            "write",
            60.0,
            "timed out after 60s sending the request (read_timeout=60s; raise extra.timeout in "
            "the Airflow connection if this call needs longer; gave up after 2 attempts)",
        ),
        (
            httpx.PoolTimeout,
            "pool",
            None,
            "timed out waiting for a free connection in the client's pool (gave up after 2 "
            "attempts)",
        ),
    ],
)
def test_each_timeout_names_the_call_the_phase_and_the_limit(
    harness: Harness,
    server: FakeServer,
    kind: type[httpx.TransportError],
    phase: str,
    limit: float | None,
    text: str,
) -> None:
    server.default = silent(kind)
    with pytest.raises(PolarisTimeoutError) as info:
        harness.call(lambda c: c.jobs.get("j1"), TWO_TRIES)
    error = info.value
    assert str(error) == f"GET {JOB_PATH} {text}"
    assert (error.phase, error.timeout, error.method) == (phase, limit, "GET")
    assert isinstance(error, PolarisTransportError)  # callers catching the base still do
    assert len(server.requests) == 2


def test_the_configured_limits_are_reported(harness: Harness, server: FakeServer) -> None:
    server.default = silent(httpx.ReadTimeout)
    config = make_config(read_timeout=2.5, retry=RetryPolicy.no_retries())
    with pytest.raises(PolarisTimeoutError) as info:
        harness.call(lambda c: c.jobs.get("j1"), config)
    assert str(info.value) == (
        f"GET {JOB_PATH} timed out after 2.5s reading the response (read_timeout=2.5s; raise "
        "extra.timeout in the Airflow connection if this call needs longer)"
    )


def test_a_create_that_timed_out_reading_says_why_it_was_not_resent(
    harness: Harness, server: FakeServer
) -> None:
    server.default = silent(httpx.ReadTimeout)
    with pytest.raises(PolarisTimeoutError) as info:
        harness.call(lambda c: c.jobs.create({"type": "batch"}))
    assert str(info.value) == (
        f"POST /v1/projects/{PROJECT}/jobs timed out after 60s reading the response "
        "(read_timeout=60s; raise extra.timeout in the Airflow connection if this call needs "
        "longer; not re-sent, since Polaris may already have acted on it)"
    )
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("kind", "meaning"),
    [
        (httpx.ConnectError, f"could not connect to {HOST}"),
        (httpx.ReadError, "the connection broke while reading the response"),
        (httpx.WriteError, "the connection broke while sending the request"),
        (
            httpx.RemoteProtocolError,
            "the server closed the connection without a complete response",
        ),
    ],
)
def test_silent_network_errors_say_what_they_mean(
    harness: Harness, server: FakeServer, kind: type[httpx.TransportError], meaning: str
) -> None:
    server.default = silent(kind)
    with pytest.raises(PolarisTransportError) as info:
        harness.call(lambda c: c.jobs.get("j1"), TWO_TRIES)
    assert str(info.value) == (
        f"GET {JOB_PATH}: {kind.__name__}: {meaning} (gave up after 2 attempts)"
    )
    assert not isinstance(info.value, PolarisTimeoutError)


def test_a_silent_error_uses_the_message_of_its_cause(harness: Harness, server: FakeServer) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        try:
            raise OSError("[Errno 104] Connection reset by peer")
        except OSError as exc:
            raise httpx.ReadError("", request=request) from exc

    server.default = fail
    with pytest.raises(PolarisTransportError) as info:
        harness.call(lambda c: c.jobs.get("j1"), make_config(retry=RetryPolicy.no_retries()))
    assert str(info.value) == f"GET {JOB_PATH}: ReadError: [Errno 104] Connection reset by peer"


def test_timeout_errors_pickle() -> None:
    error = PolarisTimeoutError(
        "timed out after 60s reading the response", "GET", "http://h/x?k=v", "read", 60.0
    )
    clone: Any = pickle.loads(pickle.dumps(error))
    assert type(clone) is PolarisTimeoutError and str(clone) == str(error)
    assert str(clone) == "GET /x timed out after 60s reading the response"
    assert (clone.phase, clone.timeout) == ("read", 60.0)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_real_slow_server_times_out_with_the_full_story(mode: str) -> None:
    """A local server that answers after 5 s; the client gives up after 0.3 s."""
    import asyncio

    from airflow_provider_polaris.client import AsyncPolarisClient, PolarisConfig

    with SlowHttpServer(delay=5.0) as slow:
        config = PolarisConfig(
            project_id=PROJECT,
            base_url=slow.url,
            api_key="pok_SlowServerKey",
            read_timeout=0.3,
            retry=RetryPolicy.no_retries(),
        )

        async def get_async() -> None:
            async with AsyncPolarisClient(config) as client:
                await client.jobs.get("j1")

        with pytest.raises(PolarisTimeoutError) as info:
            if mode == "sync":
                with PolarisClient(config) as client:
                    client.jobs.get("j1")
            else:
                asyncio.run(get_async())
    assert str(info.value) == (
        f"GET {JOB_PATH} timed out after 0.3s reading the response (read_timeout=0.3s; raise "
        "extra.timeout in the Airflow connection if this call needs longer)"
    )
    assert slow.requests == 1
