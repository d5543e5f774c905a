"""Public hooks for callers that send requests themselves: ``url_for`` and
``authorization_header`` on both clients (used by the event pusher's own transport)."""

from __future__ import annotations

import base64
from dataclasses import replace

import httpx
from polaris_client_harness import API_KEY, CLIENT_SECRET, PROJECT_URL, FakeServer, Harness

from airflow_provider_polaris.client import ApiCall
from airflow_provider_polaris.client.events import EventsApi


def test_url_for_matches_the_url_execute_uses(harness: Harness, server: FakeServer) -> None:
    def check(client: object) -> tuple[str, str]:
        call = EventsApi.push.build(client.events, "clicks push", b"")  # type: ignore[attr-defined]
        return client.url_for(call), client.url_for(ApiCall("GET", "/jobs", lambda r: r))  # type: ignore[attr-defined]

    push_url, jobs_url = harness.call(check)
    assert push_url == f"{PROJECT_URL}/events/clicks%20push"
    assert jobs_url == f"{PROJECT_URL}/jobs"
    assert not server.requests  # building a URL sends nothing


def test_api_key_header_is_basic_and_static(harness: Harness, server: FakeServer) -> None:
    header = harness.call(lambda c: c.authorization_header())
    assert header == "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert not server.requests


def test_oauth_header_is_cached_and_refreshed_when_stale(
    harness: Harness, server: FakeServer
) -> None:
    issued = [0]

    def token(request: httpx.Request) -> httpx.Response:
        issued[0] += 1
        return httpx.Response(200, json={"access_token": f"tok-{issued[0]}", "expires_in": 300})

    server.default = token
    harness.config = replace(
        harness.config, api_key=None, client_id="my-client", client_secret=CLIENT_SECRET
    )

    async def async_calls(client: object) -> list[str]:
        first = await client.authorization_header()  # type: ignore[attr-defined]
        again = await client.authorization_header()  # type: ignore[attr-defined]
        return [first, again, await client.authorization_header(first)]  # type: ignore[attr-defined]

    def sync_calls(client: object) -> list[str]:
        first = client.authorization_header()  # type: ignore[attr-defined]
        again = client.authorization_header()  # type: ignore[attr-defined]
        return [first, again, client.authorization_header(first)]  # type: ignore[attr-defined]

    headers = harness.call(sync_calls if harness.mode == "sync" else async_calls)
    assert headers == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert issued[0] == 2


def test_rate_limit_info_reads_a_plain_mapping_of_lower_case_names() -> None:
    from airflow_provider_polaris.client import RateLimitInfo

    headers = {
        "ratelimit-limit": "100, 100;w=60",
        "ratelimit-remaining": "7",
        "ratelimit-reset": "3",
    }
    assert RateLimitInfo.from_headers(headers) == RateLimitInfo(100, 7, 3.0)
    minute = {"x-ratelimit-limit-minute": "50", "x-ratelimit-remaining-minute": "0"}
    assert RateLimitInfo.from_headers(minute) == RateLimitInfo(50, 0, None)
