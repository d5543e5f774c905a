"""Never a duplicate job: find the job an earlier try of this task instance created.

Two sources, in order:

1. **Durable task state** (Airflow >= 3.3, ``context["task_state_store"]``, scoped to dag run +
   task + map index, shared by every try). The job id is written right after the create call and
   removed when the task succeeds, so a retry reattaches while clearing a *successful* task to rerun
   it submits a new job (3.3.2 keeps task state across a clear; the Airflow mixin would treat the
   old successful job as "already done").
2. **A scan of Polaris** (every Airflow line; on 3.3 only when no id was stored, e.g. the create
   response was lost): on a retry (``try_number > 1``) page through the jobs on the same target
   table newest first until one predates this DAG run's (re)start (at most 1,000 jobs), and take
   the newest one whose request matches what this try would submit (type, target, intervals,
   mode, source, query).

Either way the earlier job is reused only when it is still active or completed successfully; a
job that failed, was canceled or is being canceled (``desiredExecutionStatus`` ``canceled``) leads
to a fresh submit. XCom cannot serve here: Airflow clears a
task instance's XCom at the start of every try.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_polaris.client import PolarisNotFoundError
from airflow_provider_polaris.outcomes import JobState, decide_outcome

STATE_KEY = "polaris_job"
# The fallback scan pages newest-first until a job predates the run, up to this many jobs.
_SCAN_LIMIT = 1000
_SCAN_PAGE_SIZE = 100
# Polaris' clock and Airflow's may differ slightly.
_CLOCK_SKEW = timedelta(seconds=1)


def _store(context: Mapping[str, Any]) -> Any:
    store = context.get("task_state_store")
    return store if store is not None and hasattr(store, "get") and hasattr(store, "set") else None


def remember_job(context: Mapping[str, Any], job_id: str, log: logging.Logger | Any) -> None:
    """Persist the job id for later tries (first thing after the create call)."""
    store = _store(context)
    if store is None:
        return
    try:
        store.set(STATE_KEY, {"job_id": job_id})
    except Exception as exc:  # the job runs regardless; only reattachment is weakened
        log.warning("Could not record Polaris job %s in task state: %s", job_id, exc)


def forget_job(context: Mapping[str, Any], log: logging.Logger | Any) -> None:
    """Drop the stored id once the task succeeded, so a later clear submits a new job."""
    store = _store(context)
    if store is None:
        return
    try:
        store.delete(STATE_KEY)
    except Exception as exc:
        log.warning("Could not clear the Polaris job id from task state: %s", exc)


def _reusable(job: Mapping[str, Any], target_statuses: Any) -> bool:
    state = JobState(job)
    if state.desired_status == "canceled":
        # A cancel is in progress (Polaris keeps executionStatus running for a while): reattaching
        # would end in a non-retryable PolarisJobCanceledError.
        return False
    return state.is_active or decide_outcome(job, target_statuses=target_statuses).kind == "success"


def find_previous_job(
    context: Mapping[str, Any],
    client: Any,
    body: Mapping[str, Any],
    log: logging.Logger | Any,
    *,
    target_statuses: Any = None,
) -> Mapping[str, Any] | None:
    """The earlier try's job to reattach to, or ``None`` to submit a new one."""
    store = _store(context)
    stored_id = None
    if store is not None:
        try:
            record = store.get(STATE_KEY)
        except Exception as exc:
            log.warning(
                "Could not read task state (%s); looking for an earlier job in Polaris", exc
            )
            record = None
        if isinstance(record, Mapping) and isinstance(record.get("job_id"), str):
            stored_id = record["job_id"]
    if stored_id:
        try:
            job = client.jobs.get(stored_id)
        except PolarisNotFoundError:
            log.warning(
                "Polaris job %s recorded by an earlier try no longer exists; submitting a new one",
                stored_id,
            )
            return None
        if _reusable(job, target_statuses):
            log.info(
                "Reattaching to Polaris job %s from an earlier try (%s)",
                stored_id,
                JobState(job).describe(),
            )
            return job
        log.info(
            "Polaris job %s from an earlier try ended %s; submitting a new job",
            stored_id,
            JobState(job).describe(),
        )
        return None

    ti = context.get("ti") or context.get("task_instance")
    try_number = getattr(ti, "try_number", 1) or 1
    if try_number <= 1:
        return None
    return _scan(context, client, body, log, target_statuses)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _run_started(context: Mapping[str, Any]) -> datetime | None:
    dag_run = context.get("dag_run")
    for attr in ("start_date", "queued_at"):
        value = _parse_time(getattr(dag_run, attr, None))
        if value is not None:
            return value
    return None


