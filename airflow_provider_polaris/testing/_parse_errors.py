"""How unparseable rows show in a job: metrics, logs, health and ``maxParseExceptions``.

polaris-api.md §3-§4: rows that can't be parsed (bad JSON, a value that doesn't convert to its
``inputSchema`` type, a NULL ``__time`` in a stream) are skipped and counted in ``/metrics``
``numRowsSkippedByError``; the job fails once that count passes ``maxParseExceptions``
(``0`` fails on the first bad row; the default 2147483647 never fails). A job that skipped rows
and did not fail completes (or keeps streaming) with health ``warn`` / ``invalid_rows_found``.
Only streaming jobs write one log entry per unparseable event (§4, "Only streaming jobs write
parse-exception logs"); a batch job logs the count once, with its health.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._clock import iso
from ._rules import MAX_INT

if TYPE_CHECKING:  # _jobs imports this module for the batch health text
    from ._lifecycle import Job

MAX_PARSE_LOGS = 100  # parse-exception entries kept per streaming job (the first ones)
INVALID_ROWS = "invalid_rows_found"


def skipped_message(count: int, first: str | None) -> str:
    """The health / log text of a job that skipped unparseable rows and carried on."""
    rows = "row" if count == 1 else "rows"
    text = f"{count} {rows} could not be parsed and were skipped (numRowsSkippedByError)"
    return f"{text}; first: {first}" if first else text


def note_stream_errors(job: Job, messages: Sequence[str], at: float) -> str | None:
    """Log a streaming job's new parse exceptions and set its health to warn; return the
    failure message when its total of unparseable events now passes ``maxParseExceptions``."""
    skipped = job.totals.get("numRowsSkippedByError", 0)
    if not skipped:
        return None
    logged = sum(1 for entry in job.logs if entry.get("code") == INVALID_ROWS)
    for message in messages[: max(MAX_PARSE_LOGS - logged, 0)]:
        job.log(at, "warn", INVALID_ROWS, f"Unparseable event: {message}")
    limit = job.spec.get("maxParseExceptions", MAX_INT)  # validated on create
    if skipped > limit:  # Druid's streaming task wording
        return (
            f"Max parse exceptions [{limit}] exceeded: {skipped} events could not be parsed; "
            "see the job log for the first ones"
        )
    if job.health.get("status") == "ok":
        text = skipped_message(skipped, messages[0] if messages else None)
        entry = {
            "timestamp": iso(at),
            "healthStatus": "warn",
            "code": INVALID_ROWS,
            "message": text,
        }
        job.health = {"status": "warn", "code": INVALID_ROWS, "message": text, "log": entry}
        job.touch(at)  # a health change is a state change: lastUpdatedTimestamp moves
    return None
