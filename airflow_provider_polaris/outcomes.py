"""The one mapping of Polaris job states to task outcomes.

The sync wait, the trigger, the sensor and ``execute_complete`` all call :func:`decide_outcome`, so
a job can never be judged differently in poke, reschedule and deferrable modes. Anything this
module does not recognise fails closed: an unknown execution status, an unknown health status or a
malformed job document is a failure, never a silent success. Only ``unknown`` (which Polaris
documents as transient) keeps a wait going, and only for ``max_unknown_polls`` consecutive polls
(:class:`UnknownStreak`).

Pure Python, no Airflow and no client imports: cheap to import and easy to test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

OutcomeKind = Literal["success", "failure", "canceled", "waiting"]

BATCH_TERMINAL = frozenset({"completed", "failed", "canceled"})
STREAMING_LIVE = frozenset({"running", "idle"})
KNOWN_EXECUTION_STATUSES = frozenset(
    {"pending", "running", "completed", "idle", "canceled", "failed", "suspended", "unknown"}
)
# Statuses a job passes through on its way somewhere else: a wait keeps going.
_IN_FLIGHT = frozenset({"pending", "running", "unknown"})
_LIVE_OR_IN_FLIGHT = frozenset({"pending", "running", "unknown", "idle", "suspended"})
# Statuses a job never leaves (without a new job): waits may name them as targets.
_ENDED = frozenset({"completed", "failed", "canceled"})
_HEALTH_ALIASES = {"ok": "ok", "warn": "warn", "warning": "warn", "error": "error"}


def _text(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


class JobState:
    """A read-only view of a Polaris job document (``GET /jobs/{id}`` or a list summary).

    Tolerant by design: every accessor returns ``None`` for a missing or malformed field instead
    of raising, and health ``warning`` (the spelling in Imply's OpenAPI discriminator) is read as
    ``warn``. Whether a state is acceptable is :func:`decide_outcome`'s job, not this class's.
    """

    __slots__ = ("raw",)

    def __init__(self, job: Mapping[str, Any]) -> None:
        self.raw: Mapping[str, Any] = job if isinstance(job, Mapping) else {}

    @property
    def job_id(self) -> str | None:
        value = self.raw.get("id")
        return value if isinstance(value, str) else None

    @property
    def job_type(self) -> str | None:
        value = self.raw.get("type")
        if not isinstance(value, str):
            spec = self.raw.get("spec")
            value = spec.get("type") if isinstance(spec, Mapping) else None
        return _text(value)

    @property
    def target_table(self) -> str | None:
        target = self.raw.get("target")
        if not isinstance(target, Mapping):
            spec = self.raw.get("spec")
            target = spec.get("target") if isinstance(spec, Mapping) else None
        if isinstance(target, Mapping) and isinstance(target.get("tableName"), str):
            return str(target["tableName"])
        return None

    @property
    def execution_status(self) -> str | None:
        return _text(self.raw.get("executionStatus"))

    @property
    def desired_status(self) -> str | None:
        return _text(self.raw.get("desiredExecutionStatus"))

    @property
    def _health(self) -> Mapping[str, Any]:
        health = self.raw.get("health")
        return health if isinstance(health, Mapping) else {}

    @property
    def has_health(self) -> bool:
        return "health" in self.raw and self.raw.get("health") is not None

    @property
    def health_status(self) -> str | None:
        """``ok`` / ``warn`` / ``error``; an unrecognised value is returned as is (lower case)."""
        status = _text(self._health.get("status"))
        return _HEALTH_ALIASES.get(status, status) if status else None

    @property
    def health_code(self) -> str | None:
        code = self._health.get("code")
        return str(code) if code not in (None, "") else None

    @property
    def health_message(self) -> str | None:
        message = self._health.get("message")
        if not message:
            log = self._health.get("log")
            message = log.get("message") if isinstance(log, Mapping) else None
        return str(message) if message else None

    @property
    def is_streaming(self) -> bool:
        return self.job_type == "streaming"

    @property
    def is_terminal(self) -> bool:
        """No further change will happen without a user action."""
        status = self.execution_status
        if self.is_streaming:
            return status in {"failed", "canceled", "completed"}
        return status in BATCH_TERMINAL

    @property
    def is_active(self) -> bool:
        """Polaris is (or will be) working on the job: reattaching to it is meaningful."""
        return self.execution_status in {"pending", "running", "idle", "unknown"}

    @property
    def is_successful(self) -> bool:
        return decide_outcome(self.raw).kind == "success"

    def describe(self) -> str:
        """``status`` or ``status (health warn: code)``: short text for log lines."""
        text = self.execution_status or "<no status>"
        if self.health_status and self.health_status != "ok":
            text += f" (health {self.health_status}"
            text += f": {self.health_code})" if self.health_code else ")"
        return text

    def __repr__(self) -> str:
        return f"JobState(id={self.job_id!r}, status={self.describe()!r})"


@dataclass(frozen=True)
class Outcome:
    """What a wait should do next: ``waiting`` keeps polling; the other kinds are final."""

    kind: OutcomeKind
    message: str
    warning: str | None = None

    @property
    def is_final(self) -> bool:
        return self.kind != "waiting"


def _label(state: JobState) -> str:
    parts = [f"Polaris job {state.job_id or '<unknown id>'}"]
    if state.job_type:
        parts.append(f"({state.job_type}")
        parts[-1] += f" into {state.target_table!r})" if state.target_table else ")"
    return " ".join(parts)


def _health_text(state: JobState) -> str:
    text = f"health {state.health_status or 'unknown'}"
    if state.health_code:
        text += f" [{state.health_code}]"
    if state.health_message:
        text += f": {state.health_message}"
    return text


def decide_outcome(
    job: Mapping[str, Any] | Any, *, target_statuses: Collection[str] | None = None
) -> Outcome:
    """Decide what a job document means for the task waiting on it.

    Batch-like jobs (no ``target_statuses``): ``completed`` with health ``ok``/``warn`` is success
    (warnings are returned in :attr:`Outcome.warning`), ``completed`` with health ``error`` and
    ``failed`` are failures, ``canceled`` is ``canceled`` (callers fail without retrying);
    ``pending``/``running``/``unknown`` keep waiting.

    Streaming-style waits pass ``target_statuses`` (e.g. ``{"running", "idle"}``): reaching one of
    them is success (health ``warn`` adds a warning; health ``error`` is a failure);
    ``failed``/``canceled`` end the wait; a ``suspended`` job keeps the wait only
    while its desired status is ``running`` (a resume in progress). A target that is an end
    state (``canceled``, ``completed``, ``failed``: what a cancel waits for) is success when
    reached, whatever the health (a warning names the health when the job did not cancel).

    Anything else (no status, an unrecognised status or health, a non-mapping) is a failure.
    """
    if not isinstance(job, Mapping):
        return Outcome("failure", f"Malformed Polaris job document ({type(job).__name__}).")
    state = JobState(job)
    status = state.execution_status
    label = _label(state)
    if status is None:
        return Outcome("failure", f"{label} has no executionStatus; refusing to guess its outcome.")
    if status not in KNOWN_EXECUTION_STATUSES:
        return Outcome("failure", f"{label} has an unrecognised executionStatus {status!r}.")
    health = state.health_status
    if health is not None and health not in ("ok", "warn", "error"):
        return Outcome("failure", f"{label} has an unrecognised health status {health!r}.")

    targets = {t.lower() for t in target_statuses} if target_statuses else None
    if targets is not None and status in targets and status in _ENDED:
        # The waiter asked for this end state itself (a cancel waits for ``canceled``, or for
        # the job to end on its own first): reaching it is what it waited for.
        warning = (
            None if status == "canceled" else f"{label} ended {status} ({_health_text(state)})."
        )
        return Outcome("success", f"{label} is {status}.", warning)
    if status == "failed":
        return Outcome("failure", f"{label} failed: {_health_text(state)}.")
    if status == "canceled":
        return Outcome("canceled", f"{label} was canceled.")

    if targets is not None:
        if status in targets:
            if health == "error":
                return Outcome(
                    "failure", f"{label} is {status} but unhealthy: {_health_text(state)}."
                )
            warning = (
                f"{label} is {status} with {_health_text(state)}." if health == "warn" else None
            )
            return Outcome("success", f"{label} is {status}.", warning)
        if state.desired_status in targets and status in _LIVE_OR_IN_FLIGHT:
            # A suspend / resume is in progress towards a target status.
            return Outcome("waiting", f"{label} is {status}, on its way to {state.desired_status}.")
        if status == "suspended" and state.desired_status != "running":
            return Outcome("failure", f"{label} is suspended.")
        if status in _IN_FLIGHT or status == "suspended":
            return Outcome("waiting", f"{label} is {status}.")
        return Outcome("failure", f"{label} is {status}, which is not one of {sorted(targets)}.")

    if status == "completed":
        if health == "error":
            return Outcome("failure", f"{label} completed with errors: {_health_text(state)}.")
        warning = (
            f"{label} completed with warnings: {_health_text(state)}." if health == "warn" else None
        )
        return Outcome("success", f"{label} completed.", warning)
    if status == "suspended" and state.desired_status != "running":
        return Outcome("failure", f"{label} is suspended.")
    return Outcome("waiting", f"{label} is {status}.")


DEFAULT_MAX_UNKNOWN_POLLS = 20


def check_max_unknown_polls(value: Any) -> int | None:
    """Validate ``max_unknown_polls``: a positive int, or ``None`` for no bound."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_unknown_polls must be a positive int or None, got {value!r}")
    return value


