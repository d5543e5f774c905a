"""Job records and their lifecycle, advanced lazily from the emulator clock (polaris-api.md §4).

Nothing runs in the background: every read of a job first replays the transitions whose time has
come (pending -> running -> completed, cancel requests, suspend/resume, streaming idle). The data
plane is consulted when a job starts running (it computes the rows) and when it completes (the
writes are committed), so a canceled or failed job never changes a table.

Unparseable rows (polaris-api.md §3-§4: bad JSON, a value that doesn't convert to its
``inputSchema`` type, a NULL ``__time`` in a stream) are skipped and counted in ``/metrics``
``numRowsSkippedByError``; the job fails once that count passes ``maxParseExceptions``
(``0`` fails on the first bad row; the default 2147483647 never fails). A job that skipped rows
and did not fail completes (or keeps streaming) with health ``warn`` / ``invalid_rows_found``.
Only streaming jobs write one log entry per unparseable event (§4, "Only streaming jobs write
parse-exception logs"); a batch job logs the count once, with its health.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._clock import iso
from ._rules import MAX_INT, TERMINAL

# Simulated durations in seconds at time_scale 1 (each is multiplied by the time scale):
# `pending` before any job runs; then a running time per batch-like job type; `transition`
# between a cancel / suspend / resume request and its effect; `idle` without events before a
# streaming job shows `idle`; `statement` an async query statement runs before SUCCESS.
DEFAULT_JOB_DURATIONS: Mapping[str, float] = MappingProxyType(
    {
        "pending": 1.0,
        "batch": 3.0,
        "sql": 3.0,
        "delete_data": 1.0,
        "drop_table": 1.0,
        "restore_data": 1.0,
        "transition": 0.5,
        "idle": 10.0,
        "statement": 1.0,
    }
)
STREAM_BUFFER_LIMIT = 100_000  # events held for a pending or suspended streaming job
MAX_PARSE_LOGS = 100  # parse-exception entries kept per streaming job (the first ones)
INVALID_ROWS = "invalid_rows_found"
OUTCOMES = frozenset({"completed", "failed", "running", "unknown", "canceled"})
_STEP_ORDER = {"desired": 0, "start": 1, "finish": 2, "idle": 3}
# Orders state changes stamped with the same time (a manual clock, or one millisecond): the
# change made later sorts as more recent, so a list sorted by last_updated_date_time is total.
_CHANGES = itertools.count(1)


@dataclass
class JobScript:
    """A scripted fate for one job (see ``PolarisEmulator.script_job``)."""

    outcome: str = "completed"
    after_polls: int | None = None
    unknown_polls: int = 0
    health_code: str | None = None
    message: str | None = None
    warn_code: str | None = None
    table: str | None = None

    @property
    def holds(self) -> bool:
        """Whether the job's end waits for reads, or never comes on its own."""
        return self.after_polls is not None or self.outcome in ("running", "unknown")


@dataclass
class Job:
    """Everything the emulator knows about one job."""

    id: str
    type: str
    spec: dict[str, Any]
    table: str
    created: float
    created_by: dict[str, str]
    pending_until: float
    status: str = "pending"
    desired: str = "running"
    health: dict[str, Any] = field(default_factory=lambda: {"status": "ok"})
    started: float | None = None
    completed: float | None = None
    updated: float = 0.0
    finish_at: float | None = None
    transition_at: float | None = None
    last_activity: float = 0.0
    seq: int = 0  # creation order, the tie-breaker of list sorting
    change: int = 0  # order of the latest state change (see touch)
    polls: int = 0
    resets: int = 0
    script: JobScript | None = None
    result: Any = None
    query: str | None = None
    totals: dict[str, int] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    buffer: list[bytes] = field(default_factory=list)

    @property
    def streaming(self) -> bool:
        """Whether this is a streaming job (never completes on its own)."""
        return self.type == "streaming"

    @property
    def terminal(self) -> bool:
        """Whether the job reached completed, failed or canceled."""
        return self.status in TERMINAL

    def touch(self, at: float) -> None:
        """Record a state change at ``at``: ``lastUpdatedTimestamp`` moves and the change is
        ordered after every earlier one (list sorting by last_updated_date_time)."""
        self.updated = at
        self.change = next(_CHANGES)

    def log(self, at: float, health: str, code: str | None, message: str) -> dict[str, Any]:
        """Append an entry to ``/jobs/{id}/logs`` and return it."""
        entry = {"timestamp": iso(at), "healthStatus": health, "code": code, "message": message}
        self.logs.append(entry)
        return entry


