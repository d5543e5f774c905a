"""Push streaming: ``POST /v1/projects/{projectId}/events/{connectionName}``."""

from __future__ import annotations

import gzip as gzip_module
import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from airflow_provider_polaris.client._core import ApiCall
from airflow_provider_polaris.client._resource import M, Resource, endpoint
from airflow_provider_polaris.client.config import quote_segment
from airflow_provider_polaris.client.retry import parse_seconds

_LEADING_INT = re.compile(r"\s*(\d+)")


def _first_int(value: str | None) -> int | None:
    # Draft-standard headers may read "100, 100;w=60": the first number is the current limit.
    match = _LEADING_INT.match(value) if value else None
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class RateLimitInfo:
    """Polaris' rate-limit headers: requests per window, requests left, seconds to reset."""

    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        """Read ``RateLimit-*`` or, failing that, ``X-RateLimit-*-Minute`` headers.

        ``headers`` is ``httpx.Headers`` or any mapping whose keys are lower-case names.
        """
        limit = _first_int(headers.get("ratelimit-limit"))
        if limit is None:
            limit = _first_int(headers.get("x-ratelimit-limit-minute"))
        remaining = _first_int(headers.get("ratelimit-remaining"))
        if remaining is None:
            remaining = _first_int(headers.get("x-ratelimit-remaining-minute"))
        return cls(limit, remaining, parse_seconds(headers.get("ratelimit-reset")))


@dataclass(frozen=True)
class PushResult:
    """The outcome of one accepted event push."""

    status_code: int
    rate_limit: RateLimitInfo


def parse_push(response: httpx.Response) -> PushResult:
    """Any 2xx is success; keep the status and the rate-limit headers."""
    return PushResult(response.status_code, RateLimitInfo.from_headers(response.headers))


class EventsApi(Resource[M]):
    """Send events to a ``push_streaming`` connection."""

    @endpoint
    def push(
        self, connection_name: str, payload: bytes, *, gzip: bool = False
    ) -> ApiCall[PushResult]:
        """Push newline-delimited JSON events (at most 1 MB per request).

        With ``gzip=True`` the payload is compressed and sent with ``Content-Encoding: gzip``.
        Retried on 429 and connection failures only: a re-sent push could duplicate events.
        """
        headers = {"Content-Type": "application/json"}
        body = payload
        if gzip:
            body = gzip_module.compress(payload, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        return ApiCall(
            "POST",
            f"/events/{quote_segment(connection_name)}",
            parse_push,
            content=body,
            headers=headers,
        )