class UnknownStreak:
    """Bounds how long a wait tolerates ``executionStatus: unknown``.

    Feed every decided poll to :meth:`check`; after ``limit`` consecutive ``unknown`` observations
    the ``waiting`` outcome becomes a failure. Any other status resets the count.
    """

    __slots__ = ("count", "limit")

    def __init__(self, limit: int | None = DEFAULT_MAX_UNKNOWN_POLLS) -> None:
        self.limit = check_max_unknown_polls(limit)
        self.count = 0

    def check(self, job: Mapping[str, Any], outcome: Outcome) -> Outcome:
        if outcome.is_final or JobState(job).execution_status != "unknown":
            self.count = 0
            return outcome
        self.count += 1
        if self.limit is not None and self.count >= self.limit:
            return Outcome(
                "failure",
                f"{_label(JobState(job))}: Polaris reported executionStatus 'unknown' for "
                f"{self.count} consecutive polls (max_unknown_polls={self.limit}); failing closed.",
            )
        return outcome


def _format_metrics(metrics: Mapping[str, Any] | None) -> str | None:
    if not isinstance(metrics, Mapping):
        return None
    totals = metrics.get("totals", metrics)
    if not isinstance(totals, Mapping):
        return None
    names = (
        ("numRowsProcessed", "processed"),
        ("numRowsPersisted", "persisted"),
        ("numRowsProcessedWithWarning", "with warnings"),
        ("numRowsProcessedWithWarnings", "with warnings"),
        ("numRowsSkippedByError", "unparseable"),
        ("numRowsSkippedByFilter", "filtered"),
    )
    parts = [f"{label}={totals[key]}" for key, label in names if totals.get(key) is not None]
    return ", ".join(parts) or None


