"""The emulator's clock: wall time that tests can move forward, or a fully manual clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone


class EmulatorClock:
    """Seconds since the epoch as the emulator sees them.

    In the default mode it follows ``source`` (``time.time``) plus whatever :meth:`advance` added,
    so ``advance(301)`` expires an OAuth token immediately without waiting. In manual mode time
    stands still until :meth:`advance` moves it, which makes job lifecycles deterministic.
    """

    def __init__(self, source: Callable[[], float] | None = None, *, manual: bool = False) -> None:
        self._source = source or time.time
        self.manual = manual  # whether time only moves through advance()
        self._offset = 0.0
        self._frozen = self._source()

    def now(self) -> float:
        """The current emulator time in seconds since the epoch."""
        if self.manual:
            return self._frozen
        return self._source() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("the emulator clock cannot go backwards")
        if self.manual:
            self._frozen += seconds
        else:
            self._offset += seconds


def iso(ts: float | None) -> str | None:
    """Polaris-style UTC timestamp with milliseconds (``2023-01-01T00:00:00.000Z``)."""
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
