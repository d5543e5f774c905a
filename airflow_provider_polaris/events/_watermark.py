"""Where a push stands, for a retry to resume: the lines not yet delivered, recorded as it goes.

A push's progress is the set of input lines **not delivered** yet, kept as sorted inclusive line
ranges, the last one open-ended (``(first, None)``: every line from ``first`` on). A line counts
as delivered once Polaris acknowledged its request (2xx), or once it was settled without a
request (rejected by the checks, blank). With requests in flight concurrently this set has
holes: the *watermark* (``resume_from_line - 1``) is the highest N such that lines 1..N are all
delivered, and the ranges after it name exactly which later lines still need sending, so a
resumed push never re-sends a request that was acknowledged before the last checkpoint.

:class:`ResumeControl` reads that set from a running :class:`EventPusher` (in the pusher's own
event loop, where it is consistent); :class:`Checkpointer` records it through a caller-supplied
``write`` at most once per ``interval`` seconds, from a thread of its own; :func:`skip_delivered`
replays an input with the delivered lines blanked (line numbers are kept, blank lines are not
pushed). Pure Python: the operator supplies the store (Airflow 3.3's task state store).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from airflow_provider_polaris.events._pusher import PushControl
from airflow_provider_polaris.events._report import PushReport, Range, normalise

log = logging.getLogger(__name__)

#: Nothing delivered yet: every line from 1 on.
EVERYTHING: list[Range] = [(1, None)]


def _end_before(a: int | None, b: int | None) -> bool:
    return a is not None and (b is None or a < b)


def intersect(a: list[Range], b: list[Range]) -> list[Range]:
    """Lines in both ``a`` and ``b`` (not delivered by either of two tries)."""
    out: list[Range] = []
    i = j = 0
    while i < len(a) and j < len(b):
        first = max(a[i][0], b[j][0])
        last = b[j][1] if _end_before(b[j][1], a[i][1]) else a[i][1]
        if last is None or first <= last:
            out.append((first, last))
        if _end_before(a[i][1], b[j][1]):
            i += 1
        else:
            j += 1
    return out


def from_report(report: PushReport) -> list[Range]:
    """The lines a finished (or stopped) push did not deliver, from its report."""
    ranges: list[Range] = list(report.undelivered_ranges)
    if report.unread_from_line is not None:
        ranges.append((report.unread_from_line, None))
    return normalise(ranges)


def from_record(record: Any) -> list[Range] | None:
    """The ``not_delivered`` ranges of a stored record; ``None`` when it is not one of ours."""
    ranges = record.get("not_delivered") if isinstance(record, dict) else None
    if not isinstance(ranges, list):
        return None
    out: list[Range] = []
    for item in ranges:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)):
            return None
        if item[1] is not None and not isinstance(item[1], int):
            return None
        out.append((item[0], item[1]))
    return normalise(out)


def to_record(ranges: list[Range], **identity: Any) -> dict[str, Any]:
    """The JSON record: ``resume_from_line`` (first line not delivered; ``None``: all were),
    ``not_delivered`` (the ranges; ``null`` end = to the end of the input) and ``identity``."""
    return {
        **identity,
        "resume_from_line": ranges[0][0] if ranges else None,
        "not_delivered": [[first, last] for first, last in ranges],
    }


def skip_delivered(events: Any, not_delivered: list[Range]) -> Iterable[Any] | IO[bytes]:
    """``events`` with every delivered line replaced by a blank one (which is not pushed), so
    the line numbers of the rest stay those of the input. A list stays a list."""
    blanked = _blank_delivered(events, not_delivered)
    return list(blanked) if isinstance(events, (list, tuple)) else blanked


def _blank_delivered(events: Iterable[Any], not_delivered: list[Range]) -> Iterator[Any]:
    ranges = iter(not_delivered)
    current = next(ranges, None)
    for line, item in enumerate(events, start=1):
        while current is not None and current[1] is not None and line > current[1]:
            current = next(ranges, None)
        yield item if current is not None and line >= current[0] else ""


def _not_delivered_now(pusher: Any) -> list[Range]:
    """Run in the pusher's loop: the lines of batches not settled yet, of failed batches, and
    every line after the last batch handed to the senders (the open batch, unread input)."""
    ranges: list[Range] = [(b.lines[0], b.lines[-1]) for b in pusher._pending if b.lines]
    ranges.extend((line, line) for line in pusher._undelivered_lines)
    ranges.append((pusher._enqueued_through + 1, None))
    return normalise(ranges)


class ResumeControl(PushControl):
    """A :class:`PushControl` that can also tell, from any thread, which lines of the running
    push are not delivered yet (:meth:`not_delivered`)."""

    def not_delivered(self, timeout: float = 1.0, stop: threading.Event | None = None) -> Any:
        """The not-delivered ranges now, or ``None`` when the push is not running (or did not
        answer within ``timeout``, or ``stop`` was set meanwhile)."""
        with self._lock:
            pusher = self._pusher
        loop = getattr(pusher, "_loop", None)
        if loop is None or loop.is_closed():
            return None
        answer: concurrent.futures.Future[list[Range]] = concurrent.futures.Future()

        def take() -> None:
            try:
                answer.set_result(_not_delivered_now(pusher))
            except BaseException as exc:  # report it to the waiting thread, never to the loop
                answer.set_exception(exc)

        try:
            loop.call_soon_threadsafe(take)
        except RuntimeError:  # the loop closed meanwhile: the push is over
            return None
        waited = 0.0
        while waited < timeout and not (stop is not None and stop.is_set()):
            try:
                return answer.result(0.05)
            except concurrent.futures.TimeoutError:
                waited += 0.05
        return None


class Checkpointer:
    """Records a push's not-delivered lines every ``interval`` seconds while they change.

    ``write(ranges)`` stores them (it runs in this object's thread; failures are logged once and
    retried at the next interval). ``base`` is what an earlier try left undelivered: a line is
    recorded delivered when either try delivered it. Use as a context manager around the push,
    then call :meth:`final` with the push's report (or :meth:`final` with ``None`` to skip).
    """

    def __init__(
        self,
        control: ResumeControl,
        write: Callable[[list[Range]], None],
        *,
        interval: float = 1.0,
        base: list[Range] | None = None,
    ) -> None:
        self._control = control
        self._write = write
        self._interval = interval
        self._base = base if base is not None else EVERYTHING
        self._last: list[Range] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="polaris-push-checkpoint")
        self._thread.daemon = True
        self._warned = False

    def __enter__(self) -> Checkpointer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            ranges = self._control.not_delivered(stop=self._stop)
            if ranges is not None and not self._stop.is_set():
                self._record(intersect(ranges, self._base))

    def final(self, report: PushReport | None) -> list[Range] | None:
        """Record what ``report`` left undelivered (after the push stopped); return it."""
        if report is None:
            return None
        ranges = intersect(from_report(report), self._base)
        self._record(ranges)
        return ranges

    def _record(self, ranges: list[Range]) -> None:
        if ranges == self._last:
            return
        try:
            self._write(ranges)
        except Exception as exc:  # the push goes on; only resuming after a crash is weakened
            if not self._warned:
                log.warning("could not record the push's progress for a retry: %s", exc)
                self._warned = True
            return
        self._last = ranges