def merge_job_durations(
    changes: Mapping[str, Any] | None, base: Mapping[str, float] = DEFAULT_JOB_DURATIONS
) -> dict[str, float]:
    """``base`` with ``changes`` applied; ValueError naming an unknown key or a bad value."""
    merged = dict(base)
    for key, value in (changes or {}).items():
        if key not in DEFAULT_JOB_DURATIONS:
            raise ValueError(
                f"unknown job duration {key!r}; use one of {', '.join(DEFAULT_JOB_DURATIONS)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"job duration {key!r} must be a number of seconds >= 0")
        merged[key] = float(value)
    return merged


def zero_totals() -> dict[str, int]:
    """The metrics of a job that has processed nothing yet."""
    return {
        "numBytesProcessed": 0,
        "numRowsPersisted": 0,
        "numRowsProcessed": 0,
        "numRowsProcessedWithWarning": 0,
        "numRowsSkippedByError": 0,
        "numRowsSkippedByFilter": 0,
    }


@dataclass(kw_only=True, eq=False)
class Lifecycle:
    """Moves jobs through their states; the state object supplies the data-plane callbacks."""

    time_scale: Callable[[], float]
    durations: Callable[[], Mapping[str, float]]
    on_start: Callable[[Job], None]
    on_commit: Callable[[Job], None]
    on_finished: Callable[[Job], None]
    on_events: Callable[[Job, list[bytes]], None]

    def seconds(self, name: str) -> float:
        """A configured duration (see DEFAULT_JOB_DURATIONS), scaled by the time scale."""
        return self.durations()[name] * self.time_scale()

    # --- lazy advance -------------------------------------------------------------------------

    def advance(self, job: Job, now: float) -> None:
        """Apply every transition due at or before ``now``, in time order."""
        while not job.terminal:
            step = self._next_step(job)
            if step is None or step[0] > now:
                return
            at, action = step
            if action == "desired":
                self._apply_desired(job, at)
            elif action == "start":
                self.start(job, at)
            elif action == "finish":
                self._finish_naturally(job, at)
            else:
                job.status = "idle"
                job.touch(at)

    def _next_step(self, job: Job) -> tuple[float, str] | None:
        steps: list[tuple[float, str]] = []
        if job.transition_at is not None:
            steps.append((job.transition_at, "desired"))
        if job.status == "pending":
            steps.append((job.pending_until, "start"))
        elif job.status == "running":
            if job.streaming:
                steps.append((job.last_activity + self.seconds("idle"), "idle"))
            elif job.finish_at is not None:
                steps.append((job.finish_at, "finish"))
        if not steps:
            return None
        return min(steps, key=lambda step: (step[0], _STEP_ORDER[step[1]]))

    def observe(self, job: Job, now: float, *, count: bool = True) -> str:
        """Advance the job, apply a poll-driven script, count the poll; return the status shown."""
        self.advance(job, now)
        shown = job.status
        script = job.script
        if script is not None and not job.terminal and job.desired != "canceled":
            polls = job.polls
            first_read = script.unknown_polls  # the first read not answered `unknown`
            if script.outcome == "unknown" or polls < first_read:
                shown = "unknown"
            elif script.after_polls is not None and polls >= first_read + script.after_polls:
                if script.outcome != "running":
                    if job.status == "pending":
                        self.start(job, now)
                    self.apply_outcome(job, now, script)
                shown = job.status
            elif script.after_polls is not None and polls > first_read:
                # Reads between the first and the outcome see the job running, as a poller
                # of a real job would.
                if job.status == "pending":
                    self.start(job, now)
                shown = job.status
        if count:
            job.polls += 1
        return shown

    # --- transitions --------------------------------------------------------------------------

    def start(self, job: Job, at: float) -> None:
        """pending -> running; batch-like jobs compute their rows now (table snapshots included)."""
        job.status = "running"
        job.started = at
        job.touch(at)
        job.last_activity = at
        job.log(at, "ok", None, "Job started")
        if job.streaming:
            self._flush(job)
            return
        self.on_start(job)
        holds = job.script is not None and job.script.holds
        job.finish_at = None if holds else at + self.seconds(job.type)  # the type's running time

    def _finish_naturally(self, job: Job, at: float) -> None:
        if job.script is not None:
            self.apply_outcome(job, at, job.script)
            return
        result = job.result
        error_code = getattr(result, "error_code", None)
        if error_code:
            self.fail(job, at, error_code, getattr(result, "error_message", None) or error_code)
            return
        self._complete(job, at, None)

    def apply_outcome(self, job: Job, at: float, script: JobScript) -> None:
        """End the job the way its script says."""
        if script.outcome == "failed":
            code = script.health_code or "internal_error"
            self.fail(job, at, code, script.message or "Job failed (scripted)")
        elif script.outcome == "canceled":
            self._cancel(job, at)
        elif script.outcome == "completed":
            health: dict[str, Any] | None = None
            if script.health_code:
                message = script.message or f"Job completed with error {script.health_code}"
                health = {"status": "error", "code": script.health_code, "message": message}
            elif script.warn_code:
                health = {"status": "warn", "code": script.warn_code}
            self._complete(job, at, health, message=script.message)

    def _complete(
        self, job: Job, at: float, health: dict[str, Any] | None, *, message: str | None = None
    ) -> None:
        result = job.result
        if health is None:
            health = self._health_from_result(job)
        if (
            result is not None
            and not getattr(result, "error_code", None)
            and health["status"] != "error"
        ):
            try:
                self.on_commit(job)
            except Exception as exc:  # the data plane refused the write: the job fails
                self.fail(job, at, "internal_error", f"Could not write rows: {exc}")
                return
        text = message or health.get("message") or "Job completed"
        log_entry = job.log(at, health["status"], health.get("code"), text)
        job.health = health if health["status"] == "ok" else {**health, "log": log_entry}
        self._end(job, at, "completed")

    def _health_from_result(self, job: Job) -> dict[str, Any]:
        """Health of a batch/sql job that completes: warnings from its rows, else ok."""
        result = job.result
        if result is None or job.type not in ("batch", "sql"):
            return {"status": "ok"}
        warnings: list[tuple[str, str]] = []
        if result.rows_skipped_by_error:
            first = next(iter(result.parse_errors), None)
            warnings.append((INVALID_ROWS, skipped_message(result.rows_skipped_by_error, first)))
        if result.warning_code:  # the data plane's verdict, e.g. no_rows_found: nothing written
            warnings.append((result.warning_code, result.warning_message or result.warning_code))
        if not warnings:
            return {"status": "ok"}
        if len(warnings) == 1:
            code, message = warnings[0]
        else:  # Polaris reports one code per job: JobWarningCodeV2 has `multiple` for this
            code, message = "multiple", "; ".join(text for _, text in warnings)
        return {"status": "warn", "code": code, "message": message}

    def fail(self, job: Job, at: float, code: str, message: str, status: str = "failed") -> None:
        """End the job ``status`` with health error ``code`` (e.g. too many parse errors)."""
        log_entry = job.log(at, "error", code, message)
        job.health = {"status": "error", "code": code, "message": message, "log": log_entry}
        self._end(job, at, status)

    def _cancel(self, job: Job, at: float) -> None:
        self.fail(job, at, "canceled", "The job was canceled by a user request", "canceled")

    def _end(self, job: Job, at: float, status: str) -> None:
        job.status = status
        job.completed = at
        job.touch(at)
        job.transition_at = None
        job.finish_at = None
        job.buffer.clear()
        self.on_finished(job)

    def _apply_desired(self, job: Job, at: float) -> None:
        job.transition_at = None
        if job.desired == "canceled":
            self._cancel(job, at)
        elif job.desired == "suspended":
            job.status = "suspended"
            job.touch(at)
            job.log(at, "ok", None, "Job suspended")
        elif job.status == "suspended" and job.started is None:
            self.start(job, at)  # suspended while pending: it runs for the first time now
        elif job.status == "suspended":
            job.status = "running"
            job.touch(at)
            job.last_activity = at
            job.log(at, "ok", None, "Job resumed")
            self._flush(job)

    def request(self, job: Job, desired: str, now: float) -> None:
        """Record a desired status; it takes effect the ``transition`` duration later."""
        job.desired = desired
        job.touch(now)
        job.transition_at = now + self.seconds("transition")

    def cancel_now(self, job: Job, at: float) -> None:
        """Cancel at once (a streaming job replaced by ``replaceRunning``)."""
        job.desired = "canceled"
        self._cancel(job, at)

    # --- streaming ----------------------------------------------------------------------------

    def deliver(self, job: Job, lines: list[bytes], now: float) -> bool:
        """Hand pushed events to a streaming job: ingest now, or hold them until it runs.
        False when the job had ended by now (the events did not reach it)."""
        self.advance(job, now)
        if job.terminal:
            return False
        if job.status in ("running", "idle"):
            if job.status == "idle":  # idle -> running is a state change; more events are not
                job.status = "running"
                job.touch(now)
            job.last_activity = now
            self.on_events(job, lines)
        elif len(job.buffer) < STREAM_BUFFER_LIMIT:
            job.buffer.extend(lines)
        return True

    def _flush(self, job: Job) -> None:
        if job.buffer:
            lines, job.buffer = job.buffer, []
            self.on_events(job, lines)

    def stream_parse_errors(self, job: Job, messages: Sequence[str]) -> None:
        """Log a streaming job's new parse exceptions and set its health to warn; fail it when
        its total of unparseable events now passes ``maxParseExceptions``."""
        at = job.last_activity  # the push's time (or, for held events, when the job started)
        skipped = job.totals.get("numRowsSkippedByError", 0)
        if not skipped:
            return
        logged = sum(1 for entry in job.logs if entry.get("code") == INVALID_ROWS)
        for message in messages[: max(MAX_PARSE_LOGS - logged, 0)]:
            job.log(at, "warn", INVALID_ROWS, f"Unparseable event: {message}")
        limit = job.spec.get("maxParseExceptions", MAX_INT)  # validated on create
        if skipped > limit:  # Druid's streaming task wording
            message = (
                f"Max parse exceptions [{limit}] exceeded: {skipped} events could not be parsed; "
                "see the job log for the first ones"
            )
            self.fail(job, at, "cannot_parse_source", message)
        elif job.health.get("status") == "ok":
            text = skipped_message(skipped, messages[0] if messages else None)
            entry = {"timestamp": iso(at), "healthStatus": "warn", "code": INVALID_ROWS}
            entry["message"] = text
            job.health = {"status": "warn", "code": INVALID_ROWS, "message": text, "log": entry}
            job.touch(at)  # a health change is a state change: lastUpdatedTimestamp moves


def skipped_message(count: int, first: str | None) -> str:
    """The health / log text of a job that skipped unparseable rows and carried on."""
    rows = "row" if count == 1 else "rows"
    text = f"{count} {rows} could not be parsed and were skipped (numRowsSkippedByError)"
    return f"{text}; first: {first}" if first else text


def render_job(job: Job, shown: str, *, full: bool = True) -> dict[str, Any]:
    """The JobResponse (``full``) or JobSummary shape of a job."""
    out = dict(job.spec)
    if not full and isinstance(out.get("source"), dict):
        source = out["source"]
        out["source"] = {
            k: source[k] for k in ("type", "connectionName", "tableName", "data") if k in source
        }
    out.update(
        id=job.id,
        query=job.query,
        desiredExecutionStatus=job.desired,
        executionStatus=shown,
        health=job.health,
        createdBy=job.created_by,
        lastModifiedBy=job.created_by,
        createdTimestamp=iso(job.created),
        lastUpdatedTimestamp=iso(job.updated),
        startedTimestamp=iso(job.started),
        completedTimestamp=iso(job.completed),
    )
    if full:
        out["spec"] = job.spec
    return out