def _format_logs(logs: Mapping[str, Any] | None, limit: int = 10) -> list[str]:
    entries = logs.get("logs") if isinstance(logs, Mapping) else None
    if not isinstance(entries, list):
        return []
    lines = []
    for entry in entries[-limit:]:
        if not isinstance(entry, Mapping):
            continue
        fields = [entry.get("timestamp"), entry.get("healthStatus"), entry.get("code")]
        prefix = " ".join(str(f) for f in fields if f)
        lines.append(f"  {prefix}: {entry.get('message', '')}".rstrip())
    return lines


def describe_failure(
    job: Mapping[str, Any] | None,
    logs: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    console_url: str | None = None,
    *,
    headline: str | None = None,
) -> str:
    """A failure message that explains itself: what failed, why, how far it got, where to look."""
    state = JobState(job or {})
    lines = [headline or decide_outcome(job or {}).message]
    lines.append(
        f"  job id: {state.job_id or '?'}; type: {state.job_type or '?'}; "
        f"target table: {state.target_table or '?'}; "
        f"executionStatus: {state.execution_status or '?'}"
    )
    if state.health_status:
        lines.append(f"  {_health_text(state)}")
    rows = _format_metrics(metrics)
    if rows:
        lines.append(f"  rows: {rows}")
    log_lines = _format_logs(logs)
    if log_lines:
        lines.append(f"  last {len(log_lines)} log line(s):")
        lines.extend(log_lines)
    if console_url:
        lines.append(f"  console: {console_url}")
    return "\n".join(lines)


