"""Never a duplicate job, never another task's job: find the job an earlier try of this task
instance created.

A retry may adopt only

(a) **the job this task instance recorded** (Airflow >= 3.3, ``context["task_state_store"]``,
    scoped to dag run + task + map index and shared by every try). Before the create call the
    operator records its *intent* (the canonical request's hash and when the task instance's first
    try started); right after the call, the job id. The record is removed when the task succeeds,
    so clearing a *successful* task to rerun it submits a new job;
(b) when no job id is recorded (Airflow < 3.3; or the create reached Polaris but its response
    was lost; or the store could not be read), **a job whose whole request equals this try's**
    (:mod:`._canonical`: every source field, mappings, filter, target, intervals, mode, flags)
    **and that Polaris created after this task instance's first try began**. On 3.3 with a
    readable store the scan runs only when an intent was recorded without a job id (no intent:
    no earlier try reached the create, so there is nothing to find).

Either way the earlier job is reused only when it is still active or completed successfully; a
job that failed, was canceled or is being canceled (``desiredExecutionStatus`` ``canceled``) leads
to a fresh submit. XCom cannot serve here: Airflow clears a task instance's XCom at the start of
every try.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_polaris.operators._canonical import (
    request_hash,
    request_of,
    same_whole_request,
)
from airflow_provider_polaris.operators._intervals import interval_ends, parse_instant
from airflow_provider_polaris.outcomes import JobState, decide_outcome

STATE_KEY = "polaris_job"
# The fallback scan pages newest-first until a job predates the first try, up to this many jobs.
_SCAN_LIMIT = 1000
_SCAN_PAGE_SIZE = 100
# Polaris' clock and Airflow's may differ slightly.
_CLOCK_SKEW = timedelta(seconds=1)
# _read_record's answer when the store exists but reading it failed.
_UNREADABLE = object()


def _store(context: Mapping[str, Any]) -> Any:
    store = context.get("task_state_store")
    return store if store is not None and hasattr(store, "get") and hasattr(store, "set") else None


def _read_record(context: Mapping[str, Any], log: Any) -> Any:
    """The stored record (a mapping), ``None`` (no store, or nothing stored) or ``_UNREADABLE``."""
    store = _store(context)
    if store is None:
        return None
    try:
        record = store.get(STATE_KEY)
    except Exception as exc:
        log.warning("Could not read task state (%s); looking for an earlier job in Polaris", exc)
        return _UNREADABLE
    return dict(record) if isinstance(record, Mapping) else None


def _ti(context: Mapping[str, Any]) -> Any:
    return context.get("ti") or context.get("task_instance")


def record_intent(
    context: Mapping[str, Any], body: Mapping[str, Any], log: logging.Logger | Any
) -> None:
    """Before the create call: record which request this task instance is about to submit and
    when it first got there (kept from an earlier try's record), so a retry can find the job even
    when the create's response never arrived. (The moment, not ``ti.start_date``: Airflow 3's
    ``dag.test()`` reports a start date from before the run's DAG parsing.)"""
    store = _store(context)
    if store is None:
        return
    try:
        record = store.get(STATE_KEY)
        since = record.get("since") if isinstance(record, Mapping) else None
        if not isinstance(since, str) or parse_instant(since) is None:
            since = datetime.now(timezone.utc).isoformat()
        store.set(STATE_KEY, {"job_id": None, "request": request_hash(body), "since": since})
    except Exception as exc:  # the job runs regardless; a retry falls back to the scan
        log.warning("Could not record the Polaris job request in task state: %s", exc)


def remember_job(context: Mapping[str, Any], job_id: str, log: logging.Logger | Any) -> None:
    """Persist the job id for later tries (first thing after the create call)."""
    store = _store(context)
    if store is None:
        return
    try:
        record = store.get(STATE_KEY)
        merged = dict(record) if isinstance(record, Mapping) else {}
        store.set(STATE_KEY, {**merged, "job_id": job_id})
    except Exception as exc:  # the job runs regardless; only reattachment is weakened
        log.warning("Could not record Polaris job %s in task state: %s", job_id, exc)


def forget_job(context: Mapping[str, Any], log: logging.Logger | Any) -> None:
    """Drop the stored record once the task succeeded, so a later clear submits a new job."""
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
    record = _read_record(context, log)
    stored_id = record.get("job_id") if isinstance(record, dict) else None
    if isinstance(stored_id, str) and stored_id:
        return _stored_job(client, stored_id, record, body, log, target_statuses)
    try_number = getattr(_ti(context), "try_number", 1) or 1
    if try_number <= 1:
        return None
    if record is _UNREADABLE or _store(context) is None:
        return _scan(client, body, log, target_statuses, first_try_started(context, log))
    # A readable store: every try records its intent before its create call.
    since = parse_instant(record.get("since")) if isinstance(record, dict) else None
    if not isinstance(record, dict) or since is None:
        log.info("No earlier try of this task instance submitted a Polaris job")
        return None
    if record.get("request") != request_hash(body):
        log.info("The earlier try submitted a different Polaris request; submitting this one")
        return None
    return _scan(client, body, log, target_statuses, since)


def _stored_job(
    client: Any,
    job_id: str,
    record: Mapping[str, Any],
    body: Mapping[str, Any],
    log: Any,
    target_statuses: Any,
) -> Mapping[str, Any] | None:
    """Rule (a): the job this task instance recorded."""
    from airflow_provider_polaris.client.errors import PolarisNotFoundError

    try:
        job = client.jobs.get(job_id)
    except PolarisNotFoundError:
        log.warning(
            "Polaris job %s recorded by an earlier try no longer exists; submitting a new one",
            job_id,
        )
        return None
    if not _reusable(job, target_statuses):
        log.info(
            "Polaris job %s from an earlier try ended %s; submitting a new job",
            job_id,
            JobState(job).describe(),
        )
        return None
    if record.get("request") not in (None, request_hash(body)):
        # Still this task instance's job; its request rendered differently then (changed DAG?).
        log.warning(
            "Polaris job %s was submitted by an earlier try with a different request than this "
            "try renders; reattaching to it anyway (clear the task to submit the new request)",
            job_id,
        )
    log.info(
        "Reattaching to Polaris job %s from an earlier try (%s)", job_id, JobState(job).describe()
    )
    return job


def _run_started(context: Mapping[str, Any]) -> datetime | None:
    dag_run = context.get("dag_run")
    for attr in ("start_date", "queued_at"):
        value = parse_instant(getattr(dag_run, attr, None))
        if value is not None:
            return value
    return None


def first_try_started(context: Mapping[str, Any], log: Any) -> datetime | None:
    """When this task instance's first try (since its last success) began, without task state.

    The later of the DAG run's (re)start and, where the task instance's try history is readable
    (an Airflow 2 ``TaskInstance`` with database access: ``TaskInstanceHistory``, 2.10+), the
    start of its earliest try after its last successful one. A try that already succeeded and
    was cleared therefore never adopts the job of that successful try.
    """
    bounds = [t for t in (_run_started(context), _history_first_try(_ti(context), log)) if t]
    return max(bounds) if bounds else None


def _history_first_try(ti: Any, log: Any) -> datetime | None:
    # Only an ORM task instance can read its history; Airflow 3's task SDK instance has no
    # database access (there, the recorded intent carries the first try's start).
    if type(ti).__module__ != "airflow.models.taskinstance":
        return None
    try:
        from airflow.models.taskinstancehistory import TaskInstanceHistory as Tih
        from airflow.utils.session import create_session
        from sqlalchemy.orm import object_session

        query = lambda session: (  # noqa: E731
            session.query(Tih.try_number, Tih.start_date, Tih.state)
            .filter(
                Tih.dag_id == ti.dag_id,
                Tih.task_id == ti.task_id,
                Tih.run_id == ti.run_id,
                Tih.map_index == ti.map_index,
                Tih.try_number < ti.try_number,
            )
            .order_by(Tih.try_number)
            .all()
        )
        # The task instance's own session sees what its runner flushed but not yet committed.
        own = object_session(ti)
        if own is not None:
            rows = query(own)
        else:
            with create_session() as session:
                rows = query(session)
    except Exception as exc:  # no history table or no database access: the run start bounds
        log.warning("Could not read this task instance's earlier tries (%s)", exc)
        return None
    since_success: list[datetime] = []
    for _, started, state in rows:
        began = parse_instant(started)
        if str(getattr(state, "value", state)) == "success":
            since_success = []  # a cleared successful try: a new sequence of tries begins
        elif began is not None:
            since_success.append(began)
    if since_success:
        return min(since_success)
    return parse_instant(getattr(ti, "start_date", None)) if rows else None


def _norm_interval(value: Any) -> Any:
    return interval_ends(value) or value


def _fingerprint(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``if_running="keep"`` compares (absent fields only if both have them)."""
    spec = request_of(doc)
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
    """Loose match for ``PolarisStreamingJobOperator(if_running="keep")`` only: same type,
    table, source type and connection. Retries never use it (see :func:`same_whole_request`)."""
    ours, theirs = _fingerprint(body), _fingerprint(job)
    if ours.get("type") != theirs.get("type"):
        return False
    if "ingestionMode" in ours and theirs.get("ingestionMode", "append") != ours["ingestionMode"]:
        return False
    return all(theirs[key] == value for key, value in ours.items() if key in theirs)


def _could_match(summary: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Cheap pre-check on a list entry (its ``source`` is cut down to a few fields)."""
    source, ours = summary.get("source"), body.get("source")
    if not isinstance(source, Mapping) or not isinstance(ours, Mapping):
        return True
    return all(
        source[key] == ours.get(key)
        for key in ("type", "connectionName", "tableName", "data")
        if source.get(key) is not None
    )


def _candidates(client: Any, body: Mapping[str, Any], since: datetime, log: Any) -> list[str]:
    """Ids of the jobs on the target table created since ``since``, newest first."""
    target = body.get("target")
    table = target.get("tableName") if isinstance(target, Mapping) else None
    job_type = body.get("type")
    summaries = client.jobs.iter_all(
        target_table_name=table or None,
        type=[job_type] if isinstance(job_type, str) else None,
        sort_column="created_date_time",
        sort_order="DESC",
        page_size=_SCAN_PAGE_SIZE,
    )
    out: list[str] = []
    for seen, summary in enumerate(summaries, start=1):
        if seen > _SCAN_LIMIT:
            log.warning(
                "Stopped looking for an earlier try's Polaris job after %s jobs", _SCAN_LIMIT
            )
            break
        if not isinstance(summary, Mapping) or not isinstance(summary.get("id"), str):
            continue
        created = parse_instant(summary.get("createdTimestamp"))
        if created is None:
            continue
        if created < since - _CLOCK_SKEW:
            break
        if _could_match(summary, body):
            out.append(summary["id"])
    return out


def _scan(
    client: Any, body: Mapping[str, Any], log: Any, target_statuses: Any, since: datetime | None
) -> Mapping[str, Any] | None:
    """Rule (b): the newest job with this whole request created since the first try began."""
    from airflow_provider_polaris.client.errors import PolarisNotFoundError

    if since is None:
        log.info("Retry without a known first-try start; cannot look for an earlier job safely")
        return None
    try:
        candidates = _candidates(client, body, since, log)
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
        if not same_whole_request(job, body):
            continue
        if _reusable(job, target_statuses):
            log.info(
                "Retry: reattaching to Polaris job %s, submitted with this exact request since "
                "this task's first try began (%s)",
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
