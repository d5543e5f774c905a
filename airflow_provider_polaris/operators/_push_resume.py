"""The push operator's two safeguards around a push: is anybody reading, and where to resume.

- :func:`check_reader`: one ``GET /jobs`` call before pushing. Polaris accepts events pushed to a
  ``push_streaming`` connection that no streaming job reads, and stores none of them. A job
  *reads* the connection when it is a streaming job with ``source.connectionName`` equal to it,
  ``executionStatus`` ``pending`` (starting: Polaris hands it the events once it runs),
  ``running`` or ``idle`` (live, nothing to read at the moment), and it is not being canceled or
  suspended (``desiredExecutionStatus``). A ``suspended`` job is named in the message but does
  not count: it reads nothing until resumed.
- :class:`PushResume`: on Airflow 3.3+ (``context["task_state_store"]``) the lines not delivered
  yet are recorded every ``checkpoint_seconds`` and when the push stops (``events._watermark``);
  a retry reads the record and pushes only those lines; success deletes it. Without a task state
  store (Airflow < 3.3) nothing is recorded: a retry pushes everything again, and a failure that
  the task survives logs the line to resume from (``push_options={"start_line": N}``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from airflow_provider_polaris._compat import AirflowFailException
from airflow_provider_polaris.events._report import format_ranges
from airflow_provider_polaris.events._watermark import (
    Checkpointer,
    Range,
    ResumeControl,
    from_record,
    skip_delivered,
    to_record,
)
from airflow_provider_polaris.operators._reattach import _store

#: Task state key of the push's progress (one per task instance; every try shares it).
STATE_KEY = "polaris_push"
#: ``executionStatus`` values of a streaming job that reads its connection.
READER_STATUSES = ("pending", "running", "idle")


def _describe_job(job: Mapping[str, Any]) -> str:
    return f"{job.get('id')} ({job.get('executionStatus')})"


def check_reader(client: Any, connection_name: str, required: bool, log: Any) -> None:
    """Warn (or, ``required``, fail) when no streaming job reads ``connection_name``."""
    try:
        page = client.jobs.list(
            type=["streaming"],
            connection_name=[connection_name],
            execution_status=[*READER_STATUSES, "suspended"],
        )
    except Exception as exc:
        if required:
            raise
        log.warning(
            "could not check whether a streaming job reads push connection %r (%s); pushing anyway",
            connection_name,
            exc,
        )
        return
    jobs = [
        job
        for job in (page.get("values") or [])
        if isinstance(job, Mapping)
        and (job.get("source") or {}).get("connectionName", connection_name) == connection_name
    ]
    readers = [
        job
        for job in jobs
        if job.get("executionStatus") in READER_STATUSES
        and job.get("desiredExecutionStatus") not in ("canceled", "suspended")
    ]
    if readers:
        log.info(
            "push connection %r is read by streaming job(s) %s",
            connection_name,
            ", ".join(_describe_job(job) for job in readers),
        )
        return
    # No reader: every job found is suspended, or being canceled or suspended.
    also = (
        f" (not reading: {', '.join(_describe_job(job) for job in jobs)}; resume it)"
        if jobs
        else ""
    )
    if required:
        raise AirflowFailException(
            f"no running streaming job reads push connection {connection_name!r} "
            f"(require_reader=True): Polaris would accept the events and store none; start a "
            f"streaming job on it first (PolarisStreamingJobOperator), or set "
            f"require_reader=False to push anyway{also}"
        )
    log.warning(
        "Polaris accepts events pushed to connection %r but no running streaming job reads "
        "it, so they are not stored: start a streaming job on it (PolarisStreamingJobOperator) "
        "or set require_reader=True to fail instead%s",
        connection_name,
        also,
    )


def _describe_ranges(ranges: list[Range]) -> str:
    shown = [(first, last if last is not None else first) for first, last in ranges]
    text = format_ranges(shown)
    return text + "-end" if ranges and ranges[-1][1] is None else text


class PushResume:
    """Reads, records and clears a push's progress in the task state store (see the module)."""

    def __init__(self, context: Any, connection_name: str, log: Any, *, enabled: bool) -> None:
        self.control = ResumeControl()
        self._store = _store(context) if enabled else None
        self._connection_name = connection_name
        self._log = log
        self._checkpointer: Checkpointer | None = None
        if enabled and self._store is None:
            log.info(
                "no task state store (Airflow < 3.3, or run outside a task): the push's "
                "progress is not recorded, so a retry after a crash pushes every event "
                "again (see docs/events.md)"
            )

    def _read(self, identity: dict[str, Any]) -> list[Range] | None:
        assert self._store is not None
        try:
            record = self._store.get(STATE_KEY)
        except Exception as exc:
            self._log.warning("could not read the push's progress (%s); pushing everything", exc)
            return None
        if record is None:
            return None
        ranges = from_record(record)
        if ranges is None or any(record.get(k) != v for k, v in identity.items()):
            self._log.warning(
                "an earlier try recorded progress for another push (%s, now %s); pushing "
                "everything",
                {k: record.get(k) for k in identity} if isinstance(record, dict) else record,
                identity,
            )
            return None
        return ranges

    @contextmanager
    def checkpoints(self, events: Any, interval: float, source: str | None) -> Iterator[Any]:
        """Yield ``events`` (minus what an earlier try delivered) while recording progress."""
        if self._store is None:
            yield events
            return
        sized = isinstance(events, (list, tuple))
        identity = {
            "connection": self._connection_name,
            "input": f"{len(events)} events" if sized else source,
        }
        base = self._read(identity)
        if base is not None:
            self._log.info(
                "resuming the push of an earlier try: lines not delivered yet: %s (the others "
                "were acknowledged by Polaris and are skipped)",
                _describe_ranges(base) or "none",
            )
            events = skip_delivered(events, base)
        store = self._store

        def write(ranges: list[Range]) -> None:
            store.set(STATE_KEY, to_record(ranges, **identity))

        with Checkpointer(self.control, write, interval=interval, base=base) as checkpointer:
            self._checkpointer = checkpointer
            yield events

    def stopped(self, report: Any) -> None:
        """The push failed or was stopped: record exactly what it left undelivered."""
        if self._checkpointer is None or report is None:
            return
        ranges = self._checkpointer.final(report)
        if ranges:
            self._log.error(
                "recorded for the next try: lines %s are not delivered; a retry pushes only those",
                _describe_ranges(ranges),
            )

    def succeeded(self) -> None:
        """Every event was delivered: forget the progress, so a clear-and-rerun pushes all."""
        if self._store is None:
            return
        try:
            self._store.delete(STATE_KEY)
        except Exception as exc:
            self._log.warning("could not clear the push's progress from task state: %s", exc)
