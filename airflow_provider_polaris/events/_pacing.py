"""Shared pacing state for the push senders: one pause and one send interval for all of them.

Polaris limits push calls per organisation (83,334 per minute) and reports the budget on every
response (``RateLimit-Remaining``, ``RateLimit-Reset``). While plenty of budget remains, workers
send as fast as they can. When the remaining budget gets close to the number of requests that can
be in flight, sends are spaced so the rest of the window's budget lasts until the reset. A 429
pauses *every* worker (not just the one that got it) until ``Retry-After`` (or an exponential
backoff when the server gives no hint), so a storm of 429s costs one pause instead of N.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any


class Pacer:
    """Pacing shared by every sender of one push (thread-safe; asyncio senders ``await`` the
    delay from :meth:`reserve`, threads use :meth:`acquire`)."""

    def __init__(
        self,
        *,
        low_water: int,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._low_water = max(1, low_water)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._next_slot = 0.0
        self._interval = 0.0
        self._consecutive_429 = 0

    def reserve(self) -> float:
        """Take the next send slot; return how long to wait for it (the caller sleeps)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until, self._next_slot)
            if self._interval:
                self._next_slot = start + self._interval
        return max(start - now, 0.0)

    def acquire(self) -> float:
        """Wait (with the blocking ``sleep``) for this worker's turn to send; return the wait."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, remaining: int | None, reset_seconds: float | None) -> None:
        """Adjust pacing from a successful response's rate-limit headers."""
        with self._lock:
            self._consecutive_429 = 0
            if remaining is None or reset_seconds is None:
                self._interval = self._next_slot = 0.0
                return
            if remaining <= 0:
                self._paused_until = max(self._paused_until, self._clock() + reset_seconds)
                self._interval = self._next_slot = 0.0
            elif remaining <= self._low_water:
                # Spread what is left of this window's budget until it resets.
                self._interval = max(reset_seconds, 0.0) / remaining
            else:
                self._interval = self._next_slot = 0.0

    def rate_limited(self, retry_after: float | None) -> float:
        """Record a 429: pause every worker; return the pause (seconds) from now."""
        with self._lock:
            self._consecutive_429 += 1
            if retry_after is not None and retry_after > 0:
                wait = float(retry_after)
            else:
                wait = min(self._backoff_max, self._backoff_base * 2 ** (self._consecutive_429 - 1))
            wait += random.uniform(0, min(0.1, wait / 10))  # de-synchronise the restart
            self._paused_until = max(self._paused_until, self._clock() + wait)
            return wait
