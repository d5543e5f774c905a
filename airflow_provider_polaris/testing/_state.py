"""The emulated project: tables, connections, files, jobs, OAuth clients and the control surface.

Every public method takes the state lock: the HTTP server runs in its own thread while tests call
the control methods from theirs. Methods raise ``ApiError`` for anything Polaris would refuse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets as token_source
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._alignment import DEFAULT_PARTITIONING, check_batch_replace, check_sql_replace
from ._bridge import load_dataplane
from ._clock import EmulatorClock, iso
from ._errors import ApiError, bad, conflict, not_found
from ._jobs import (
    OUTCOMES,
    Job,
    JobScript,
    Lifecycle,
    merge_job_durations,
    render_job,
    zero_totals,
)
from ._jobspec import is_aggregation, validate_job
from ._parse_errors import note_stream_errors
from ._projects import PROJECT_MAX_BYTES, Projects
from ._resources import public_properties, validate_connection, validate_table
from ._rules import (
    COMPRESSIONS,
    DELETION_JOB_TYPES,
    DESIRED_STATUSES,
    EXECUTION_STATUSES,
    FILE_SORT_COLUMNS,
    FORMATS,
    HEALTH_STATUSES,
    JOB_SORT_COLUMNS,
    JOB_TYPES,
    STREAMING_CONNECTION_TYPES,
    TABLE_PARTITIONING,
    check_connection_name,
    check_enum,
    parse_interval,
)
from ._sql import SqlRequest, as_sql_failure
from ._statements import StatementStore
from ._traffic import DEFAULT_EVENTS_BUDGET, EventsBudget, Faults, RequestLog

DEFAULT_PROJECT_ID = "6b4a7d2e-3f1c-4e8a-9b5d-0c2f7a1e9d34"
DEFAULT_API_KEY = "pok_emulator0000000000000000000000000000000000"
DEFAULT_ORG = "emulator"
DEFAULT_CLIENT_ID = "emulator-client"
DEFAULT_CLIENT_SECRET = "emulator-secret"
TOKEN_LIFETIME_SECONDS = 300
EVENTS_MAX_BYTES = 1024 * 1024
EXPIRED_TOKEN_MESSAGE = 'Token claims invalid: ["exp"]="token expired"'
_API_KEY_USER = {"username": "api-key-emulator", "userId": "0b6e4f4a-6f2e-4f57-9a59-2f7b6c1d0e01"}
_EXTENSION_FORMATS = {
    ".json": "nd-json",
    ".ndjson": "nd-json",
    ".jsonl": "nd-json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".orc": "orc",
    ".avro": "avro_ocf",
}
_EXTENSION_COMPRESSIONS = {".gz": "gz", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".sz": "sz"}


def _unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(
        401, "Unauthorized", message, headers={"WWW-Authenticate": 'Basic realm="polaris"'}
    )


class _FailedBeforeIngest:
    """The result of a job failed before the data plane is asked (missing file, no __time)."""

    rows_processed = rows_persisted = rows_with_warning = 0
    rows_skipped_by_error = rows_skipped_by_filter = bytes_processed = 0
    query = None

    def __init__(self, code: str, message: str) -> None:
        self.error_code = code
        self.error_message = message

    def commit(self) -> None:
        """Never called: the job fails."""


class EmulatorState:
    """All state of one emulated organization with one project."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        project_id: str = DEFAULT_PROJECT_ID,
        org: str = DEFAULT_ORG,
        time_scale: float = 1.0,
        clock: Callable[[], float] | None = None,
        manual_clock: bool = False,
        events_budget: int = DEFAULT_EVENTS_BUDGET,
        job_durations: Mapping[str, float] | None = None,
    ) -> None:
        self.api_key = api_key
        self.project_id = project_id
        self.org = org
        self.prefix = f"/v1/projects/{project_id}"
        durations = merge_job_durations(job_durations)
        self._defaults = (time_scale, clock, manual_clock, events_budget, durations)
        self.job_durations = dict(durations)
        self.lock = threading.RLock()
        self.faults = Faults()
        self.requests = RequestLog()
        self.time_scale = time_scale
        self.clock = EmulatorClock(clock, manual=manual_clock)
        self.budget = EventsBudget(self.clock, events_budget)
        # Through a lambda: reset() and configure() replace self.clock.
        self.dataplane = load_dataplane(clock=lambda: self.clock.now())
        self.lifecycle = Lifecycle(
            time_scale=lambda: self.time_scale,
            durations=lambda: self.job_durations,
            on_start=self._start_ingestion,
            on_commit=self._commit,
            on_finished=self._finished,
            on_events=self._ingest_events,
        )
        self.projects = Projects(project_id, clock=lambda: self.clock.now())
        self.statements = StatementStore(
            clock=lambda: self.clock.now(), runtime=lambda: self.lifecycle.seconds("statement")
        )
        self._auth_cache: dict[str, tuple[str, dict[str, str]]] = {}
        self._clear()

    def _clear(self) -> None:
        self.jobs: dict[str, Job] = {}
        # Streaming jobs by the connection they read (a job's spec never changes), in creation
        # order: a push finds its readers without scanning every job.
        self._readers: dict[str, list[Job]] = {}
        self.tables: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self.dropped_events: dict[str, int] = {}  # pushed while no live job read the connection
        self.oauth_clients: dict[str, str] = {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.next_scripts: list[JobScript] = []
        self.statements.clear()
        self.projects.clear()
        self._auth_cache.clear()

    # --- control surface ----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything and return to the constructor's settings."""
        with self.lock:
            time_scale, clock, manual, budget, durations = self._defaults
            self.time_scale = time_scale
            self.job_durations = dict(durations)
            self.clock = EmulatorClock(clock, manual=manual)
            self.budget = EventsBudget(self.clock, budget)
            self.faults.clear()
            self.requests.clear()
            self.dataplane.reset()
            self._clear()

    def configure(
        self,
        *,
        time_scale: float | None = None,
        manual_clock: bool | None = None,
        job_durations: Mapping[str, float] | None = None,
    ) -> None:
        """Change the time scale, the clock mode (manual or not) and/or some job durations
        (merged into the current ones) until the next reset. Jobs already created keep the
        times they were given (when they leave pending, when they finish)."""
        if time_scale is not None and time_scale <= 0:
            raise ValueError("time_scale must be positive")
        with self.lock:
            if job_durations is not None:
                self.job_durations = merge_job_durations(job_durations, self.job_durations)
            if time_scale is not None:
                self.time_scale = time_scale
            if manual_clock is not None and manual_clock != self.clock.manual:
                source = self._defaults[1]
                self.clock = EmulatorClock(source, manual=manual_clock)
                self.budget = EventsBudget(self.clock, self.budget.per_minute)

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward."""
        with self.lock:
            self.clock.advance(seconds)

    def set_events_budget(self, per_minute: int) -> None:
        """Set the per-minute call budget of the events endpoint (starts a fresh window)."""
        if per_minute < 0:
            raise ValueError("per_minute must be >= 0")
        with self.lock:
            self.budget.reset(per_minute)

    def register_oauth_client(self, client_id: str, client_secret: str) -> None:
        """Allow this client id / secret at the token endpoint."""
        with self.lock:
            self.oauth_clients[client_id] = client_secret

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
                holds = script.after_polls is not None or script.outcome in ("running", "unknown")
                if holds:
                    job.finish_at = None
                elif job.finish_at is None and job.started is not None:
                    job.finish_at = job.started + self.lifecycle.running_seconds(job)

    def internal_job(self, job_id: str) -> dict[str, Any]:
        """The full job as clients see it plus emulator-only fields (polls, script); not a poll."""
        with self.lock:
            job = self._job(job_id)
            shown = self.lifecycle.observe(job, self.clock.now(), count=False)
            out = render_job(job, shown)
            out["_emulator"] = {
                "polls": job.polls,
                "resets": job.resets,
                "metrics": dict(job.totals or zero_totals()),
                "script": None if job.script is None else vars(job.script).copy(),
                "bufferedEvents": len(job.buffer),
            }
            return out

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """Rows the data plane holds for a table."""
        with self.lock:
            self._advance_all()
            return list(self.dataplane.table_rows(name))

    # --- auth ---------------------------------------------------------------------------------

    def authenticate(self, header: str | None) -> tuple[str, dict[str, str]]:
        """(auth kind, principal) for an Authorization header value, or 401."""
        if not header:
            raise _unauthorized("Missing credentials")
        cached = self._auth_cache.get(header)
        if cached is not None:
            return cached
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            return self._bearer(value)
        if scheme != "basic" or not value:
            raise _unauthorized("Unsupported authorization scheme")
        if value == self.api_key:
            result = ("basic_raw", _API_KEY_USER)
        elif _basic_credentials(value) == f"{self.api_key}:":
            # Exactly ``key:`` (user = key, empty password), as ``curl -u KEY:`` and the SDK send.
            result = ("basic", _API_KEY_USER)
        else:
            raise _unauthorized("Invalid API key")
        self._auth_cache[header] = result
        return result

    def _bearer(self, token: str) -> tuple[str, dict[str, str]]:
        entry = self.tokens.get(token)
        if entry is None:
            raise _unauthorized("Invalid token")
        client_id, expires = entry
        if self.clock.now() >= expires:
            raise ApiError(
                401, "Unauthorized", EXPIRED_TOKEN_MESSAGE, body={"message": EXPIRED_TOKEN_MESSAGE}
            )
        return "bearer", {"username": f"service-account-{client_id}", "userId": _user_id(client_id)}

    def issue_token(
        self, org: str, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        """The client-credentials grant of the Keycloak-style token endpoint."""
        with self.lock:
            if org != self.org:
                raise ApiError(
                    404, "NotFound", "Realm does not exist", body={"error": "Realm does not exist"}
                )
            if form.get("grant_type") != "client_credentials":
                raise ApiError(
                    400,
                    "BadArgument",
                    "Unsupported grant_type",
                    body={
                        "error": "unsupported_grant_type",
                        "error_description": "Unsupported grant_type",
                    },
                )
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            if authorization and authorization.lower().startswith("basic "):
                try:
                    decoded = base64.b64decode(authorization[6:].strip()).decode()
                    client_id, _, client_secret = decoded.partition(":")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    pass
            if not client_id or self.oauth_clients.get(client_id) != client_secret:
                raise ApiError(
                    401,
                    "Unauthorized",
                    "Invalid client credentials",
                    body={
                        "error": "invalid_client",
                        "error_description": "Invalid client or Invalid client credentials",
                    },
                )
            token = "emu." + token_source.token_urlsafe(24)
            self.tokens[token] = (client_id, self.clock.now() + TOKEN_LIFETIME_SECONDS)
            return {
                "access_token": token,
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "refresh_expires_in": 0,
                "token_type": "Bearer",
                "not-before-policy": 0,
                "scope": "profile email",
            }

    # --- projects -----------------------------------------------------------------------------

    def _used_bytes(self) -> int:
        return sum(len(content) for content, _ in self.files.values())

    def list_projects(self) -> list[dict[str, Any]]:
        """GET /v1/projects."""
        with self.lock:
            return self.projects.list(self._used_bytes())

    def get_project(self, project_id: str) -> dict[str, Any]:
        """GET /v1/projects/{id}."""
        with self.lock:
            return self.projects.get(project_id, self._used_bytes())

    def create_project(self, body: Any) -> dict[str, Any]:
        """POST /v1/projects (a record only: its API is not served)."""
        with self.lock:
            return self.projects.create(body)

    def update_project(self, project_id: str, body: Any) -> dict[str, Any]:
        """PATCH /v1/projects/{id}."""
        with self.lock:
            return self.projects.update(project_id, body, self._used_bytes())

    def delete_project(self, project_id: str) -> None:
        """DELETE /v1/projects/{id}."""
        with self.lock:
            self.projects.delete(project_id)

    # --- jobs ---------------------------------------------------------------------------------

    def _job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found(f"Job {job_id} not found", "jobId")
        return job

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
            for i, script in enumerate(self.next_scripts):
                if script.table in (None, table_name):
                    job.script = self.next_scripts.pop(i)
                    break
            self.jobs[job.id] = job
            if job.streaming:
                source = spec.get("source") or {}
                reads = source.get("connectionName")
                if isinstance(reads, str):
                    self._readers.setdefault(reads, []).append(job)
            return render_job(job, job.status)

    def _check_job_references(
        self, spec: dict[str, Any], table: dict[str, Any] | None, name: str, now: float
    ) -> None:
        kind = spec["type"]
        source = spec.get("source") or {}
        if source.get("type") == "table":
            source_name = source["tableName"]
            if source_name not in self.tables:
                raise not_found(f"Source table {source_name} does not exist", "source.tableName")
        if source.get("type") in ("s3", "azure", "connection"):
            conn = self.connections.get(source["connectionName"])
            if conn is None:
                raise not_found(
                    f"Connection {source['connectionName']} does not exist", "source.connectionName"
                )
            allowed = STREAMING_CONNECTION_TYPES if kind == "streaming" else {source["type"]}
            if conn["type"] not in allowed:
                raise bad(
                    f"Connection {conn['name']} of type {conn['type']} can't feed this job",
                    "source.connectionName",
                )
        check_batch_replace(spec, table)
        check_sql_replace(spec, self.dataplane.sql_overwrite)
        if kind == "streaming":
            active = [
                j
                for j in self.jobs.values()
                if j.streaming and j.table == name and not self._settled(j, now)
            ]
            if active and not spec.get("replaceRunning"):
                raise bad(
                    f"Table {name} already has a streaming job ({active[0].id}); "
                    "set replaceRunning to replace it",
                    "target.tableName",
                )
            for old in active:
                self.lifecycle.cancel_now(old, now)
        if kind in ("drop_table", "delete_data"):
            for other in self.jobs.values():
                reads_it = (other.spec.get("source") or {}).get("tableName") == name
                if other.table != name and reads_it:  # noqa: SIM102 - the poll below is costlier
                    if self.lifecycle.observe(other, now, count=False) in ("pending", "running"):
                        raise bad(
                            f"Table {name} is the source of running job {other.id}",
                            "target.tableName",
                        )

    def _advance_all(self) -> None:
        """Replay due transitions of every job, so reads of tables and SQL see finished writes."""
        now = self.clock.now()
        for job in self.jobs.values():
            if not job.terminal:
                self.lifecycle.advance(job, now)

    def _settled(self, job: Job, now: float) -> bool:
        self.lifecycle.advance(job, now)
        return job.terminal

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

    def shown_status(self, job: Job) -> str:
        """The execution status a client sees right now (not a poll)."""
        with self.lock:
            return self.lifecycle.observe(job, self.clock.now(), count=False)

    def job_progress(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}/progress."""
        with self.lock:
            job = self._job(job_id)
            now = self.clock.now()
            self.lifecycle.advance(job, now)
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
            job = self._job(job_id)
            self.lifecycle.advance(job, self.clock.now())
            return {"totals": dict(job.totals)}

    def job_logs(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}/logs (newest last)."""
        with self.lock:
            job = self._job(job_id)
            self.lifecycle.advance(job, self.clock.now())
            return {"logs": list(job.logs)}

    def reset_job(self, job_id: str) -> None:
        """POST /jobs/{id}/reset: streaming jobs only; the offset goes back to readFromPoint."""
        with self.lock:
            job = self._job(job_id)
            now = self.clock.now()
            self.lifecycle.advance(job, now)
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

            def many(name: str, allowed: frozenset[str] | None) -> set[str]:
                values = set(params.get(name, ()))
                if allowed is not None:
                    for value in values:
                        check_enum(value, allowed, name)
                return values

            def one(name: str) -> str | None:
                values = params.get(name)
                return values[-1] if values else None

            types = many("type", JOB_TYPES)
            statuses = many("executionStatus", EXECUTION_STATUSES)
            healths = many("healthStatus", HEALTH_STATUSES)
            connections = many("connectionName", None)
            table_name, table_id, search = (
                one("targetTableName"),
                one("targetTableId"),
                one("searchString"),
            )
            sort_column = check_enum(
                one("sortColumn") or "last_updated_date_time", JOB_SORT_COLUMNS, "sortColumn"
            )
            order = one("sortOrder") or "DESC"
            check_enum(order.upper(), frozenset({"ASC", "DESC"}), "sortOrder")
            limit = _int_param(one("paginationLimit"), 100, "paginationLimit", 1, 1000)
            offset = _int_param(one("paginationOffset"), 0, "paginationOffset", 0, None)
            table_id_name = None
            if table_id is not None:
                table_id_name = next(
                    (n for n, t in self.tables.items() if t["id"] == table_id), "\x00"
                )
            now = self.clock.now()
            matched: list[tuple[Job, str]] = []
            for job in self.jobs.values():
                if types and job.type not in types:
                    continue
                if table_name is not None and job.table != table_name:
                    continue
                if table_id_name is not None and job.table != table_id_name:
                    continue
                source = job.spec.get("source") or {}
                if connections and source.get("connectionName") not in connections:
                    continue
                shown = self.lifecycle.observe(job, now, count=False)
                if statuses and shown not in statuses:
                    continue
                if healths and job.health.get("status") not in healths:
                    continue
                if search and not _job_matches(job, shown, search.lower()):
                    continue
                matched.append((job, shown))
            matched.sort(
                key=lambda item: _job_sort_key(item[0], item[1], sort_column),
                reverse=order.upper() == "DESC",
            )
            page = matched[offset : offset + limit]
            for job, _ in page:
                job.polls += 1
            return {
                "values": [render_job(job, shown, full=False) for job, shown in page],
                "moreResultsAvailable": offset + limit < len(matched),
            }

    # --- data-plane callbacks -----------------------------------------------------------------

    def _read_file(self, name: str) -> bytes | None:
        entry = self.files.get(name)
        return None if entry is None else entry[0]

    def _start_ingestion(self, job: Job) -> None:
        spec = job.spec
        source = spec.get("source") or {}
        if source.get("type") == "uploaded":
            missing = [name for name in source.get("fileList", []) if name not in self.files]
            if missing:
                job.result = _FailedBeforeIngest(
                    "cannot_parse_source", f"File(s) not found: {', '.join(missing)}"
                )
                return
        mapped = {m.get("columnName") for m in spec.get("mappings") or []}
        if job.type == "batch" and source.get("type") != "table" and "__time" not in mapped:
            job.result = _FailedBeforeIngest(
                "null_timestamp", "No mapping for __time: every row has a null timestamp"
            )
            return
        try:
            table = self.tables.get(job.table)
            job.result = self.dataplane.prepare_ingestion(
                spec,
                read_file=self._read_file,
                table=None if table is None else self._render_table(table),
            )
        except Exception as exc:
            job.result = _FailedBeforeIngest("internal_error", f"Ingestion could not start: {exc}")
            return
        job.query = getattr(job.result, "query", None) or job.query

    def _commit(self, job: Job) -> None:
        job.result.commit()
        if job.type == "drop_table":
            self.tables.pop(job.table, None)

    def _finished(self, job: Job) -> None:
        result = job.result
        if result is None or job.streaming:
            return
        job.totals = {
            "numBytesProcessed": int(result.bytes_processed),
            "numRowsPersisted": int(result.rows_persisted) if job.status == "completed" else 0,
            "numRowsProcessed": int(result.rows_processed),
            "numRowsProcessedWithWarning": int(result.rows_with_warning),
            "numRowsSkippedByError": int(result.rows_skipped_by_error),
            "numRowsSkippedByFilter": int(result.rows_skipped_by_filter),
        }

    def _ingest_events(self, job: Job, lines: list[bytes]) -> None:
        totals = job.totals
        totals["numBytesProcessed"] += sum(map(len, lines))
        try:
            # The stored payload (type, schema, timeResolution), not a rendered copy. A job's
            # spec never changes and a table payload changes only with a new id or version,
            # so that is the key of the data plane's compiled plan.
            table = self.tables.get(job.table)
            key = None if table is None else (job.id, table["id"], table["version"])
            result = self.dataplane.ingest_events(job.spec, lines, table=table, plan_key=key)
        except Exception as exc:
            totals["numRowsSkippedByError"] += len(lines)
            self._stream_parse_errors(job, [str(exc)])
            return
        totals["numRowsProcessed"] += int(result.rows_processed)
        totals["numRowsSkippedByError"] += int(result.rows_skipped_by_error)
        totals["numRowsSkippedByFilter"] += int(result.rows_skipped_by_filter)
        if result.rows_skipped_by_error:
            self._stream_parse_errors(job, list(getattr(result, "messages", ())))

    def _stream_parse_errors(self, job: Job, messages: list[str]) -> None:
        """Logs and health of a streaming job's unparseable events; fail it over the limit."""
        at = job.last_activity  # the push's time (or, for held events, when the job started)
        failure = note_stream_errors(job, messages, at)
        if failure is not None:
            self.lifecycle.fail(job, at, "cannot_parse_source", failure)

    # --- events -------------------------------------------------------------------------------

    def check_events_connection(self, name: str) -> list[Job]:
        """The jobs reading a push connection; 404 unknown, 400 not push_streaming."""
        conn = self.connections.get(name)
        if conn is None:
            raise not_found(f"Connection {name} not found", "connectionName")
        if conn["type"] != "push_streaming":
            raise bad(
                f"Connection {name} is a {conn['type']} connection, not push_streaming",
                "connectionName",
            )
        return [job for job in self._readers.get(name, ()) if not job.terminal]

    def push_events(self, name: str, lines: list[bytes]) -> None:
        """Fan events out to every live streaming job reading the connection. Without one,
        Polaris accepts the events and they land nowhere (§8): counted in ``dropped_events``."""
        with self.lock:
            jobs = self.check_events_connection(name)
            now = self.clock.now()
            read = False
            for job in jobs:
                read = self.lifecycle.deliver(job, lines, now) or read
            if not read and lines:
                self.dropped_events[name] = self.dropped_events.get(name, 0) + len(lines)

    def dropped_event_counts(self) -> dict[str, int]:
        """Events accepted for a push connection that no live streaming job read, by name."""
        with self.lock:
            return dict(self.dropped_events)

    # --- connections --------------------------------------------------------------------------

    def _render_connection(self, conn: dict[str, Any], base_url: str) -> dict[str, Any]:
        out = public_properties({k: v for k, v in conn.items() if not k.startswith("_")})
        if conn["_secrets"] is not None:
            out["secrets"] = {"type": conn["_secrets"]["type"]}
        if conn["type"] == "push_streaming":
            out["endpointUrl"] = f"{base_url}{self.prefix}/events/{conn['name']}"
        return out

    def create_connection(
        self, body: Any, principal: dict[str, str], base_url: str
    ) -> dict[str, Any]:
        """POST /connections."""
        with self.lock:
            if not isinstance(body, dict):
                raise bad("The request body must be a JSON object")
            name = check_connection_name(body.get("name"))
            props, secrets = validate_connection(body)
            if name in self.connections:
                raise conflict(f"A connection with name [{name}] already exists", "name")
            now = iso(self.clock.now())
            conn = {
                **props,
                "submittedByUser": principal,
                "modifiedByUser": principal,
                "submittedOnTimestamp": now,
                "modifiedOnTimestamp": now,
                "_secrets": secrets,
            }
            self.connections[name] = conn
            return self._render_connection(conn, base_url)

    def _connection(self, name: str) -> dict[str, Any]:
        conn = self.connections.get(name)
        if conn is None:
            raise not_found(f"Connection {name} not found", "connectionName")
        return conn

    def get_connection(self, name: str, base_url: str) -> dict[str, Any]:
        """GET /connections/{name}."""
        with self.lock:
            return self._render_connection(self._connection(name), base_url)

    def list_connections(self, base_url: str) -> dict[str, Any]:
        """GET /connections."""
        with self.lock:
            return {
                "values": [self._render_connection(c, base_url) for c in self.connections.values()]
            }

    def update_connection(
        self, name: str, body: Any, principal: dict[str, str], base_url: str
    ) -> dict[str, Any]:
        """PATCH /connections/{name}: ``type`` required and unchanged; properties merge."""
        with self.lock:
            conn = self._connection(name)
            if not isinstance(body, dict):
                raise bad("The request body must be a JSON object")
            if "type" not in body:
                raise bad("type is required", "type")
            if body["type"] != conn["type"]:
                raise bad(
                    f"The type of connection {name} is {conn['type']} and can't change", "type"
                )
            if "name" in body and body["name"] != name:
                raise bad("Connection names can't change", "name")
            merged = {k: v for k, v in conn.items() if not k.startswith("_")}
            merged.update({k: v for k, v in body.items() if k != "secrets"})
            merged["secrets"] = body["secrets"] if "secrets" in body else conn["_secrets"]
            props, secrets = validate_connection(merged)
            props.update(
                submittedByUser=conn["submittedByUser"],
                submittedOnTimestamp=conn["submittedOnTimestamp"],
                modifiedByUser=principal,
                modifiedOnTimestamp=iso(self.clock.now()),
                _secrets=secrets,
            )
            self.connections[name] = props
            return self._render_connection(props, base_url)

    def set_connection_secrets(
        self, name: str, body: Any, principal: dict[str, str], base_url: str
    ) -> None:
        """PUT /connections/{name}/secrets (older docs, §14): the body is the secrets object."""
        with self.lock:
            conn_type = self._connection(name)["type"]
            self.update_connection(name, {"type": conn_type, "secrets": body}, principal, base_url)

    def delete_connection(self, name: str) -> None:
        """DELETE /connections/{name}: refused while a live streaming job reads it."""
        with self.lock:
            self._connection(name)
            now = self.clock.now()
            for job in self.jobs.values():
                reads_it = (job.spec.get("source") or {}).get("connectionName") == name
                if reads_it and job.streaming and not self._settled(job, now):
                    raise bad(
                        f"Connection {name} is used by streaming job {job.id}", "connectionName"
                    )
            del self.connections[name]

    def test_connection(self, name: str) -> dict[str, Any]:
        """POST /connections/{name}/test: nothing is reachable offline, so a valid config passes."""
        with self.lock:
            conn = self._connection(name)
            return {"name": name, "type": conn["type"], "status": "ok"}

    def connections_meta(self) -> dict[str, Any]:
        """GET /connectionsMeta (values for the AWS trust policy)."""
        return {
            "externalId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.project_id)),
            "implyArn": "arn:aws:iam::012345678901:role/imply-polaris-emulator",
        }

    # --- tables -------------------------------------------------------------------------------

    def _availability(self, name: str) -> str:
        now = self.clock.now()
        for job in self.jobs.values():
            if job.type == "drop_table" and job.table == name and not self._settled(job, now):
                return "deleting"
        return "available"

    def _render_table(self, table: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
        out = dict(table)
        stats = self.dataplane.table_stats(table["name"])
        out["availability"] = self._availability(table["name"])
        out["totalRows"] = stats.rows
        out["totalDataSizeBytes"] = stats.size_bytes
        out["precachedDataSizeBytes"] = stats.size_bytes
        out["segmentCount"] = stats.segments
        if summary:
            out.pop("schema", None)
            return out
        out["segmentTotalBytes"] = stats.size_bytes
        out["segmentCompactedBytes"] = stats.size_bytes
        known = {"__time"} | {c["name"] for c in table["schema"]}
        queryable = [{"name": "__time", "dataType": "timestamp", "isDiscovered": False}]
        queryable += [
            {"name": c["name"], "dataType": c["dataType"], "isDiscovered": False}
            for c in table["schema"]
            if c["name"] != "__time"
        ]
        discovered = sorted(set(stats.columns) - known)
        queryable += [
            {"name": name, "dataType": "string", "isDiscovered": True} for name in discovered
        ]
        out["queryableSchema"] = queryable
        return out

    def _store_table(
        self, table: dict[str, Any], principal: dict[str, str], now: float
    ) -> dict[str, Any]:
        for key in ("availability", "queryableSchema", "totalRows", "segmentCount"):
            table.pop(key, None)
        table.update(
            id=str(uuid.uuid4()),
            version=0,
            createdByUser=principal,
            modifiedByUser=principal,
            createdOnTimestamp=iso(now),
            modifiedOnTimestamp=iso(now),
        )
        self.tables[table["name"]] = table
        # Polaris answers a query on an existing empty table with zero rows, not "not found".
        self.dataplane.ensure_table(table["name"], [c["name"] for c in table["schema"]])
        return table

    def create_table(self, body: Any, principal: dict[str, str]) -> dict[str, Any]:
        """POST /tables."""
        with self.lock:
            table = validate_table(body, creating=True)
            if table["name"] in self.tables:
                raise conflict(f"A table with name [{table['name']}] already exists", "name")
            return self._render_table(self._store_table(table, principal, self.clock.now()))

    def _table(self, name: str) -> dict[str, Any]:
        table = self.tables.get(name)
        if table is None:
            raise not_found(f"Table {name} not found", "tableName")
        return table

    def get_table(self, name: str) -> dict[str, Any]:
        """GET /tables/{name}."""
        with self.lock:
            self._advance_all()
            return self._render_table(self._table(name))

    def list_tables(self, params: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """GET /tables with the documented filters: ``partitioningGranularity`` (repeatable)
        and ``segmentCount`` (tables with exactly that many segments)."""
        with self.lock:
            self._advance_all()
            wanted = set(params.get("partitioningGranularity", ()))
            for value in wanted:
                check_enum(value, TABLE_PARTITIONING, "partitioningGranularity")
            counts = params.get("segmentCount")
            segments = _int_param(counts[-1], 0, "segmentCount", 0, None) if counts else None
            summaries = [
                self._render_table(t, summary=True)
                for t in self.tables.values()
                if not wanted or t["partitioningGranularity"] in wanted
            ]
            return {
                "values": [
                    t for t in summaries if segments is None or t["segmentCount"] == segments
                ]
            }

    def list_unused_segments(
        self, name: str, params: Mapping[str, Sequence[str]]
    ) -> dict[str, Any]:
        """GET /tables/{name}/unusedSegments: one page after the ``lastSegmentId`` cursor.

        The emulator keeps no unused segments (its data plane holds rows, not segment
        versions), so every page is empty; the table and the parameters are still checked.
        """

        def one(key: str) -> str | None:
            values = params.get(key)
            return values[-1] if values else None

        with self.lock:
            self._table(name)
            interval = one("interval")
            if interval is not None:
                parse_interval(interval, "interval")
            _int_param(one("limit"), 100, "limit", 1, None)
            check_enum((one("sortOrder") or "ASC").upper(), frozenset({"ASC", "DESC"}), "sortOrder")
            unused: list[dict[str, Any]] = []
            return {"values": unused}

    def update_table(self, name: str, body: Any, principal: dict[str, str]) -> dict[str, Any]:
        """PUT /tables/{name}: optimistic locking on ``version``; columns change only when empty."""
        with self.lock:
            current = self._table(name)
            if isinstance(body, dict):
                body = {"name": name, **body}
            table = validate_table(body, creating=False)
            if table["name"] != name:
                raise bad("Table names can't change", "name")
            if table["version"] != current["version"]:
                raise conflict(
                    f"Table {name} was modified: version {table['version']} is stale "
                    f"(current {current['version']})",
                    "version",
                    code="Conflict",
                )
            if table["type"] != current["type"]:
                raise bad("The table type can't change", "type")
            new_types = {c["name"]: c["dataType"] for c in table["schema"]}
            changed = [
                c["name"] for c in current["schema"] if new_types.get(c["name"]) != c["dataType"]
            ]
            if changed and self.dataplane.has_table_data(name):
                raise bad(
                    f"Columns {', '.join(changed)} can't be changed or removed "
                    "while the table has data",
                    "schema",
                )
            now = self.clock.now()
            for key in ("id", "createdByUser", "createdOnTimestamp"):
                table[key] = current[key]
            for key in ("availability", "queryableSchema", "totalRows", "segmentCount"):
                table.pop(key, None)
            table.update(
                version=current["version"] + 1,
                modifiedByUser=principal,
                modifiedOnTimestamp=iso(now),
            )
            self.tables[name] = table
            self.dataplane.ensure_table(name, [c["name"] for c in table["schema"]])
            return self._render_table(table)

    # --- files --------------------------------------------------------------------------------

    def upload_file(
        self,
        name: str,
        content: bytes,
        principal: dict[str, str],
        data_format: str | None,
        compression: str | None,
    ) -> dict[str, Any]:
        """POST /files (multipart already parsed by the handler)."""
        with self.lock:
            if not name or name.startswith("/"):
                raise bad("The file needs a name", "file")
            if name in self.files:
                raise conflict(f"A file with name [{name}] already exists", "file")
            if data_format is not None:
                check_enum(data_format, FORMATS, "dataFormat")
            if compression is not None:
                check_enum(compression, COMPRESSIONS, "compressionFormat")
            stem, inferred_compression = name, "none"
            for ext, comp in _EXTENSION_COMPRESSIONS.items():
                if stem.lower().endswith(ext):
                    stem, inferred_compression = stem[: -len(ext)], comp
                    break
            inferred_format = next(
                (f for ext, f in _EXTENSION_FORMATS.items() if stem.lower().endswith(ext)),
                "nd-json",
            )
            meta = {
                "id": str(uuid.uuid4()),
                "name": name,
                "sizeBytes": len(content),
                "dataFormat": data_format or inferred_format,
                "compressionFormat": compression or inferred_compression,
                "digest": {"algo": "md5", "hash": hashlib.md5(content).hexdigest()},
                "uploadedBy": principal,
                "uploadedOnDatetime": iso(self.clock.now()),
            }
            self.files[name] = (content, meta)
            return dict(meta)

    def get_file(self, name: str) -> dict[str, Any]:
        """GET /files/{name}."""
        with self.lock:
            entry = self.files.get(name)
            if entry is None:
                raise not_found(f"File {name} not found", "name")
            return dict(entry[1])

    def delete_file(self, name: str) -> None:
        """DELETE /files/{name}."""
        with self.lock:
            if self.files.pop(name, None) is None:
                raise not_found(f"File {name} not found", "name")

    def list_files(self, params: Mapping[str, Sequence[str]], path: str) -> dict[str, Any]:
        """GET /files with offset pagination, search and sort; links to neighbouring pages."""
        with self.lock:

            def one(key: str) -> str | None:
                values = params.get(key)
                return values[-1] if values else None

            limit = _int_param(one("paginationLimit"), 1000, "paginationLimit", 1, 1000)
            offset = _int_param(one("paginationOffset"), 0, "paginationOffset", 0, None)
            column = check_enum(one("sortColumn") or "name", FILE_SORT_COLUMNS, "sortColumn")
            order = (one("sortOrder") or "ASC").upper()
            check_enum(order, frozenset({"ASC", "DESC"}), "sortOrder")
            search = (one("searchString") or "").lower()
            metas = [meta for _, meta in self.files.values() if search in meta["name"].lower()]
            metas.sort(key=lambda m: _file_sort_key(m, column), reverse=order == "DESC")
            used = sum(len(content) for content, _ in self.files.values())

            def link(at: int) -> str:
                return f"{path}?paginationLimit={limit}&paginationOffset={at}"

            return {
                "files": [dict(m) for m in metas[offset : offset + limit]],
                "totalCount": len(metas),
                "space": {
                    "allocatedBytes": PROJECT_MAX_BYTES,
                    "usedBytes": used,
                    "remainingBytes": PROJECT_MAX_BYTES - used,
                },
                "links": {
                    "@nextLink": link(offset + limit) if offset + limit < len(metas) else None,
                    "@prevLink": link(max(offset - limit, 0)) if offset > 0 else None,
                },
            }

    # --- query --------------------------------------------------------------------------------

    def query(self, sql: str, parameters: list[dict[str, Any]] | None) -> Any:
        """Run SQL on the data plane (its SqlError propagates)."""
        with self.lock:
            self._advance_all()
            return self.dataplane.query(sql, parameters)

    def run_sql(self, request: SqlRequest) -> Any:
        """POST /query/sql: the query's result; SqlFailure for what the data plane refuses."""
        try:
            return self.query(request.query, request.parameters)
        except Exception as exc:
            failure = as_sql_failure(exc)
            if failure is None:
                raise
            raise failure from None

    def submit_statement(self, body: Any) -> dict[str, Any]:
        """POST /query/sql/statements: run now, show RUNNING for the ``statement`` duration."""
        with self.lock:
            return self.statements.submit(body, self.run_sql)

    def statement_status(self, query_id: str, *, detail: bool) -> dict[str, Any]:
        """GET /query/sql/statements/{id}."""
        with self.lock:
            return self.statements.status(query_id, detail=detail)

    def statement_results(
        self, query_id: str, page: str | None, result_format: str | None
    ) -> tuple[bytes, str]:
        """GET /query/sql/statements/{id}/results: (body, media type)."""
        with self.lock:
            return self.statements.results(query_id, page, result_format)

    def cancel_statement(self, query_id: str) -> int:
        """DELETE /query/sql/statements/{id}: the status code (202 canceled, 200 already done)."""
        with self.lock:
            return self.statements.cancel(query_id)


def _fallback_type(expression: str, measure: bool, input_types: Mapping[str, str]) -> str:
    """A column type when the data plane can't tell (or is absent): a numeric input field the
    expression names, long for a COUNT, else string."""
    for field_name, field_type in input_types.items():
        if f'"{field_name}"' in expression and field_type in ("long", "double", "float"):
            return field_type
    return "long" if measure and expression.strip().upper().startswith("COUNT") else "string"


def _basic_credentials(value: str) -> str | None:
    """The ``user:password`` text of a Basic credential (standard or URL-safe base64)."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        return decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _user_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, name))


def _int_param(raw: str | None, default: int, name: str, low: int, high: int | None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad(f"{name} must be an integer", name) from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise bad(f"{name} must be {bounds}", name)
    return value


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


def _file_sort_key(meta: dict[str, Any], column: str) -> Any:
    keys = {
        "compression_format": meta["compressionFormat"],
        "data_format": meta["dataFormat"],
        "digest_algo": meta["digest"]["algo"],
        "digest_hash": meta["digest"]["hash"],
        "name": meta["name"],
        "size_bytes": meta["sizeBytes"],
        "uploaded_by_user_name": meta["uploadedBy"]["username"],
        "uploaded_on_dt": meta["uploadedOnDatetime"],
    }
    return (keys[column], meta["name"])
