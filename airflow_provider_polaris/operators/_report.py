"""What a finished job's operator logs: its row counts, and a warning (with the fix) when it
skipped unparseable rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_polaris._task import console_url, row_counts
from airflow_provider_polaris.operators._canonical import request_of
from airflow_provider_polaris.outcomes import JobState


def report_rows(hook: Any, job: Mapping[str, Any], log: Any) -> Mapping[str, Any] | None:
    """Log the row counts of a completed job (``GET /jobs/{id}/metrics``) and warn, with the
    fix, when rows were skipped because they could not be parsed. Returns the totals.

    Best effort: a failing metrics request is logged and never fails the task.
    """
    state = JobState(job)
    job_id = state.job_id or "?"
    try:
        metrics = hook.get_client().jobs.get_metrics(job_id)
    except Exception as exc:
        log.warning(
            "Could not read the row counts of Polaris job %s (GET /jobs/%s/metrics): %s; the "
            "job itself succeeded.",
            job_id,
            job_id,
            exc,
        )
        return None
    totals = metrics.get("totals") if isinstance(metrics, Mapping) else None
    if not isinstance(totals, Mapping):
        log.warning("Polaris job %s returned no row counts (GET /jobs/%s/metrics)", job_id, job_id)
        return None
    log.info("Polaris job %s rows: %s", job_id, row_counts(totals) or "no counts reported")
    skipped = totals.get("numRowsSkippedByError")
    if isinstance(skipped, int) and not isinstance(skipped, bool) and skipped > 0:
        log.warning("%s", skipped_rows_warning(job, skipped, console_url(hook, job_id)))
    return totals


def skipped_rows_warning(job: Mapping[str, Any], skipped: int, url: str | None = None) -> str:
    """The warning for rows a job skipped as unparseable: how many, and how to fix it."""
    state = JobState(job)
    limit = request_of(job).get("maxParseExceptions")
    allowed = f" (maxParseExceptions={limit})" if limit is not None else ""
    table = f" into table {state.target_table!r}" if state.target_table else ""
    where = f" or the console ({url})" if url else ""
    return (
        f"Polaris job {state.job_id or '?'} skipped {skipped} row(s) it could not parse "
        f"(numRowsSkippedByError){table}; the job still succeeded because that count is within "
        f"its limit{allowed}. To fix: read the parse errors in GET /jobs/{state.job_id}/logs"
        f"{where}, then fix the input rows or the inputSchema dataType of the fields they name; "
        "or set max_parse_exceptions=0 to fail the job on the first bad row."
    )
