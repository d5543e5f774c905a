"""Harness for client tests: a scripted fake server, a fake clock and a sync/async runner."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from airflow_provider_polaris.client import (
    AsyncPolarisClient,
    PolarisClient,
    PolarisConfig,
    RetryPolicy,
)

API_KEY = "pok_SuperSecretKey123"
CLIENT_SECRET = "oauth-client-secret-XYZ"
PROJECT = "6a6f7a04-8d8a-4a6e-9f31-000000000001"
BASE = "https://acme.us-east-1.aws.api.imply.io"
PROJECT_URL = f"{BASE}/v1/projects/{PROJECT}"

Item = httpx.Response | type[httpx.RequestError] | Callable[[httpx.Request], httpx.Response]


class FakeServer:
    """Answers requests from a script (responses, exception types or callables); logs requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: list[Item] = []
        self.default: Callable[[httpx.Request], httpx.Response] = lambda r: httpx.Response(
            200, json={}
        )

    def queue(self, *items: Item) -> None:
        self.script.extend(items)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.script.pop(0) if self.script else self.default
        if isinstance(item, httpx.Response):
            return item
        if isinstance(item, type) and issubclass(item, httpx.RequestError):
            raise item("scripted failure", request=request)
        assert callable(item)
        return item(request)  # type: ignore[call-arg,return-value]

    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if "/openid-connect/" not in r.url.path]


class FakeClock:
    """Monotonic clock whose sleeps only advance time (and are recorded)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def make_config(**overrides: Any) -> PolarisConfig:
    values: dict[str, Any] = {
        "project_id": PROJECT,
        "base_url": BASE,
        "api_key": API_KEY,
        "retry": RetryPolicy(jitter=False),
    }
    values.update(overrides)
    return PolarisConfig(**values)


class Harness:
    """Runs the same test body against the sync or the async client."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.server = FakeServer()
        self.clock = FakeClock()
        self.config = make_config()

    def client(self, config: PolarisConfig | None = None) -> PolarisClient:
        return PolarisClient(
            config or self.config,
            transport=httpx.MockTransport(self.server),
            sleep=self.clock.sleep,
            clock=self.clock,
        )

    def aclient(self, config: PolarisConfig | None = None) -> AsyncPolarisClient:
        return AsyncPolarisClient(
            config or self.config,
            transport=httpx.MockTransport(self.server),
            sleep=self.clock.asleep,
            clock=self.clock,
        )

    def call(self, fn: Callable[[Any], Any], config: PolarisConfig | None = None) -> Any:
        """``fn(client)`` on a fresh client; awaits and drains iterators as needed."""
        if self.mode == "sync":
            with self.client(config) as client:
                result = fn(client)
                return list(result) if isinstance(result, Iterator) else result

        async def run() -> Any:
            async with self.aclient(config) as client:
                result = fn(client)
                if inspect.isawaitable(result):
                    return await result
                if hasattr(result, "__aiter__"):
                    return [item async for item in result]
                return result

        return asyncio.run(run())