def _norm_interval(value: Any) -> Any:
    if not isinstance(value, str) or "/" not in value:
        return value
    ends = [_parse_time(part) for part in value.split("/", 1)]
    return tuple(ends) if all(ends) else value


def _fingerprint(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that identify a request (absent fields are compared only if both have them)."""
    nested = doc.get("spec")
    spec: Mapping[str, Any] = nested if isinstance(nested, Mapping) else doc
    out: dict[str, Any] = {}
    for key in ("type", "ingestionMode", "query"):
        if spec.get(key) is not None:
            out[key] = spec[key].strip() if isinstance(spec[key], str) else spec[key]
    target = spec.get("target")
    if isinstance(target, Mapping):
        if target.get("tableName") is not None:
            out["target.tableName"] = target["tableName"]
        if target.get("intervals"):
            out["target.intervals"] = sorted(str(_norm_interval(i)) for i in target["intervals"])
    source = spec.get("source")
    if isinstance(source, Mapping):
        for key in ("type", "tableName", "connectionName"):
            if source.get(key) is not None:
                out[f"source.{key}"] = source[key]
        if source.get("interval") is not None:
            out["source.interval"] = str(_norm_interval(source["interval"]))
        if source.get("fileList") is not None:
            out["source.fileList"] = sorted(source["fileList"])
    return out


def same_request(job: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Does ``job`` look like the result of submitting ``body``?"""
    ours, theirs = _fingerprint(body), _fingerprint(job)
    if ours.get("type") != theirs.get("type"):
        return False
    if "ingestionMode" in ours and theirs.get("ingestionMode", "append") != ours["ingestionMode"]:
        return False
    return all(theirs[key] == value for key, value in ours.items() if key in theirs)


def _scan(
    context: Mapping[str, Any], client: Any, body: Mapping[str, Any], log: Any, target_statuses: Any
) -> Mapping[str, Any] | None:
    since = _run_started(context)
    if since is None:
        log.info(
            "Retry without a DAG run start time; cannot look for an earlier Polaris job safely"
        )
        return None
    target = body.get("target")
    table = target.get("tableName") if isinstance(target, Mapping) else None
    filters: dict[str, Any] = {
        "sort_column": "created_date_time",
        "sort_order": "DESC",
        "page_size": _SCAN_PAGE_SIZE,
    }
    if table:
        filters["target_table_name"] = table
    if isinstance(body.get("type"), str):
        filters["type"] = [body["type"]]
    candidates: list[str] = []
    try:
        # Newest first: stop at the first job created before this run (re)started.
        for seen, summary in enumerate(client.jobs.iter_all(**filters), start=1):
            if seen > _SCAN_LIMIT:
                log.warning(
                    "Stopped looking for an earlier try's Polaris job after %s jobs", _SCAN_LIMIT
                )
                break
            if not isinstance(summary, Mapping) or not isinstance(summary.get("id"), str):
                continue
            created = _parse_time(summary.get("createdTimestamp"))
            if created is None:
                continue
            if created < since - _CLOCK_SKEW:
                break
            candidates.append(summary["id"])
    except Exception as exc:
        log.warning(
            "Could not list Polaris jobs to find an earlier try's job (%s); submitting a new one",
            exc,
        )
        return None
    for job_id in candidates:
        try:
            job = client.jobs.get(job_id)
        except PolarisNotFoundError:
            continue
        if not same_request(job, body):
            continue
        if _reusable(job, target_statuses):
            log.info(
                "Retry: reattaching to Polaris job %s created by an earlier try (%s)",
                job.get("id"),
                JobState(job).describe(),
            )
            return job
        log.info(
            "Retry: the earlier try's Polaris job %s ended %s; submitting a new job",
            job.get("id"),
            JobState(job).describe(),
        )
        return None
    return None
