"""Per-request concerns kept off the handlers: injected faults, request log, events budget."""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from ._clock import EmulatorClock, iso

FAULT_KINDS = frozenset({"status", "delay", "drop"})
REQUEST_LOG_LIMIT = 200_000
DEFAULT_EVENTS_BUDGET = 83_334


@dataclass
class Fault:
    """One injected failure: the next ``count`` requests matching ``method`` and ``path`` get it."""

    method: str
    path: re.Pattern[str]
    kind: str
    status: int
    count: int
    retry_after: float | None
    delay_seconds: float

    def matches(self, method: str, path: str, project_prefix: str) -> bool:
        """Same method (or ``*``); the regex matches the whole full or project-relative path."""
        return self.method in ("*", method) and path_matches(self.path, path, project_prefix)


def path_matches(pattern: re.Pattern[str], path: str, project_prefix: str) -> bool:
    """Whether ``pattern`` matches all of ``path`` or of its part after ``project_prefix``."""
    if project_prefix and path.startswith(project_prefix + "/"):
        return bool(pattern.fullmatch(path[len(project_prefix) :]) or pattern.fullmatch(path))
    return bool(pattern.fullmatch(path))


class Faults:
    """The injected faults, consumed in injection order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(
        self,
        *,
        method: str = "GET",
        path: str = ".*",
        kind: str = "status",
        status: int = 503,
        count: int = 1,
        retry_after: float | None = None,
        delay_seconds: float = 5.0,
    ) -> Fault:
        """Register a fault (validated here so the HTTP control API gets the same checks)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
        if kind == "status" and not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(
            method.upper(), re.compile(path), kind, status, count, retry_after, delay_seconds
        )
        self._faults.append(fault)
        return fault

    def has_any(self) -> bool:
        """Whether any fault is waiting (a lock-free fast path for the hot request path)."""
        return bool(self._faults)

    def take(self, method: str, path: str, project_prefix: str) -> Fault | None:
        """The first fault matching this request, with one use consumed."""
        for fault in self._faults:
            if fault.matches(method, path, project_prefix):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Forget every fault."""
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        """The faults not yet used up."""
        return [
            {
                "method": f.method,
                "path": f.path.pattern,
                "kind": f.kind,
                "status": f.status,
                "count": f.count,
            }
            for f in self._faults
        ]


class RequestLog:
    """What the emulator served, for assertions such as "exactly one job was created".

    Entries are stored as plain tuples (the raw query string, the float timestamp) and turned
    into dicts only when read: the hot request path pays for one tuple and an append.
    """

    def __init__(self) -> None:
        self._entries: deque[tuple[str, str, bytes | str, int, str, float]] = deque(
            maxlen=REQUEST_LOG_LIMIT
        )

    def add(
        self, method: str, path: str, query: bytes | str, status: int, auth_kind: str, at: float
    ) -> None:
        """Record one request (``query`` raw bytes or text)."""
        self._entries.append((method, path, query, status, auth_kind, at))

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the log, oldest first."""
        return [
            {
                "method": method,
                "path": path,
                "query": query.decode("latin-1") if isinstance(query, bytes) else query,
                "status": status,
                "auth_kind": auth_kind,
                "timestamp": iso(at),
            }
            for method, path, query, status, auth_kind, at in list(self._entries)
        ]

    def count(
        self, method: str | None = None, path_regex: str | None = None, project_prefix: str = ""
    ) -> int:
        """Requests with this method (or any) whose full or project-relative path matches."""
        pattern = re.compile(path_regex) if path_regex else None
        wanted = method.upper() if method else None
        total = 0
        for entry in list(self._entries):
            if wanted and entry[0] != wanted:
                continue
            if pattern is None or path_matches(pattern, entry[1], project_prefix):
                total += 1
        return total

    def clear(self) -> None:
        """Empty the log."""
        self._entries.clear()


class EventsBudget:
    """The per-minute call budget of the events endpoint, in fixed windows of the emulator clock."""

    def __init__(self, clock: EmulatorClock, per_minute: int = DEFAULT_EVENTS_BUDGET) -> None:
        self._clock = clock
        self.per_minute = per_minute
        self._window = -1.0
        self._used = 0
        self._limit_bytes = (per_minute, str(per_minute).encode())

    def take_raw(self) -> tuple[bool, list[tuple[bytes, bytes]]]:
        """Spend one call if the window allows; return (allowed, rate-limit headers as raw ASGI
        pairs with lower-case names, for the hot path)."""
        now = self._roll()
        allowed = self._used < self.per_minute
        if allowed:
            self._used += 1
        headers = self._headers(now)
        if not allowed:
            headers.append((b"retry-after", headers[2][1]))
        return allowed, headers

    def peek_raw(self) -> list[tuple[bytes, bytes]]:
        """The current rate-limit headers without spending a call: for events answers that
        never reached the budget (401, injected faults), which carry the headers too."""
        return self._headers(self._roll())

    def _roll(self) -> float:
        """Start a new window when the clock entered one; return the time."""
        now = self._clock.now()
        window = math.floor(now / 60.0) * 60.0
        if window != self._window:
            self._window, self._used = window, 0
        return now

    def _headers(self, now: float) -> list[tuple[bytes, bytes]]:
        per_minute = self.per_minute
        remaining = str(max(per_minute - self._used, 0)).encode()
        reset = str(max(math.ceil(self._window + 60.0 - now), 1)).encode()
        limit = self._limit_bytes
        if limit[0] != per_minute:
            limit = self._limit_bytes = (per_minute, str(per_minute).encode())
        return [
            (b"ratelimit-limit", limit[1]),
            (b"ratelimit-remaining", remaining),
            (b"ratelimit-reset", reset),
            (b"x-ratelimit-limit-minute", limit[1]),
            (b"x-ratelimit-remaining-minute", remaining),
        ]

    def reset(self, per_minute: int = DEFAULT_EVENTS_BUDGET) -> None:
        """Start over with a fresh window and this budget."""
        self.per_minute = per_minute
        self._window, self._used = -1.0, 0


_LIMIT_NAMES = {
    name.lower().encode(): name
    for name in (
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "X-RateLimit-Limit-Minute",
        "X-RateLimit-Remaining-Minute",
        "Retry-After",
    )
}


def limits_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Raw rate-limit header pairs back as the ``{"RateLimit-Limit": ...}`` dict."""
    return {_LIMIT_NAMES[name]: value.decode() for name, value in raw}
