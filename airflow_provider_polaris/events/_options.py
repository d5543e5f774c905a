"""Push options: how a push batches, checks, paces and retries (defaults: Polaris' limits)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

#: Polaris' documented request payload limit for event pushes.
MAX_PAYLOAD_BYTES = 1_000_000
#: Requests in flight by default. Polaris is ~50 ms away, so calls/s ~= in flight / 0.05 s: the
#: organisation's limit (83,334 calls/min, ~1,389/s) needs about 70 in flight; 128 leaves room
#: for slower answers. The pacer, not this number, keeps a push within the rate limit.
DEFAULT_MAX_CONCURRENT_REQUESTS = 128


@dataclass(frozen=True)
class PushOptions:
    """How a push batches, checks, paces and retries. Defaults follow Polaris' documented limits."""

    #: Events per request (Polaris recommends 60); any value works as long as requests fit.
    max_events_per_request: int = 60
    #: Request payload limit in bytes (uncompressed; Polaris' documented limit is 1 MB).
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    #: A partly filled batch is sent once its first event is this old (streaming iterables).
    flush_window_seconds: float = 0.5
    #: Send ``Content-Encoding: gzip`` bodies (less bandwidth, more client CPU).
    gzip: bool = False
    #: Requests in flight at once (one keep-alive connection each).
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    #: Event field holding the time (ISO 8601 string or epoch milliseconds); None: not checked.
    time_field: str | None = "__time"
    #: Reject events older than this (Polaris' ``lateMessageRejectionPeriod``, default 30 days).
    late_rejection_period: timedelta | None = timedelta(days=30)
    #: Reject events further ahead than this (``earlyMessageRejectionPeriod``, 2000 days).
    early_rejection_period: timedelta | None = timedelta(days=2000)
    #: Attempts after the first for a request that failed with a 5xx or a network error.
    max_retries: int = 5
    #: Give up on a request that keeps getting 429s after waiting this long in total.
    max_rate_limit_wait_seconds: float = 600.0
    #: Backoff for 5xx/network retries and for 429s without ``Retry-After``.
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    #: How many rejected events are listed (with line and reason) in the report.
    max_rejections_listed: int = 100
    #: Skip the input's lines (or list positions) before this one: resume a push that failed,
    #: from the report's ``first_undelivered_line``.
    start_line: int = 1

    def __post_init__(self) -> None:
        if self.max_events_per_request < 1:
            raise ValueError("max_events_per_request must be at least 1")
        if not 1 <= self.max_payload_bytes <= 1_048_576:
            raise ValueError("max_payload_bytes must be between 1 and 1048576 (1 MiB)")
        if self.max_concurrent_requests < 1:
            raise ValueError("max_concurrent_requests must be at least 1")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")


_OPTION_NAMES = frozenset(PushOptions.__dataclass_fields__)


def make_options(options: PushOptions | None = None, **overrides: Any) -> PushOptions:
    """Build options from keyword arguments (unknown names raise ``TypeError``)."""
    unknown = set(overrides) - _OPTION_NAMES
    if unknown:
        raise TypeError(f"unknown push option(s): {', '.join(sorted(unknown))}")
    for name in ("late_rejection_period", "early_rejection_period"):
        value = overrides.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            overrides[name] = timedelta(days=value)  # a bare number means days
    return replace(options or PushOptions(), **overrides)
