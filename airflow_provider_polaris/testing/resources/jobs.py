"""Jobs (polaris-api.md §4): create (with ``createTableIfNotExists``), read and poll, change
the desired status, reset, list with every filter, and the emulator's scripted fates.

Records and their lifecycle are in ``_lifecycle.py``; what a job may reference is in
``_core.py`` (it spans tables and connections).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._core import StateCore
from .._errors import bad, found, not_found
from .._http import RouteTable, collection, json_body, json_response, read
from .._jobspec import is_aggregation, validate_job
from .._lifecycle import OUTCOMES, Job, JobScript, render_job, zero_totals
from .._rules import (
    DEFAULT_PARTITIONING,
    DELETION_JOB_TYPES,
    DESIRED_STATUSES,
    EXECUTION_STATUSES,
    HEALTH_STATUSES,
    JOB_SORT_COLUMNS,
    JOB_TYPES,
    Params,
    check_enum,
)
from .tables import validate_table

JobFilter = Callable[[Job, float], "str | None"]


class JobsApi(StateCore):
    """Job requests and the jobs' control surface (scripts, the internal view)."""

    def _clear(self) -> None:
        super()._clear()
        self.next_scripts: list[JobScript] = []

    def script_job(self, job_id: str | None = None, **fate: Any) -> None:
        """Script the fate of a job id, or of the next created job (optionally for ``table``)."""
        script = JobScript(**fate)
        if script.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        for name in ("after_polls", "unknown_polls"):
            value = getattr(script, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
        with self.lock:
            if job_id is None:
                self.next_scripts.append(script)
                return
            job = self.jobs.get(job_id)
            if job is None:
                raise KeyError(job_id)
            job.script = script
            job.polls = 0
            if job.status == "running" and not job.streaming:
                if script.holds:
                    job.finish_at = None
                elif job.finish_at is None and job.started is not None:
                    job.finish_at = job.started + self.lifecycle.seconds(job.type)

    def internal_job(self, job_id: str) -> dict[str, Any]:
        """The full job as clients see it plus emulator-only fields (polls, script); not a poll."""
        with self.lock:
            job = self._job(job_id)
            shown = self.lifecycle.observe(job, self.clock.now(), count=False)
            self.dataplane.settle_events()  # events it held until now are counted too
            out = render_job(job, shown)
            out["_emulator"] = {
                "polls": job.polls,
                "resets": job.resets,
                "metrics": dict(job.totals or zero_totals()),
                "script": None if job.script is None else vars(job.script).copy(),
                "bufferedEvents": len(job.buffer),
            }
            return out

    def _job(self, job_id: str) -> Job:
        job = found(self.jobs, job_id, "Job", "jobId")
        if job.streaming:
            self.dataplane.settle_events()  # staged events' counts, health and logs first
        return job

    def _advanced(self, job_id: str) -> tuple[Job, float]:
        """The job brought up to now, and now (the caller holds the lock)."""
        job, now = self._job(job_id), self.clock.now()
        self.lifecycle.advance(job, now)
        if job.streaming:
            self.dataplane.settle_events()  # events it held until now are counted too
        return job, now

    def create_job(self, body: Any, principal: dict[str, str]) -> dict[str, Any]:
        """POST /jobs: validate, auto-create the table if asked, register the job (pending)."""
        with self.lock:
            spec, table_name = validate_job(body)
            now = self.clock.now()
            table = self.tables.get(table_name)
            kind = spec["type"]
            if table is None and not (
                kind in ("batch", "streaming", "sql") and spec.get("createTableIfNotExists")
            ):
                raise not_found(f"Table {table_name} does not exist", "target.tableName")
            if table is not None and self._availability(table_name) == "deleting":
                raise bad(f"Table {table_name} is being dropped", "target.tableName")
            self._check_job_references(spec, table, table_name, now)
            if table is None:
                self._store_table(self._table_from_job(spec, table_name), principal, now)
            job = Job(
                id=str(uuid.uuid4()),
                type=kind,
                spec=spec,
                table=table_name,
                created=now,
                created_by=principal,
                pending_until=now + self.lifecycle.seconds("pending"),
                updated=now,
                query=spec.get("query") if kind == "sql" else None,
                totals=zero_totals(),
                seq=len(self.jobs),
            )
            job.touch(now)
            job.log(now, "ok", None, "Job created")
            self._register(job)
            return render_job(job, job.status)

    def _register(self, job: Job) -> None:
        """Give a new job the first script waiting for it; index a streaming one by connection."""
        for i, script in enumerate(self.next_scripts):
            if script.table in (None, job.table):
                job.script = self.next_scripts.pop(i)
                break
        self.jobs[job.id] = job
        if job.streaming:
            reads = (job.spec.get("source") or {}).get("connectionName")
            if isinstance(reads, str):
                self._readers.setdefault(reads, []).append(job)

    def _table_from_job(self, spec: dict[str, Any], name: str) -> dict[str, Any]:
        """The table ``createTableIfNotExists`` makes: aggregate when a mapping aggregates,
        every column typed from its expression and the types of what it reads."""
        source = spec.get("source") or {}
        source_table = self.tables.get(source.get("tableName", "")) if source else None
        inferred = self.dataplane.output_columns(spec, source_table)
        if spec.get("mappings"):
            columns = [
                (m["columnName"], m["expression"], is_aggregation(m)) for m in spec["mappings"]
            ]
        else:  # a SQL job: its SELECT list
            columns = [(c.name, "", c.aggregate) for c in inferred]
        types = {c.name: c.data_type for c in inferred}
        input_types = {f["name"]: f["dataType"] for f in source.get("inputSchema") or []}
        aggregate = any(measure for _, _, measure in columns)
        schema: list[dict[str, Any]] = []
        for column, expression, measure in columns:
            if column == "__time":
                continue
            data_type = types.get(column) or _fallback_type(expression, measure, input_types)
            entry = {"name": column, "dataType": data_type}
            if aggregate:
                entry["type"] = "measure" if measure else "dimension"
            schema.append(entry)
        table = {
            "name": name,
            "type": "aggregate" if aggregate else "detail",
            "schemaMode": "strict" if aggregate else "flexible",
            "partitioningGranularity": spec.get("partitionedBy") or DEFAULT_PARTITIONING,
            "schema": schema,
        }
        if spec.get("clusteringColumns"):
            table["clusteringColumns"] = spec["clusteringColumns"]
        return validate_table(table, creating=True)

    def get_job(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id} (counts as a poll)."""
        with self.lock:
            job = self._job(job_id)
            return render_job(job, self.lifecycle.observe(job, self.clock.now()))

    def job_status(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}/status (counts as a poll)."""
        with self.lock:
            job = self._job(job_id)
            return {"executionStatus": self.lifecycle.observe(job, self.clock.now())}

    def set_desired(self, job_id: str, body: Any) -> Job:
        """POST /jobs/{id}/status and PUT /jobs/{id}: cancel, suspend or resume."""
        with self.lock:
            job = self._job(job_id)
            if not isinstance(body, dict):
                raise bad("The request body must be a JSON object")
            desired = check_enum(
                body.get("desiredExecutionStatus"), DESIRED_STATUSES, "desiredExecutionStatus"
            )
            now = self.clock.now()
            # A poll-scripted fate that is due applies before the request is judged: a job
            # scripted to end after N reads has ended, whichever request comes next.
            self.lifecycle.observe(job, now, count=False)
            if job.type in DELETION_JOB_TYPES:
                raise bad(f"{job.type} jobs can't be updated or canceled", "desiredExecutionStatus")
            # Asking for the desired status a job already has changes nothing (§4: `running`
            # is every job's default): 200 with the job as it is, also once it has ended.
            if desired == job.desired or (desired == "canceled" and job.status == "canceled"):
                return job
            if desired != "canceled" and not job.streaming:
                raise bad(
                    "Only streaming jobs can be suspended or resumed; cancel a "
                    f"{job.type} job with desiredExecutionStatus canceled",
                    "desiredExecutionStatus",
                )
            if job.terminal:
                raise bad(f"Job {job.id} is already {job.status}", "desiredExecutionStatus")
            self.lifecycle.request(job, desired, now)
            return job

    def render(self, job: Job, *, count: bool = False) -> dict[str, Any]:
        """A job as clients see it right now."""
        with self.lock:
            return render_job(job, self.lifecycle.observe(job, self.clock.now(), count=count))

    def job_progress(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}/progress."""
        with self.lock:
            job, now = self._advanced(job_id)
            if job.status == "completed":
                progress = 1.0
            elif job.status == "running" and job.finish_at and job.started is not None:
                span = max(job.finish_at - job.started, 1e-9)
                progress = min(max((now - job.started) / span, 0.0), 0.99)
            else:
                progress = 0.0
            return {"overallProgress": round(progress, 4)}

    def job_metrics(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}/metrics."""
        with self.lock:
            return {"totals": dict(self._advanced(job_id)[0].totals)}

    def job_logs(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}/logs (newest last)."""
        with self.lock:
            return {"logs": list(self._advanced(job_id)[0].logs)}

    def reset_job(self, job_id: str) -> None:
        """POST /jobs/{id}/reset: streaming jobs only; the offset goes back to readFromPoint."""
        with self.lock:
            job, now = self._advanced(job_id)
            if not job.streaming:
                raise bad("Only streaming jobs can be reset", "jobId")
            if job.terminal:
                raise bad(f"Job {job.id} is {job.status}", "jobId")
            job.resets += 1
            job.touch(now)
            job.log(now, "ok", None, f"Offsets reset to {job.spec.get('readFromPoint', 'latest')}")

    def list_jobs(self, params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """GET /jobs with every documented filter, sort and offset pagination."""
        with self.lock:
            query = Params(params)
            keep = self._job_filter(query)
            sort_column = check_enum(
                query.one("sortColumn") or "last_updated_date_time", JOB_SORT_COLUMNS, "sortColumn"
            )
            descending = query.descending("DESC")
            limit = query.integer("paginationLimit", 100, 1, 1000)
            offset = query.integer("paginationOffset", 0, 0)
            self.dataplane.settle_events()  # streaming jobs' health as of their last push
            now = self.clock.now()
            matched = [(job, shown) for job in self.jobs.values() if (shown := keep(job, now))]
            matched.sort(
                key=lambda item: _job_sort_key(item[0], item[1], sort_column), reverse=descending
            )
            page = matched[offset : offset + limit]
            for job, _ in page:
                job.polls += 1
            return {
                "values": [render_job(job, shown, full=False) for job, shown in page],
                "moreResultsAvailable": offset + limit < len(matched),
            }

    def _job_filter(self, query: Params) -> JobFilter:
        """The list's filters as one test: the status a kept job shows now, None if left out."""
        types = query.many("type", JOB_TYPES)
        statuses = query.many("executionStatus", EXECUTION_STATUSES)
        healths = query.many("healthStatus", HEALTH_STATUSES)
        connections = query.many("connectionName")
        table_name, table_id = query.one("targetTableName"), query.one("targetTableId")
        search = (query.one("searchString") or "").lower()
        table_id_name = None
        if table_id is not None:
            table_id_name = next((n for n, t in self.tables.items() if t["id"] == table_id), "\x00")

        def keep(job: Job, now: float) -> str | None:
            if types and job.type not in types:
                return None
            if table_name is not None and job.table != table_name:
                return None
            if table_id_name is not None and job.table != table_id_name:
                return None
            source = job.spec.get("source") or {}
            if connections and source.get("connectionName") not in connections:
                return None
            shown = self.lifecycle.observe(job, now, count=False)
            if statuses and shown not in statuses:
                return None
            if healths and job.health.get("status") not in healths:
                return None
            if search and not _job_matches(job, shown, search):
                return None
            return shown

        return keep


def _fallback_type(expression: str, measure: bool, input_types: Mapping[str, str]) -> str:
    """A column type when the data plane can't tell: a numeric input field the
    expression names, long for a COUNT, else string."""
    for field_name, field_type in input_types.items():
        if f'"{field_name}"' in expression and field_type in ("long", "double", "float"):
            return field_type
    return "long" if measure and expression.strip().upper().startswith("COUNT") else "string"


def _source_name(job: Job) -> str:
    source = job.spec.get("source") or {}
    if source.get("tableName"):
        return str(source["tableName"])
    if source.get("connectionName"):
        return str(source["connectionName"])
    files = source.get("fileList") or []
    return str(files[0]) if files else ""


def _job_matches(job: Job, shown: str, needle: str) -> bool:
    haystack = (
        job.id,
        job.type,
        job.table,
        _source_name(job),
        shown,
        job.created_by.get("username", ""),
    )
    return any(needle in value.lower() for value in haystack)


def _job_sort_key(job: Job, shown: str, column: str) -> Any:
    source = job.spec.get("source") or {}
    keys: dict[str, Any] = {
        "created_by_user_name": job.created_by.get("username", ""),
        "created_date_time": job.created,
        "execution_status": shown,
        "last_updated_date_time": (job.updated, job.change),
        "source_name": _source_name(job),
        "source_type": source.get("type", ""),
        "target_table_name": job.table,
        "type": job.type,
        "source_connection_name": source.get("connectionName", ""),
        "source_table_name": source.get("tableName", ""),
    }
    return (keys[column], job.created, job.seq)


async def _job(state: JobsApi, request: Request) -> Response:
    job_id = request.path_params["job_id"]
    if request.method == "GET":
        return json_response(state.get_job(job_id))
    return json_response(state.render(state.set_desired(job_id, await json_body(request))))


async def _job_status(state: JobsApi, request: Request) -> Response:
    job_id = request.path_params["job_id"]
    if request.method == "GET":
        return json_response(state.job_status(job_id))
    found = state.set_desired(job_id, await json_body(request))
    return json_response({"executionStatus": state.render(found)["executionStatus"]})


async def _job_reset(state: JobsApi, request: Request) -> Response:
    state.reset_job(request.path_params["job_id"])
    return Response(b"", 200)


# ``/jobs`` and one job's status, progress, metrics, logs and reset, a job's reads first: they
# are what clients poll (paths under the project)
ROUTES: RouteTable[JobsApi] = [
    ("/jobs/{job_id}", _job, ["GET", "PUT"]),
    ("/jobs/{job_id}/status", _job_status, ["GET", "POST"]),
    ("/jobs", collection(JobsApi.list_jobs, JobsApi.create_job, "id"), ["GET", "POST"]),
    ("/jobs/{job_id}/progress", read(JobsApi.job_progress), ["GET"]),
    ("/jobs/{job_id}/metrics", read(JobsApi.job_metrics), ["GET"]),
    ("/jobs/{job_id}/logs", read(JobsApi.job_logs), ["GET"]),
    ("/jobs/{job_id}/reset", _job_reset, ["POST"]),
]
