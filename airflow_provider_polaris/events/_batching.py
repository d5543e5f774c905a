"""Batching: check the input's items in order and pack them into request-sized batches.

One coroutine, :meth:`Batcher.consume`, owns the open batch and is the only one that hands
batches on (through the pusher's ``enqueue``), including batches sent early by the flush window:
it waits for input with a deadline instead of leaving that to another task, so no batch can be
left behind and the pusher's end-of-input markers always follow the last batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_polaris.events._checks import Checked, EventChecker
from airflow_provider_polaris.events._feed import Feed
from airflow_provider_polaris.events._options import PushOptions
from airflow_provider_polaris.events._report import PushReport, Rejection
from airflow_provider_polaris.events._sending import describe

log = logging.getLogger(__name__)


class Batch:
    """The encoded events of one request, their input lines and size."""

    __slots__ = ("lines", "nbytes", "parts", "started")

    def __init__(self, started: float) -> None:
        self.parts: list[bytes] = []
        self.lines: list[int] = []
        self.nbytes = 0
        self.started = started


@dataclass
class _Position:
    line: int = 0  # the last line taken in hand (checked, or skipped)
    read: int = 0  # events read (lines that are not blank and not before ``start_line``)
    taken: int = 0  # items taken from the feed: lines up to here may be in hand, not checked


@dataclass(eq=False)
class Batcher:
    """Checks items with ``checker``, counts rejections in ``report`` and hands full batches
    (or old ones, with a flush window) to ``enqueue``; stops early once ``aborted()``."""

    _options: PushOptions
    _checker: EventChecker
    _report: PushReport
    _clock: Callable[[], float]
    _enqueue: Callable[[Batch], Awaitable[None]]
    _aborted: Callable[[], bool]
    #: The batch being filled (not handed on yet).
    open: Batch | None = field(default=None, init=False)

    async def consume(self, feed: Feed, flush_window: float) -> None:
        """Batch the feed's items until it ends, the push aborts or the input fails.

        At every ``await`` the current line is settled (rejected, or in a batch that is open or
        pending), so when the push stops here, every line after it is the unread rest.
        """
        pos = _Position()
        finished = False
        try:
            while (chunk := await self._next_chunk(feed, flush_window)) is not None:
                pos.taken += len(chunk)
                await self._take(chunk, pos)
                if self._aborted() or feed.failed:
                    break
                await asyncio.sleep(0)  # let the senders run between chunks
            finished = True
        finally:
            report = self._report
            report.events_read = pos.read
            stopped = not finished or self._aborted() or feed.failed
            if stopped and (pos.line < pos.taken or not feed.exhausted):
                # Stopped early: everything from the next line on is reported as not sent.
                if report.unread_from_line is None:
                    report.unread_from_line = pos.line + 1
                feed.cancel()

    async def _next_chunk(self, feed: Feed, flush_window: float) -> list[Any] | None:
        """The next items (``None`` at the end); first hands on an open batch that is due."""
        while True:
            batch = self.open
            if not flush_window or batch is None:
                return await feed.take()
            age = self._clock() - batch.started
            if age < flush_window:
                return await feed.take(flush_window - age)
            self.open = None
            await self._enqueue(batch)

    async def _take(self, chunk: list[Any], pos: _Position) -> None:
        """Check and pack ``chunk``'s items (the hot path: locals only)."""
        check = self._check
        enqueue = self._enqueue
        max_events = self._options.max_events_per_request
        max_bytes = self._options.max_payload_bytes
        start_line = self._options.start_line
        line_no, read = pos.line, pos.read
        try:
            for item in chunk:
                line_no += 1
                if line_no < start_line:
                    continue
                checked = check(item, line_no)
                if checked is None:
                    continue  # a blank line
                read += 1
                if type(checked) is tuple:
                    self._reject(line_no, checked[0], checked[1])
                    continue
                size = len(checked)
                batch = self.open
                full = None
                if batch is not None and batch.nbytes + size > max_bytes:
                    full, batch = batch, None  # the event does not fit: send what we have
                if batch is None:
                    batch = self.open = Batch(self._clock())
                batch.parts.append(checked)  # type: ignore[arg-type]
                batch.lines.append(line_no)
                batch.nbytes += size + 1  # nbytes - 1 is the payload size (newline-joined)
                if full is not None:
                    await enqueue(full)
                if len(batch.parts) >= max_events:
                    self.open = None
                    await enqueue(batch)
                if self._aborted():
                    return
        finally:
            pos.line, pos.read = line_no, read

    def _check(self, item: Any, line: int) -> Checked | None:
        """The checked event for one input item, ``None`` for a blank line. Never raises: an
        unexpected error while checking one item rejects that item (``check_error``)."""
        try:
            if type(item) is dict:  # the common case first
                return self._checker.check_object(item)
            if isinstance(item, bytes):
                item = item.strip()
                return self._checker.check_line(item) if item else None
            if isinstance(item, str):
                item = item.strip()
                return self._checker.check_text(item) if item else None
            return self._checker.check_object(item)
        except Exception as exc:
            log.exception("checking line %d failed", line)
            return ("check_error", f"the event could not be checked: {describe(exc)}")

    def _reject(self, line: int, reason: str, detail: str) -> None:
        report = self._report
        report.rejected += 1
        report.rejected_by_reason[reason] = report.rejected_by_reason.get(reason, 0) + 1
        if len(report.rejections) < self._options.max_rejections_listed:
            report.rejections.append(Rejection(line, reason, detail))
