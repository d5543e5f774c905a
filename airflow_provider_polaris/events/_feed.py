"""The hand-off from the thread reading the input to the event loop that checks and sends.

Reading the input may block (a slow generator, an object-store file), so it happens in the
caller's thread; everything CPU-heavy (checks, batching, HTTP) happens in the loop's thread. The
reader appends items one by one to a deque (atomic, no lock: the common path costs a list append)
and wakes the loop only when the loop is waiting for input, so a busy loop is not interrupted per
item and a slow stream's events still reach the loop at once (for the flush window). The deque is
bounded by a rough size (line length for text/bytes, a nominal size for objects) so memory stays
flat: the reader blocks while the loop is behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

#: Nominal size of an object (dict) event when bounding the unread items.
_OBJECT_COST = 512


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Feed:
    """Items read by one thread, taken in order by one coroutine; at most ``max_bytes`` pending."""

    def __init__(self, max_bytes: int = 4_000_000, max_take: int = 1024) -> None:
        self._items: deque[Any] = deque()
        self._max_bytes = max_bytes
        self._max_take = max_take
        # Written by the loop only; the reader's pending cost is its own ``added`` minus this.
        self._taken = 0
        self._space = threading.Event()
        self._space.set()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self.cancelled = False
        #: True when the reader stopped on an exception (the input failed to read).
        self.failed = False
        #: True when the reader reached the end of the input (not cancelled, not failed).
        self.complete = False

    # -- reader side (any thread) ---------------------------------------------------------------

    def read(self, items: Iterator[Any]) -> None:
        """Pass every item on (blocking while the loop is behind) until the end or ``cancel``."""
        append = self._items.append
        space = self._space
        limit = self._max_bytes
        added = 0
        try:
            for item in items:
                cost = len(item) + 64 if isinstance(item, (bytes, str)) else _OBJECT_COST
                append(item)
                added += cost
                if self._waiter is not None:
                    self._wake_loop()
                if added - self._taken >= limit:
                    space.clear()
                    while added - self._taken >= limit and not self.cancelled:
                        space.wait(0.5)
                if self.cancelled:
                    return
            self.complete = True
        except BaseException:
            self.failed = True
            raise
        finally:
            self._ended = True
            self._wake_loop()

    def _wake_loop(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)

    # -- loop side ------------------------------------------------------------------------------

    async def take(self, timeout: float | None = None) -> list[Any] | None:
        """The next items in order (at most ``max_take``); ``None`` once the input is exhausted.

        With ``timeout`` (seconds), an empty list when nothing arrived in that time: the caller
        gets control back to send a batch whose flush window ran out while the input is slow.
        """
        items = self._items
        if self.cancelled:
            return None  # the push stops: what is left is not read
        while not items:
            if self._ended:
                if items:  # appended just before the end
                    break
                return None
            loop = asyncio.get_running_loop()
            waiter = loop.create_future()
            self._waiter = waiter
            # Re-check after publishing the waiter: an item appended before the reader could see
            # the waiter is caught here, one appended after it wakes the waiter.
            if not items and not self._ended:
                if timeout is None:
                    await waiter
                else:
                    timer = loop.call_later(max(timeout, 0.0), _wake, waiter)
                    try:
                        await waiter
                    finally:
                        timer.cancel()
                    if not items and not self._ended:
                        self._waiter = None
                        return []
            self._waiter = None
            if self.cancelled:
                return None
        popleft = items.popleft
        taken = [popleft() for _ in range(min(len(items), self._max_take))]
        self._taken += sum(
            len(item) + 64 if isinstance(item, (bytes, str)) else _OBJECT_COST for item in taken
        )
        if not self._space.is_set():
            self._space.set()
        return taken

    @property
    def exhausted(self) -> bool:
        """True when the whole input was read and taken: no line is left after the last one."""
        return self.complete and not self._items

    def cancel(self) -> None:
        """Make the reader stop at its next item and ``take`` return ``None`` (any thread)."""
        self.cancelled = True
        self._space.set()
        self._wake_loop()