class ProgressTracker:
    """Turns a stream of polls into one log line per change (status, progress %, rows processed).

    A poll without progress or metrics keeps the values last seen *while the status stays the
    same*; a status change drops them, so a final ``failed`` line never repeats a stale
    "52% done" from an earlier poll.
    """

    def __init__(self) -> None:
        self._last: tuple[Any, ...] | None = None

    def observe(
        self,
        job: Mapping[str, Any],
        progress: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Return a line to log when something changed since the previous call, else ``None``."""
        state = JobState(job)
        percent = None
        if isinstance(progress, Mapping) and isinstance(
            progress.get("overallProgress"), int | float
        ):
            percent = int(float(progress["overallProgress"]) * 100)
        rows = None
        totals = metrics.get("totals") if isinstance(metrics, Mapping) else None
        if isinstance(totals, Mapping):
            rows = totals.get("numRowsProcessed")
        if self._last is not None and self._last[0] == state.execution_status:
            percent = self._last[2] if percent is None else percent
            rows = self._last[3] if rows is None else rows
        current = (state.execution_status, state.health_status, percent, rows)
        if current == self._last:
            return None
        self._last = current
        line = f"Polaris job {state.job_id or '?'}: {state.describe()}"
        if percent is not None:
            line += f", {percent}% done"
        if rows is not None:
            line += f", {rows} rows processed"
        return line


DEFAULT_PROGRESS_INTERVAL = 300.0
DEFAULT_MAX_CONSECUTIVE_ERRORS = 5
"""Transient API errors in a row that every wait (sync, trigger, sensor) tolerates."""


def is_fatal_error(exc: BaseException) -> bool:
    """Errors a later poll cannot fix: bad credentials/permissions, a missing job, a bad request."""
    # Imported here: this module stays free of the client (and httpx) at import time.
    from airflow_provider_polaris.client import (
        PolarisApiError,
        PolarisAuthError,
        PolarisBadRequestError,
        PolarisNotFoundError,
        PolarisTransportError,
    )

    if isinstance(exc, PolarisAuthError | PolarisNotFoundError | PolarisBadRequestError):
        return True
    transport = isinstance(exc, PolarisTransportError | OSError | asyncio.TimeoutError)
    return not isinstance(exc, PolarisApiError) and not transport


class ErrorStreak:
    """The one rule for API errors while polling, shared by every wait (sync, trigger, sensor).

    A fatal error (see :func:`is_fatal_error`) ends the wait at once; transient ones (5xx, 429,
    network) are tolerated up to ``limit`` in a row. A successful poll resets the count.
    """

    __slots__ = ("count", "limit")

    def __init__(self, limit: int = DEFAULT_MAX_CONSECUTIVE_ERRORS) -> None:
        self.limit = int(limit)
        self.count = 0

    def gives_up(self, exc: BaseException) -> bool:
        """Count ``exc``; True when the wait must end with it."""
        self.count += 1
        return is_fatal_error(exc) or self.count > self.limit

    def reset(self) -> None:
        """A poll succeeded."""
        self.count = 0


def check_progress_interval(value: Any) -> float | None:
    """Validate ``progress_interval``: seconds (``None`` or ``0`` disable progress sampling)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"progress_interval must be seconds >= 0 or None, got {value!r}")
    return float(value) or None


class ProgressSchedule:
    """When a wait may spend two extra requests (``/progress``, ``/metrics``) on a running job.

    Status polls are cheap and, in the triggerer, shared by every wait on a project; progress is
    per job. So progress is sampled at most once per ``interval`` seconds, the first time one
    interval after the wait started (short jobs cost nothing extra). ``None`` never samples.
    """

    __slots__ = ("_next", "interval")

    def __init__(self, interval: float | None, now: float) -> None:
        self.interval = check_progress_interval(interval)
        self._next = None if self.interval is None else now + self.interval

    def due(self, now: float) -> bool:
        """True (and the next sample scheduled) when a sample is due at ``now``."""
        if self._next is None or self.interval is None or now < self._next:
            return False
        self._next = now + self.interval
        return True
