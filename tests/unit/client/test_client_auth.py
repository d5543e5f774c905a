"""API-key and OAuth authentication, token caching and refresh."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from urllib.parse import parse_qs

import httpx
import pytest
from polaris_client_harness import (
    API_KEY,
    BASE,
    CLIENT_SECRET,
    PROJECT,
    FakeServer,
    Harness,
    make_config,
)

from airflow_provider_polaris.client import (
    AsyncPolarisClient,
    PolarisAuthError,
    PolarisClient,
    PolarisConfig,
)

TOKEN_URL = "https://id.imply.io/auth/realms/acme/protocol/openid-connect/token"


def oauth_config() -> PolarisConfig:
    return make_config(api_key=None, client_id="my-client", client_secret=CLIENT_SECRET)


class TokenIssuer:
    """Token endpoint + API: issues tok-1, tok-2, ...; the API accepts only live tokens."""

    def __init__(self, expires_in: int | None = 300) -> None:
        self.issued = 0
        self.expires_in = expires_in
        self.revoked: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/openid-connect/token"):
            with self.lock:
                self.issued += 1
                body: dict[str, object] = {"access_token": f"tok-{self.issued}"}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            return httpx.Response(200, json=body)
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") in self.revoked:
            return httpx.Response(401, json={"message": 'Token claims invalid: ["exp"]="expired"'})
        return httpx.Response(200, json={"auth": auth})


def test_api_key_is_sent_as_basic(harness: Harness, server: FakeServer) -> None:
    harness.call(lambda c: c.jobs.get("j1"))
    (request,) = server.requests
    expected = base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("airflow-provider-polaris/")
    assert " python/3." in request.headers["user-agent"]
    assert " httpx/" in request.headers["user-agent"]


def test_custom_user_agent(harness: Harness, server: FakeServer) -> None:
    harness.call(lambda c: c.jobs.get("j1"), make_config(user_agent="mine/1"))
    assert server.requests[0].headers["user-agent"] == "mine/1"


def test_oauth_token_requested_once_and_cached(harness: Harness, server: FakeServer) -> None:
    issuer = TokenIssuer()
    server.default = issuer

    def three_calls(client: object) -> object:
        if harness.mode == "sync":
            return [client.jobs.get(str(i)) for i in range(3)]  # type: ignore[attr-defined]

        async def run() -> object:
            return [await client.jobs.get(str(i)) for i in range(3)]  # type: ignore[attr-defined]

        return run()

    results = harness.call(three_calls, oauth_config())
    assert [r["auth"] for r in results] == ["Bearer tok-1"] * 3
    token_request = server.requests[0]
    assert str(token_request.url) == TOKEN_URL
    assert token_request.method == "POST"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in token_request.headers
    form = parse_qs(token_request.content.decode())
    assert form == {
        "client_id": ["my-client"],
        "client_secret": [CLIENT_SECRET],
        "grant_type": ["client_credentials"],
    }
    assert issuer.issued == 1


def test_token_refreshed_ahead_of_expiry(harness: Harness, server: FakeServer) -> None:
    issuer = TokenIssuer(expires_in=300)
    server.default = issuer
    clock = harness.clock

    def calls(client: object) -> object:
        def step(advance: float) -> None:
            clock.now += advance

        if harness.mode == "sync":
            out = [client.jobs.get("a")]  # type: ignore[attr-defined]
            step(230)  # still ahead of the 60 s lead
            out.append(client.jobs.get("b"))  # type: ignore[attr-defined]
            step(15)  # 245 s: inside the lead time
            out.append(client.jobs.get("c"))  # type: ignore[attr-defined]
            return out

        async def run() -> object:
            out = [await client.jobs.get("a")]  # type: ignore[attr-defined]
            step(230)
            out.append(await client.jobs.get("b"))  # type: ignore[attr-defined]
            step(15)
            out.append(await client.jobs.get("c"))  # type: ignore[attr-defined]
            return out

        return run()

    results = harness.call(calls, oauth_config())
    assert [r["auth"] for r in results] == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


def test_default_lifetime_when_expires_in_missing(harness: Harness, server: FakeServer) -> None:
    server.default = TokenIssuer(expires_in=None)
    harness.call(lambda c: c.jobs.get("a"), oauth_config())
    harness.clock.now += 235  # 300 s default lifetime - 60 s lead
    harness.call(lambda c: c.jobs.get("a"), oauth_config())  # new client, new cache
    assert len(server.requests) == 4


def test_token_refreshed_once_on_401(harness: Harness, server: FakeServer) -> None:
    issuer = TokenIssuer()
    issuer.revoked.add("tok-1")
    server.default = issuer
    result = harness.call(lambda c: c.jobs.create({"type": "batch"}), oauth_config())
    assert result == {"auth": "Bearer tok-2"}
    assert [r.url.path.rsplit("/", 1)[-1] for r in server.requests] == [
        "token",
        "jobs",
        "token",
        "jobs",
    ]


def test_second_401_is_raised(harness: Harness, server: FakeServer) -> None:
    issuer = TokenIssuer()
    issuer.revoked.update({"tok-1", "tok-2"})
    server.default = issuer
    with pytest.raises(PolarisAuthError) as info:
        harness.call(lambda c: c.jobs.get("j"), oauth_config())
    assert info.value.status_code == 401
    assert issuer.issued == 2


def test_api_key_401_is_not_retried(harness: Harness, server: FakeServer) -> None:
    server.queue(httpx.Response(401, json={"message": "bad key"}))
    with pytest.raises(PolarisAuthError, match="401: bad key"):
        harness.call(lambda c: c.jobs.get("j"))
    assert len(server.requests) == 1


def test_token_request_retried_on_5xx_and_connect_error(
    harness: Harness, server: FakeServer
) -> None:
    server.queue(httpx.ConnectError, httpx.Response(503))
    server.default = TokenIssuer()
    assert harness.call(lambda c: c.jobs.get("j"), oauth_config()) == {"auth": "Bearer tok-1"}
    assert len(server.requests) == 4


def test_token_request_refused_raises_auth_error(
    harness: Harness, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.queue(
        httpx.Response(
            400, json={"error": "unauthorized_client", "error_description": "Invalid client"}
        )
    )
    with pytest.raises(PolarisAuthError) as info:
        harness.call(lambda c: c.jobs.get("j"), oauth_config())
    text = str(info.value)
    assert "OAuth token request refused" in text
    assert CLIENT_SECRET not in text and CLIENT_SECRET not in repr(info.value)
    assert CLIENT_SECRET not in caplog.text
    assert len(server.requests) == 1


async def test_concurrent_coroutines_share_one_refresh() -> None:
    harness = Harness("async")
    issuer = TokenIssuer()
    harness.server.default = issuer

    async with harness.aclient(oauth_config()) as client:
        results = await asyncio.gather(*(client.jobs.get(str(i)) for i in range(200)))
        assert issuer.issued == 1
        # Every caller then sees the token expire at once: still one refresh.
        issuer.revoked.add("tok-1")
        results = await asyncio.gather(*(client.jobs.get(str(i)) for i in range(200)))
    assert issuer.issued == 2
    assert {r["auth"] for r in results} == {"Bearer tok-2"}


def test_concurrent_threads_share_one_refresh() -> None:
    harness = Harness("sync")
    issuer = TokenIssuer()
    harness.server.default = issuer
    with harness.client(oauth_config()) as client:
        threads = [threading.Thread(target=client.jobs.get, args=(str(i),)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert issuer.issued == 1


def test_client_repr_has_no_secret() -> None:
    harness = Harness("sync")
    with harness.client(oauth_config()) as client:
        assert CLIENT_SECRET not in repr(client)
        assert PROJECT in repr(client) and BASE in repr(client)


def test_new_oauth_tokens_are_reported_to_on_secret() -> None:
    issuer = TokenIssuer()
    seen: list[str] = []
    client = PolarisClient(
        oauth_config(), transport=httpx.MockTransport(issuer), on_secret=seen.append
    )
    with client:
        client.jobs.get("a")
        client.jobs.get("b")
    assert seen == ["tok-1"]


async def test_new_oauth_tokens_are_reported_to_an_async_on_secret() -> None:
    issuer = TokenIssuer()
    seen: list[str] = []

    async def remember(token: str) -> None:
        seen.append(token)

    async with AsyncPolarisClient(
        oauth_config(), transport=httpx.MockTransport(issuer), on_secret=remember
    ) as client:
        await client.jobs.get("a")
    assert seen == ["tok-1"]


def test_api_keys_are_not_reported_as_new_secrets() -> None:
    seen: list[str] = []
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with PolarisClient(make_config(), transport=transport, on_secret=seen.append) as client:
        client.jobs.get("a")
    assert seen == []
