"""The one mapping of Polaris job states to task outcomes.

The sync wait, the trigger, the sensor and ``execute_complete`` all call :func:`decide_outcome`, so
a job can never be judged differently in poke, reschedule and deferrable modes. Anything this
module does not recognise fails closed: an unknown execution status, an unknown health status or a
malformed job document is a failure, never a silent success. Only ``unknown`` (which Polaris
documents as transient) keeps a wait going, and only for ``max_unknown_polls`` consecutive polls
(counted by :class:`~airflow_provider_polaris.waiting.JobWatch`).

Pure Python, no Airflow and no client imports: cheap to import and easy to test.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

OutcomeKind = Literal["success", "failure", "canceled", "waiting"]

# Statuses a job never leaves (without a new job): waits may name them as targets.
BATCH_TERMINAL = frozenset({"completed", "failed", "canceled"})
STREAMING_LIVE = frozenset({"running", "idle"})
KNOWN_EXECUTION_STATUSES = frozenset(
    {"pending", "running", "completed", "idle", "canceled", "failed", "suspended", "unknown"}
)
# Statuses a job passes through on its way somewhere else: a wait keeps going.
_IN_FLIGHT = frozenset({"pending", "running", "unknown"})
_LIVE_OR_IN_FLIGHT = frozenset({"pending", "running", "unknown", "idle", "suspended"})
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

    def _own_or_spec(self, name: str, kind: type) -> Any:
        # A full job carries ``type`` and ``target`` on top; some answers only in ``spec``.
        value = self.raw.get(name)
        if isinstance(value, kind):
            return value
        spec = self.raw.get("spec")
        return spec.get(name) if isinstance(spec, Mapping) else None

    @property
    def job_type(self) -> str | None:
        return _text(self._own_or_spec("type", str))

    @property
    def target_table(self) -> str | None:
        target = self._own_or_spec("target", Mapping)
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
        return self.execution_status in BATCH_TERMINAL

    @property
    def is_active(self) -> bool:
        """Polaris is (or will be) working on the job: reattaching to it is meaningful."""
        return self.execution_status in {"pending", "running", "idle", "unknown"}

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


def job_label(state: JobState) -> str:
    """``Polaris job <id> (<type> into '<table>')``: how messages name a job."""
    parts = [f"Polaris job {state.job_id or '<unknown id>'}"]
    if state.job_type:
        parts.append(f"({state.job_type}")
        parts[-1] += f" into {state.target_table!r})" if state.target_table else ")"
    return " ".join(parts)


def health_text(state: JobState) -> str:
    """``health <status> [<code>]: <message>``: the job's health for messages."""
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
    label = job_label(state)
    if status is None:
        return Outcome("failure", f"{label} has no executionStatus; refusing to guess its outcome.")
    if status not in KNOWN_EXECUTION_STATUSES:
        return Outcome("failure", f"{label} has an unrecognised executionStatus {status!r}.")
    health = state.health_status
    if health is not None and health not in ("ok", "warn", "error"):
        return Outcome("failure", f"{label} has an unrecognised health status {health!r}.")

    targets = {t.lower() for t in target_statuses} if target_statuses else None
    if targets is not None and status in targets and status in BATCH_TERMINAL:
        # The waiter asked for this end state itself (a cancel waits for ``canceled``, or for
        # the job to end on its own first): reaching it is what it waited for.
        warning = (
            None if status == "canceled" else f"{label} ended {status} ({health_text(state)})."
        )
        return Outcome("success", f"{label} is {status}.", warning)
    if status == "failed":
        return Outcome("failure", f"{label} failed: {health_text(state)}.")
    if status == "canceled":
        return Outcome("canceled", f"{label} was canceled.")

    if targets is not None:
        return _toward_targets(state, label, targets)

    if status == "completed":
        if health == "error":
            return Outcome("failure", f"{label} completed with errors: {health_text(state)}.")
        warning = (
            f"{label} completed with warnings: {health_text(state)}." if health == "warn" else None
        )
        return Outcome("success", f"{label} completed.", warning)
    if status == "suspended" and state.desired_status != "running":
        return Outcome("failure", f"{label} is suspended.")
    return Outcome("waiting", f"{label} is {status}.")


def _toward_targets(state: JobState, label: str, targets: set[str]) -> Outcome:
    """:func:`decide_outcome` for a wait with target statuses, once the job has not ended."""
    status, health = state.execution_status, state.health_status
    if status in targets:
        if health == "error":
            return Outcome("failure", f"{label} is {status} but unhealthy: {health_text(state)}.")
        warning = f"{label} is {status} with {health_text(state)}." if health == "warn" else None
        return Outcome("success", f"{label} is {status}.", warning)
    if state.desired_status in targets and status in _LIVE_OR_IN_FLIGHT:
        # A suspend / resume is in progress towards a target status.
        return Outcome("waiting", f"{label} is {status}, on its way to {state.desired_status}.")
    if status == "suspended" and state.desired_status != "running":
        return Outcome("failure", f"{label} is suspended.")
    if status in _IN_FLIGHT or status == "suspended":
        return Outcome("waiting", f"{label} is {status}.")
    return Outcome("failure", f"{label} is {status}, which is not one of {sorted(targets)}.")
