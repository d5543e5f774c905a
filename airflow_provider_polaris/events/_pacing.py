"""Shared pacing state for the push senders: one budget estimate, one pause, one send interval.

Polaris limits push calls per organisation (83,334 per minute) and reports the budget on every
response (``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset``). The pacer turns
those headers into a decision taken *each time* a sender is about to send (never once for a
later send, so a pause that starts while a sender waits for its turn still stops it):

- **Learn first.** Until the first response arrives only one request is in flight, so a push
  never opens with a blind burst of ``max_concurrent_requests`` calls into a small budget.
- **Count what is in flight.** ``RateLimit-Remaining`` is what was left when the server handled
  that request; every request still in flight may spend one more. A sender may start only while
  ``remaining - in_flight > 0`` for the current window, and the lowest ``remaining`` seen in a
  window is kept (responses can arrive out of order). Once the window has reset (by the
  ``RateLimit-Reset`` estimate), ``RateLimit-Limit`` minus what is in flight is available.
- **Spread the tail.** When that estimate drops to ``low_water`` or below, sends are spaced so
  the rest of the window's budget lasts until the reset (kind to other clients of the
  organisation).
- **429s pause everyone.** A 429 pauses *every* sender until ``Retry-After`` (or an exponential
  backoff when the server gives no hint), so a storm of 429s costs one pause instead of N. A
  ``Retry-After`` longer than ``max_pause`` pauses nobody: the sender that got it gives up.
- **Never a long blind wait.** :meth:`reserve` returns at most ``max_wait``, so a sender asks
  again at least that often (a bogus ``RateLimit-Reset`` cannot park it for hours).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

#: How long a sender waits before asking again while the pacer waits for responses (the first
#: one, or the in-flight requests of a window whose budget they may use up).
POLL_SECONDS = 0.02
#: Two ``RateLimit-Reset`` estimates of one window differ by less than this (whole seconds,
#: rounded up, plus latency); a later window ends at least this much later.
_SAME_WINDOW_SECONDS = 2.0
#: The longest single wait :meth:`Pacer.reserve` asks for; the sender then asks again.
MAX_WAIT_SECONDS = 1.0


class Pacer:
    """Pacing shared by every sender of one push (thread-safe).

    A sender calls :meth:`reserve` until it returns 0 (sleeping the returned time in between),
    sends, then reports the outcome with exactly one of :meth:`observe` (2xx),
    :meth:`rate_limited` (429) or :meth:`failed` (anything else).
    """

    def __init__(
        self,
        *,
        low_water: int,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_pause: float = 600.0,
        max_wait: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._low_water = max(1, low_water)
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_pause = max_pause
        self._max_wait = max_wait
        self._clock = clock
        self._learned = False
        self._in_flight = 0
        self._paused_until = 0.0
        self._next_slot = 0.0
        self._consecutive_429 = 0
        #: The current rate-limit window: when it ends (clock time), the lowest remaining budget
        #: reported in it, and the budget of a whole window.
        self._window_end: float | None = None
        self._remaining = 0
        self._limit: int | None = None

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return self._in_flight

    def reserve(self) -> float:
        """Return 0 when the caller may send now (it then counts as in flight), else how long to
        wait before asking again (at most ``max_wait``)."""
        return self.reserve_or_wait()[0]

    def reserve_or_wait(self) -> tuple[float, bool]:
        """:meth:`reserve`, plus whether a wait is for the rate limit (a 429 pause, a spent or
        spread budget) rather than for answers (the first one, or those in flight): only the
        former counts toward a push's ``max_rate_limit_wait_seconds``."""
        with self._lock:
            now = self._clock()
            wait = self._wait(now)
            if wait <= 0:
                self._in_flight += 1
                return 0.0, False
            # Before the first answer the only wait is for that answer; after it, every wait is
            # a pause, a spent budget or the spreading of what is left of it.
            return min(wait, self._max_wait), self._learned

    def _wait(self, now: float) -> float:
        if now < self._paused_until:
            return self._paused_until - now
        if not self._learned and self._in_flight:
            return POLL_SECONDS  # one request at a time until the first answer
        end = self._window_end
        if end is None:
            return 0.0  # the server sends no rate-limit headers: only 429s pace
        if now < end:
            left = self._remaining - self._in_flight
        elif self._limit is not None:
            left = self._limit - self._in_flight  # a new window (its first answer is due)
        else:
            return 0.0
        if left <= 0:
            return end - now if now < end else POLL_SECONDS
        if now < end and left <= self._low_water:
            if now < self._next_slot:
                return self._next_slot - now
            self._next_slot = now + (end - now) / left
        return 0.0

    def observe(
        self, remaining: int | None, reset_seconds: float | None, limit: int | None = None
    ) -> None:
        """A request succeeded: account for it and learn from its rate-limit headers."""
        with self._lock:
            self._finished()
            self._consecutive_429 = 0
            if limit is not None and limit > 0:
                # A limit of 0 (or less) means nothing usable: with it, a window that has
                # passed would never have budget again.
                self._limit = limit
            if remaining is None or reset_seconds is None:
                return
            end = self._clock() + max(reset_seconds, 0.0)
            current = self._window_end
            if current is None or end >= current + _SAME_WINDOW_SECONDS:
                self._window_end, self._remaining = end, remaining  # a new window
                self._next_slot = 0.0
            elif end > current - _SAME_WINDOW_SECONDS:
                # The same window: the budget only shrinks within it, whatever the arrival order.
                self._window_end = min(current, end)
                self._remaining = min(self._remaining, remaining)
            # else: an answer from an earlier window, arriving late: nothing to learn.

    def rate_limited(self, retry_after: float | None) -> float:
        """A request got a 429: pause every worker; return the wait asked for (seconds).

        A wait longer than ``max_pause`` pauses nobody: the caller is expected to give up (and
        the push to stop), not to hold every other sender back for it.
        """
        with self._lock:
            self._finished()
            self._consecutive_429 += 1
            if retry_after is not None and retry_after > 0:
                wait = float(retry_after)
            else:
                wait = min(self._backoff_max, self._backoff_base * 2 ** (self._consecutive_429 - 1))
            if wait <= self._max_pause:
                jitter = random.uniform(0, min(0.1, wait / 10))  # de-synchronise the restart
                self._paused_until = max(self._paused_until, self._clock() + wait + jitter)
            return wait

    def failed(self) -> None:
        """A request failed otherwise (5xx, network error, 4xx): it is no longer in flight."""
        with self._lock:
            self._finished()

    def _finished(self) -> None:
        self._learned = True
        self._in_flight = max(0, self._in_flight - 1)
