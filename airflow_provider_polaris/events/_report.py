"""What a push did: counts, rejected lines with reasons, undelivered lines, and the error raised."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

#: Reason codes used in :attr:`PushReport.rejected_by_reason`.
REJECT_REASONS = (
    "invalid_json",
    "not_an_object",
    "not_serialisable",
    "missing_time",
    "bad_time",
    "too_late",
    "too_early",
    "too_large",
    "check_error",
)


@dataclass(frozen=True)
class Rejection:
    """One event the pusher refused to send: its 1-based line (or list position) and why."""

    line: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.detail}"


#: An inclusive line range; ``None`` as the end means "and every line after".
Range = tuple[int, int | None]


def normalise(ranges: Iterable[Range]) -> list[Range]:
    """Sort and merge overlapping or adjacent ranges."""
    out: list[Range] = []
    for first, last in sorted(ranges, key=lambda r: r[0]):
        if out and (out[-1][1] is None or first <= out[-1][1] + 1):
            prev_first, prev_last = out[-1]
            merged = None if prev_last is None or last is None else max(prev_last, last)
            out[-1] = (prev_first, merged)
        else:
            out.append((first, last))
    return out


def line_ranges(lines: Iterable[int]) -> list[tuple[int, int]]:
    """Collapse line numbers into sorted inclusive ``(first, last)`` ranges."""
    return cast("list[tuple[int, int]]", normalise((n, n) for n in set(lines)))


def format_ranges(ranges: list[tuple[int, int]], limit: int = 20) -> str:
    """``[(1, 3), (7, 7)]`` -> ``"1-3, 7"`` (at most ``limit`` ranges, then ``", ..."``)."""
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"... ({len(ranges) - limit} more ranges)")
    return ", ".join(parts)


@dataclass
class PushReport:
    """The outcome of one push. Every input event is counted exactly once as accepted (delivered
    with a 2xx), rejected (refused before sending, with its line and reason) or undelivered (its
    request failed for good, or the push stopped before it was sent)."""

    connection_name: str
    events_read: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    undelivered: int = 0
    undelivered_ranges: list[tuple[int, int]] = field(default_factory=list)
    unread_from_line: int | None = None
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    last_error: str | None = None

    @property
    def first_undelivered_line(self) -> int | None:
        """The lowest line number that did not reach Polaris (``None`` when all were delivered)."""
        candidates = [r[0] for r in self.undelivered_ranges[:1]]
        if self.unread_from_line is not None:
            candidates.append(self.unread_from_line)
        return min(candidates) if candidates else None

    @property
    def complete(self) -> bool:
        """True when no event was left undelivered (rejected events do not count)."""
        return self.first_undelivered_line is None

    def undelivered_description(self) -> str:
        """Human-readable list of the lines that did not reach Polaris."""
        parts = []
        if self.undelivered_ranges:
            parts.append(f"lines {format_ranges(self.undelivered_ranges)}")
        if self.unread_from_line is not None:
            parts.append(f"every line from {self.unread_from_line} on (not sent)")
        return " and ".join(parts) or "none"

    def summary(self) -> str:
        """One line for the task log."""
        text = (
            f"push to {self.connection_name!r}: {self.events_read} events read, "
            f"{self.accepted} accepted, {self.rejected} rejected, {self.undelivered} undelivered; "
            f"{self.requests} requests ({self.retries} retries, {self.rate_limited} rate-limited) "
            f"in {self.seconds:.2f}s"
        )
        if self.rejected_by_reason:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected_by_reason.items()))
            text += f"; rejected by reason: {reasons}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the operator's XCom return value)."""
        data = asdict(self)  # rejections become {"line", "reason", "detail"} dicts
        data["undelivered_ranges"] = [list(r) for r in self.undelivered_ranges]
        data["seconds"] = round(self.seconds, 3)
        return {**data, "first_undelivered_line": self.first_undelivered_line}


class EventsDeliveryError(Exception):
    """Some events did not reach Polaris. ``report`` holds the partial progress and exactly which
    lines were not delivered; resend those (or from ``report.first_undelivered_line``)."""

    def __init__(self, report: PushReport) -> None:
        self.report = report
        super().__init__(
            f"{report.undelivered or 'some'} events were not delivered to push connection "
            f"{report.connection_name!r}; first undelivered line: "
            f"{report.first_undelivered_line}; not delivered: "
            f"{report.undelivered_description()}. Delivered: {report.accepted}, rejected: "
            f"{report.rejected}. Last error: {report.last_error}"
        )
