"""Event pusher for Polaris push_streaming connections (used by ``PolarisHook.push_events``).

Pure Python on top of the client (no Airflow imports): events are checked one by one (JSON object,
time field, acceptance window, size), packed into requests within Polaris' limits (1 MB, 60 events
by default, 500 ms flush window), sent concurrently over keep-alive connections by one asyncio
event loop, paced from the rate-limit headers, retried on 429/5xx/network errors, and accounted
for in a :class:`PushReport`.
"""

from __future__ import annotations

from airflow_provider_polaris.events._checks import EventChecker
from airflow_provider_polaris.events._options import (
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    MAX_PAYLOAD_BYTES,
    PushOptions,
    make_options,
)
from airflow_provider_polaris.events._pusher import EventPusher, PushControl, push_events
from airflow_provider_polaris.events._report import (
    REJECT_REASONS,
    EventsDeliveryError,
    PushReport,
    Rejection,
)

__all__ = [
    "DEFAULT_MAX_CONCURRENT_REQUESTS",
    "MAX_PAYLOAD_BYTES",
    "REJECT_REASONS",
    "EventChecker",
    "EventPusher",
    "EventsDeliveryError",
    "PushControl",
    "PushOptions",
    "PushReport",
    "Rejection",
    "make_options",
    "push_events",
]
