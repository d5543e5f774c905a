"""Retry policy: which failures are retried, and how long to wait before the next attempt.

The policy is plain data plus pure functions so the sync and async clients share it unchanged;
the clients only differ in how they sleep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

# Failures where the request certainly never reached the server, so even a non-idempotent POST
# may be sent again without risking a duplicate.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)

# Failures after which the server may or may not have acted on the request.
MAYBE_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a failed call is retried.

    Delays grow exponentially (``backoff_base * 2 ** (retry - 1)``, capped at ``backoff_max``)
    with full jitter. A server-given delay (``Retry-After``, or ``RateLimit-Reset`` when the rate
    limit was hit) replaces the computed one, capped at ``max_server_delay``; after a 5xx it can
    only lengthen the computed one. Retrying stops after ``max_attempts`` attempts
    in total or when the next wait would end after ``max_elapsed`` seconds since the first attempt.
    """

    max_attempts: int = 5
    max_elapsed: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_server_delay: float = 60.0
    jitter: bool = True
    retry_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("retry.max_attempts must be >= 1")
        for name in ("max_elapsed", "backoff_base", "backoff_max", "max_server_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"retry.{name} must be >= 0")

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Delay before retry ``retry_number`` (1 = first retry) when the server gave none."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** max(retry_number - 1, 0)))
        if not self.jitter:
            return ceiling
        # Full jitter spreads a herd of clients that all failed at the same moment.
        return (rng or random).uniform(0.0, ceiling)

    def delay(
        self,
        retry_number: int,
        server_delay: float | None,
        rng: random.Random | None = None,
        *,
        at_least_backoff: bool = False,
    ) -> float:
        """The wait before the next attempt: the server's advice if any, else backoff.

        With ``at_least_backoff`` (a 5xx) the server's advice can lengthen the wait but never
        shorten it below the backoff: a failing server told ``Retry-After: 0`` by a proxy
        must not be hammered.
        """
        backoff = self.backoff(retry_number, rng)
        if server_delay is None:
            return backoff
        advised = min(max(server_delay, 0.0), self.max_server_delay)
        return max(advised, backoff) if at_least_backoff else advised


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - now, 0.0)


def parse_seconds(value: str | None) -> float | None:
    """A non-negative number of seconds from a header such as ``RateLimit-Reset``, else None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def server_delay(headers: httpx.Headers, now: float, status: int | None = None) -> float | None:
    """The delay a response asks for: ``Retry-After`` first, then ``RateLimit-Reset``.

    ``RateLimit-Reset`` only says when the rate-limit window resets, and Polaris sends it on
    every response; it is a reason to wait only when the request hit the limit: a 429, or
    ``RateLimit-Remaining: 0``. Pass the response ``status`` so that a 503 carrying
    ``RateLimit-Reset: 42`` is not waited on for 42 s (``None``: the caller handles 429s only).
    """
    delay = parse_retry_after(headers.get("retry-after"), now)
    if delay is not None:
        return delay
    if status is None or status == 429 or _window_spent(headers):
        return parse_seconds(headers.get("ratelimit-reset"))
    return None


def _window_spent(headers: httpx.Headers) -> bool:
    remaining = parse_seconds(headers.get("ratelimit-remaining"))
    return remaining is not None and remaining == 0
